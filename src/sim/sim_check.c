/* Reporting invariant violations (tcp_check.h): outside the sans-IO core,
 * because it prints.  A violation is a bug in synack: print what failed and
 * abort, so that the test, the fuzzer or the sanitizer shows where. */
#include <stdio.h>
#include <stdlib.h>

#include "synack/stack.h"
#include "tcp/tcp_check.h"

void sn_check_fail(const struct synack_stack *s, const char *where, const struct sn_check_report *r)
{
    fprintf(stderr,
            "synack invariant violated after %s at t=%llu us: %s (conn %u, %s; values %llu, %llu)\n",
            where, (unsigned long long)synack_stack_now(s), r->what, r->conn_id,
            synack_tcp_state_name((enum synack_tcp_state)r->state), (unsigned long long)r->a,
            (unsigned long long)r->b);
    abort();
}

void sn_check_assert(const struct synack_stack *s, const char *where)
{
    struct sn_check_report r;
    if (sn_check_stack(s, NULL, &r) < 0)
        sn_check_fail(s, where, &r);
}

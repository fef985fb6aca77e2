/* synack demo --scenario syn-flood: the simulator's SYN-flood scenario
 * (src/sim/sim_synflood.c) with its numbers, ending in one summary line.
 * --pcap and --states keep the first legitimate connections the server
 * kept state for (demo_loadcap.h). */
#include <stdio.h>

#include "demo.h"
#include "demo_loadcap.h"
#include "synack/sim.h"

int demo_synflood(unsigned long long seed, double delay_ms, bool quiet, const char *pcap,
                  const char *states, const struct own_draw_opts *draw)
{
    struct synack_synflood_params p;
    struct synack_synflood_result r;
    synack_synflood_params_default(&p);
    p.seed = seed;
    p.delay = (synack_time_t)(delay_ms * 1000);
    struct loadcap *lc = NULL;
    if ((pcap || states || own_draw_wanted(draw)) && loadcap_new(pcap, states, 80, draw, &lc) < 0) {
        fprintf(stderr, "synack demo: out of memory for the capture\n");
        return 1;
    }
    if (lc) {
        p.observer = loadcap_observer;
        p.on_state = loadcap_on_state;
        p.step_done = loadcap_step_done;
        p.observe_user = lc;
    }
    int rc = synack_sim_synflood(&p, &r);
    if (rc < 0) {
        loadcap_finish(lc, NULL);
        fprintf(stderr, "synack demo: syn-flood failed: %s\n", synack_strerror(rc));
        return 1;
    }
    const struct synack_stack_stats *st = &r.server;
    if (!quiet) {
        printf("synack demo --scenario syn-flood: %u SYNs from spoofed sources in %.0f s "
               "against a listener, while %u clients connect\n",
               p.spoofed, (double)p.duration / 1e6, p.legit);
        printf("server 192.0.2.2 port 80 (backlog %d), clients 192.0.2.10-13, flooder "
               "198.51.100.1 writing sources from 100.64.0.0/10; one-way delay %.1f ms, seed %llu\n\n",
               p.backlog, delay_ms, seed);
        printf("  server SYN cache: %llu entries added, %llu timed out, %llu SYNs found it full\n",
               (unsigned long long)st->tcp_syncache_added,
               (unsigned long long)st->tcp_syncache_expired,
               (unsigned long long)st->tcp_syncache_overflow);
        printf("  SYN cookies: %llu sent, %llu connections completed from one, %llu failed checks\n",
               (unsigned long long)st->tcp_syncookies_sent,
               (unsigned long long)st->tcp_syncookies_recv,
               (unsigned long long)st->tcp_syncookies_failed);
        printf("  during the flood: %u of %u clients had %u bytes echoed intact, %u within 1 s\n",
               r.legit_done, r.legit_total, p.bytes, r.legit_fast);
        printf("  after the flood: %u of %u completed; cookies sent after it: %llu\n",
               r.after_done, r.after_total, (unsigned long long)r.cookies_after_flood);
        printf("  server memory now %llu bytes; virtual time %.3f s\n",
               (unsigned long long)st->mem_bytes, (double)r.duration / 1e6);
    }
    if (loadcap_finish(lc, quiet ? NULL : stdout) < 0)
        return 1;
    printf("legit connections: %u/%u completed, cookies sent: %llu, peak half-open: %llu, "
           "peak memory: %llu bytes\n",
           r.legit_done, r.legit_total, (unsigned long long)r.cookies_sent,
           (unsigned long long)r.halfopen_peak, (unsigned long long)r.mem_peak);
    bool ok = r.legit_done * 100 >= r.legit_total * 99 && r.after_done == r.after_total &&
              r.cookies_after_flood == 0;
    return ok ? 0 : 1;
}

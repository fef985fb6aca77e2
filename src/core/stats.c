/* The stack's counters by name (synack_stack_stat): one table of names and
 * offsets into struct synack_stack_stats, in the struct's order.  A counter
 * appended to the struct gets its row here; tests/unit/test_api.c checks
 * that the table covers the whole struct. */
#include <errno.h>
#include <stddef.h>
#include <string.h>

#include "core/stack_internal.h"

_Static_assert(SYNACK_WIRE_NERR <= SYNACK_STATS_PARSE_SLOTS,
               "ip_drop_parse needs more slots: that is an ABI change");

#define STAT(f) {#f, offsetof(struct synack_stack_stats, f)}
#define PARSE(code, name) \
    {"ip_drop_parse." name, offsetof(struct synack_stack_stats, ip_drop_parse) + 8u * (unsigned)-(code)}

static const struct {
    const char *name;
    size_t off;
} stats_table[] = {
    STAT(ip_in), STAT(ip_out), STAT(ip_in_bytes), STAT(ip_out_bytes),
    /* Slot 0 counts codes the table of enum synack_wire_err does not name. */
    PARSE(SYNACK_WIRE_OK, "other"),
    PARSE(SYNACK_WIRE_ETRUNC, "truncated"),
    PARSE(SYNACK_WIRE_EVERSION, "version"),
    PARSE(SYNACK_WIRE_EHDRLEN, "header_length"),
    PARSE(SYNACK_WIRE_ETOTLEN, "total_length"),
    PARSE(SYNACK_WIRE_ECSUM, "checksum"),
    PARSE(SYNACK_WIRE_EOPTLEN, "option_length"),
    PARSE(SYNACK_WIRE_EOPTVAL, "option_value"),
    PARSE(SYNACK_WIRE_ETYPE, "icmp_type"),
    PARSE(SYNACK_WIRE_ENOSPC, "no_space"),
    PARSE(SYNACK_WIRE_EINVAL, "invalid"),
    STAT(ip_drop_notme), STAT(ip_drop_frag), STAT(ip_drop_proto), STAT(ip_out_fail),
    STAT(icmp_in), STAT(icmp_out), STAT(icmp_echo_replied), STAT(icmp_drop),
    STAT(tcp_in), STAT(tcp_out), STAT(tcp_drop), STAT(tcp_rst_in), STAT(tcp_rst_out),
    STAT(tcp_retrans), STAT(tcp_conns_opened), STAT(tcp_conns_accepted), STAT(tcp_conns_reset),
    STAT(tcp_timewait), STAT(tcp_conns_active),
    STAT(tcp_tw_evicted), STAT(tcp_tw_reused), STAT(tcp_tw_refused),
    STAT(tcp_timeouts), STAT(tcp_fast_retrans),
    STAT(tcp_halfopen), STAT(tcp_halfopen_peak), STAT(tcp_syncache_added),
    STAT(tcp_syncache_expired), STAT(tcp_syncache_overflow), STAT(tcp_syncookies_sent),
    STAT(tcp_syncookies_recv), STAT(tcp_syncookies_failed), STAT(tcp_listen_drops),
    STAT(mem_bytes), STAT(mem_peak_bytes), STAT(mem_refused),
    STAT(tcp_challenge_acks), STAT(tcp_challenge_ack_limited), STAT(tcp_pmtu_lowered),
    STAT(tcp_pmtu_raised), STAT(ip_drop_srcroute),
    STAT(tcp_tso_packets),
    STAT(ip_frag_in), STAT(ip_reasm_ok), STAT(ip_reasm_timeout), STAT(ip_reasm_evicted),
    STAT(ip_frag_drop_tiny), STAT(ip_frag_drop_bad), STAT(ip_frag_drop_overlap),
    STAT(ip_frag_drop_dup), STAT(ip_frag_drop_limit), STAT(ip_frag_out),
    STAT(tcp_window_clamped),
    STAT(tcp_drop_accept_full), STAT(tcp_drop_paws), STAT(tcp_drop_bad), STAT(tcp_drop_window),
    STAT(tcp_drop_old_ack), STAT(tcp_drop_bad_source), STAT(tcp_drop_noconn),
    STAT(mem_alloc_failed),
    STAT(tcp_orphans), STAT(tcp_orphans_peak), STAT(tcp_abort_on_memory),
    STAT(tcp_rtxq_merged),
};

#define NSTATS (sizeof(stats_table) / sizeof(stats_table[0]))

/* Gauges live where they change (the memory account, the SYN cache) and
 * are copied into the counters when read.  A stack is never a const object
 * (synack_stack_new allocates it), so writing through the cast is defined. */
static const struct synack_stack_stats *gauges(const struct synack_stack *cs)
{
    struct synack_stack *s = (struct synack_stack *)cs;
    s->stats.mem_bytes = s->mem.used + s->mem.fixed;
    s->stats.mem_peak_bytes = s->mem.total_peak;
    s->stats.mem_refused = s->mem.failed;
    s->stats.mem_alloc_failed = s->mem.alloc_failed;
    s->stats.tcp_halfopen = s->syncache.count;
    s->stats.tcp_halfopen_peak = s->syncache.peak;
    return &s->stats;
}

const struct synack_stack_stats *synack_stack_stats(const struct synack_stack *s)
{
    return gauges(s);
}

int synack_stack_stat(const struct synack_stack *s, const char *name, uint64_t *val)
{
    if (!s || !name || !val)
        return -EINVAL;
    for (size_t i = 0; i < NSTATS; i++) {
        if (strcmp(stats_table[i].name, name) == 0) {
            memcpy(val, (const uint8_t *)gauges(s) + stats_table[i].off, sizeof(*val));
            return 0;
        }
    }
    return -ENOENT;
}

const char *synack_stack_stat_name(unsigned i)
{
    return i < NSTATS ? stats_table[i].name : NULL;
}

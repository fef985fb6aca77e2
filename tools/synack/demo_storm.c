/* `synack demo --scenario time-wait-storm`: the server of the write-up, in
 * the simulator.  Clients open connections, send a small request and read
 * the reply; the server answers and closes first, so it holds every
 * connection's TIME-WAIT (tools/storm/storm.c).  A naive server that keeps
 * a full connection per TIME-WAIT and counts it against its connection limit
 * stalls after a few thousand; synack's default server keeps a 64-byte
 * record in a bounded table and goes on accepting.  The run ends with one
 * line:
 *
 *   connections: N completed, 0 refused, peak TIME-WAIT: T records, peak memory: M bytes
 *
 * (peak memory: the server stack's memory account, its TCBs, buffers and
 * TIME-WAIT table).  --pcap and --states keep the first connections
 * (demo_loadcap.h). */
#include <stdio.h>

#include "demo.h"
#include "demo_loadcap.h"
#include "storm.h"

int demo_storm_run(struct demo *d)
{
    struct storm_params p = {
        .connections = d->connections,
        .concurrency = d->concurrency,
        .delay = d->link_params.delay,
        .msl = d->msl,
        .seed = synack_sim_random(d->sim),
        .request = 64,
        .reply = 256,
    };
    struct loadcap *lc = NULL;
    struct storm_hooks hooks = {loadcap_observer, loadcap_on_state, loadcap_step_done, NULL};
    if ((d->load_pcap || d->load_states || own_draw_wanted(&d->draw_load)) &&
        loadcap_new(d->load_pcap, d->load_states, 80, &d->draw_load, &lc) < 0) {
        fprintf(stderr, "synack demo: out of memory for the capture\n");
        return 1;
    }
    if (lc) {
        hooks.user = lc;
        p.hooks = &hooks;
    }
    if (!d->quiet)
        printf("%llu connections, %u at a time, each a 64-byte request and a 256-byte reply;\n"
               "the server closes first and holds TIME-WAIT for 2*MSL\n\n",
               (unsigned long long)p.connections, p.concurrency);
    struct storm_result r;
    int rc = storm_run(&p, &r);
    if (loadcap_finish(lc, d->quiet ? NULL : stdout) < 0)
        return 1;
    if (rc < 0) {
        fprintf(stderr, "synack demo: time-wait-storm could not start: %s\n", synack_strerror(rc));
        return 1;
    }
    if (!d->quiet)
        printf("%.1f s of virtual time in %.1f s; %llu TIME-WAIT records dropped oldest-first "
               "for room; the server %s accepts afterwards\n",
               (double)r.sim_time / 1e6, r.wall_s, (unsigned long long)r.tw_evicted,
               r.still_accepts ? "still" : "no longer");
    snprintf(d->last_line, sizeof(d->last_line),
             "connections: %llu completed, %llu refused, peak TIME-WAIT: %llu records, "
             "peak memory: %llu bytes",
             (unsigned long long)r.completed, (unsigned long long)r.refused,
             (unsigned long long)r.peak_timewait, (unsigned long long)r.peak_mem);
    return r.refused == 0 && r.completed == p.connections && r.still_accepts ? 0 : 1;
}

/* Connection rate on the simulator: open, one small request (64 bytes) and
 * reply (256 bytes), close with the server closing first; lifecycles per
 * second of wall time, both stacks and the simulator included.  It uses only
 * the public API, so bench/compare_baseline.sh also builds it against an
 * older commit (3b303bc, before issue 11) and runs the two side by side.
 *
 *   bench_connrate [N [MSL_US]]   (defaults: 200000 lifecycles; MSL 1 ms, so
 *                                  that an old build's TIME-WAIT connections
 *                                  do not stall it and both measure the same
 *                                  work)
 */
#include <stdio.h>
#include <stdlib.h>

#include "storm.h"

int main(int argc, char **argv)
{
    struct storm_params p = {
        .connections = argc > 1 ? strtoull(argv[1], NULL, 0) : 200000,
        .concurrency = 100,
        .delay = 50,
        .msl = argc > 2 ? strtoull(argv[2], NULL, 0) : 1000,
        .seed = 1,
        .request = 64,
        .reply = 256,
    };
    struct storm_result r;
    if (storm_run(&p, &r) < 0 || r.completed == 0) {
        fprintf(stderr, "bench_connrate: the run failed\n");
        return 1;
    }
    printf("lifecycles: %llu completed, %llu refused, %.2f s wall, %.0f lifecycles/s\n",
           (unsigned long long)r.completed, (unsigned long long)r.refused, r.wall_s,
           (double)r.completed / r.wall_s);
    return 0;
}

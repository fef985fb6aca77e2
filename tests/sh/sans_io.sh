#!/usr/bin/env bash
# The core must stay sans-IO: no clock, sleep, file descriptor, thread or
# printing in the protocol layers (src/wire src/core src/ip src/tcp src/cc
# src/socket).  Drivers (src/sim, src/dev) and tools are outside it.
set -u
src=${SYNACK_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
core="$src/src/wire $src/src/core $src/src/ip $src/src/tcp $src/src/cc $src/src/socket"
pattern='\b(clock_gettime|gettimeofday|time|usleep|nanosleep|sleep|printf|fprintf|puts|perror|socket|epoll_[a-z_]+|select|poll|read|write|open|fopen|ioctl|pthread_[a-z_]+|getrandom|rand|srand)[[:space:]]*\('
# Comments are allowed to name these calls; strip // and /* */ lines first.
hits=$(grep -rnE "$pattern" $core --include='*.c' --include='*.h' | grep -vE ':[0-9]+:[[:space:]]*(//|/\*|\*)' || true)
if [ -n "$hits" ]; then
    echo "FAIL: the sans-IO core calls I/O, clocks, threads or printing:"
    echo "$hits"
    exit 1
fi
# No globals that hold state: every non-const file-scope variable is a defect.
globals=$(grep -rnE '^(static[[:space:]]+)?[a-z_][a-z0-9_ ]*[[:space:]\*]+[a-z_][a-z0-9_]*(\[[^]]*\])?[[:space:]]*(=|;)' $core --include='*.c' \
    | grep -vE '\bconst\b|^\S+:[0-9]+:[[:space:]]*(return|typedef|struct [a-z_]+ \{)' || true)
if [ -n "$globals" ]; then
    echo "FAIL: mutable file-scope state in the core (everything must hang off the stack object):"
    echo "$globals"
    exit 1
fi
# Every allocation goes through the stack's allocator (src/core/mem.c), so
# that a replaced allocator (cfg.alloc) sees them all and test_alloc_fail
# can fail each one.
allocs=$(grep -rnE '\b(malloc|calloc|realloc|free|aligned_alloc|strdup)[[:space:]]*\(' $core --include='*.c' --include='*.h' \
    | grep -vE ':[0-9]+:[[:space:]]*(//|/\*|\*)' | grep -v "^$src/src/core/mem.c:" || true)
if [ -n "$allocs" ]; then
    echo "FAIL: the core allocates around its allocator (use sn_mem_malloc/calloc/realloc/free, core/mem.h):"
    echo "$allocs"
    exit 1
fi
echo "sans-IO core: no I/O, clock, thread, printing, mutable global or allocation around the allocator in $(echo $core | wc -w) folders"

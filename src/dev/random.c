/* The default configuration with a secret from the operating system.
 *
 * The core never asks the OS for anything, randomness included: a stack's
 * unpredictable numbers (ISNs, RFC 6528; ephemeral ports, RFC 6056;
 * timestamp offsets; SYN cookies) are keyed hashes under a secret the
 * caller supplies.  This driver-side function is what makes "no seed given"
 * mean "random": it fills the secret from getrandom(2).  Should the kernel
 * refuse (no getrandom, no /dev/urandom), the secret stays zero and
 * synack_stack_new() refuses the configuration rather than run predictable. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "synack/stack.h"

static int fill_random(void *buf, size_t len)
{
    uint8_t *p = buf;
    size_t got = 0;
    for (int tries = 0; got < len && tries < 16; tries++) {
        ssize_t n = getrandom(p + got, len - got, 0);
        if (n > 0)
            got += (size_t)n;
        else if (n < 0 && errno != EINTR)
            break;
    }
    if (got == len)
        return 0;
    int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    for (int tries = 0; got < len && tries < 16; tries++) {
        ssize_t n = read(fd, p + got, len - got);
        if (n > 0)
            got += (size_t)n;
        else if (n < 0 && errno != EINTR)
            break;
    }
    close(fd);
    return got == len ? 0 : -EIO;
}

void synack_config_default_versioned(int version, struct synack_config *c)
{
    synack_config_init_versioned(version, c);
    /* A version-1 struct has no secret: its stack keeps the old fixed seed. */
    if (!c || version < SYNACK_CONFIG_V2)
        return;
    if (fill_random(c->secret, sizeof(c->secret)) < 0)
        memset(c->secret, 0, sizeof(c->secret));
}

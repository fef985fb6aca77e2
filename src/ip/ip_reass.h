/* IPv4 reassembly (ip_reass.c): the stack's table of datagrams being put
 * back together. */
#ifndef SYNACK_IP_REASS_H
#define SYNACK_IP_REASS_H

#include <stdint.h>

#include "synack/base.h"

struct sn_frag_dgram;

struct sn_reass {
    struct sn_frag_dgram *head, *tail; /* in arrival order = expiry order */
    uint32_t count;                    /* datagrams in reassembly */
    uint64_t bytes;                    /* memory they hold */
};

#endif

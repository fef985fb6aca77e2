/* libFuzzer harness: the IPv4 codec.  Parse arbitrary bytes; what parses
 * is emitted again (20-byte header, same fields and payload) and must parse
 * back to the same fields and payload. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "synack/wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct synack_ipv4_hdr h, h2;
    if (synack_ipv4_parse(data, size, &h) < 0)
        return 0;
    if (h.payload_len > size || h.ihl < 20 || h.total_len != h.ihl + h.payload_len)
        abort(); /* the parser must describe what it checked */
    uint8_t buf[SYNACK_IPV4_HDR_MIN + 65535];
    struct synack_ipv4_hdr e = h;
    e.total_len = (uint16_t)(SYNACK_IPV4_HDR_MIN + h.payload_len);
    if (e.total_len < h.payload_len)
        return 0; /* options made room the 20-byte header cannot (total_len would wrap) */
    if (synack_ipv4_emit(buf, sizeof(buf), &e) != SYNACK_IPV4_HDR_MIN)
        abort();
    memcpy(buf + SYNACK_IPV4_HDR_MIN, h.payload, h.payload_len);
    if (synack_ipv4_parse(buf, e.total_len, &h2) < 0)
        abort();
    if (h2.tos != h.tos || h2.id != h.id || h2.flags != h.flags || h2.frag_off != h.frag_off ||
        h2.ttl != h.ttl || h2.proto != h.proto || h2.src != h.src || h2.dst != h.dst ||
        h2.payload_len != h.payload_len || memcmp(h2.payload, h.payload, h.payload_len) != 0)
        abort();
    return 0;
}

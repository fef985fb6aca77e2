/* libFuzzer harness: the ICMP codec.  Parse arbitrary bytes as an ICMP
 * message; what parses is emitted and must parse back to the same fields. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "synack/wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct synack_icmp_hdr h, h2;
    if (synack_icmp_parse(data, size, &h) < 0)
        return 0;
    if (h.data_len + SYNACK_ICMP_HDR_LEN > size)
        abort();
    uint8_t buf[SYNACK_ICMP_HDR_LEN + 65535];
    int n = synack_icmp_emit(buf, sizeof(buf), &h);
    if (n < 0 || (size_t)n != SYNACK_ICMP_HDR_LEN + h.data_len)
        abort();
    if (synack_icmp_parse(buf, (size_t)n, &h2) < 0)
        abort();
    if (h2.type != h.type || h2.code != h.code || h2.id != h.id || h2.seq != h.seq ||
        h2.mtu != h.mtu || h2.data_len != h.data_len || memcmp(h2.data, h.data, h.data_len) != 0)
        abort();
    return 0;
}

/* Classic libpcap file writer (the format tcpdump and Wireshark call "pcap",
 * not pcapng): a 24-byte file header, then per packet a 16-byte record header
 * and the captured bytes.  Every header field is written in host byte order;
 * readers recognise the order from the magic number. */
#include "synack/pcap.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PCAP_MAGIC_USEC 0xa1b2c3d4u /* microsecond timestamps */
#define PCAP_VERSION_MAJOR 2
#define PCAP_VERSION_MINOR 4
#define PCAP_SNAPLEN_DEFAULT 65535u

struct synack_pcap {
    FILE *f;
    uint32_t snaplen;
    int err; /* first error seen (negative errno), 0 if none */
};

/* A stdio failure as a negative errno (stdio does not always set errno). */
static int stdio_err(void)
{
    return errno > 0 ? -errno : -EIO;
}

static int put(struct synack_pcap *p, const void *data, size_t len)
{
    if (p->err == 0 && len > 0) {
        errno = 0;
        if (fwrite(data, 1, len, p->f) != len)
            p->err = stdio_err();
    }
    return p->err;
}

int synack_pcap_open(const char *path, uint32_t linktype, uint32_t snaplen,
                     struct synack_pcap **out)
{
    if (path == NULL || out == NULL)
        return -EINVAL;
    *out = NULL;
    struct synack_pcap *p = calloc(1, sizeof(*p));
    if (p == NULL)
        return -ENOMEM;
    errno = 0;
    p->f = fopen(path, "wb");
    if (p->f == NULL) {
        int err = stdio_err();
        free(p);
        return err;
    }
    p->snaplen = snaplen != 0 ? snaplen : PCAP_SNAPLEN_DEFAULT;

    struct {
        uint32_t magic;
        uint16_t major, minor;
        int32_t thiszone;
        uint32_t sigfigs, snaplen, linktype;
    } hdr = {PCAP_MAGIC_USEC, PCAP_VERSION_MAJOR, PCAP_VERSION_MINOR, 0, 0, p->snaplen, linktype};
    _Static_assert(sizeof(hdr) == 24, "pcap file header is 24 bytes");
    int err = put(p, &hdr, sizeof(hdr));
    if (err != 0) {
        synack_pcap_close(p);
        return err;
    }
    *out = p;
    return 0;
}

int synack_pcap_write(struct synack_pcap *p, synack_time_t ts, const uint8_t *pkt, size_t len)
{
    if (p == NULL || (pkt == NULL && len > 0))
        return -EINVAL;
    uint32_t incl = len < p->snaplen ? (uint32_t)len : p->snaplen;
    uint32_t rec[4] = {
        (uint32_t)(ts / 1000000u),                       /* ts_sec */
        (uint32_t)(ts % 1000000u),                       /* ts_usec */
        incl,                                            /* incl_len */
        len > UINT32_MAX ? UINT32_MAX : (uint32_t)len,   /* orig_len */
    };
    put(p, rec, sizeof(rec));
    return put(p, pkt, incl);
}

int synack_pcap_close(struct synack_pcap *p)
{
    if (p == NULL)
        return 0;
    int err = p->err;
    errno = 0;
    if (fclose(p->f) != 0 && err == 0)
        err = stdio_err();
    free(p);
    return err;
}

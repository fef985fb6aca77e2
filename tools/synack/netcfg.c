/* rtnetlink requests for the interface's kernel side (see netcfg.h). */
#include "netcfg.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <linux/if.h>
#include <linux/if_addr.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sockios.h>

/* One request: header, family-specific body, attributes. */
struct nlreq {
    struct nlmsghdr h;
    union {
        struct ifinfomsg link;
        struct ifaddrmsg addr;
    } body;
    uint8_t attrs[64];
};

static int ifindex(const char *ifname)
{
    int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (s < 0)
        return -errno;
    struct ifreq ifr;
    memset(&ifr, 0, sizeof(ifr));
    snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
    int rc = ioctl(s, SIOCGIFINDEX, &ifr) < 0 ? -errno : ifr.ifr_ifindex;
    close(s);
    return rc;
}

static void add_attr(struct nlreq *r, uint16_t type, const void *data, uint16_t len)
{
    struct rtattr *a = (struct rtattr *)((uint8_t *)r + NLMSG_ALIGN(r->h.nlmsg_len));
    a->rta_type = type;
    a->rta_len = (unsigned short)RTA_LENGTH(len);
    memcpy(RTA_DATA(a), data, len);
    r->h.nlmsg_len = NLMSG_ALIGN(r->h.nlmsg_len) + RTA_ALIGN(a->rta_len);
}

/* Send the request and read the kernel's acknowledgement (NLMSG_ERROR with
 * error 0 on success, -errno on failure). */
static int transact(struct nlreq *r)
{
    int s = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
    if (s < 0)
        return -errno;
    struct sockaddr_nl kernel = {.nl_family = AF_NETLINK};
    r->h.nlmsg_flags |= NLM_F_REQUEST | NLM_F_ACK;
    r->h.nlmsg_seq = 1;
    int rc = 0;
    if (sendto(s, r, r->h.nlmsg_len, 0, (struct sockaddr *)&kernel, sizeof(kernel)) < 0) {
        rc = -errno;
        goto out;
    }
    union {
        struct nlmsghdr h;
        uint8_t b[4096];
    } reply;
    for (int tries = 0; tries < 16; tries++) {
        ssize_t n = recv(s, &reply, sizeof(reply), 0);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            rc = -errno;
            goto out;
        }
        for (struct nlmsghdr *h = &reply.h; NLMSG_OK(h, (unsigned)n); h = NLMSG_NEXT(h, n)) {
            if (h->nlmsg_seq != 1 || h->nlmsg_type != NLMSG_ERROR)
                continue;
            const struct nlmsgerr *e = NLMSG_DATA(h);
            rc = e->error;
            goto out;
        }
    }
    rc = -EPROTO;
out:
    close(s);
    return rc;
}

/* An RTM_NEWLINK request for interface idx that changes nothing yet. */
static void newlink_req(struct nlreq *r, int idx)
{
    memset(r, 0, sizeof(*r));
    r->h.nlmsg_len = NLMSG_LENGTH(sizeof(struct ifinfomsg));
    r->h.nlmsg_type = RTM_NEWLINK;
    r->body.link.ifi_family = AF_UNSPEC;
    r->body.link.ifi_index = idx;
}

int netcfg_link_up(const char *ifname, uint16_t mtu)
{
    int idx = ifindex(ifname);
    if (idx < 0)
        return idx;
    struct nlreq r;
    newlink_req(&r, idx);
    r.body.link.ifi_flags = IFF_UP;
    r.body.link.ifi_change = IFF_UP;
    uint32_t m = mtu, q = NETCFG_TXQLEN;
    add_attr(&r, IFLA_MTU, &m, sizeof(m));
    add_attr(&r, IFLA_TXQLEN, &q, sizeof(q));
    return transact(&r);
}

int netcfg_wait_running(const char *ifname, unsigned timeout_ms)
{
    int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (s < 0)
        return -errno;
    struct ifreq ifr;
    memset(&ifr, 0, sizeof(ifr));
    snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
    int rc = -ETIMEDOUT;
    for (unsigned waited = 0; waited <= timeout_ms; waited += 2) {
        if (ioctl(s, SIOCGIFFLAGS, &ifr) < 0) {
            rc = -errno;
            break;
        }
        /* IFF_RUNNING is the operational state, which the link-watch work
         * sets just before it activates the queue. */
        if ((ifr.ifr_flags & (IFF_UP | IFF_RUNNING)) == (IFF_UP | IFF_RUNNING)) {
            rc = 0;
            break;
        }
        struct timespec ts = {0, 2000000};
        nanosleep(&ts, NULL);
    }
    close(s);
    if (rc < 0)
        return rc;
    /* The link-watch work holds the RTNL lock from setting the state to
     * activating the queue; a (no-op) request that takes the lock too
     * returns only once it is done. */
    int idx = ifindex(ifname);
    if (idx < 0)
        return idx;
    struct nlreq r;
    newlink_req(&r, idx);
    return transact(&r);
}

int netcfg_add_addr(const char *ifname, uint32_t addr, uint8_t prefix)
{
    int idx = ifindex(ifname);
    if (idx < 0)
        return idx;
    struct nlreq r;
    memset(&r, 0, sizeof(r));
    r.h.nlmsg_len = NLMSG_LENGTH(sizeof(struct ifaddrmsg));
    r.h.nlmsg_type = RTM_NEWADDR;
    r.h.nlmsg_flags = NLM_F_CREATE | NLM_F_REPLACE;
    r.body.addr.ifa_family = AF_INET;
    r.body.addr.ifa_prefixlen = prefix;
    r.body.addr.ifa_index = (uint32_t)idx;
    r.body.addr.ifa_scope = RT_SCOPE_UNIVERSE;
    uint32_t a = htonl(addr);
    /* On a broadcast interface IFA_LOCAL and IFA_ADDRESS are the same
     * address; the kernel derives the subnet route from the prefix. */
    add_attr(&r, IFA_LOCAL, &a, sizeof(a));
    add_attr(&r, IFA_ADDRESS, &a, sizeof(a));
    return transact(&r);
}

int netcfg_no_ipv6(const char *ifname)
{
    char path[128];
    snprintf(path, sizeof(path), "/proc/sys/net/ipv6/conf/%s/disable_ipv6", ifname);
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    int rc = write(fd, "1\n", 2) == 2 ? 0 : -errno;
    close(fd);
    return rc;
}

/* `synack trace FILE`: the command line (see trace.h for the pieces). */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cmds.h"
#include "trace.h"

#define TRACE_MAX_FILTERS 8

static void usage(FILE *f)
{
    fprintf(f,
            "usage: synack trace FILE [--filter ADDR|:PORT|ADDR:PORT]... [--json] [--states]\n"
            "                   [--svg FILE] [--html FILE] [--plot time-seq|window|rtt FILE.svg]\n"
            "                   [--conn N] [--all] [--max-packets N]\n\n"
            "Reads a pcap or pcapng capture (tcpdump, tshark, Wireshark, synack; Ethernet,\n"
            "raw IP, Linux cooked v1/v2; IPv4 and IPv6), splits it into TCP connections and\n"
            "prints each as a ladder: time, direction, flags, relative seq and ack, window\n"
            "(scaled once the scale is known), length, options, and each endpoint's RFC 9293\n"
            "state after the packet as inferred from the capture; unusual packets are marked\n"
            "(retransmission, dup ACK, out-of-order, zero window, ...); a summary follows.\n\n"
            "  --filter T       only connections with an endpoint matching T (ADDR, :PORT,\n"
            "                   ADDR:PORT, [V6ADDR]:PORT); repeated: every term must match\n"
            "  --json           JSON lines: one object per packet, one per connection\n"
            "  --states         one line per packet: frame, flags, sender's and receiver's state\n"
            "  --svg FILE       draw the ladder of a connection (--conn, default the first)\n"
            "  --html FILE      one self-contained page: ladders, plots, summaries\n"
            "  --plot KIND FILE time-seq, window or rtt plot of a connection as SVG\n"
            "  --conn N         the connection to draw (numbered as printed)\n"
            "  --all            draw every packet (long connections are summarised otherwise)\n"
            "  --max-packets N  stop reading after N TCP packets (default 2000000)\n");
}

int trace_analyse(struct trace *t)
{
    if (trace_split(t) < 0) {
        fprintf(stderr, "synack trace: out of memory splitting connections\n");
        return -1;
    }
    for (size_t i = 0; i < t->nconn; i++) {
        trace_mark(t, &t->conn[i]);
        trace_infer_states(t, &t->conn[i]);
    }
    return 0;
}

static FILE *open_out(const char *path)
{
    FILE *f = fopen(path, "w");
    if (!f)
        fprintf(stderr, "synack trace: cannot write %s\n", path);
    return f;
}

static int close_out(FILE *f, const char *path)
{
    if (fclose(f) != 0) {
        fprintf(stderr, "synack trace: error writing %s\n", path);
        return -1;
    }
    return 0;
}

int synack_cmd_trace(int argc, char **argv)
{
    static const struct option opts[] = {
        {"filter", required_argument, 0, 'f'}, {"json", no_argument, 0, 'j'},
        {"states", no_argument, 0, 's'},       {"svg", required_argument, 0, 'g'},
        {"html", required_argument, 0, 'H'},   {"plot", required_argument, 0, 'p'},
        {"conn", required_argument, 0, 'c'},   {"all", no_argument, 0, 'a'},
        {"max-packets", required_argument, 0, 'm'}, {"help", no_argument, 0, 'h'},
        {"svg-boxes", required_argument, 0, 'B'},
        {0, 0, 0, 0},
    };
    struct trace_ep filt[TRACE_MAX_FILTERS];
    bool any_addr[TRACE_MAX_FILTERS], any_port[TRACE_MAX_FILTERS];
    int nfilt = 0;
    bool json = false, states = false, all = false;
    const char *svg = NULL, *html = NULL, *boxes = NULL;
    const char *plot_kind[3], *plot_file[3];
    int nplot = 0;
    long conn_no = 0;
    unsigned long max_pkts = 2000000;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        char *end = NULL;
        switch (c) {
        case 'f':
            if (nfilt == TRACE_MAX_FILTERS ||
                !trace_filter_parse(optarg, &filt[nfilt], &any_addr[nfilt], &any_port[nfilt])) {
                fprintf(stderr, "synack trace: bad --filter '%s' (ADDR, :PORT, ADDR:PORT, [V6]:PORT; at most %d)\n",
                        optarg, TRACE_MAX_FILTERS);
                return 2;
            }
            nfilt++;
            break;
        case 'j': json = true; break;
        case 's': states = true; break;
        case 'g': svg = optarg; break;
        case 'H': html = optarg; break;
        case 'p':
            if (trace_plot_kind_parse(optarg) == TRACE_PLOT_CWND) {
                fprintf(stderr, "synack trace: --plot cwnd: a capture does not hold the sender's "
                                "congestion window; synack demo, serve and connect draw their own\n");
                return 2;
            }
            if (trace_plot_kind_parse(optarg) < 0) {
                fprintf(stderr, "synack trace: --plot takes time-seq, window or rtt, then a file\n");
                return 2;
            }
            if (optind >= argc || nplot == 3) {
                fprintf(stderr, "synack trace: --plot %s needs a file name (three plots at most)\n",
                        optarg);
                return 2;
            }
            plot_kind[nplot] = optarg;
            plot_file[nplot++] = argv[optind++];
            break;
        case 'c': conn_no = strtol(optarg, &end, 10); break;
        case 'a': all = true; break;
        case 'B': boxes = optarg; break; /* tests: the label boxes of --svg */
        case 'm': max_pkts = strtoul(optarg, &end, 10); break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
        if (end && (*end || end == optarg)) {
            fprintf(stderr, "synack trace: bad number '%s'\n", optarg);
            return 2;
        }
    }
    if (optind + 1 != argc) {
        usage(stderr);
        return 2;
    }
    const char *path = argv[optind];
    struct trace t;
    memset(&t, 0, sizeof(t));
    t.max_pkts = max_pkts;
    if (trace_read(&t, path) < 0 || trace_analyse(&t) < 0) {
        trace_free(&t);
        return 1;
    }
    if (t.truncated)
        fprintf(stderr, "synack trace: stopped after %zu TCP packets (--max-packets)\n", t.npkt);
    int shown = 0, rc = 0;
    struct trace_conn *pick = NULL;
    int pick_id = 0;
    for (size_t i = 0; i < t.nconn; i++) {
        struct trace_conn *cn = &t.conn[i];
        bool ok = true;
        for (int f = 0; f < nfilt && ok; f++)
            ok = trace_filter_match(cn, &filt[f], any_addr[f], any_port[f]);
        cn->shown = ok;
        if (!ok)
            continue;
        shown++;
        int id = (int)i + 1;
        if (!pick && (conn_no == 0 || conn_no == id)) {
            pick = cn;
            pick_id = id;
        }
        if (json)
            trace_print_json(&t, cn, id, stdout);
        else if (states)
            trace_print_states(&t, cn, stdout);
        else
            trace_print_text(&t, cn, id, stdout);
    }
    if (!json && !states)
        printf("%s: %zu TCP packets, %zu connections (%d shown), %llu other packets skipped\n", path,
               t.npkt, t.nconn, shown, (unsigned long long)t.skipped);
    if ((svg || nplot) && !pick) {
        fprintf(stderr, "synack trace: no connection to draw%s\n", conn_no ? " (--conn)" : "");
        rc = 1;
    }
    if (svg && pick) {
        FILE *f = open_out(svg);
        struct trace_svg_opts so = {.all = all};
        if (boxes && !(so.boxes = open_out(boxes)))
            rc = 1;
        if (!f || trace_svg_ladder(&t, pick, pick_id, NULL, &so, f) < 0 || close_out(f, svg) < 0)
            rc = 1;
        if (so.boxes && close_out(so.boxes, boxes) < 0)
            rc = 1;
    }
    for (int i = 0; i < nplot && pick; i++) {
        FILE *f = open_out(plot_file[i]);
        enum trace_plot_kind k = (enum trace_plot_kind)trace_plot_kind_parse(plot_kind[i]);
        if (!f || trace_plot(&t, pick, k, NULL, false, f) < 0 || close_out(f, plot_file[i]) < 0)
            rc = 1;
    }
    if (html) {
        FILE *f = open_out(html);
        if (!f || trace_html(&t, NULL, all, f) < 0 || close_out(f, html) < 0)
            rc = 1;
    }
    trace_free(&t);
    return rc;
}

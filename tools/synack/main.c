/* synack: the command-line tool.  One subcommand per file. */
#include <stdio.h>
#include <string.h>

#include "cmds.h"
#include "synack/base.h"

static const struct {
    const char *name;
    int (*fn)(int argc, char **argv);
    const char *help;
} cmds[] = {
    {"demo", synack_cmd_demo, "two simulated hosts open, talk and close; prints the ladder"},
    {"script", synack_cmd_script, "run packetdrill-style scripts against the stack"},
    {"serve", synack_cmd_serve, "run a server (echo, discard, chargen, http) on a TUN/TAP interface"},
    {"connect", synack_cmd_connect, "connect from a TUN/TAP interface to a server on the kernel's side"},
    {"trace", synack_cmd_trace, "read a pcap/pcapng capture: TCP ladders with inferred states, marks, plots"},
};

static void usage(FILE *f)
{
    fprintf(f, "usage: synack COMMAND [OPTIONS]\n\ncommands:\n");
    for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
        fprintf(f, "  %-8s %s\n", cmds[i].name, cmds[i].help);
    fprintf(f, "\n'synack COMMAND --help' describes each one.\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(argv[1], "--version")) {
        printf("synack %s\n", SYNACK_VERSION_STRING);
        return 0;
    }
    for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
        if (!strcmp(argv[1], cmds[i].name))
            return cmds[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "synack: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return 2;
}

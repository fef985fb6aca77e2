/* synack script: the packetdrill-style scripted packet test runner.
 *
 * `synack script [--verbose] FILE...` runs each script against a fresh
 * synack stack in virtual time and prints `PASS FILE` or `FAIL FILE` followed
 * by the differences, then `N passed, N failed`.  The dialect is described in
 * tests/scripts/README.md.
 */
#ifndef SYNACK_TOOL_SCRIPT_H
#define SYNACK_TOOL_SCRIPT_H

/* Entry point of the `script` subcommand (argv[0] is "script").
 * Returns 0 when every script passed, 1 when one failed, 2 on a usage error. */
int synack_cmd_script(int argc, char **argv);

#endif

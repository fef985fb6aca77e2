/* The subcommands of the synack tool: each takes argv from its own name on. */
#ifndef SYNACK_TOOL_CMDS_H
#define SYNACK_TOOL_CMDS_H

int synack_cmd_demo(int argc, char **argv);
int synack_cmd_script(int argc, char **argv);
int synack_cmd_serve(int argc, char **argv);
int synack_cmd_connect(int argc, char **argv);
int synack_cmd_trace(int argc, char **argv);

#endif

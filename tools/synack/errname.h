#ifndef SYNACK_TOOL_ERRNAME_H
#define SYNACK_TOOL_ERRNAME_H

/* "ECONNREFUSED" for ECONNREFUSED (either sign); NULL if unknown. */
const char *synack_errname(int err);
/* The errno value of a name ("EPIPE"), or 0 if unknown. */
int synack_errnum(const char *name);

#endif

/* Command-line values for every command: each parser checks the whole
 * argument and, when it is wrong, prints one line that names the option,
 * what was given and the valid range:
 *     synack demo: --loss 150: want a percentage, 0..100
 * and returns false. */
#ifndef SYNACK_TOOL_OPT_H
#define SYNACK_TOOL_OPT_H

#include <stdbool.h>

/* A percentage, 0..100, with or without a trailing '%'; *out is the
 * fraction (0..1). */
bool opt_percent(const char *cmd, const char *opt, const char *arg, double *out);
/* A whole number in lo..hi. */
bool opt_ulong(const char *cmd, const char *opt, const char *arg, unsigned long lo,
               unsigned long hi, unsigned long *out);
/* A decimal number in lo..hi, of `unit` (named in the message: "ms", "s"). */
bool opt_double(const char *cmd, const char *opt, const char *arg, double lo, double hi,
                const char *unit, double *out);
/* Print the error line for a value of another shape: `want` says what is valid. */
bool opt_bad(const char *cmd, const char *opt, const char *arg, const char *want);

#endif

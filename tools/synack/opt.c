/* Command-line values (opt.h). */
#include "opt.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

bool opt_bad(const char *cmd, const char *opt, const char *arg, const char *want)
{
    fprintf(stderr, "synack %s: --%s %s: want %s\n", cmd, opt, arg, want);
    return false;
}

bool opt_percent(const char *cmd, const char *opt, const char *arg, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(arg, &end);
    if (!errno && end != arg && *end == '%')
        end++;
    if (errno || end == arg || *end || !(v >= 0.0 && v <= 100.0))
        return opt_bad(cmd, opt, arg, "a percentage, 0..100");
    *out = v / 100.0;
    return true;
}

bool opt_ulong(const char *cmd, const char *opt, const char *arg, unsigned long lo,
               unsigned long hi, unsigned long *out)
{
    char *end;
    errno = 0;
    unsigned long v = strtoul(arg, &end, 10);
    if (errno || end == arg || *end || arg[0] == '-' || v < lo || v > hi) {
        char want[64];
        snprintf(want, sizeof(want), "a whole number, %lu..%lu", lo, hi);
        return opt_bad(cmd, opt, arg, want);
    }
    *out = v;
    return true;
}

bool opt_double(const char *cmd, const char *opt, const char *arg, double lo, double hi,
                const char *unit, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(arg, &end);
    if (errno || end == arg || *end || !(v >= lo && v <= hi)) {
        char want[80];
        snprintf(want, sizeof(want), "%g..%g %s", lo, hi, unit);
        return opt_bad(cmd, opt, arg, want);
    }
    *out = v;
    return true;
}

/* synack: basic types shared by every layer.
 *
 * Time is one integer type: microseconds on a monotonic clock whose epoch the
 * caller chooses (the simulator starts at 0, the event loop uses
 * CLOCK_MONOTONIC).  SYNACK_TIME_NEVER means "no deadline".
 *
 * Errors: functions of the library return 0 (or a non-negative count) on
 * success and a negative errno value on failure (-EINVAL, -ENOMEM, ...), with
 * the meaning those values have on Linux.  The BSD-shaped socket API
 * (socket.h) instead returns -1 and sets errno, like the system calls it
 * mirrors.
 */
#ifndef SYNACK_BASE_H
#define SYNACK_BASE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef uint64_t synack_time_t;

#define SYNACK_TIME_NEVER UINT64_MAX
#define SYNACK_USEC(x) ((synack_time_t)(x))
#define SYNACK_MSEC(x) ((synack_time_t)(x) * 1000u)
#define SYNACK_SEC(x)  ((synack_time_t)(x) * 1000000u)

#define SYNACK_VERSION_STRING "0.1.0"

/* A human-readable text for a negative error code returned by the library. */
const char *synack_strerror(int err);

#ifdef __cplusplus
}
#endif
#endif

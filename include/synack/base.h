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
 *
 * Compatibility (docs/api.md has the whole promise): the library follows
 * semantic versioning.  The shared library's soname, libsynack.so.N, names
 * its ABI: N changes only when a program built against an older release
 * could misbehave, and then the minor version resets.  Within one N,
 * configuration structs grow only at their end and carry a version
 * (SYNACK_CONFIG_VERSION, ...), statistics structs only gain fields at
 * their end, enums only gain values, and no exported function disappears or
 * changes its signature.  Only the symbols declared with SYNACK_API are
 * exported.
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

/* The version these headers belong to (compile time). */
#define SYNACK_VERSION_MAJOR 0
#define SYNACK_VERSION_MINOR 2
#define SYNACK_VERSION_PATCH 0
#define SYNACK_VERSION_STRING "0.2.0"
/* 0xMMmmpp: compare with >= to require a release. */
#define SYNACK_VERSION_NUM \
    ((SYNACK_VERSION_MAJOR << 16) | (SYNACK_VERSION_MINOR << 8) | SYNACK_VERSION_PATCH)
/* The ABI number: the N of the soname libsynack.so.N. */
#define SYNACK_ABI_VERSION 1

/* Marks the library's exported functions (the build hides everything else). */
#if defined(__GNUC__) || defined(__clang__)
#define SYNACK_API __attribute__((visibility("default")))
#else
#define SYNACK_API
#endif

/* The library actually loaded (run time), which may be newer than the
 * headers a program was built with.  Returns its SYNACK_VERSION_NUM, and
 * its version string in *str when str is not NULL. */
SYNACK_API uint32_t synack_version(const char **str);

/* A human-readable text for a negative error code returned by the library. */
SYNACK_API const char *synack_strerror(int err);

#ifdef __cplusplus
}
#endif
#endif

/* common/err.h: the one error type every mbench library function fills.
 *
 * Library code never prints and never exits: it returns -1 (or NULL) and writes a
 * one-line message into an mb_err the caller owns. Only main() prints and exits. */
#ifndef MB_ERR_H
#define MB_ERR_H

#include <stddef.h>

typedef struct {
    char msg[1024];
} mb_err;

/* Formats a message into e (if e is not NULL) and returns -1, so that
 * `return mb_fail(e, "...", ...);` reads as one statement. */
int mb_fail(mb_err *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Prefixes the message already in e with "prefix: " (used to add context on the way up). */
int mb_wrap(mb_err *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif

/* common/file.h: writing a file atomically. The text goes to PATH.tmp, which is flushed to
 * disk and renamed over PATH, so a reader (or a process killed at any moment) only ever
 * sees the old file or the whole new one. Every file mbench itself writes goes through it
 * (not gnuplot's: the plot images and the appended plots/gnuplot.log):
 *
 *     mb_atomic a;
 *     if (mb_atomic_open(&a, path, err)) return -1;
 *     fprintf(a.f, ...);                        // any writes; on a failure of your own:
 *     if (bad) { mb_atomic_abort(&a); ... }     // the temporary file goes, PATH stays
 *     return mb_atomic_commit(&a, err);         // a write error anywhere shows here */
#ifndef MB_FILE_H
#define MB_FILE_H

#include <stdio.h>

#include "err.h"

typedef struct {
    FILE *f;          /* write to this */
    char path[4096];  /* the file being replaced */
    char tmp[4104];   /* path.tmp */
} mb_atomic;

/* Opens PATH.tmp for writing (binary and text are the same on Linux). 0, or -1 with a
 * message naming PATH (the user's file; the temporary in parentheses). */
int mb_atomic_open(mb_atomic *a, const char *path, mb_err *err);
/* Flushes, fsyncs and closes the temporary file and renames it over path. 0, or -1 with a
 * message naming path (and the temporary file removed, path untouched). */
int mb_atomic_commit(mb_atomic *a, mb_err *err);
/* Closes and removes the temporary file; path is untouched. */
void mb_atomic_abort(mb_atomic *a);

#endif

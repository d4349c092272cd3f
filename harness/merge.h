/* harness/merge.h: `mbench merge`: several sweep directories of one scenario (the shards
 * of `mbench sweep --shard I/N`, or whole sweeps) into one results directory that
 * `mbench plot` draws like any sweep (docs/cluster.md).
 *
 * Everything is checked before anything is written: the inputs must be sweeps of the
 * same scenario (scenario hash) and partition (rule and shard count); a run (point x
 * kernel) found in two inputs is kept once if the two rows and their samples are
 * identical, and refused if they differ; ok rows measured on different machine types
 * may not meet in one plot (one axis, one value of the other axes) unless allow_mixed,
 * which keeps them apart: fits and plots are then grouped by machine_type too. */
#ifndef MB_MERGE_H
#define MB_MERGE_H

#include <stdbool.h>

#include "common/err.h"

#define MERGE_REFUSED (-2) /* the inputs do not merge (bad input: exit status 2) */

typedef struct {
    bool allow_mixed;
    const char *command_line; /* recorded in meta.json (may be NULL) */
} merge_opts;

typedef struct {
    int ndirs;            /* inputs merged (a directory given twice counts once) */
    int nrows, nsamples;  /* rows and samples written */
    int identical;        /* runs found identically in two inputs, kept once */
    int ntypes;           /* machine types among the rows */
    int shard_count;      /* N of the partition */
    int nshards;          /* distinct shard indices present */
    int total_runs;       /* runs of the scenario (-1 if its scenario.ini does not load here) */
    int missing_runs;     /* of them, in no input */
    char notes[2048];     /* warnings, one per line (missing shards and runs, incomplete inputs, ...) */
} merge_report;

/* Merges dirs[0..ndirs) into out (created; it must not hold a sweep). Returns 0, -1 on a
 * failure (I/O; err), or MERGE_REFUSED with the reason in err (which point, which dirs). */
int merge_dirs(const char *const *dirs, int ndirs, const char *out, const merge_opts *o, merge_report *rep,
               mb_err *err);

#endif

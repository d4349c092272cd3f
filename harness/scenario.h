/* harness/scenario.h: sweep scenarios (scenarios/NAME.ini, format in scenarios/README.md):
 * parsing with inih, --set / --kernels / --quick overrides, validation (every error
 * names file:line and what was expected, before anything runs), expansion into the
 * points of the sweep, and the canonical "as run" text stored with the results. */
#ifndef MB_SCENARIO_H
#define MB_SCENARIO_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "common/err.h"
#include "harness/bench.h"
#include "kernels/scan.h"

#define SCEN_MAX_VALUES 64   /* values of one key */
#define SCEN_MAX_KERNELS 32
#define SCEN_MAX_ENTRIES 64  /* key = value lines */
#define SCEN_MAX_POINTS 4096 /* points of the product of the axes */

/* The keys that take integer lists; a key given more than one value is an axis. */
typedef enum {
    SCEN_BATCH, SCEN_SEQLEN, SCEN_CHANNELS, SCEN_D_MODEL, SCEN_EXPAND, SCEN_D_STATE,
    SCEN_HEADS, SCEN_HEADDIM, SCEN_GROUPS, SCEN_THREADS, SCEN_CHUNK, SCEN_NINT
} scen_int;

/* One `key = value` as written (file line, or a command-line override). */
typedef struct {
    char section[16];
    char key[32];
    char value[256];
    char where[600]; /* "path:line" or "--set" / "--kernels" */
} scen_entry;

typedef struct {
    char path[512];        /* the file read */
    char name[64];         /* [scenario] name, else the file's stem */
    char description[256];
    bool quick;            /* --quick was applied */
    /* entries as resolved: file, then [quick] if asked, then --set and --kernels */
    int nentries;
    scen_entry entries[SCEN_MAX_ENTRIES];

    /* the interpretation */
    int nkernels;
    const scan_kernel *kernels[SCEN_MAX_KERNELS];
    int nvals[SCEN_NINT];            /* 0: key not given */
    int64_t vals[SCEN_NINT][SCEN_MAX_VALUES];
    scan_shape shape;                /* a, softplus, bias, dskip, z, h0, h_last */
    bench_settings set;              /* bind, min_reps, min_time, max_reps, warmup, seed, check */
    int naxes;
    scen_int axes[SCEN_NINT];        /* keys with > 1 value, in table order */
    /* counters and cache simulation ([run] counters, counter_reps (in set), sim, sim_ll,
     * sim_cold, sim_max_updates; docs/counters.md) */
    char counters[512];              /* event list ("" : none) */
    bool sim, sim_cold;              /* valgrind cache simulation of each point; from cold caches */
    char sim_ll[64];                 /* simulated last level: "" (hwloc's last), l2, l3, SIZE,WAYS[,LINE] */
    int64_t sim_max_updates;         /* points with more state updates are not simulated */
} scenario;

/* One point of the sweep: the shape and the thread count / chunk it runs with. */
typedef struct {
    int index;                  /* 0..npoints-1: the product order (axes in table order) */
    scan_shape shape;
    int threads, chunk;
    int64_t d_model, expand, headdim; /* as given (0 when not used) */
    int64_t axis_val[SCEN_NINT];      /* value of every integer key at this point */
} scen_point;

/* Key names of the integer keys (scen_int order), e.g. "d_state". */
const char *scen_int_name(scen_int k);

/* Reads `path` (max_pus resolves `all` in threads). Overrides are applied in this order:
 * the [quick] section (if quick), each "key=value" of sets, then kernels (a comma list
 * or NULL). Every error names file:line (or the flag) and what was expected. */
int scenario_load(scenario *s, const char *path, bool quick, const char *const *sets, int nsets,
                  const char *kernels, int max_pus, mb_err *err);

/* Finds NAME (scenarios/NAME.ini under the source tree) or takes a path. */
void scenario_resolve(const char *name_or_path, char *path, size_t len);

/* Expands the product of the axes. *pts is malloc'ed ([*n]); every point's shape is
 * checked (an invalid point is an error naming it). */
int scenario_points(const scenario *s, scen_point **pts, int *n, mb_err *err);

/* Writes the scenario as run (resolved entries, no [quick]), loadable by scenario_load. */
void scenario_write(FILE *f, const scenario *s, const char *comment);

/* "d_state=64 threads=2": the axis values of a point (empty when there are no axes). */
void scenario_point_label(const scenario *s, const scen_point *p, char *buf, size_t len);

#endif

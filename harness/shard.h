/* harness/shard.h: splitting a sweep over several machines (docs/cluster.md).
 *
 * `mbench sweep NAME --shard I/N` runs shard I of a partition of the sweep's runs (one
 * run = one point x kernel) into N shards. The partition is a pure function of the
 * scenario as run: every run gets a cost estimate from the kernel's cost model and FIXED
 * reference rates (never this machine's calibration), the runs are sorted by estimate
 * (largest first; ties by point index, then by the kernel's position in the scenario's
 * list) and dealt greedily to the least-loaded shard (ties: the lowest shard index),
 * i.e. longest-processing-time-first. Estimates are whole microseconds, so the loads
 * are exact integer sums: every machine computes the same partition. Bound: the loads of
 * any two shards differ by at most the largest single estimate. */
#ifndef MB_SHARD_H
#define MB_SHARD_H

#include <stdint.h>

#include "common/err.h"
#include "harness/scenario.h"

/* The rule's name, recorded in meta.json ("partition"): merge checks shards agree. */
#define SHARD_RULE "lpt-v2"

/* Reference rates of the estimate (per thread for flops and exps, whole point for
 * bytes moved per call and for the first touch of tensors and workspace, which the
 * harness does once per run) and the fixed cost of a run (pinning, the oracle check). */
#define SHARD_REF_FLOPS 50e9
#define SHARD_REF_EXPS 1e9
#define SHARD_REF_BYTES 10e9
#define SHARD_REF_TOUCH 0.5e9
#define SHARD_RUN_OVERHEAD_US 20000

typedef struct {
    int index, count; /* 0 <= index < count */
} shard_spec;

/* Parses "I/N" (0 <= I < N, 1 <= N <= 100000); errors name --shard. */
int shard_parse(const char *s, shard_spec *sp, mb_err *err);

/* One run of the sweep: the point, the kernel (index into the scenario's kernels), its
 * estimated wall time in microseconds, and the shard it belongs to. */
typedef struct {
    int point, kernel;
    int64_t est_us;
    int shard;
} shard_run;

/* Estimated wall seconds of one run (first touch of tensors and workspace, warm-up, the
 * repetitions min_reps/min_time/max_reps ask for at the reference rates, the check),
 * 0 for a run the kernel refuses (skipped). */
double shard_estimate(const scenario *sc, const scen_point *p, const scan_kernel *k);

/* Partitions the npts x sc->nkernels runs into count shards. *runs is malloc'ed
 * [npts * nkernels] in (point, kernel) order; loads_us (may be NULL) gets [count] sums. */
int shard_plan(const scenario *sc, const scen_point *pts, int npts, int count, shard_run **runs,
               int64_t *loads_us, mb_err *err);

/* A stable hash (FNV-1a 64, 16 hex digits) of a scenario's "as run" text, comment lines
 * (starting with ';') and blank lines left out: shards of one sweep share it. */
void shard_scenario_hash(const char *as_run, char *hex, size_t len);

/* FNV-1a 64 over n bytes, continuing from h (start with SHARD_FNV_BASIS). */
#define SHARD_FNV_BASIS 0xcbf29ce484222325ull
uint64_t shard_fnv1a(const void *data, size_t n, uint64_t h);

#endif

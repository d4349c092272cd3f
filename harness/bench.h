/* harness/bench.h: one measured point: a kernel on a shape with run settings, timed
 * and summarised (the runner of the google/benchmark split; stats.c does the
 * statistics and the commands do the reporting). Used by `run`, `sweep` and `counters`. */
#ifndef MB_BENCH_H
#define MB_BENCH_H

#include <stdbool.h>
#include <stdint.h>

#include "harness/calib.h"
#include "harness/counters.h"
#include "harness/interfere.h"
#include "harness/pin.h"
#include "harness/stats.h"
#include "block/block.h"
#include "kernels/scan.h"

/* What a point times: the forward, the backward (after one untimed forward_save), or a
 * training step (forward_save + backward). */
typedef enum { BENCH_FORWARD = 0, BENCH_BACKWARD = 1, BENCH_BOTH = 2 } bench_direction;
const char *bench_direction_name(bench_direction d);
int bench_direction_parse(const char *s, bench_direction *d); /* 0 or -1 */

typedef struct {
    int threads;
    pin_mode bind;
    int min_reps;     /* at least this many timed repetitions */
    double min_time;  /* and at least this many seconds of them */
    int max_reps;     /* stop here even if min_time is not reached (0: 100000; never below min_reps) */
    int warmup;       /* untimed calls before timing (>= 1 touches every buffer) */
    uint64_t seed;
    bool check;       /* compare with the oracle before timing */
    int chunk;        /* kernel option (ssd) */
    int64_t mem_budget; /* refuse points needing more bytes (0: MemAvailable * 0.8) */
    const cnt_set *counters; /* events to count (NULL: none), in calls separate from the timed ones */
    int counter_reps;        /* counted calls (0: 3) */
    bench_direction direction; /* forward (default), backward or both */
    bool block_level; /* time a whole Mamba block (harness/bench_block.c), not the scan alone */
    int64_t d_model;  /* block level: d_model (0: channels / 2) */
    int checkpoint;   /* kernel option: steps between saved state checkpoints (fused) */
} bench_settings;

struct cachesim_result;

typedef enum { BENCH_OK = 0, BENCH_SKIPPED = 1, BENCH_FAILED = 2 } bench_status;

typedef struct {
    bench_status status;
    char reason[512];
    const scan_kernel *kernel;
    scan_shape shape;
    bench_settings set;
    char binding[512];    /* pinning as read back after timing */
    int reps;
    double *samples;      /* [reps] seconds (owned; bench_result_free) */
    stats_summary st;
    scan_cost cost;
    double updates;       /* B*L*D*N */
    double updates_per_s, gflops, gbps, exps_per_s;
    const char *bound;    /* "exp", "fma" or "bw": the ceiling that binds on this shape */
    double bound_s;       /* the time that ceiling allows */
    double ceiling_fraction; /* bound_s / median (NaN without a calibration) */
    size_t workspace_bytes; /* 0 until sized (memory_bytes >= 0) */
    double first_touch_s; /* allocation + first touch of inputs and workspace (untimed); NaN
                             where nothing was allocated (skipped, or failed in the check) */
    bool checked;
    bool check_ok;
    double max_abs_err, max_rel_err; /* of y */
    double h_last_max_rel_err;        /* of h_last (want_h_last; else NaN), same tolerance */
    char check_shape[160]; /* the shape the check ran on (reduced if the point is big) */
    bool timer_warning;   /* shortest sample < 10x the timer resolution */
    /* interference while the point ran (harness/interfere.h): the share of the timed
     * section its threads waited for a CPU, the slowest thread's speed and the memory's in probes before
     * and after it over the calibrated one (NaN where not measurable), and the verdict */
    double wait_share, cpu_speed, mem_speed;
    bool disturbed;
    cnt_values counters;  /* per call, from the counted calls (counters.set NULL if none asked) */
    const struct cachesim_result *sim; /* the point's cache simulation (owned by the caller), or NULL */
    char sim_status[256];  /* "" (not asked), "ok", or why the point was not simulated */
    /* training (direction backward or both) */
    size_t saved_bytes;   /* what forward_save keeps for the backward */
    int64_t memory_bytes; /* bytes the timed direction needs: tensors + workspace (+ saved
                             + dy and gradients when training); -1 where the point was not
                             sized (a kernel that cannot run it); cost is NaN there too */
    int64_t peak_rss_bytes; /* measured: the process's peak resident set while the point
                               ran (VmHWM after a reset), -1 where it cannot be read */
    bool grad_checked;
    scan_errors grad_err[SCAN_NGRADS]; /* per gradient vs the oracle's backward */
    double grad_max_rel_err;           /* the worst of them */
    /* block level: the block timed (the scan shape above is the one inside it) */
    bool block_level;
    block_shape block;
} bench_result;

void bench_settings_default(bench_settings *s);

/* Measures one point. Returns -1 only for errors of the harness itself (err); a kernel
 * that cannot run the problem, or a point over the memory budget, is status SKIPPED and
 * a kernel error or failed check is FAILED, with the reason in r->reason. */
int bench_point(const scan_kernel *k, const scan_shape *s, const bench_settings *set,
                const calib *cal, pin_topo *topo, bench_result *r, mb_err *err);
void bench_result_free(bench_result *r);

/* The correctness gate of bench_point (the kernel against the oracle, forward and, for
 * backward or both, every gradient; on a reduced shape if s is big). 0 with the outcome
 * in r (status FAILED if the check failed), -1 on a harness error. */
int bench_check(const scan_kernel *k, const scan_shape *s, const bench_settings *set, bench_result *r,
                mb_err *err);

/* One block-level point (harness/bench_block.c): the Mamba block around the scan shape s
 * (Mamba-1 for diag problems, Mamba-2 for head problems; d_inner = channels, d_model =
 * set->d_model or channels / 2) timed forward, backward or both, the scan through k.
 * OpenBLAS gets set->threads threads for the projections during the point. Same
 * statuses as bench_point. */
int bench_block_point(const scan_kernel *k, const scan_shape *s, const bench_settings *set, const calib *cal,
                      pin_topo *topo, bench_result *r, mb_err *err);
/* The block a block-level point times. */
int bench_block_shape(const scan_shape *s, const bench_settings *set, block_shape *bs, mb_err *err);

/* ---- the parts of a point bench_point and bench_block_point share (bench.c) ---- */

/* r zeroed for kernel k, shape s and settings set, every figure not measured yet NaN. */
void bench_result_start(bench_result *r, const scan_kernel *k, const scan_shape *s, const bench_settings *set);
/* The timed section: set->warmup (>= 1) untimed calls of call(arg), interfere_begin(im),
 * then timed calls until both set->min_reps and set->min_time are met (at most
 * set->max_reps, 0: 100000, but never fewer than min_reps), their seconds in r->samples and r->reps; one float of out[0..n) is read
 * after every call, so that no call can be optimised away. 0; 1 if a call failed (kerr
 * says why); -1 (err) out of memory. */
int bench_time_calls(const bench_settings *set, interfere_mark *im, int (*call)(void *arg, mb_err *err), void *arg,
                     const float *out, int64_t n, bench_result *r, mb_err *kerr, mb_err *err);
/* After the timed section: the interference figures (interfere_end), the binding read
 * back, the statistics of the samples and the timer warning. 0 or -1 (err). */
int bench_time_summarize(bench_result *r, const interfere_mark *im, pin_topo *topo, mb_err *err);

/* Bytes a point needs: tensors + workspace (+ saved + dy and gradients when training). */
int64_t bench_point_bytes(const scan_kernel *k, const scan_shape *s, const bench_settings *set);

const char *bench_status_name(bench_status s);

/* Seconds from CLOCK_MONOTONIC. */
double bench_now(void);

#endif

/* harness/bench.c: measuring one point (see bench.h).
 *
 * Order: refuse what cannot run (unsupported, over the memory budget); pin; check
 * against the oracle; allocate and first-touch everything (timed on its own, never
 * inside the kernel's time); warm up; time repetitions until both min_reps and
 * min_time are met; read the binding back; summarise. */
#include "bench.h"

#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/mem.h"

/* Points whose oracle check would take longer than this many state updates are
 * checked on a reduced shape (batch 1, seqlen <= 64) with the same other sizes. */
#define BENCH_CHECK_FULL_UPDATES (1 << 24)

double bench_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

const char *bench_status_name(bench_status s)
{
    return s == BENCH_OK ? "ok" : s == BENCH_SKIPPED ? "skipped" : "failed";
}

void bench_settings_default(bench_settings *s)
{
    *s = (bench_settings){.threads = 1, .bind = PIN_COMPACT, .min_reps = 10, .min_time = 0.5,
                          .max_reps = 100000, .warmup = 2, .seed = 42, .check = false};
}

const char *bench_direction_name(bench_direction d)
{
    return d == BENCH_BACKWARD ? "backward" : d == BENCH_BOTH ? "both" : "forward";
}

int bench_direction_parse(const char *s, bench_direction *d)
{
    if (!strcmp(s, "forward")) *d = BENCH_FORWARD;
    else if (!strcmp(s, "backward")) *d = BENCH_BACKWARD;
    else if (!strcmp(s, "both")) *d = BENCH_BOTH;
    else return -1;
    return 0;
}

static scan_opts opts_of(const bench_settings *set)
{
    return (scan_opts){.threads = set->threads, .chunk = set->chunk, .checkpoint = set->checkpoint};
}

int64_t bench_point_bytes(const scan_kernel *k, const scan_shape *s, const bench_settings *set)
{
    scan_opts o = opts_of(set);
    if (set->direction != BENCH_FORWARD)
        return scan_shape_tensor_bytes(s) + scan_train_extra_bytes(k, s, &o);
    return scan_shape_tensor_bytes(s) + (int64_t)k->workspace_bytes(s, &o);
}

/* VmHWM (peak resident set) of this process in bytes, or -1. */
static int64_t peak_rss(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    if (!f) return -1;
    char line[256];
    long long kb = -1;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "VmHWM: %lld kB", &kb) == 1) break;
    fclose(f);
    return kb >= 0 ? kb * 1024 : -1;
}

/* Resets VmHWM to the current resident set (Linux >= 4.0); false if it cannot. */
static bool peak_rss_reset(void)
{
    FILE *f = fopen("/proc/self/clear_refs", "w");
    if (!f) return false;
    bool ok = fputs("5", f) >= 0;
    return fclose(f) == 0 && ok;
}

static void result_fail(bench_result *r, bench_status st, const char *fmt, const char *msg)
{
    r->status = st;
    snprintf(r->reason, sizeof r->reason, fmt, msg);
}

/* Parallel first touch of a buffer by the pinned threads, in the static partition the
 * kernels use, so pages land where they are used (and page faults are paid here). */
static void first_touch(void *p, size_t bytes, int threads)
{
    unsigned char *c = p;
    const int64_t pages = (int64_t)((bytes + 4095) / 4096);
#pragma omp parallel for schedule(static) num_threads(threads)
    for (int64_t i = 0; i < pages; i++) c[i * 4096] = 0;
}

/* The correctness gate: the kernel's output against the oracle's on the point's shape
 * (or a reduced one). Returns 0 (check done, result in r) or -1 (harness error). */
int bench_check(const scan_kernel *k, const scan_shape *s, const bench_settings *set,
                       bench_result *r, mb_err *err)
{
    scan_shape cs = *s;
    if (scan_shape_updates(s) > BENCH_CHECK_FULL_UPDATES) {
        cs.batch = 1;
        if (cs.seqlen > 64) cs.seqlen = 64;
    }
    scan_shape_describe(&cs, r->check_shape, sizeof r->check_shape);
    scan_opts o = opts_of(set);
    const bool train = set->direction != BENCH_FORWARD;
    scan_problem p;
    scan_grad_bufs gb = {0};
    scan_grads_f64 rg = {0};
    scan_fill f = SCAN_FILL_DEFAULT(set->seed);
    if (scan_problem_init(&p, &cs, &f, err)) return -1;
    scan_sizes n;
    scan_shape_sizes(&cs, &n);
    double *ry = malloc((size_t)n.y * sizeof(double));             /* [B][L][D] */
    double *rh = n.h_last ? malloc((size_t)n.h_last * sizeof(double)) : NULL; /* [B][D][N] */
    size_t wsb = train ? k->backward_workspace_bytes(&cs, &o) : k->workspace_bytes(&cs, &o);
    size_t svb = train ? k->saved_bytes(&cs, &o) : 0;
    void *ws = wsb ? mb_alloc(wsb) : NULL, *saved = svb ? mb_alloc(svb) : NULL;
    int rc = 0;
    if (!ry || (n.h_last && !rh) || (wsb && !ws) || (svb && !saved)) {
        rc = mb_fail(err, "out of memory for the correctness check");
        goto done;
    }
    if (train && (scan_grad_bufs_init(&gb, &cs, set->seed, err) || scan_grads_f64_init(&rg, &cs, err))) {
        rc = -1;
        goto done;
    }
    if (scan_reference(&cs, &p.t, ry, rh, err) ||
        (train && scan_reference_backward(&cs, &p.t, gb.g.dy, gb.g.dh_last, &rg, err))) {
        rc = -1;
        goto done;
    }
    mb_err kerr;
    r->checked = true;
    int krc = train ? k->forward_save(&cs, &p.t, &o, saved, ws, &kerr) : k->forward(&cs, &p.t, &o, ws, &kerr);
    if (!krc && train) krc = k->backward(&cs, &p.t, &gb.g, &o, saved, ws, &kerr);
    if (krc) {
        r->check_ok = false;
        result_fail(r, BENCH_FAILED, "kernel error in the check: %s", kerr.msg);
        goto done;
    }
    scan_errors e = scan_compare(p.t.y, ry, n.y);
    r->max_abs_err = e.max_abs_err;
    r->max_rel_err = e.max_rel_err;
    r->check_ok = e.max_rel_err <= SCAN_TOLERANCE;
    if (rh) { /* the final state is an output too */
        r->h_last_max_rel_err = scan_compare(p.t.h_last, rh, n.h_last).max_rel_err;
        r->check_ok = r->check_ok && r->h_last_max_rel_err <= SCAN_TOLERANCE;
    }
    if (train) {
        r->grad_checked = true;
        r->grad_max_rel_err = scan_grads_compare(&cs, &gb.g, &rg, r->grad_err);
        r->check_ok = r->check_ok && r->grad_max_rel_err <= SCAN_GRAD_TOLERANCE;
    }
    if (!r->check_ok) {
        char msg[256];
        int worst = 0;
        for (int i = 1; i < SCAN_NGRADS; i++)
            if (!(r->grad_err[i].max_rel_err <= r->grad_err[worst].max_rel_err)) worst = i;
        if (!(e.max_rel_err <= SCAN_TOLERANCE))
            snprintf(msg, sizeof msg, "y max_rel_err %.3g > tolerance %.0e", e.max_rel_err, SCAN_TOLERANCE);
        else if (rh && !(r->h_last_max_rel_err <= SCAN_TOLERANCE))
            snprintf(msg, sizeof msg, "h_last max_rel_err %.3g > tolerance %.0e", r->h_last_max_rel_err,
                     SCAN_TOLERANCE);
        else
            snprintf(msg, sizeof msg, "%s max_rel_err %.3g > tolerance %.0e", scan_grad_names[worst],
                     r->grad_err[worst].max_rel_err, SCAN_GRAD_TOLERANCE);
        result_fail(r, BENCH_FAILED, "check against the fp64 oracle failed: %s", msg);
    }
done:
    free(ry);
    free(rh);
    mb_free(ws);
    mb_free(saved);
    scan_grads_f64_free(&rg);
    scan_grad_bufs_free(&gb);
    scan_problem_free(&p);
    return rc;
}

/* One call of what the point times. */
static int run_once(const scan_kernel *k, const scan_shape *s, const scan_tensors *t, const scan_grads *g,
                    const scan_opts *o, bench_direction dir, void *saved, void *ws, mb_err *err)
{
    switch (dir) {
    case BENCH_FORWARD:
        return k->forward(s, t, o, ws, err);
    case BENCH_BACKWARD:
        return k->backward(s, t, g, o, saved, ws, err);
    case BENCH_BOTH:
        if (k->forward_save(s, t, o, saved, ws, err)) return -1;
        return k->backward(s, t, g, o, saved, ws, err);
    }
    return mb_fail(err, "bad direction");
}

static void derive(bench_result *r, const calib *cal)
{
    const double t = r->st.median;
    r->updates_per_s = r->updates / t;
    r->gflops = r->cost.flops / t * 1e-9;
    r->gbps = r->cost.bytes / t * 1e-9;
    r->exps_per_s = r->cost.exps / t;
    r->bound = NULL;
    r->bound_s = NAN;
    r->ceiling_fraction = NAN;
    const calib_row *row = cal && cal->valid ? calib_row_for(cal, r->set.threads) : NULL;
    if (!row) return;
    double rate = calib_exp_rate(cal, row, r->kernel->exp_routine);
    /* exps but no rate for the kernel's exp routine (a calibration older than the routine):
     * no ceiling at all, rather than one that leaves the exps out */
    if (r->cost.exps > 0 && !(rate > 0)) return;
    double te = rate > 0 ? r->cost.exps / rate : 0;
    double tf = row->fma_gflops > 0 ? r->cost.flops / (row->fma_gflops * 1e9) : 0;
    double tb = row->stream_gbps > 0 ? r->cost.bytes / (row->stream_gbps * 1e9) : 0;
    r->bound = "exp", r->bound_s = te;
    if (tf > r->bound_s) r->bound = "fma", r->bound_s = tf;
    if (tb > r->bound_s) r->bound = "bw", r->bound_s = tb;
    r->ceiling_fraction = r->bound_s > 0 ? r->bound_s / t : NAN;
}

/* One kernel call, in the shape cnt_measure and bench_time_calls want. */
typedef struct {
    const scan_kernel *k;
    const scan_shape *s;
    const scan_tensors *t;
    const scan_opts *o;
    void *ws;
    const scan_grads *g;  /* training only */
    void *saved;          /* training only */
    bench_direction dir;
} bench_call;

static int bench_call_once(void *arg, mb_err *err)
{
    bench_call *c = arg;
    return run_once(c->k, c->s, c->t, c->g, c->o, c->dir, c->saved, c->ws, err);
}

// ---------------------------------------------------------------- shared with bench_block.c

void bench_result_start(bench_result *r, const scan_kernel *k, const scan_shape *s, const bench_settings *set)
{
    memset(r, 0, sizeof *r);
    r->kernel = k;
    r->shape = *s;
    r->set = *set;
    r->max_abs_err = r->max_rel_err = r->grad_max_rel_err = r->h_last_max_rel_err = NAN;
    r->ceiling_fraction = r->bound_s = NAN;
    /* not counted, sized or allocated until the point gets that far (a skipped point
     * reports none of them, rather than zeros) */
    r->cost = (scan_cost){NAN, NAN, NAN, NAN};
    r->first_touch_s = NAN;
    r->memory_bytes = -1;
    r->updates = scan_shape_updates(s);
    r->peak_rss_bytes = -1;
    r->wait_share = r->cpu_speed = r->mem_speed = NAN;
}

int bench_time_calls(const bench_settings *set, interfere_mark *im, int (*call)(void *arg, mb_err *err), void *arg,
                     const float *out, int64_t n, bench_result *r, mb_err *kerr, mb_err *err)
{
    volatile float sink = 0; /* the result is read, so no call can be removed */
    for (int i = 0; i < (set->warmup > 0 ? set->warmup : 1); i++) {
        if (call(arg, kerr)) return 1;
        sink += out[n - 1];
    }
    /* the cap (0: 100000) never undercuts min_reps: a scenario may ask for more */
    int cap = 64, max_reps = set->max_reps > 0 ? set->max_reps : 100000;
    if (max_reps < set->min_reps) max_reps = set->min_reps;
    r->samples = malloc((size_t)cap * sizeof(double));
    if (!r->samples) return mb_fail(err, "out of memory (samples)");
    double total = 0;
    interfere_begin(im);
    while (r->reps < max_reps && (r->reps < set->min_reps || total < set->min_time)) {
        if (r->reps == cap) {
            double *more = realloc(r->samples, (size_t)(cap *= 2) * sizeof(double));
            if (!more) return mb_fail(err, "out of memory (samples)");
            r->samples = more;
        }
        double a = bench_now();
        int frc = call(arg, kerr);
        double b = bench_now();
        if (frc) return 1;
        sink += out[(int64_t)r->reps * 7919 % n]; /* 64-bit: reps * 7919 passes INT_MAX at 271k reps */
        r->samples[r->reps++] = b - a;
        total += b - a;
    }
    (void)sink;
    return 0;
}

int bench_time_summarize(bench_result *r, const interfere_mark *im, pin_topo *topo, mb_err *err)
{
    const interfere_figures fig = interfere_end(im);
    r->wait_share = fig.wait_share, r->cpu_speed = fig.cpu_speed, r->mem_speed = fig.mem_speed;
    r->disturbed = fig.disturbed;
    pin_readback(topo, r->set.threads, r->binding, sizeof r->binding);
    if (stats_summarize(r->samples, r->reps, &r->st, err)) return -1;
    struct timespec res;
    clock_getres(CLOCK_MONOTONIC, &res);
    r->timer_warning = r->st.min < 10.0 * ((double)res.tv_sec + 1e-9 * (double)res.tv_nsec);
    return 0;
}

// ---------------------------------------------------------------- a point

int bench_point(const scan_kernel *k, const scan_shape *s, const bench_settings *set,
                const calib *cal, pin_topo *topo, bench_result *r, mb_err *err)
{
    bench_result_start(r, k, s, set);
    scan_opts o = opts_of(set);
    if (scan_shape_check(s, err)) return -1;
    if (set->threads < 1) return mb_fail(err, "threads must be >= 1");
    const bench_direction dir = set->direction;
    const bool train = dir != BENCH_FORWARD;
    const char *why = train ? scan_backward_unsupported(k, s, &o) : k->unsupported(s, &o);
    if (why) {
        result_fail(r, BENCH_SKIPPED, "%s", why);
        return 0;
    }
    if (dir == BENCH_FORWARD) {
        k->cost(s, &o, &r->cost);
    } else {
        scan_cost fc = {0}, bc = {0};
        if (k->backward_cost) k->backward_cost(s, &o, &bc);
        else bc = (scan_cost){NAN, NAN, NAN, NAN};
        /* a training step: forward_save (the forward's cost and the bytes of what it saves) */
        if (dir == BENCH_BOTH) scan_forward_save_cost(k, s, &o, &fc);
        r->cost = (scan_cost){fc.flops + bc.flops, fc.exps + bc.exps, fc.bytes + bc.bytes,
                              (double)k->backward_workspace_bytes(s, &o)};
    }
    r->workspace_bytes = train ? k->backward_workspace_bytes(s, &o) : k->workspace_bytes(s, &o);
    r->saved_bytes = train ? k->saved_bytes(s, &o) : 0;
    int64_t need = bench_point_bytes(k, s, set);
    r->memory_bytes = need;
    int64_t budget = set->mem_budget;
    if (budget <= 0) {
        int64_t avail = mb_mem_available();
        budget = avail > 0 ? avail / 10 * 8 : INT64_MAX;
    }
    if (need > budget) {
        char msg[160];
        snprintf(msg, sizeof msg, "%.2f GiB (tensors + workspace) but the budget is %.2f GiB",
                 need / 1073741824.0, budget / 1073741824.0);
        result_fail(r, BENCH_SKIPPED, "over the memory budget: needs %s", msg);
        return 0;
    }
    if (pin_threads(topo, set->threads, set->bind, NULL, 0, err)) return -1;

    if (set->check) {
        if (bench_check(k, s, set, r, err)) return -1;
        if (r->status != BENCH_OK) return 0;
    }

    // ---- the machine's speed before (probes: harness/interfere.h; before the peak-RSS reset)
    interfere_mark im;
    interfere_before(&im, set->threads, cal);

    // ---- allocate and first-touch (untimed, reported on its own)
    const bool rss_ok = peak_rss_reset();
    double t0 = bench_now();
    scan_problem p;
    scan_grad_bufs gb = {0};
    void *ws = NULL, *saved = NULL;
    scan_fill f = SCAN_FILL_DEFAULT(set->seed);
    if (scan_problem_init(&p, s, &f, err)) return -1;
    int rc = 0;
    if (train && scan_grad_bufs_init(&gb, s, set->seed, err)) {
        rc = -1;
        goto done;
    }
    if (r->workspace_bytes) {
        ws = mb_alloc(r->workspace_bytes);
        if (!ws) {
            rc = mb_fail(err, "out of memory: workspace of %zu bytes", r->workspace_bytes);
            goto done;
        }
        first_touch(ws, r->workspace_bytes, set->threads);
    }
    if (r->saved_bytes) {
        saved = mb_alloc(r->saved_bytes);
        if (!saved) {
            rc = mb_fail(err, "out of memory: saved buffer of %zu bytes", r->saved_bytes);
            goto done;
        }
        first_touch(saved, r->saved_bytes, set->threads);
    }
    r->first_touch_s = bench_now() - t0;

    // ---- warm-up, then timed repetitions
    const int64_t ny = s->batch * s->seqlen * s->channels;
    /* what each call writes last: y (forward) or du (backward) */
    const float *out = train ? gb.g.du : p.t.y;
    mb_err kerr;
    if (dir == BENCH_BACKWARD && k->forward_save(s, &p.t, &o, saved, ws, &kerr)) {
        result_fail(r, BENCH_FAILED, "kernel error: %s", kerr.msg);
        goto done;
    }
    bench_call c = {.k = k, .s = s, .t = &p.t, .o = &o, .ws = ws, .g = &gb.g, .saved = saved, .dir = dir};
    int trc = bench_time_calls(set, &im, bench_call_once, &c, out, ny, r, &kerr, err);
    if (trc) {
        if (trc > 0) result_fail(r, BENCH_FAILED, "kernel error: %s", kerr.msg);
        else rc = -1;
        goto done;
    }
    if (rss_ok) r->peak_rss_bytes = peak_rss(); /* before the probes allocate */
    if (bench_time_summarize(r, &im, topo, err)) {
        rc = -1;
        goto done;
    }

    // ---- counted calls, separate from the timed ones (counting never distorts a time)
    if (set->counters) {
        int reps = set->counter_reps > 0 ? set->counter_reps : 3;
        if (cnt_measure(set->counters, set->threads, reps, bench_call_once, &c, &r->counters, &kerr)) {
            result_fail(r, BENCH_FAILED, "kernel error while counting: %s", kerr.msg);
            goto done;
        }
    }
    derive(r, cal);
done:
    mb_free(ws);
    mb_free(saved);
    scan_grad_bufs_free(&gb);
    scan_problem_free(&p);
    return rc;
}

void bench_result_free(bench_result *r)
{
    free(r->samples);
    r->samples = NULL;
}

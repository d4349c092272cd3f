/* harness/bench_block.c: measuring one block-level point: a whole Mamba block (block/)
 * forward, backward or both, with the scan through the chosen kernel. The same order as
 * bench_point: refuse what cannot run, pin, check the kernel on the block's scan shape,
 * allocate and first-touch everything (block_init), warm up, time, summarise. Rates are
 * the block's counted FLOPs (projections, conv, pointwise, the scan's cost model) per
 * second; no ceiling is reported at this level. */
#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/mem.h"
#include "harness/bench.h"
#include "harness/interfere.h"

int bench_block_shape(const scan_shape *s, const bench_settings *set, block_shape *bs, mb_err *err)
{
    const bool m2 = s->a_kind == SCAN_A_HEAD;
    const int64_t dm = set->d_model > 0 ? set->d_model : s->channels / 2;
    if (dm < 1) return mb_fail(err, "block level: d_model must be >= 1 (channels %lld)", (long long)s->channels);
    block_shape_default(bs, m2 ? BLOCK_MAMBA2 : BLOCK_MAMBA1, dm, s->d_state, s->seqlen, s->batch);
    bs->d_inner = s->channels;
    bs->ngroups = m2 ? s->groups : 1;
    bs->headdim = m2 ? s->channels / s->heads : 64;
    if (!m2 && s->groups != 1) return mb_fail(err, "block level: a Mamba-1 block has one B/C group (--groups 1)");
    /* the block fixes the scan's options itself (block_scan_shape): softplus, dt bias, D,
     * the gate z inside the scan for Mamba-1 and in the norm for Mamba-2, no h0 / h_last */
    return block_shape_check(bs, err);
}

int bench_block_point(const scan_kernel *k, const scan_shape *s, const bench_settings *set, const calib *cal,
                      pin_topo *topo, bench_result *r, mb_err *err)
{
    memset(r, 0, sizeof *r);
    r->kernel = k;
    r->shape = *s;
    r->set = *set;
    r->block_level = true;
    r->max_abs_err = r->max_rel_err = r->grad_max_rel_err = NAN;
    r->ceiling_fraction = r->bound_s = NAN;
    r->peak_rss_bytes = -1;
    r->wait_share = r->cpu_speed = r->mem_speed = NAN;
    r->updates = scan_shape_updates(s);
    if (set->threads < 1) return mb_fail(err, "threads must be >= 1");
    mb_err serr;
    if (bench_block_shape(s, set, &r->block, &serr)) { /* a point no block has: skipped, with why */
        snprintf(r->reason, sizeof r->reason, "%s", serr.msg);
        r->status = BENCH_SKIPPED;
        return 0;
    }
    scan_shape ss;
    block_scan_shape(&r->block, &ss);
    r->shape = ss;
    const bench_direction dir = set->direction;
    const bool train = dir != BENCH_FORWARD;
    scan_opts o = {.threads = set->threads, .chunk = set->chunk, .checkpoint = set->checkpoint};
    const char *why = train ? scan_backward_unsupported(k, &ss, &o) : k->unsupported(&ss, &o);
    if (why) {
        snprintf(r->reason, sizeof r->reason, "%s", why);
        r->status = BENCH_SKIPPED;
        return 0;
    }
    if (pin_threads(topo, set->threads, set->bind, NULL, 0, err)) return -1;
    if (set->check) {
        if (bench_check(k, &ss, set, r, err)) return -1;
        if (r->status != BENCH_OK) return 0;
    }

    // ---- allocate and first-touch everything (untimed)
    double t0 = bench_now();
    block *b = NULL;
    const int64_t n = ss.batch * ss.seqlen * r->block.d_model;
    float *x = mb_alloc((size_t)n * sizeof(float)), *out = mb_alloc((size_t)n * sizeof(float));
    float *dout = train ? mb_alloc((size_t)n * sizeof(float)) : NULL;
    float *dx = train ? mb_alloc((size_t)n * sizeof(float)) : NULL;
    int rc = 0;
    if (!x || !out || (train && (!dout || !dx))) {
        rc = mb_fail(err, "out of memory for the block's input and output");
        goto done;
    }
    mb_err kerr;
    if (block_init(&b, &r->block, k, &o, train, set->seed, err)) {
        rc = -1;
        goto done;
    }
    for (int64_t i = 0; i < n; i++) {
        x[i] = (float)((i * 7919 % 2001) - 1000) * 1e-3f; /* deterministic, in [-1, 1] */
        if (dout) dout[i] = (float)((i * 104729 % 2001) - 1000) * 1e-3f, dx[i] = 0.0f;
        out[i] = 0.0f;
    }
    r->first_touch_s = bench_now() - t0;
    r->memory_bytes = block_bytes(b) + (int64_t)(train ? 4 : 2) * n * (int64_t)sizeof(float);
    r->workspace_bytes = train ? k->backward_workspace_bytes(&ss, &o) : k->workspace_bytes(&ss, &o);
    r->saved_bytes = train ? k->saved_bytes(&ss, &o) : 0;
    r->cost.flops = dir == BENCH_FORWARD ? block_flops(b, false)
                    : dir == BENCH_BACKWARD ? block_flops(b, true)
                                            : block_flops(b, false) + block_flops(b, true);
    r->cost.exps = r->cost.bytes = NAN;
    r->cost.workspace = (double)r->workspace_bytes;

    // ---- warm-up, then timed repetitions; OpenBLAS gets the point's threads meanwhile
    openblas_set_num_threads(set->threads);
    volatile float sink = 0;
    interfere_mark im;
    interfere_before(&im, set->threads, cal);
    if (dir == BENCH_BACKWARD && block_forward(b, x, out, true, &kerr)) goto kfail;
    for (int i = 0; i < (set->warmup > 0 ? set->warmup : 1); i++) {
        if (dir != BENCH_BACKWARD && block_forward(b, x, out, train, &kerr)) goto kfail;
        if (train && block_backward(b, x, dout, dx, &kerr)) goto kfail;
        sink += train ? dx[n - 1] : out[n - 1];
    }
    int cap = 64, max_reps = set->max_reps > 0 ? set->max_reps : 100000;
    r->samples = malloc((size_t)cap * sizeof(double));
    if (!r->samples) {
        rc = mb_fail(err, "out of memory (samples)");
        goto done;
    }
    double total = 0;
    interfere_begin(&im);
    while (r->reps < max_reps && (r->reps < set->min_reps || total < set->min_time)) {
        if (r->reps == cap) {
            double *nn = realloc(r->samples, (size_t)(cap *= 2) * sizeof(double));
            if (!nn) {
                rc = mb_fail(err, "out of memory (samples)");
                goto done;
            }
            r->samples = nn;
        }
        double a = bench_now();
        if (dir != BENCH_BACKWARD && block_forward(b, x, out, train, &kerr)) goto kfail;
        if (train && block_backward(b, x, dout, dx, &kerr)) goto kfail;
        double e = bench_now();
        sink += train ? dx[(r->reps * 7919) % n] : out[(r->reps * 7919) % n];
        r->samples[r->reps++] = e - a;
        total += e - a;
    }
    (void)sink;
    const interfere_figures fig = interfere_end(&im);
    r->wait_share = fig.wait_share, r->cpu_speed = fig.cpu_speed, r->mem_speed = fig.mem_speed;
    r->disturbed = fig.disturbed;
    pin_readback(topo, set->threads, r->binding, sizeof r->binding);
    if (stats_summarize(r->samples, r->reps, &r->st, err)) {
        rc = -1;
        goto done;
    }
    struct timespec res;
    clock_getres(CLOCK_MONOTONIC, &res);
    r->timer_warning = r->st.min < 10.0 * ((double)res.tv_sec + 1e-9 * (double)res.tv_nsec);
    r->updates_per_s = r->updates / r->st.median;
    r->gflops = r->cost.flops / r->st.median * 1e-9;
    r->gbps = r->exps_per_s = NAN;
    goto done;
kfail:
    r->status = BENCH_FAILED;
    snprintf(r->reason, sizeof r->reason, "block error: %s", kerr.msg);
done:
    openblas_set_num_threads(1);
    block_free(b);
    mb_free(x), mb_free(out), mb_free(dout), mb_free(dx);
    return rc;
}

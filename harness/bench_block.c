/* harness/bench_block.c: measuring one block-level point: a whole Mamba block (block/)
 * forward, backward or both, with the scan through the chosen kernel. The same order as
 * bench_point: refuse what cannot run, pin, check the kernel on the block's scan shape,
 * allocate and first-touch everything (block_init), warm up, time, summarise. Rates are
 * the block's counted FLOPs (projections, conv, pointwise, the scan's cost model) per
 * second; no ceiling is reported at this level. */
#include <cblas.h>
#include <math.h>
#include <stdio.h>

#include "common/mem.h"
#include "harness/bench.h"

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

/* One call of what a block-level point times (bench_time_calls' call): the forward
 * (saving for the backward when training) unless backward only, then the backward. */
typedef struct {
    block *b;
    const float *x, *dout; /* [B][L][d_model] */
    float *out, *dx;       /* [B][L][d_model] */
    bench_direction dir;
} block_call;

static int block_call_once(void *arg, mb_err *err)
{
    const block_call *c = arg;
    const bool train = c->dir != BENCH_FORWARD;
    if (c->dir != BENCH_BACKWARD && block_forward(c->b, c->x, c->out, train, err)) return -1;
    if (train && block_backward(c->b, c->x, c->dout, c->dx, err)) return -1;
    return 0;
}

int bench_block_point(const scan_kernel *k, const scan_shape *s, const bench_settings *set, const calib *cal,
                      pin_topo *topo, bench_result *r, mb_err *err)
{
    bench_result_start(r, k, s, set);
    r->block_level = true;
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
    interfere_mark im;
    interfere_before(&im, set->threads, cal);
    if (dir == BENCH_BACKWARD && block_forward(b, x, out, true, &kerr)) goto kfail;
    block_call c = {.b = b, .x = x, .dout = dout, .out = out, .dx = dx, .dir = dir};
    int trc = bench_time_calls(set, &im, block_call_once, &c, train ? dx : out, n, r, &kerr, err);
    if (trc > 0) goto kfail;
    if (trc < 0 || bench_time_summarize(r, &im, topo, err)) {
        rc = -1;
        goto done;
    }
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

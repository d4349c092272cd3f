/* model/decode.c: Mamba-1's one-token step (L = 1, any batch up to max_batch), the
 * recurrent decode path. Decoding streams every weight once per token (~516 MB for the
 * 130m shape) and does almost no arithmetic, so it is bound by memory bandwidth; the
 * general forward (mamba.c) forks and joins an OpenMP team ~10 times per layer, which at
 * ~7 ms per token is a visible cost. Here one parallel region runs the whole token: each
 * thread owns a slice of d_inner channels (in_proj rows, conv, dt_proj rows, the scan) and
 * slices of x_proj, out_proj and lm_head rows, and four barriers per layer separate the
 * steps that need all channels. The scan still runs through the model's kernel, on each
 * thread's channel slice (a valid scan problem of its own: batch 1, L = 1, channels
 * [c0, c1)), one thread each. Same formulas and summation order as mamba1.c, so decode
 * agrees with the parallel pass (tests/test_model.c). */
#include <omp.h>
#include <string.h>
#include <time.h>

#include "common/mem.h"
#include "model/mixer.h"
#include "model/ops.h"

static double step_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* [lo, hi) of thread id out of nt over n items, slices a multiple of 16 long (whole
 * cache lines of weights and activations per thread) */
static void step_split(int64_t n, int nt, int id, int64_t *lo, int64_t *hi)
{
    const int64_t step = ((n + nt - 1) / nt + 15) / 16 * 16;
    *lo = (int64_t)id * step < n ? (int64_t)id * step : n;
    *hi = *lo + step < n ? *lo + step : n;
}

/* The scan problem of one thread's channel slice [c0, c1) of one batch row. */
static scan_shape step_scan_shape(const mamba_config *c, int64_t width, bool with_state, bool has_h0)
{
    scan_shape s = mamba_scan_shape(c, 1, 1, with_state, has_h0);
    s.channels = s.heads = width;
    return s;
}

// ---------------------------------------------------------------- setup

void mamba1_step_free(mamba_run *r)
{
    mb_free(r->step_xn);
    mb_free(r->step_dbl);
    mb_free(r->step_ws);
    r->step_xn = r->step_dbl = NULL, r->step_ws = NULL, r->step_ok = false;
}

int mamba1_step_init(mamba_run *r, mb_err *err)
{
    const mamba_config *c = &r->w->cfg;
    r->step_ok = false;
    if (c->arch != MAMBA_V1) return 0; /* Mamba-2 decodes through mamba_forward's general path */
    const int T = r->threads;
    /* every slice width the threads can get, with and without a state */
    scan_opts o = {.threads = 1};
    size_t ws = 0;
    for (int id = 0; id < T; id++) {
        int64_t lo, hi;
        step_split(c->d_inner, T, id, &lo, &hi);
        if (hi <= lo) continue;
        for (int v = 0; v < 3; v++) {
            scan_shape s = step_scan_shape(c, hi - lo, v > 0, v > 1);
            if (r->kernel->unsupported(&s, &o)) return 0; /* general path then */
            size_t b = r->kernel->workspace_bytes(&s, &o);
            if (b > ws) ws = b;
        }
    }
    r->step_ws_bytes = (ws + 63) / 64 * 64;
    const int64_t nxn = (int64_t)T * r->max_batch * c->d_model, ndbl = r->max_batch * (c->dt_rank + 2 * c->d_state);
    r->step_xn = mb_alloc((size_t)nxn * sizeof(float));
    r->step_dbl = mb_alloc((size_t)ndbl * sizeof(float));
    r->step_ws = r->step_ws_bytes ? mb_alloc((size_t)T * r->step_ws_bytes) : NULL;
    if (!r->step_xn || !r->step_dbl || (r->step_ws_bytes && !r->step_ws)) {
        mamba1_step_free(r);
        return mb_fail(err, "out of memory for the decode buffers");
    }
    /* first touch, by the threads that will use each part */
#pragma omp parallel num_threads(T)
    {
        const int id = omp_get_thread_num();
        memset(r->step_xn + (int64_t)id * r->max_batch * c->d_model, 0, (size_t)(r->max_batch * c->d_model) * sizeof(float));
        if (r->step_ws) memset((char *)r->step_ws + (size_t)id * r->step_ws_bytes, 0, r->step_ws_bytes);
    }
    memset(r->step_dbl, 0, (size_t)ndbl * sizeof(float));
    r->step_ok = true;
    return 0;
}

// ---------------------------------------------------------------- the step

int mamba1_step(mamba_run *r, mamba_state *st, const int32_t *tokens, int64_t B, float *logits, mb_err *err)
{
    const mamba_weights *w = r->w;
    const mamba_config *c = &w->cfg;
    const int64_t dm = c->d_model, I = c->d_inner, N = c->d_state, R = c->dt_rank, NX = R + 2 * N;
    const int64_t K = c->d_conv, S = K - 1, V = c->vocab;
    const float eps = (float)c->eps;
    float *x = r->x;                   /* [B][dm] residual stream */
    float *xin = r->xin, *z = r->z;    /* [B][I] in_proj halves */
    float *u = r->u, *delta = r->delta, *y = r->y; /* [B][I] */
    float *dbl = r->step_dbl;          /* [B][R + 2N] x_proj out: dt_low, B, C */
    int failed = 0;
    mb_err first = {{0}};
    double t_scan = 0;

#pragma omp parallel num_threads(r->threads)
    {
        const int id = omp_get_thread_num(), nt = omp_get_num_threads();
        int64_t c0, c1, x0, x1, o0, o1, v0, v1; /* this thread's channels, x_proj, d_model, vocab rows */
        step_split(I, nt, id, &c0, &c1);
        step_split(NX, nt, id, &x0, &x1);
        step_split(dm, nt, id, &o0, &o1);
        step_split(V, nt, id, &v0, &v1);
        float *xn = r->step_xn + (int64_t)id * r->max_batch * dm; /* [B][dm] this thread's copy */
        void *ws = r->step_ws ? (char *)r->step_ws + (size_t)id * r->step_ws_bytes : NULL;
        const scan_opts so = {.threads = 1};

        // hidden_states = self.embedding(input_ids)                       (columns [o0, o1))
        for (int64_t b = 0; b < B; b++)
            memcpy(x + b * dm + o0, w->embed + (int64_t)tokens[b] * dm + o0, (size_t)(o1 - o0) * sizeof(float));
#pragma omp barrier

        for (int64_t li = 0; li < c->n_layer; li++) {
            const mamba_layer *l = &w->layers[li];
            float *conv = st ? st->conv + li * B * I * S : NULL;
            const float *h0 = st && st->pos > 0 ? st->ssm[st->cur] + li * B * I * N : NULL;
            float *h_last = st ? st->ssm[!st->cur] + li * B * I * N : NULL;

            // self.norm(residual): every thread normalises its own copy (768 floats)
            for (int64_t b = 0; b < B; b++) ops_rmsnorm_row(xn + b * dm, x + b * dm, l->norm, dm, eps);

            // xz = self.in_proj(hidden_states); x, z = xz.chunk(2, dim=-1)     rows c0..c1 of each half
            ops_dot_rows(xin, I, xn, dm, B, l->in_proj, l->in_proj_bias, dm, c0, c1, 0);
            ops_dot_rows(z, I, xn, dm, B, l->in_proj + I * dm, l->in_proj_bias ? l->in_proj_bias + I : NULL, dm,
                         c0, c1, 0);

            // x = self.act(self.conv1d(x)[..., :seqlen])   one step from the conv state, channels c0..c1
            ops_conv1d_step(xin, l->conv_wt, l->conv_b, conv, B, I, K, c0, c1, u);
#pragma omp barrier

            // x_dbl = self.x_proj(x); dt, B, C = torch.split(x_dbl, [dt_rank, d_state, d_state])  rows x0..x1
            ops_dot_rows(dbl, NX, u, I, B, l->x_proj, NULL, I, x0, x1, 0);
#pragma omp barrier

            // dt = self.dt_proj.weight @ dt                                              rows c0..c1
            ops_dot_rows(delta, I, dbl, NX, B, l->dt_proj, NULL, R, c0, c1, 0);

            // y = selective_scan_fn(x, dt, A, B, C, D, z=z, delta_bias=dt_proj.bias, delta_softplus=True)
            //   through the model's kernel, on channels c0..c1 of each batch row
            if (c1 > c0) {
                const double t0 = id == 0 ? step_now() : 0;
                for (int64_t b = 0; b < B; b++) {
                    const scan_shape s = step_scan_shape(c, c1 - c0, h_last != NULL, h0 != NULL);
                    const scan_tensors t = {
                        .u = u + b * I + c0, .delta = delta + b * I + c0, .delta_bias = l->dt_bias + c0,
                        .A = l->A + c0 * N, .Bm = dbl + b * NX + R, .Cm = dbl + b * NX + R + N,
                        .Dskip = l->D + c0, .z = z + b * I + c0, .h0 = h0 ? h0 + (b * I + c0) * N : NULL,
                        .y = y + b * I + c0, .h_last = h_last ? h_last + (b * I + c0) * N : NULL};
                    mb_err e;
                    if (r->kernel->forward(&s, &t, &so, ws, &e)) {
#pragma omp critical(mamba1_step_err)
                        if (!failed++) first = e;
                    }
                }
                if (id == 0) t_scan += step_now() - t0;
            }
#pragma omp barrier

            // hidden_states = residual + self.out_proj(y)                                rows o0..o1
            ops_dot_rows(x, dm, y, I, B, l->out_proj, l->out_proj_bias, I, o0, o1, 1);
#pragma omp barrier
        }

        // logits = self.lm_head(self.norm_f(hidden_states))                         rows v0..v1
        if (logits) {
            for (int64_t b = 0; b < B; b++) ops_rmsnorm_row(xn + b * dm, x + b * dm, w->norm_f, dm, eps);
            ops_dot_rows(logits, V, xn, dm, B, w->lm_head, NULL, dm, v0, v1, 0);
        }
    }
    r->t_scan += t_scan;
    if (failed) {
        *err = first;
        return mb_wrap(err, "kernel %s", r->kernel->name);
    }
    return 0;
}

/* block/block.c: what Mamba-1 and Mamba-2 blocks share: shapes, parameters and their
 * initialisation, buffers, projections (cblas_sgemm), the causal depthwise conv, SiLU,
 * and the scan through the chosen kernel. The two mixers are block/mamba1.c, mamba2.c. */
#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "block/block_impl.h"
#include "common/mem.h"

const char *const block_param_names[BLOCK_NPARAMS] = {"W_in", "conv_w", "conv_b", "W_x", "W_dt",
                                                      "dt_bias", "A_log", "D", "norm_w", "W_out"};

// ---------------------------------------------------------------- shapes

void block_shape_default(block_shape *s, block_kind kind, int64_t d_model, int64_t d_state,
                         int64_t seqlen, int64_t batch)
{
    *s = (block_shape){.kind = kind, .batch = batch, .seqlen = seqlen, .d_model = d_model,
                       .d_inner = 2 * d_model, .d_state = d_state, .d_conv = 4,
                       .dt_rank = (d_model + 15) / 16, .headdim = 64, .ngroups = 1};
    if (kind == BLOCK_MAMBA2 && s->d_inner % s->headdim) s->headdim = s->d_inner; /* one head */
}

int block_shape_check(const block_shape *s, mb_err *err)
{
    if (s->kind != BLOCK_MAMBA1 && s->kind != BLOCK_MAMBA2) return mb_fail(err, "block: kind must be mamba1 or mamba2");
    const int64_t v[] = {s->batch, s->seqlen, s->d_model, s->d_inner, s->d_state, s->d_conv};
    const char *nm[] = {"batch", "seqlen", "d_model", "d_inner", "d_state", "d_conv"};
    for (int i = 0; i < 6; i++)
        if (v[i] < 1) return mb_fail(err, "block: %s must be >= 1 (got %lld)", nm[i], (long long)v[i]);
    if (s->kind == BLOCK_MAMBA1 && s->dt_rank < 1)
        return mb_fail(err, "block: dt_rank must be >= 1 (got %lld)", (long long)s->dt_rank);
    if (s->kind == BLOCK_MAMBA2) {
        if (s->headdim < 1 || s->d_inner % s->headdim)
            return mb_fail(err, "block: headdim (%lld) must divide d_inner (%lld)", (long long)s->headdim,
                           (long long)s->d_inner);
        int64_t H = s->d_inner / s->headdim;
        if (s->ngroups < 1 || H % s->ngroups)
            return mb_fail(err, "block: ngroups (%lld) must divide the heads (%lld)", (long long)s->ngroups,
                           (long long)H);
    }
    int64_t x;
    if (!mb_mul(s->batch, s->seqlen, &x) || !mb_mul(x, s->d_inner + 2 * s->d_state * s->ngroups + s->d_model, &x) ||
        !mb_mul(x, 64, &x) || !mb_mul(s->d_inner, s->d_model, &x) || !mb_mul(x, 64, &x))
        return mb_fail(err, "block: the shape's sizes overflow 64-bit arithmetic");
    scan_shape ss;
    block_scan_shape(s, &ss);
    return scan_shape_check(&ss, err);
}

void block_scan_shape(const block_shape *s, scan_shape *ss)
{
    const bool m2 = s->kind == BLOCK_MAMBA2;
    *ss = (scan_shape){.batch = s->batch, .seqlen = s->seqlen, .channels = s->d_inner, .d_state = s->d_state,
                       .heads = m2 ? s->d_inner / s->headdim : s->d_inner, .groups = m2 ? s->ngroups : 1,
                       .a_kind = m2 ? SCAN_A_HEAD : SCAN_A_DIAG, .softplus = true, .has_bias = true,
                       .has_dskip = true, .has_z = !m2};
}

void block_shape_describe(const block_shape *s, char *buf, size_t len)
{
    if (s->kind == BLOCK_MAMBA1)
        snprintf(buf, len, "mamba1 block B=%lld L=%lld dm=%lld di=%lld N=%lld R=%lld conv=%lld", (long long)s->batch,
                 (long long)s->seqlen, (long long)s->d_model, (long long)s->d_inner, (long long)s->d_state,
                 (long long)s->dt_rank, (long long)s->d_conv);
    else
        snprintf(buf, len, "mamba2 block B=%lld L=%lld dm=%lld di=%lld N=%lld P=%lld G=%lld conv=%lld",
                 (long long)s->batch, (long long)s->seqlen, (long long)s->d_model, (long long)s->d_inner,
                 (long long)s->d_state, (long long)s->headdim, (long long)s->ngroups, (long long)s->d_conv);
}

void block_param_sizes(const block_shape *s, int64_t n[BLOCK_NPARAMS])
{
    const int64_t dm = s->d_model, di = s->d_inner, N = s->d_state, K = s->d_conv;
    if (s->kind == BLOCK_MAMBA1) {
        const int64_t R = s->dt_rank;
        n[BP_W_IN] = 2 * di * dm;
        n[BP_CONV_W] = di * K, n[BP_CONV_B] = di;
        n[BP_W_X] = (R + 2 * N) * di, n[BP_W_DT] = di * R;
        n[BP_DT_BIAS] = di, n[BP_A_LOG] = di * N, n[BP_DSKIP] = di;
        n[BP_NORM_W] = 0;
    } else {
        const int64_t H = di / s->headdim, GN = s->ngroups * N, C = di + 2 * GN;
        n[BP_W_IN] = (di + C + H) * dm; /* rows: z [di], x [di], B [GN], C [GN], dt [H] */
        n[BP_CONV_W] = C * K, n[BP_CONV_B] = C;
        n[BP_W_X] = 0, n[BP_W_DT] = 0;
        n[BP_DT_BIAS] = H, n[BP_A_LOG] = H, n[BP_DSKIP] = H;
        n[BP_NORM_W] = di;
    }
    n[BP_W_OUT] = dm * di;
}

// ---------------------------------------------------------------- buffers

static float *balloc(block *b, int64_t n, bool train_only)
{
    if (n <= 0 || b->nmem == BLOCK_MAX_MEM) return NULL;
    float *p = mb_alloc((size_t)n * sizeof(float));
    if (!p) return NULL;
    memset(p, 0, (size_t)n * sizeof(float)); /* first touch here, never in a timed call */
    b->mem[b->nmem++] = p;
    b->bytes += n * (int64_t)sizeof(float);
    if (train_only) b->train_bytes += n * (int64_t)sizeof(float);
    return p;
}

static void *balloc_bytes(block *b, size_t n, bool train_only)
{
    return n ? (void *)balloc(b, (int64_t)((n + 3) / 4), train_only) : NULL;
}

int block_init(block **out, const block_shape *s, const scan_kernel *k, const scan_opts *o, bool train,
               uint64_t seed, mb_err *err)
{
    *out = NULL;
    if (block_shape_check(s, err)) return -1;
    block *b = calloc(1, sizeof *b);
    if (!b) return mb_fail(err, "out of memory (block)");
    b->s = *s, b->k = k, b->o = *o, b->train = train;
    block_scan_shape(s, &b->ss);
    const char *why = train ? scan_backward_unsupported(k, &b->ss, o) : k->unsupported(&b->ss, o);
    if (why) {
        free(b);
        return mb_fail(err, "block: kernel %s cannot run the block's scan%s: %s", k->name,
                       train ? " backward" : "", why);
    }
    const bool m2 = s->kind == BLOCK_MAMBA2;
    const int64_t BL = s->batch * s->seqlen, di = s->d_inner, N = s->d_state;
    const int64_t H = m2 ? di / s->headdim : di, GN = m2 ? s->ngroups * N : N;
    block_param_sizes(s, b->np);
    int64_t total = 0;
    for (int i = 0; i < BLOCK_NPARAMS; i++) total += b->np[i];
    float *P = balloc(b, total, false), *Gr = train ? balloc(b, total, true) : NULL;
    if (!P || (train && !Gr)) goto oom;
    for (int i = 0; i < BLOCK_NPARAMS; i++) {
        b->param[i] = b->np[i] ? P : NULL;
        b->grad[i] = b->np[i] && train ? Gr : NULL;
        P += b->np[i];
        if (Gr) Gr += b->np[i];
    }
    // ---- activations
    if (!(b->z = balloc(b, BL * di, false)) || !(b->xi = balloc(b, BL * di, false)) ||
        !(b->xc = balloc(b, BL * di, false)) || !(b->xs = balloc(b, BL * di, false)) ||
        !(b->Bs = balloc(b, BL * GN, false)) || !(b->Cs = balloc(b, BL * GN, false)) ||
        !(b->delta = balloc(b, BL * (m2 ? H : di), false)) || !(b->A = balloc(b, m2 ? H : di * N, false)) ||
        !(b->y = balloc(b, BL * di, false)))
        goto oom;
    if (m2) {
        if (!(b->Bi = balloc(b, BL * GN, false)) || !(b->Bc = balloc(b, BL * GN, false)) ||
            !(b->Ci = balloc(b, BL * GN, false)) || !(b->Cc = balloc(b, BL * GN, false)) ||
            !(b->g = balloc(b, BL * di, false)) || !(b->rstd = balloc(b, BL * s->ngroups, false)) ||
            !(b->yn = balloc(b, BL * di, false)))
            goto oom;
    } else if (!(b->dtr = balloc(b, BL * s->dt_rank, false))) {
        goto oom;
    }
    // ---- the scan's buffers
    b->scan_ws_fwd = k->workspace_bytes(&b->ss, o);
    if (b->scan_ws_fwd && !(b->scan_ws = balloc_bytes(b, b->scan_ws_fwd, false))) goto oom;
    if (train) {
        b->scan_ws_train = k->backward_workspace_bytes(&b->ss, o);
        b->scan_saved_bytes = k->saved_bytes(&b->ss, o);
        if ((b->scan_ws_train && !(b->train_ws = balloc_bytes(b, b->scan_ws_train, true))) ||
            (b->scan_saved_bytes && !(b->scan_saved = balloc_bytes(b, b->scan_saved_bytes, true))))
            goto oom;
        // ---- backward temporaries
        if (!(b->dy = balloc(b, BL * di, true)) || !(b->dxs = balloc(b, BL * di, true)) ||
            !(b->dxc = balloc(b, BL * di, true)) || !(b->dxi = balloc(b, BL * di, true)) ||
            !(b->dz = balloc(b, BL * di, true)) || !(b->ddelta = balloc(b, BL * (m2 ? H : di), true)) ||
            !(b->dA = balloc(b, m2 ? H : di * N, true)) || !(b->dBs = balloc(b, BL * GN, true)) ||
            !(b->dCs = balloc(b, BL * GN, true)))
            goto oom;
        if (m2) {
            if (!(b->dyn = balloc(b, BL * di, true)) || !(b->dBc = balloc(b, BL * GN, true)) ||
                !(b->dCc = balloc(b, BL * GN, true)) || !(b->dBi = balloc(b, BL * GN, true)) ||
                !(b->dCi = balloc(b, BL * GN, true)))
                goto oom;
        } else if (!(b->ddtr = balloc(b, BL * s->dt_rank, true))) {
            goto oom;
        }
        b->sg = (scan_grads){.dy = b->dy, .du = b->dxs, .ddelta = b->ddelta, .ddelta_bias = b->grad[BP_DT_BIAS],
                             .dA = b->dA, .dBm = b->dBs, .dCm = b->dCs, .dDskip = b->grad[BP_DSKIP],
                             .dz = m2 ? NULL : b->dz};
    }
    if (block_init_params(b, seed, err)) {
        block_free(b);
        return -1;
    }
    *out = b;
    return 0;
oom:
    block_free(b);
    return mb_fail(err, "out of memory allocating the block's buffers");
}

void block_free(block *b)
{
    if (!b) return;
    for (int i = 0; i < b->nmem; i++) mb_free(b->mem[i]);
    free(b);
}

float *block_param(block *b, int i) { return i >= 0 && i < BLOCK_NPARAMS ? b->param[i] : NULL; }
float *block_grad(block *b, int i) { return i >= 0 && i < BLOCK_NPARAMS ? b->grad[i] : NULL; }
int64_t block_bytes(const block *b) { return b->bytes; }
int64_t block_train_bytes(const block *b) { return b->train_bytes; }

// ---------------------------------------------------------------- shared math

void block_linear(const float *X, const float *W, float *Y, int64_t M, int64_t n, int64_t k)
{
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (blasint)M, (blasint)n, (blasint)k, 1.0f, X, (blasint)k,
                W, (blasint)k, 0.0f, Y, (blasint)n);
}

void block_linear_dx(const float *dY, const float *W, float *dX, int64_t M, int64_t n, int64_t k, float beta)
{
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (blasint)M, (blasint)k, (blasint)n, 1.0f, dY,
                (blasint)n, W, (blasint)k, beta, dX, (blasint)k);
}

void block_linear_dw(const float *dY, const float *X, float *dW, int64_t M, int64_t n, int64_t k)
{
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (blasint)n, (blasint)k, (blasint)M, 1.0f, dY, (blasint)n,
                X, (blasint)k, 0.0f, dW, (blasint)k);
}

static int threads_of(const block *b) { return b->o.threads > 0 ? b->o.threads : 1; }

void block_conv(const block *b, const float *in, const float *w, const float *bias, float *out, int64_t C)
{
    const int64_t B = b->s.batch, L = b->s.seqlen, K = b->s.d_conv;
#pragma omp parallel for schedule(static) num_threads(threads_of(b))
    for (int64_t bl = 0; bl < B * L; bl++) {
        const int64_t t = bl % L;
        float *o = out + bl * C;
        for (int64_t c = 0; c < C; c++) o[c] = bias[c];
        for (int64_t j = 0; j < K; j++) {
            const int64_t src = t - (K - 1) + j; /* causal: only past and present steps */
            if (src < 0) continue;
            const float *x = in + (bl - t + src) * C;
            for (int64_t c = 0; c < C; c++) o[c] += w[c * K + j] * x[c];
        }
    }
}

void block_conv_backward(const block *b, const float *in, const float *w, const float *dout, float *din,
                         float *dw, float *dbias, int64_t C)
{
    const int64_t B = b->s.batch, L = b->s.seqlen, K = b->s.d_conv;
    const int threads = threads_of(b);
    /* din[s, c] = sum_j w[c, j] dout[s + K - 1 - j, c] */
#pragma omp parallel for schedule(static) num_threads(threads)
    for (int64_t bl = 0; bl < B * L; bl++) {
        const int64_t s = bl % L;
        float *d = din + bl * C;
        for (int64_t c = 0; c < C; c++) d[c] = 0.0f;
        for (int64_t j = 0; j < K; j++) {
            const int64_t dst = s + K - 1 - j;
            if (dst >= L) continue;
            const float *g = dout + (bl - s + dst) * C;
            for (int64_t c = 0; c < C; c++) d[c] += w[c * K + j] * g[c];
        }
    }
    /* dw[c, j] = sum_t dout[t, c] in[t - K + 1 + j, c]; dbias[c] = sum_t dout[t, c]: each
     * thread owns a range of channels */
#pragma omp parallel num_threads(threads)
    {
        const int nt = omp_get_num_threads(), id = omp_get_thread_num();
        const int64_t c0 = C * id / nt, c1 = C * (id + 1) / nt;
        for (int64_t c = c0; c < c1; c++) {
            dbias[c] = 0.0f;
            for (int64_t j = 0; j < K; j++) dw[c * K + j] = 0.0f;
        }
        for (int64_t bl = 0; bl < B * L; bl++) {
            const int64_t t = bl % L;
            const float *g = dout + bl * C;
            for (int64_t c = c0; c < c1; c++) dbias[c] += g[c];
            for (int64_t j = 0; j < K; j++) {
                const int64_t src = t - (K - 1) + j;
                if (src < 0) continue;
                const float *x = in + (bl - t + src) * C;
                for (int64_t c = c0; c < c1; c++) dw[c * K + j] += g[c] * x[c];
            }
        }
    }
}

void block_silu(const block *b, const float *x, float *y, int64_t n)
{
#pragma omp parallel for schedule(static) num_threads(threads_of(b))
    for (int64_t i = 0; i < n; i++) y[i] = x[i] / (1.0f + expf(-x[i]));
}

void block_silu_backward(const block *b, const float *x, const float *dy, float *dx, int64_t n)
{
#pragma omp parallel for schedule(static) num_threads(threads_of(b))
    for (int64_t i = 0; i < n; i++) {
        const float s = 1.0f / (1.0f + expf(-x[i]));
        dx[i] = dy[i] * s * (1.0f + x[i] * (1.0f - s));
    }
}

void block_a_from_log(const block *b)
{
    for (int64_t i = 0; i < b->np[BP_A_LOG]; i++) b->A[i] = -expf(b->param[BP_A_LOG][i]);
}

/* The scan tensors of the block (u = xs, delta, dt_bias, A, B, C, D, and z for Mamba-1). */
static scan_tensors scan_tensors_of(const block *b)
{
    return (scan_tensors){.u = b->xs, .delta = b->delta, .delta_bias = b->param[BP_DT_BIAS], .A = b->A,
                          .Bm = b->Bs, .Cm = b->Cs, .Dskip = b->param[BP_DSKIP],
                          .z = b->s.kind == BLOCK_MAMBA1 ? b->z : NULL, .y = b->y};
}

int block_scan_forward(block *b, bool save, mb_err *err)
{
    scan_tensors t = scan_tensors_of(b);
    if (save) return b->k->forward_save(&b->ss, &t, &b->o, b->scan_saved, b->train_ws, err);
    return b->k->forward(&b->ss, &t, &b->o, b->scan_ws, err);
}

int block_scan_backward(block *b, mb_err *err)
{
    scan_tensors t = scan_tensors_of(b);
    if (b->k->backward(&b->ss, &t, &b->sg, &b->o, b->scan_saved, b->train_ws, err)) return -1;
    /* A = -exp(A_log): dA_log = dA * A */
    for (int64_t i = 0; i < b->np[BP_A_LOG]; i++) b->grad[BP_A_LOG][i] = b->dA[i] * b->A[i];
    return 0;
}

// ---------------------------------------------------------------- dispatch

int block_forward(block *b, const float *x, float *out, bool save, mb_err *err)
{
    if (save && !b->train) return mb_fail(err, "block: forward with save needs a block made for training");
    return b->s.kind == BLOCK_MAMBA1 ? block_mamba1_forward(b, x, out, save, err)
                                     : block_mamba2_forward(b, x, out, save, err);
}

int block_backward(block *b, const float *x, const float *dout, float *dx, mb_err *err)
{
    if (!b->train) return mb_fail(err, "block: backward needs a block made for training");
    return b->s.kind == BLOCK_MAMBA1 ? block_mamba1_backward(b, x, dout, dx, err)
                                     : block_mamba2_backward(b, x, dout, dx, err);
}

double block_flops(const block *b, bool backward)
{
    const block_shape *s = &b->s;
    const double BL = (double)s->batch * s->seqlen, dm = (double)s->d_model, di = (double)s->d_inner;
    double gemm = 0, conv_ch, point;
    if (s->kind == BLOCK_MAMBA1) {
        const double R = (double)s->dt_rank, N = (double)s->d_state;
        gemm = 2 * BL * (2 * di * dm + di * (R + 2 * N) + R * di + di * dm);
        conv_ch = di;
        point = 4 * BL * di; /* silu */
    } else {
        const double GN = (double)(s->ngroups * s->d_state), H = di / (double)s->headdim;
        gemm = 2 * BL * ((2 * di + 2 * GN + H) * dm + di * dm);
        conv_ch = di + 2 * GN;
        point = 4 * BL * conv_ch + 10 * BL * di; /* silu; gate, rms, scale */
    }
    const double conv = 2 * BL * conv_ch * (double)s->d_conv;
    scan_cost c = {0};
    if (!backward) {
        b->k->cost(&b->ss, &b->o, &c);
        return gemm + conv + point + c.flops;
    }
    if (b->k->backward_cost) b->k->backward_cost(&b->ss, &b->o, &c);
    else c.flops = NAN;
    /* two GEMMs per projection (dX, dW), conv: din and dw, pointwise about twice the forward */
    return 2 * gemm + 2 * conv + 2 * point + c.flops;
}

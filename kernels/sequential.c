/* kernels/sequential.c: the materialising sequential scan (mamba.py's
 * selective_scan_seq, the official selective_scan_ref).
 *
 * Phase 1 materialises deltaA = exp(dt*A) and deltaB_u = dt*B*u as [B][L][D][N] in
 * the workspace; phase 2 walks t once per (b, d) with h = deltaA*h + deltaB_u and
 * y = C.h. Threads split the B*D (batch, channel) pairs statically; both phases use
 * the same split so each thread reads back what it wrote. exp is glibc's scalar expf. */
#include <math.h>
#include <omp.h>

#include "scan.h"

static const char *seq_unsupported(const scan_shape *s, const scan_opts *o)
{
    (void)s, (void)o;
    return NULL;
}

/* per-thread state rows: [threads][N padded to 16] floats (kept off the stack: N is the
 * user's to choose) */
static int64_t seq_hrow(const scan_shape *s) { return (s->d_state + 15) / 16 * 16; }

/* deltaA, deltaB_u: 2 x [B][L][D][N] floats, then the per-thread state rows */
static size_t seq_workspace(const scan_shape *s, const scan_opts *o)
{
    const int64_t threads = o->threads > 0 ? o->threads : 1;
    return (2 * (size_t)s->batch * s->seqlen * s->channels * s->d_state +
            (size_t)threads * seq_hrow(s)) * sizeof(float);
}

static inline float softplusf(float x) { return x > 20.0f ? x : log1pf(expf(x)); }

/* The forward on given buffers: deltaA, deltaB_u [B][L][D][N], hrows [threads][hrow].
 * keep_states: phase 2 overwrites deltaB_u with the states h_t (training). */
static void seq_run(const scan_shape *s, const scan_tensors *t, const scan_opts *o, float *dA, float *dBu,
                    float *hrows, bool keep_states)
{
    const int64_t B = s->batch, L = s->seqlen, D = s->channels, N = s->d_state, G = s->groups;
    const int64_t K = scan_shape_k(s), per_k = D / K, per_group = D / G;
    const bool head = s->a_kind == SCAN_A_HEAD;

#pragma omp parallel num_threads(o->threads > 0 ? o->threads : 1)
    {
        // ---- phase 1: materialise deltaA and deltaB_u
#pragma omp for schedule(static)
        for (int64_t bd = 0; bd < B * D; bd++) {
            const int64_t b = bd / D, d = bd % D, k = d / per_k, g = d / per_group;
            for (int64_t l = 0; l < L; l++) {
                const int64_t bl = b * L + l;
                float dt = t->delta[bl * K + k] + (t->delta_bias ? t->delta_bias[k] : 0.0f);
                if (s->softplus) dt = softplusf(dt);
                const float du = dt * t->u[bl * D + d];
                const float *Bm = t->Bm + (bl * G + g) * N;
                float *a = dA + (bl * D + d) * N, *x = dBu + (bl * D + d) * N;
                if (head) {
                    const float e = expf(dt * t->A[k]);
                    for (int64_t n = 0; n < N; n++) a[n] = e;
                } else {
                    const float *A = t->A + d * N;
                    for (int64_t n = 0; n < N; n++) a[n] = expf(dt * A[n]);
                }
                for (int64_t n = 0; n < N; n++) x[n] = du * Bm[n];
            }
        }
        // ---- phase 2: h = deltaA * h + deltaB_u; y = C . h (+ D u, * silu(z))
#pragma omp for schedule(static)
        for (int64_t bd = 0; bd < B * D; bd++) {
            const int64_t b = bd / D, d = bd % D, k = d / per_k, g = d / per_group;
            float *h = hrows + omp_get_thread_num() * seq_hrow(s);
            for (int64_t n = 0; n < N; n++) h[n] = t->h0 ? t->h0[(b * D + d) * N + n] : 0.0f;
            for (int64_t l = 0; l < L; l++) {
                const int64_t bl = b * L + l;
                const float *a = dA + (bl * D + d) * N;
                float *x = dBu + (bl * D + d) * N;
                const float *Cm = t->Cm + (bl * G + g) * N;
                float acc = 0.0f;
                for (int64_t n = 0; n < N; n++) {
                    h[n] = a[n] * h[n] + x[n];
                    acc += Cm[n] * h[n];
                }
                if (keep_states)
                    for (int64_t n = 0; n < N; n++) x[n] = h[n];
                const float u = t->u[bl * D + d];
                if (t->Dskip) acc += t->Dskip[k] * u;
                if (t->z) {
                    const float z = t->z[bl * D + d];
                    acc *= z / (1.0f + expf(-z));
                }
                t->y[bl * D + d] = acc;
            }
            if (t->h_last)
                for (int64_t n = 0; n < N; n++) t->h_last[(b * D + d) * N + n] = h[n];
        }
    }
}

static int seq_forward(const scan_shape *s, const scan_tensors *t, const scan_opts *o, void *ws, mb_err *err)
{
    (void)err;
    const int64_t BLDN = s->batch * s->seqlen * s->channels * s->d_state;
    float *dA = ws;            /* [B][L][D][N] */
    float *dBu = dA + BLDN;    /* [B][L][D][N] */
    float *hrows = dBu + BLDN; /* [threads][hrow] */
    seq_run(s, t, o, dA, dBu, hrows, false);
    return 0;
}

static void seq_cost(const scan_shape *s, const scan_opts *o, scan_cost *c)
{
    const double upd = scan_shape_updates(s);
    const double BLD = (double)s->batch * s->seqlen * s->channels;
    /* per update: dt*A (1), dt*u*B (1, dt*u hoisted), a*h+x (2), C*h accumulate (2) */
    c->flops = 6.0 * upd + BLD * (1 + (s->has_dskip ? 2 : 0) + (s->has_z ? 4 : 0));
    c->exps = (s->a_kind == SCAN_A_HEAD ? BLD : upd) + BLD * ((s->softplus ? 1 : 0) + (s->has_z ? 1 : 0));
    c->workspace = (double)seq_workspace(s, o);
    /* the workspace is written once (phase 1) and read once (phase 2) */
    c->bytes = (double)scan_shape_tensor_bytes(s) + 2.0 * c->workspace;
}

// ---------------------------------------------------------------- backward
/* sequential keeps what it materialised: saved = deltaA and the states h_t, both
 * [B][L][D][N] (forward_save overwrites deltaB_u by h_t as it goes). The backward walks t
 * down once per (batch, dt entry k) unit (one channel for diag, a head's channels for
 * head, so ddelta needs no reduction), with the adjoint gh of one channel in a row:
 *     gh += gy C_t;  ddt += gh . (A deltaA h_{t-1} + B_t u);  dA += dt gh deltaA h_{t-1};
 *     dB_t += dt u gh;  du += dt gh . B_t;  gh *= deltaA
 * Parameter gradients shared between units (dA, ddelta_bias, dDskip; dBm and dCm summed
 * over a group's channels) go to per-thread accumulators, summed at the end. */

static size_t seq_saved(const scan_shape *s, const scan_opts *o)
{
    (void)o;
    return 2 * (size_t)s->batch * s->seqlen * s->channels * s->d_state * sizeof(float);
}

/* per thread: dB, dC [B][L][G][N]; dA [D][N] or [H]; dbias, dDskip [K]; gh, zero rows [hrow] */
static int64_t seq_acc_floats(const scan_shape *s)
{
    scan_sizes z;
    scan_shape_sizes(s, &z);
    const int64_t K = scan_shape_k(s);
    return (2 * z.Bm + z.A + 2 * K + 2 * seq_hrow(s) + 15) / 16 * 16;
}

static size_t seq_bwd_workspace(const scan_shape *s, const scan_opts *o)
{
    const int64_t threads = o->threads > 0 ? o->threads : 1;
    const size_t fwd = (size_t)threads * seq_hrow(s), bwd = (size_t)threads * seq_acc_floats(s);
    return (fwd > bwd ? fwd : bwd) * sizeof(float);
}

static int seq_forward_save(const scan_shape *s, const scan_tensors *t, const scan_opts *o, void *saved,
                            void *ws, mb_err *err)
{
    (void)err;
    const int64_t BLDN = s->batch * s->seqlen * s->channels * s->d_state;
    float *dA = saved;       /* [B][L][D][N] */
    float *H = dA + BLDN;    /* [B][L][D][N]: deltaB_u, then the states */
    seq_run(s, t, o, dA, H, ws, true);
    return 0;
}

static inline float sigmoidf_(float x) { return 1.0f / (1.0f + expf(-x)); }

static int seq_backward(const scan_shape *s, const scan_tensors *t, const scan_grads *gr, const scan_opts *o,
                        const void *saved, void *ws, mb_err *err)
{
    (void)err;
    const int64_t B = s->batch, L = s->seqlen, D = s->channels, N = s->d_state, G = s->groups;
    const int64_t K = scan_shape_k(s), per_k = D / K, per_group = D / G;
    const bool head = s->a_kind == SCAN_A_HEAD;
    const int64_t BLDN = B * L * D * N;
    const float *dAs = saved;      /* [B][L][D][N] deltaA */
    const float *H = dAs + BLDN;   /* [B][L][D][N] states h_t */
    scan_sizes z;
    scan_shape_sizes(s, &z);
    const int64_t nBm = z.Bm, nA = z.A, per_thread = seq_acc_floats(s);
    const int threads = o->threads > 0 ? o->threads : 1;

#pragma omp parallel num_threads(threads)
    {
        const int tid = omp_get_thread_num();
        float *tdB = (float *)ws + tid * per_thread; /* [B][L][G][N] */
        float *tdC = tdB + nBm;                      /* [B][L][G][N] */
        float *tdA = tdC + nBm;                      /* [D][N] or [H] */
        float *tdbias = tdA + nA;                    /* [K] */
        float *tdD = tdbias + K;                     /* [K] */
        float *gh = tdD + K;                         /* [hrow] */
        float *zero = gh + seq_hrow(s);              /* [hrow] */
        for (int64_t i = 0; i < per_thread; i++) tdB[i] = 0.0f;

#pragma omp for schedule(static)
        for (int64_t bk = 0; bk < B * K; bk++) {
            const int64_t b = bk / K, k = bk % K;
            const float Dk = t->Dskip ? t->Dskip[k] : 0.0f;
            for (int64_t l = 0; l < L; l++) gr->ddelta[(b * L + l) * K + k] = 0.0f;
            for (int64_t d = k * per_k; d < (k + 1) * per_k; d++) {
                const int64_t g = d / per_group;
                for (int64_t n = 0; n < N; n++) gh[n] = gr->dh_last ? gr->dh_last[(b * D + d) * N + n] : 0.0f;
                const float *h0 = t->h0 ? t->h0 + (b * D + d) * N : zero;
                for (int64_t l = L - 1; l >= 0; l--) {
                    const int64_t bl = b * L + l;
                    const float x = t->delta[bl * K + k] + (t->delta_bias ? t->delta_bias[k] : 0.0f);
                    const float dt = s->softplus ? softplusf(x) : x;
                    const float dsp = s->softplus ? sigmoidf_(x) : 1.0f;
                    const float u = t->u[bl * D + d];
                    const float *Bm = t->Bm + (bl * G + g) * N, *Cm = t->Cm + (bl * G + g) * N;
                    const float *a = dAs + (bl * D + d) * N, *hc = H + (bl * D + d) * N;
                    const float *hp = l > 0 ? H + ((bl - 1) * D + d) * N : h0;
                    float gy = gr->dy[bl * D + d];
                    if (t->z) {
                        float acc = Dk * u;
                        for (int64_t n = 0; n < N; n++) acc += Cm[n] * hc[n];
                        const float zz = t->z[bl * D + d], sg = sigmoidf_(zz);
                        gr->dz[bl * D + d] = gy * acc * sg * (1.0f + zz * (1.0f - sg));
                        gy *= zz * sg;
                    }
                    tdD[k] += gy * u;
                    float *dB = tdB + (bl * G + g) * N, *dC = tdC + (bl * G + g) * N;
                    const float dtu = dt * u;
                    float ddt = 0.0f, gB = 0.0f;
                    if (head) {
                        float geh = 0.0f;
                        for (int64_t n = 0; n < N; n++) {
                            dC[n] += gy * hc[n];
                            const float g1 = gh[n] + gy * Cm[n];
                            geh += g1 * a[n] * hp[n];
                            gB += g1 * Bm[n];
                            dB[n] += g1 * dtu;
                            gh[n] = g1 * a[n];
                        }
                        ddt = t->A[k] * geh + gB * u;
                        tdA[k] += dt * geh;
                    } else {
                        const float *A = t->A + d * N;
                        float *dA = tdA + d * N;
                        for (int64_t n = 0; n < N; n++) {
                            dC[n] += gy * hc[n];
                            const float g1 = gh[n] + gy * Cm[n];
                            const float geh = g1 * a[n] * hp[n];
                            ddt += A[n] * geh;
                            dA[n] += dt * geh;
                            gB += g1 * Bm[n];
                            dB[n] += g1 * dtu;
                            gh[n] = g1 * a[n];
                        }
                        ddt += gB * u;
                    }
                    gr->du[bl * D + d] = gy * Dk + dt * gB;
                    gr->ddelta[bl * K + k] += ddt * dsp;
                    tdbias[k] += ddt * dsp;
                }
                if (gr->dh0)
                    for (int64_t n = 0; n < N; n++) gr->dh0[(b * D + d) * N + n] = gh[n];
            }
        }
        // ---- sum the per-thread accumulators (the barrier of the omp for comes first)
        const float *base = ws;
#pragma omp for schedule(static)
        for (int64_t i = 0; i < nBm; i++) {
            float sb = 0.0f, sc = 0.0f;
            for (int th = 0; th < threads; th++) {
                sb += base[th * per_thread + i];
                sc += base[th * per_thread + nBm + i];
            }
            gr->dBm[i] = sb;
            gr->dCm[i] = sc;
        }
#pragma omp for schedule(static)
        for (int64_t i = 0; i < nA + 2 * K; i++) {
            float sum = 0.0f;
            for (int th = 0; th < threads; th++) sum += base[th * per_thread + 2 * nBm + i];
            if (i < nA) gr->dA[i] = sum;
            else if (i < nA + K) {
                if (gr->ddelta_bias) gr->ddelta_bias[i - nA] = sum;
            } else if (gr->dDskip) gr->dDskip[i - nA - K] = sum;
        }
    }
    return 0;
}

static void seq_backward_cost(const scan_shape *s, const scan_opts *o, scan_cost *c)
{
    const double upd = scan_shape_updates(s);
    const double BLD = (double)s->batch * s->seqlen * s->channels;
    const int threads = o->threads > 0 ? o->threads : 1;
    scan_sizes z;
    scan_shape_sizes(s, &z);
    /* per update: dC (2), gh + gy C (2), a h_{t-1} g (2), ddt or geh (2), dA (2, diag), gB (2),
     * dB (2), gh *= a (1) = 15; the reduction adds threads x (2 BLGN) */
    c->flops = 15.0 * upd + BLD * (8 + (s->has_z ? 2.0 * s->d_state + 8 : 0)) +
               (double)threads * 2 * z.Bm;
    c->exps = BLD * ((s->softplus ? 2 : 0) + (s->has_z ? 1 : 0));
    c->workspace = (double)seq_bwd_workspace(s, o);
    /* saved (deltaA, h) read once, the inputs and gradients once, the accumulators twice */
    c->bytes = (double)seq_saved(s, o) + (double)scan_shape_tensor_bytes(s) + (double)scan_grad_bytes(s) +
               2.0 * threads * 2 * (double)z.Bm * sizeof(float);
}

const scan_kernel scan_kernel_sequential = {
    .name = "sequential",
    .exp_routine = "glibc_expf",
    .summary = "materialise deltaA, deltaB_u as [B][L][D][N], then one pass over t",
    .supports = "diag and head, every optional tensor",
    .unsupported = seq_unsupported,
    .workspace_bytes = seq_workspace,
    .forward = seq_forward,
    .cost = seq_cost,
    .saved_bytes = seq_saved,
    .forward_save = seq_forward_save,
    .backward_workspace_bytes = seq_bwd_workspace,
    .backward = seq_backward,
    .backward_cost = seq_backward_cost,
};

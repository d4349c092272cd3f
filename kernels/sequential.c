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

static int seq_forward(const scan_shape *s, const scan_tensors *t, const scan_opts *o, void *ws, mb_err *err)
{
    (void)err;
    const int64_t B = s->batch, L = s->seqlen, D = s->channels, N = s->d_state, G = s->groups;
    const int64_t K = scan_shape_k(s), per_k = D / K, per_group = D / G;
    const int64_t LDN = L * D * N;
    float *dA = ws;                 /* [B][L][D][N] */
    float *dBu = dA + B * LDN;      /* [B][L][D][N] */
    float *hrows = dBu + B * LDN;   /* [threads][hrow] */
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
                const float *a = dA + (bl * D + d) * N, *x = dBu + (bl * D + d) * N;
                const float *Cm = t->Cm + (bl * G + g) * N;
                float acc = 0.0f;
                for (int64_t n = 0; n < N; n++) {
                    h[n] = a[n] * h[n] + x[n];
                    acc += Cm[n] * h[n];
                }
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

const scan_kernel scan_kernel_sequential = {
    .name = "sequential",
    .exp_routine = "glibc_expf",
    .summary = "materialise deltaA, deltaB_u as [B][L][D][N], then one pass over t",
    .supports = "diag and head, every optional tensor",
    .unsupported = seq_unsupported,
    .workspace_bytes = seq_workspace,
    .forward = seq_forward,
    .cost = seq_cost,
};

/* kernels/pscan.c: the parallel scan (mamba.py's pscan.py, Blelloch's work-efficient
 * scan over time).
 *
 * Phase 1 materialises deltaA = exp(dt*A) and deltaB_u = dt*B*u as [B][L][D][N] (as the
 * sequential kernel does), folding h0 into step 0. Phase 2 scans both in place over time
 * with the associative operator (a1, x1) o (a2, x2) = (a1 a2, a2 x1 + x2):
 *
 *   up-sweep:   s = 1, 2, 4, ... while 2s <= L: for i = 2s-1, 4s-1, ... < L:  e[i] = e[i-s] o e[i]
 *   down-sweep: s = the largest power of two < L, halving down to 1:
 *                                      for i = 3s-1, 5s-1, ... < L:  e[i] = e[i-s] o e[i]
 *
 * (Brent-Kung: 2L operator applications in 2 log2 L levels, any L, no padding.) After it,
 * deltaB_u[t] holds h[t]. Phase 3 reads y = C.h (+ D u, * silu(z)). Every level is one
 * parallel loop over (batch, pair of steps, slice of the D*N row), so threads share the
 * time axis even when batch x channels is 1: that is this kernel's reason to exist.
 * The phases are exported through kernels/pscan.h to the backward (pscan_backward.c),
 * whose forward_save runs them too and whose backward runs the sweeps reversed. */
#include <math.h>
#include <omp.h>

#include "pscan.h"
#include "scan.h"
#include "simd.h"

#define PS_SLICE 4096 /* floats of a D*N row per work item */

static const char *ps_unsupported(const scan_shape *s, const scan_opts *o)
{
    (void)s, (void)o;
    return NULL;
}

size_t pscan_rows_bytes(const scan_shape *s)
{
    return 2 * (size_t)s->batch * s->seqlen * s->channels * s->d_state * sizeof(float);
}

/* deltaA, deltaB_u: 2 x [B][L][D][N] floats */
static size_t ps_workspace(const scan_shape *s, const scan_opts *o)
{
    (void)o;
    return pscan_rows_bytes(s);
}


/* The number of pairs of a level: the count of i = first, first + step, ... < L. */
static int64_t ps_pairs(int64_t L, int64_t first, int64_t step)
{
    return first < L ? (L - 1 - first) / step + 1 : 0;
}

// ---------------------------------------------------------------- phases (pscan.h)

void pscan_materialise(const scan_shape *s, const scan_tensors *t, float *dA, float *dBu, float *dA_copy)
{
    const int64_t B = s->batch, L = s->seqlen, D = s->channels, N = s->d_state, G = s->groups;
    const int64_t K = scan_shape_k(s), per_k = D / K, per_group = D / G, R = D * N;
    const bool head = s->a_kind == SCAN_A_HEAD;
    /* one (b, t) row per item */
#pragma omp for schedule(static)
    for (int64_t bl = 0; bl < B * L; bl++) {
        const int64_t b = bl / L, l = bl % L;
        float dtk = 0.0f, ek = 1.0f;
        for (int64_t d = 0; d < D; d++) {
            const int64_t k = d / per_k, g = d / per_group;
            if (d % per_k == 0) { /* head: one dt and one exp per (t, head) */
                dtk = t->delta[bl * K + k] + (t->delta_bias ? t->delta_bias[k] : 0.0f);
                if (s->softplus) dtk = mb_softplusf(dtk);
                if (head) ek = expf(dtk * t->A[k]);
            }
            const float du = dtk * t->u[bl * D + d];
            const float *Bm = t->Bm + (bl * G + g) * N;
            float *a = dA + bl * R + d * N, *x = dBu + bl * R + d * N;
            if (head)
                for (int64_t n = 0; n < N; n++) a[n] = ek;
            else
                for (int64_t n = 0; n < N; n++) a[n] = expf(dtk * t->A[d * N + n]);
            for (int64_t n = 0; n < N; n++) x[n] = du * Bm[n];
            if (l == 0 && t->h0)
                for (int64_t n = 0; n < N; n++) x[n] += a[n] * t->h0[(b * D + d) * N + n];
            if (dA_copy)
                for (int64_t n = 0; n < N; n++) dA_copy[bl * R + d * N + n] = a[n];
        }
    }
}

/* One level: e[i] = e[i-s] o e[i] for positions i = first + p*step, over all batches and
 * slices, where position i is time i (forward) or time L-1-i (reverse, so that e[i-s] is
 * time t+s). Every thread of the team takes a contiguous share of the (batch, pair, slice)
 * items (decomposed once, then counted up: no division per item); ends in a barrier. */
static void ps_level(float *dA, float *dBu, int64_t B, int64_t L, int64_t R, int64_t s, int64_t first,
                     int64_t step, bool reverse)
{
    const int64_t pairs = ps_pairs(L, first, step), slices = (R + PS_SLICE - 1) / PS_SLICE;
    const int64_t items = B * pairs * slices;
    const int64_t nth = omp_get_num_threads(), me = omp_get_thread_num();
    const int64_t lo = items * me / nth, hi = items * (me + 1) / nth;
    if (lo < hi) {
        int64_t sl = lo % slices, p = (lo / slices) % pairs, b = lo / slices / pairs;
        for (int64_t it = lo; it < hi; it++) {
            const int64_t i = first + p * step;
            const int64_t thi = reverse ? L - 1 - i : i, tlo = reverse ? thi + s : thi - s;
            const int64_t r0 = sl * PS_SLICE, r1 = r0 + PS_SLICE < R ? r0 + PS_SLICE : R;
            float *a_hi = dA + (b * L + thi) * R, *x_hi = dBu + (b * L + thi) * R;
            const float *a_lo = dA + (b * L + tlo) * R, *x_lo = dBu + (b * L + tlo) * R;
#pragma omp simd
            for (int64_t r = r0; r < r1; r++) {
                x_hi[r] = a_hi[r] * x_lo[r] + x_hi[r];
                a_hi[r] = a_hi[r] * a_lo[r];
            }
            if (++sl == slices) {
                sl = 0;
                if (++p == pairs) p = 0, b++;
            }
        }
    }
#pragma omp barrier
}

void pscan_sweeps(float *a, float *x, int64_t B, int64_t L, int64_t R, bool reverse)
{
    int64_t s_top = 1;
    for (int64_t st = 1; 2 * st <= L; st *= 2) {
        ps_level(a, x, B, L, R, st, 2 * st - 1, 2 * st, reverse);
        s_top = st;
    }
    for (int64_t st = s_top; st >= 1; st /= 2) ps_level(a, x, B, L, R, st, 3 * st - 1, 2 * st, reverse);
}

void pscan_read_out(const scan_shape *s, const scan_tensors *t, const float *H)
{
    const int64_t B = s->batch, L = s->seqlen, D = s->channels, N = s->d_state, G = s->groups;
    const int64_t K = scan_shape_k(s), per_k = D / K, per_group = D / G, R = D * N;
#pragma omp for schedule(static)
    for (int64_t bl = 0; bl < B * L; bl++) {
        for (int64_t d = 0; d < D; d++) {
            const int64_t k = d / per_k, g = d / per_group;
            const float *h = H + bl * R + d * N, *Cm = t->Cm + (bl * G + g) * N;
            float acc = 0.0f;
            for (int64_t n = 0; n < N; n++) acc += Cm[n] * h[n];
            t->y[bl * D + d] = mb_readoutf(acc, t->Dskip ? t->Dskip + k : NULL, t->u[bl * D + d],
                                           t->z ? t->z + bl * D + d : NULL);
        }
    }
    if (t->h_last) {
#pragma omp for schedule(static)
        for (int64_t b = 0; b < B; b++)
            for (int64_t r = 0; r < R; r++) t->h_last[b * R + r] = H[(b * L + L - 1) * R + r];
    }
}

double pscan_applications(int64_t L)
{
    double n = 0;
    int64_t s_top = 1;
    for (int64_t st = 1; 2 * st <= L; st *= 2) n += (double)ps_pairs(L, 2 * st - 1, 2 * st), s_top = st;
    for (int64_t st = s_top; st >= 1; st /= 2) n += (double)ps_pairs(L, 3 * st - 1, 2 * st);
    return n;
}

// ---------------------------------------------------------------- the forward

static int ps_forward(const scan_shape *s, const scan_tensors *t, const scan_opts *o, void *ws, mb_err *err)
{
    (void)err;
    const int64_t B = s->batch, L = s->seqlen, R = s->channels * s->d_state;
    float *dA = ws;                 /* [B][L][D][N] */
    float *dBu = dA + B * L * R;    /* [B][L][D][N] */
#pragma omp parallel num_threads(o->threads > 0 ? o->threads : 1)
    {
        pscan_materialise(s, t, dA, dBu, NULL);
        pscan_sweeps(dA, dBu, B, L, R, false); /* dBu[t] becomes h[t] */
        pscan_read_out(s, t, dBu);
    }
    return 0;
}

/* Per update: phase 1 dt*A (1, diag) and dt*u*B (1); phase 3 C*h (2). Per operator
 * application and (d, n): a2*x1 + x2 (2) and a1*a2 (1). Per (b, t, channel): dt*u (1),
 * D*u (2), gate (4); per (b, t) with h0 at t = 0: a*h0 + x (2 per (d, n)). Exps: one per
 * update (diag) or per (t, head) (head), softplus per (t, dt entry), silu per (t, channel).
 * Bytes: the tensors once; the workspace written by phase 1; each application reads
 * 4 floats and writes 2; phase 3 reads h (one float per update). */
static void ps_cost(const scan_shape *s, const scan_opts *o, scan_cost *c)
{
    const double upd = scan_shape_updates(s);
    const double BL = (double)s->batch * s->seqlen, BLD = BL * s->channels;
    const double BLK = BL * (double)scan_shape_k(s);
    const double BR = (double)s->batch * s->channels * s->d_state;
    const bool head = s->a_kind == SCAN_A_HEAD;
    const double apps = pscan_applications(s->seqlen) * BR;
    c->flops = (head ? 3.0 : 4.0) * upd + 3.0 * apps + (s->has_h0 ? 2.0 * BR : 0) +
               BLD * (1 + (s->has_dskip ? 2 : 0) + (s->has_z ? 4 : 0));
    c->exps = (head ? BLK : upd) + (s->softplus ? BLK : 0) + (s->has_z ? BLD : 0);
    c->workspace = (double)ps_workspace(s, o);
    c->bytes = (double)scan_shape_tensor_bytes(s) + c->workspace + 6.0 * 4.0 * apps + 4.0 * upd;
}

/* forward_save (pscan_backward.c) materialises deltaA and deltaB_u into saved instead of
 * the workspace, and also a copy of deltaA, which the sweeps consume in its place: one
 * float per update more */
static double ps_save_extra_bytes(const scan_shape *s, const scan_opts *o)
{
    (void)o;
    return 4.0 * scan_shape_updates(s);
}

const scan_kernel scan_kernel_pscan = {
    .name = "pscan",
    .exp_routine = "glibc_expf",
    .summary = "materialise deltaA, deltaB_u, then Blelloch up-/down-sweep over t (any L)",
    .supports = "diag and head, every optional tensor",
    .unsupported = ps_unsupported,
    .workspace_bytes = ps_workspace,
    .forward = ps_forward,
    .cost = ps_cost,
    /* training: kernels/pscan_backward.c (the reverse scan of the adjoint) */
    .saved_bytes = scan_pscan_saved_bytes,
    .forward_save = scan_pscan_forward_save,
    .backward_workspace_bytes = scan_pscan_backward_workspace,
    .backward = scan_pscan_backward,
    .backward_cost = scan_pscan_backward_cost,
    .save_extra_bytes = ps_save_extra_bytes,
};

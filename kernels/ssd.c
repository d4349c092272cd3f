/* kernels/ssd.c: Mamba-2's chunked state-space duality (the Mamba-2 paper, ssd_minimal)
 * for "head" problems (one scalar A per head).
 *
 * Time is cut into chunks of Q steps. With a[t] = dt[t] A[h] and S[t] the cumulative sum
 * of a inside a chunk, for the channels of head h (group g):
 *
 *   intra-chunk  y[t] += sum_{s<=t} (C[t].B[s]) exp(S[t]-S[s]) dt[s] u[s]
 *   state out    y[t] += exp(S[t]) sum_n C[t][n] Hin[n]            (Hin: state entering)
 *   recurrence   Hin <- exp(S[end]) Hin + sum_s B[s] exp(S[end]-S[s]) dt[s] u[s]
 *
 * Pass 1 (parallel over batch x groups x chunks): C B^T per chunk and group (Q x Q x N),
 * shared by the group's heads. Pass 2 (parallel over batch x heads: each thread a
 * contiguous share, in blocks of heads whose states Hin [N][P] fit the L2 together):
 * chunk after chunk, for each head of the block, the masked, decayed C B^T times dt u
 * (Q x Q x P, lower triangular) straight into y, then exp(S) C Hin added (Q x N x P),
 * D u and the gate, then Hin = exp(S[end]) Hin + B^T Xw
 * (N x Q x P). No chunk state ever goes to memory. The products run on mb_gemm_small
 * (kernels/gemm_small.c): on these shapes it is 2-4x faster than Debian's OpenBLAS
 * under this environment's OPENBLAS_CORETYPE=Haswell (kernels/README.md), and it adds
 * the row scale exp(S) and the triangular shortcut. Heads are the parallel units: a
 * problem with fewer batch x heads than threads leaves threads idle. */
#include <math.h>
#include <omp.h>
#include <string.h>

#include "gemm_small.h"
#include "scan.h"
#include "simd.h"

#define SSD_DEFAULT_CHUNK 32 /* measured: see kernels/README.md */
#define SSD_BLOCK_FLOATS 98304 /* pass 2's states per block of heads: 384 KB */

typedef struct {
    int64_t B, L, D, N, G, H, P, Q, nc, Hg;
    int64_t hb;           /* heads per block of pass 2 */
    size_t thread_floats; /* per-thread scratch */
} ssd_geom;

static void ssd_geom_init(ssd_geom *g, const scan_shape *s, const scan_opts *o)
{
    g->B = s->batch, g->L = s->seqlen, g->D = s->channels, g->N = s->d_state, g->G = s->groups;
    g->H = s->heads > 0 ? s->heads : 1;
    g->P = g->D / g->H;
    g->Q = o->chunk > 0 ? o->chunk : SSD_DEFAULT_CHUNK;
    if (g->Q > g->L) g->Q = g->L;
    g->nc = (g->L + g->Q - 1) / g->Q;
    g->Hg = g->H / g->G;
    /* pass 2 walks blocks of hb heads: their states (hb N P floats) near 384 KB, within the
     * L2, and no more heads than a thread's share */
    const int64_t threads = o->threads > 0 ? o->threads : 1, share = (g->B * g->H + threads - 1) / threads;
    g->hb = SSD_BLOCK_FLOATS / (g->N * g->P);
    if (g->hb > share) g->hb = share;
    if (g->hb < 1) g->hb = 1;
    /* pass 1: Bt [N][Q]. pass 2: Hin [hb][N][P]; Xd, Xw [Q][P]; M [Q][Q]; dt, E, w, S [Q] */
    const int64_t p1 = g->N * g->Q, p2 = g->hb * g->N * g->P + 2 * g->Q * g->P + g->Q * g->Q + 4 * g->Q;
    g->thread_floats = (size_t)((p1 > p2 ? p1 : p2) + 15) / 16 * 16;
}

static const char *ssd_unsupported(const scan_shape *s, const scan_opts *o)
{
    if (s->a_kind != SCAN_A_HEAD)
        return "chunked SSD needs a scalar A per head (a=head, Mamba-2); this problem has A per channel and state (a=diag)";
    if (o->chunk < 0) return "chunk length must be >= 1";
    return NULL;
}

/* C B^T [B][G][nc][Q][Q]; threads x scratch */
static size_t ssd_workspace(const scan_shape *s, const scan_opts *o)
{
    if (s->a_kind != SCAN_A_HEAD) return 0;
    ssd_geom g;
    ssd_geom_init(&g, s, o);
    const int threads = o->threads > 0 ? o->threads : 1;
    return ((size_t)(g.B * g.G * g.nc * g.Q * g.Q) + (size_t)threads * g.thread_floats) * sizeof(float);
}

// ---------------------------------------------------------------- pass 1

/* CB [q][q] = C B^T of chunk c, batch b, group gi (Bt [N][Q]: B of the chunk, transposed) */
static void ssd_pass1(const ssd_geom *g, const scan_tensors *t, float *CBall, float *scr, int64_t b, int64_t gi,
                      int64_t c)
{
    const int64_t Q = g->Q, N = g->N, G = g->G;
    const int64_t t0 = c * Q, q = g->L - t0 < Q ? g->L - t0 : Q, bl0 = b * g->L + t0;
    const float *Bc = t->Bm + (bl0 * G + gi) * N, *Cc = t->Cm + (bl0 * G + gi) * N; /* [q][G*N] */
    float *Bt = scr;                                                               /* [N][Q] */
    for (int64_t s = 0; s < q; s++)
        for (int64_t n = 0; n < N; n++) Bt[n * Q + s] = Bc[s * G * N + n];
    mb_gemm_small((int)q, (int)q, (int)N, Cc, G * N, 1, Bt, Q, CBall + ((b * G + gi) * g->nc + c) * Q * Q, Q, NULL,
                  0.0f, false);
}

// ---------------------------------------------------------------- pass 2

/* y = (y + D u) * silu(z) on the q rows of one head's P channels (y row stride D) */
static void ssd_finish(const ssd_geom *g, const scan_tensors *t, int64_t h, int64_t bl0, int64_t q)
{
    const int64_t D = g->D, P = g->P, d0 = h * P;
    if (!t->Dskip && !t->z) return;
    const float dsk = t->Dskip ? t->Dskip[h] : 0.0f;
#if defined(__AVX512F__)
    const mb_exp_tab tab = mb_exp_tab_init();
    const __m512 dv = _mm512_set1_ps(dsk);
#endif
    for (int64_t i = 0; i < q; i++) {
        const int64_t bl = bl0 + i;
        const float *u = t->u + bl * D + d0, *z = t->z ? t->z + bl * D + d0 : NULL;
        float *y = t->y + bl * D + d0;
        int64_t p = 0;
#if defined(__AVX512F__)
        for (; p + 16 <= P; p += 16) {
            __m512 v = _mm512_fmadd_ps(dv, _mm512_loadu_ps(u + p), _mm512_loadu_ps(y + p));
            if (z) v = mb_silu_mul512(v, _mm512_loadu_ps(z + p), &tab);
            _mm512_storeu_ps(y + p, v);
        }
#endif
        for (; p < P; p++) {
            y[p] += dsk * u[p];
            if (z) y[p] *= z[p] / (1.0f + expf(-z[p]));
        }
    }
}

/* Prefetch one row of one head (P floats at offset o) of u, z (read) and y (written). */
static inline void ssd_prefetch_row(const scan_tensors *t, int64_t o, int64_t P)
{
    for (int64_t p = 0; p < P; p += 16) {
        __builtin_prefetch(t->u + o + p, 0, 3);
        if (t->z) __builtin_prefetch(t->z + o + p, 0, 3);
        __builtin_prefetch(t->y + o + p, 1, 3);
    }
}

/* Chunk c of head h, batch b: y for its rows, and Hin [N][P] (the state entering the
 * chunk, zero-free only if c > 0 or h0) becomes the state entering chunk c + 1. The next
 * work item's rows (chunk nc_, head nh_; nc_ < 0: none) are prefetched meanwhile. */
static void ssd_chunk(const ssd_geom *g, const scan_shape *s, const scan_tensors *t, const float *CBall, float *scr,
                      float *Hin, int64_t b, int64_t h, int64_t c, int64_t nc_, int64_t nh_)
{
    const int64_t Q = g->Q, N = g->N, D = g->D, G = g->G, H = g->H, P = g->P, gi = h / g->Hg, d0 = h * P;
    float *Xd = scr;         /* [Q][P] dt u */
    float *Xw = Xd + Q * P;  /* [Q][P] exp(S[end] - S[s]) dt u */
    float *M = Xw + Q * P;   /* [Q][Q] C[t].B[s] exp(S[t] - S[s]) for s <= t, else 0 */
    float *dt = M + Q * Q;   /* [Q] */
    float *E = dt + Q;       /* [Q] exp(S) */
    float *w = E + Q;        /* [Q] exp(S[end] - S) */
    float *S = w + Q;        /* [Q] cumulative log decay */
    const float Ah = t->A[h], bias = t->delta_bias ? t->delta_bias[h] : 0.0f;
#if defined(__AVX512F__)
    const mb_exp_tab tab = mb_exp_tab_init();
#endif
    const bool have_state = c > 0 || t->h0; /* else Hin is not yet set: no state enters */
    {
        const int64_t t0 = c * Q, q = g->L - t0 < Q ? g->L - t0 : Q, bl0 = b * g->L + t0;
        // ---- dt, S (cumulative log decay, summed in double), exp(S), the weights to the chunk's end
        for (int64_t i = 0; i < q; i++) dt[i] = t->delta[(bl0 + i) * H + h] + bias;
        if (s->softplus) {
            int64_t i = 0;
#if defined(__AVX512F__)
            for (; i < q; i += 16) {
                const __mmask16 in = (__mmask16)(q - i >= 16 ? 0xFFFFu : (1u << (q - i)) - 1);
                _mm512_mask_storeu_ps(dt + i, in, mb_softplus512(_mm512_maskz_loadu_ps(in, dt + i), &tab));
            }
#endif
            for (; i < q; i++) dt[i] = mb_softplusf(dt[i]);
        }
        double acc = 0;
        for (int64_t i = 0; i < q; i++) {
            acc += (double)dt[i] * Ah;
            S[i] = (float)acc;
        }
        mb_exp_array(S, E, q);
        for (int64_t i = 0; i < q; i++) w[i] = S[q - 1] - S[i];
        mb_exp_array(w, w, q);
        // ---- dt u and its weighted copy
        for (int64_t i = 0; i < q; i++) {
            const float *u = t->u + (bl0 + i) * D + d0;
            float *xd = Xd + i * P, *xw = Xw + i * P;
            for (int64_t p = 0; p < P; p++) {
                xd[p] = dt[i] * u[p];
                xw[p] = w[i] * xd[p];
            }
        }
        // ---- the mask: decayed C B^T on and below the diagonal, zeros stored above; meanwhile
        // the next work item's rows of u, z and y are prefetched (rows are D floats apart, a
        // new page each, where the hardware prefetchers stop: 30% of the time without)
        const float *CB = CBall + ((b * G + gi) * g->nc + c) * Q * Q;
        const int64_t qn = nc_ < 0 ? 0 : (g->L - nc_ * Q < Q ? g->L - nc_ * Q : Q);
        for (int64_t i = 0; i < q; i++) {
            if (i < qn) ssd_prefetch_row(t, (b * g->L + nc_ * Q + i) * D + nh_ * P, P);
            float *m = M + i * Q;
            const float *cb = CB + i * Q;
#if defined(__AVX512F__)
            const __m512 si = _mm512_set1_ps(S[i]);
            for (int64_t j = 0; j < q; j += 16) { /* lanes j..j+15 below q; nonzero up to i */
                const __mmask16 in = (__mmask16)(q - j >= 16 ? 0xFFFFu : (1u << (q - j)) - 1);
                const __mmask16 on = i - j >= 15 ? in : (i < j ? 0 : (__mmask16)((2u << (i - j)) - 1));
                const __m512 e = mb_exp512(_mm512_sub_ps(si, _mm512_maskz_loadu_ps(on, S + j)), &tab);
                _mm512_mask_storeu_ps(m + j, in, _mm512_maskz_mul_ps(on, e, _mm512_maskz_loadu_ps(on, cb + j)));
            }
#else
            for (int64_t j = 0; j <= i; j++) m[j] = S[i] - S[j];
            mb_exp_array(m, m, i + 1);
            for (int64_t j = 0; j <= i; j++) m[j] *= cb[j];
            for (int64_t j = i + 1; j < q; j++) m[j] = 0.0f;
#endif
        }
        // ---- y = M Xd (intra-chunk) + exp(S) C Hin (state out), then D u and the gate
        const float *Cc = t->Cm + (bl0 * G + gi) * N, *Bc = t->Bm + (bl0 * G + gi) * N; /* [q][G*N] */
        float *y = t->y + bl0 * D + d0;                                                 /* [q][D] */
        mb_gemm_small((int)q, (int)P, (int)q, M, Q, 1, Xd, P, y, D, NULL, 0.0f, true);
        if (have_state) mb_gemm_small((int)q, (int)P, (int)N, Cc, G * N, 1, Hin, P, y, D, E, 1.0f, false);
        ssd_finish(g, t, h, bl0, q);
        // ---- Hin = exp(S[end]) Hin + B^T Xw (not after the last chunk unless h_last is wanted)
        if (c + 1 < g->nc || t->h_last) {
            mb_gemm_small((int)N, (int)P, (int)q, Bc, 1, G * N, Xw, P, Hin, P, NULL, have_state ? E[q - 1] : 0.0f,
                          false);
        }
    }
}

/* Heads [h0_, h1_) of batch b, chunk after chunk, each chunk for every head of the block
 * (so the chunk's B, C and C B^T are reused from cache, and the rows of u, z, y are read
 * as runs of (h1_ - h0_) P floats): the block's states Hin [h1_ - h0_][N][P] stay in
 * the thread's scratch. */
static void ssd_heads(const ssd_geom *g, const scan_shape *s, const scan_tensors *t, const float *CBall, float *scr,
                      int64_t b, int64_t h0_, int64_t h1_)
{
    const int64_t N = g->N, D = g->D, P = g->P, NP = N * P;
    float *Hins = scr, *cs = scr + (h1_ - h0_) * NP; /* [heads][N][P]; the chunk's scratch */
    if (t->h0)
        for (int64_t h = h0_; h < h1_; h++)
            for (int64_t n = 0; n < N; n++)
                for (int64_t p = 0; p < P; p++) Hins[(h - h0_) * NP + n * P + p] = t->h0[(b * D + h * P + p) * N + n];
    for (int64_t c = 0; c < g->nc; c++)
        for (int64_t h = h0_; h < h1_; h++) {
            const int64_t nh = h + 1 < h1_ ? h + 1 : h0_, ncn = h + 1 < h1_ ? c : (c + 1 < g->nc ? c + 1 : -1);
            ssd_chunk(g, s, t, CBall, cs, Hins + (h - h0_) * NP, b, h, c, ncn, nh);
        }
    if (t->h_last)
        for (int64_t h = h0_; h < h1_; h++)
            for (int64_t n = 0; n < N; n++)
                for (int64_t p = 0; p < P; p++) t->h_last[(b * D + h * P + p) * N + n] = Hins[(h - h0_) * NP + n * P + p];
}

// ---------------------------------------------------------------- the kernel

static int ssd_forward(const scan_shape *s, const scan_tensors *t, const scan_opts *o, void *ws, mb_err *err)
{
    const char *why = ssd_unsupported(s, o);
    if (why) return mb_fail(err, "ssd: %s", why);
    ssd_geom g;
    ssd_geom_init(&g, s, o);
    const int threads = o->threads > 0 ? o->threads : 1;
    float *CBall = ws;                                  /* [B][G][nc][Q][Q] */
    float *scratch = CBall + g.B * g.G * g.nc * g.Q * g.Q; /* [threads][thread_floats] */

#pragma omp parallel num_threads(threads)
    {
        float *scr = scratch + (size_t)omp_get_thread_num() * g.thread_floats;
        // ---- pass 1: C B^T per (batch, group, chunk)
#pragma omp for schedule(static)
        for (int64_t it = 0; it < g.B * g.G * g.nc; it++)
            ssd_pass1(&g, t, CBall, scr, it / (g.G * g.nc), (it / g.nc) % g.G, it % g.nc);
        // ---- pass 2 (after the barrier of pass 1's loop): each thread a contiguous share of the (batch, head) pairs, in blocks of
        // at most hb heads of one batch element, chunks in order
        const int64_t U = g.B * g.H, nt = omp_get_num_threads(), me = omp_get_thread_num();
        for (int64_t u = U * me / nt, u1 = U * (me + 1) / nt; u < u1;) {
            const int64_t b = u / g.H, h0_ = u % g.H;
            int64_t h1_ = h0_ + g.hb < g.H ? h0_ + g.hb : g.H;
            if (h1_ - h0_ > u1 - u) h1_ = h0_ + (u1 - u);
            ssd_heads(&g, s, t, CBall, scr, b, h0_, h1_);
            u += h1_ - h0_;
        }
    }
    return 0;
}

/* Per chunk (q steps) and group: C B^T 2 q^2 N. Per chunk and head: the mask's
 * differences and products q(q+1); the masked product over the triangle P q(q+1); the
 * cumulative sum (2q) and the weights' differences (q); dt u and its weighting 2 q P; the
 * state output 2 q N P plus its row scale and add 2 q P, on chunks that have an entering
 * state (every chunk but the first, unless h0); the chunk's state 2 N q P plus the decay
 * of the entering state (2 N P where there is one), on every chunk but the last unless
 * h_last. Per (b, t, channel): D u (2), gate (4). Exps per (chunk, head): the mask
 * q(q+1)/2, exp(S) q, the weights q; softplus per (t, head), silu per (t, channel).
 * Bytes: the tensors once, and C B^T written and read once; the per-head state and
 * scratch stay in cache (not counted). */
static void ssd_cost(const scan_shape *s, const scan_opts *o, scan_cost *c)
{
    memset(c, 0, sizeof *c);
    if (s->a_kind != SCAN_A_HEAD) return;
    ssd_geom g;
    ssd_geom_init(&g, s, o);
    const double N = (double)g.N, P = (double)g.P;
    double flops = 0, exps = 0, cb = 0;
    for (int64_t ci = 0; ci < g.nc; ci++) {
        const double q = (double)(g.L - ci * g.Q < g.Q ? g.L - ci * g.Q : g.Q);
        const bool in = ci > 0 || s->has_h0, out = ci + 1 < g.nc || s->want_h_last;
        double per_head = q * (q + 1) + P * q * (q + 1) + 3 * q + 2 * q * P;
        if (in) per_head += 2 * q * N * P + 2 * q * P;
        if (out) per_head += 2 * N * q * P + (in ? 2 * N * P : 0);
        flops += g.B * (g.G * 2 * q * q * N + g.H * per_head);
        exps += g.B * g.H * (q * (q + 1) / 2 + 2 * q);
        cb += g.B * g.G * q * q;
    }
    const double BL = (double)g.B * g.L, BLD = BL * g.D;
    flops += BLD * ((s->has_dskip ? 2 : 0) + (s->has_z ? 4 : 0));
    exps += (s->softplus ? BL * g.H : 0) + (s->has_z ? BLD : 0);
    c->flops = flops;
    c->exps = exps;
    c->workspace = (double)ssd_workspace(s, o);
    c->bytes = (double)scan_shape_tensor_bytes(s) + 2 * 4.0 * cb;
}

const scan_kernel scan_kernel_ssd = {
    .name = "ssd",
#if defined(__AVX512F__)
    .exp_routine = "mb_exp_avx512",
#else
    .exp_routine = "glibc_expf",
#endif
    .summary = "Mamba-2 chunked state-space duality: masked C B^T, chunk states, small GEMMs per head",
    .supports = "head problems only (scalar A per head); --chunk Q (default 32)",
    .unsupported = ssd_unsupported,
    .workspace_bytes = ssd_workspace,
    .forward = ssd_forward,
    .cost = ssd_cost,
    /* training: kernels/ssd_backward.c (the chunked form differentiated, states recomputed) */
    .saved_bytes = scan_ssd_saved_bytes,
    .forward_save = scan_ssd_forward_save,
    .backward_workspace_bytes = scan_ssd_backward_workspace,
    .backward = scan_ssd_backward,
    .backward_cost = scan_ssd_backward_cost,
};

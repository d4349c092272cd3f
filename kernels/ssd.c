/* kernels/ssd.c: Mamba-2's chunked state-space duality (the Mamba-2 paper, ssd_minimal)
 * for "head" problems (one scalar A per head).
 *
 * Time is cut into chunks of Q steps. With a[t] = dt[t] A[h] and S[t] the cumulative sum
 * of a inside a chunk, for channel d of head h, group g:
 *
 *   intra-chunk  y[t] += sum_{s<=t} (C[t].B[s]) exp(S[t]-S[s]) dt[s] u[s]
 *   chunk state  H_c[n][d] = sum_s B[s][n] exp(S[end]-S[s]) dt[s] u[s][d]
 *   recurrence   Hin_{c+1} = exp(S_c[end]) Hin_c + H_c        (Hin_0 = h0)
 *   state out    y[t] += exp(S[t]) sum_n C[t][n] Hin_c[n][d]
 *
 * The big pieces are cblas_sgemm calls: C B^T (Q x Q, once per chunk and group, shared
 * by the group's heads), the masked product with dt*u (Q x P per head), the chunk states
 * B^T X (N x channels of the group) and the state output C Hin (Q x channels of the group).
 * Pass 1 (parallel over batch x chunks x groups) does the first three; pass 2 (parallel
 * over batch x groups x slices of whole heads) walks the chunks in order with the
 * entering state of its slice in the thread's scratch: state output, D*u and the gate
 * for the chunk, then the recurrence; so the chunk states are written once and read
 * once. OpenBLAS runs single-threaded
 * inside these parallel regions (mbench's main sets it; the tests set
 * OPENBLAS_NUM_THREADS=1), so threads are never oversubscribed. */
#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <string.h>

#include "scan.h"
#include "simd.h"

#define SSD_DEFAULT_CHUNK 64 /* measured: see kernels/README.md */

typedef struct {
    int64_t B, L, D, N, G, H, P, Q, nc, Dg, Hg;
    int64_t slices, slice_heads; /* pass 2: slices of a group's heads per (batch, group) */
    size_t thread_floats;
} ssd_geom;

static void ssd_geom_init(ssd_geom *g, const scan_shape *s, const scan_opts *o)
{
    const int64_t threads = o->threads > 0 ? o->threads : 1;
    g->B = s->batch, g->L = s->seqlen, g->D = s->channels, g->N = s->d_state, g->G = s->groups;
    g->H = s->heads > 0 ? s->heads : 1;
    g->P = g->D / g->H;
    g->Q = o->chunk > 0 ? o->chunk : SSD_DEFAULT_CHUNK;
    if (g->Q > g->L) g->Q = g->L;
    g->nc = (g->L + g->Q - 1) / g->Q;
    g->Dg = g->D / g->G, g->Hg = g->H / g->G;
    const int64_t want = (threads + g->B * g->G - 1) / (g->B * g->G);
    g->slice_heads = (g->Hg + (want < g->Hg ? want : g->Hg) - 1) / (want < g->Hg ? want : g->Hg);
    g->slices = (g->Hg + g->slice_heads - 1) / g->slice_heads;
    /* pass 1: CB, M [Q][Q]; Xd, Xw [Q][Dg]; dt, w [Hg][Q].
     * pass 2: Hin [N][slice]; Y [Q][slice] (slice = slice_heads * P) */
    const int64_t sl = g->slice_heads * g->P;
    const int64_t p1 = 2 * g->Q * g->Q + 2 * g->Q * g->Dg + 2 * g->Hg * g->Q, p2 = (g->N + g->Q) * sl;
    g->thread_floats = (size_t)((p1 > p2 ? p1 : p2) + 15) / 16 * 16;
}

static const char *ssd_unsupported(const scan_shape *s, const scan_opts *o)
{
    if (s->a_kind != SCAN_A_HEAD)
        return "chunked SSD needs a scalar A per head (a=head, Mamba-2); this problem has A per channel and state (a=diag)";
    if (o->chunk < 0) return "chunk length must be >= 1";
    return NULL;
}

/* states [B][nc][N][D]; S, exp(S) [B][nc][H][Q] (cumulative log decay); threads x scratch */
static size_t ssd_workspace(const scan_shape *s, const scan_opts *o)
{
    if (s->a_kind != SCAN_A_HEAD) return 0;
    ssd_geom g;
    ssd_geom_init(&g, s, o);
    const int threads = o->threads > 0 ? o->threads : 1;
    return ((size_t)(g.B * g.nc * g.N * g.D) + 2 * (size_t)(g.B * g.nc * g.H * g.Q) +
            (size_t)threads * g.thread_floats) * sizeof(float);
}

/* y[i] = exp(x[i]) for x <= 0 */
static void ssd_exp(const float *x, float *y, int64_t n)
{
#if defined(__AVX512F__)
    const mb_exp_tab tab = mb_exp_tab_init();
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) _mm512_storeu_ps(y + i, mb_exp512(_mm512_loadu_ps(x + i), &tab));
    if (i < n) {
        const __mmask16 m = (__mmask16)((1u << (n - i)) - 1);
        _mm512_mask_storeu_ps(y + i, m, mb_exp512(_mm512_maskz_loadu_ps(m, x + i), &tab));
    }
#else
    for (int64_t i = 0; i < n; i++) y[i] = expf(x[i]);
#endif
}

static inline float ssd_softplusf(float x) { return x > 20.0f ? x : log1pf(expf(x)); }

// ---------------------------------------------------------------- pass 1

/* chunk c of batch b, group gi: S and dt of its heads, intra-chunk y, chunk states */
static void ssd_pass1(const ssd_geom *g, const scan_shape *s, const scan_tensors *t, float *states,
                      float *Sg, float *Eg, float *scr, int64_t b, int64_t c, int64_t gi)
{
    const int64_t Q = g->Q, N = g->N, D = g->D, G = g->G, H = g->H, P = g->P, Dg = g->Dg;
    const int64_t t0 = c * Q, q = g->L - t0 < Q ? g->L - t0 : Q, bl0 = b * g->L + t0;
    float *CB = scr;          /* [Q][Q] C B^T */
    float *M = CB + Q * Q;    /* [Q][Q] masked, decayed */
    float *Xd = M + Q * Q;    /* [Q][Dg] dt u */
    float *Xw = Xd + Q * Dg;  /* [Q][Dg] exp(S[end] - S[s]) dt u */
    float *dt = Xw + Q * Dg;  /* [Hg][Q] dt */
    float *w = dt + g->Hg * Q; /* [Hg][Q] exp(S[end] - S[s]) */
    const float *Bc = t->Bm + (bl0 * G + gi) * N, *Cc = t->Cm + (bl0 * G + gi) * N;

    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)q, (int)q, (int)N, 1.0f, Cc, (int)(G * N),
                Bc, (int)(G * N), 0.0f, CB, (int)Q);
    // ---- per head: dt, S (cumulative log decay), exp(S), the weights to the chunk's end
    for (int64_t hh = 0; hh < g->Hg; hh++) {
        const int64_t h = gi * g->Hg + hh;
        float *S = Sg + ((b * g->nc + c) * H + h) * Q, *E = Eg + ((b * g->nc + c) * H + h) * Q;
        float *dth = dt + hh * Q, *wh = w + hh * Q;
        double acc = 0;
        for (int64_t i = 0; i < q; i++) {
            float d = t->delta[(bl0 + i) * H + h] + (t->delta_bias ? t->delta_bias[h] : 0.0f);
            if (s->softplus) d = ssd_softplusf(d);
            dth[i] = d;
            acc += (double)d * t->A[h];
            S[i] = (float)acc;
        }
        ssd_exp(S, E, q);
        for (int64_t i = 0; i < q; i++) wh[i] = S[q - 1] - S[i];
        ssd_exp(wh, wh, q);
    }
    // ---- dt u and its weighted copy, row by row (contiguous reads of u)
    for (int64_t i = 0; i < q; i++) {
        const float *u = t->u + (bl0 + i) * D + gi * Dg;
        float *xd = Xd + i * Dg, *xw = Xw + i * Dg;
        for (int64_t hh = 0; hh < g->Hg; hh++) {
            const float d = dt[hh * Q + i], wi = w[hh * Q + i];
            for (int64_t p = hh * P; p < (hh + 1) * P; p++) {
                xd[p] = d * u[p];
                xw[p] = wi * xd[p];
            }
        }
    }
    for (int64_t hh = 0; hh < g->Hg; hh++) {
        const int64_t h = gi * g->Hg + hh;
        const float *S = Sg + ((b * g->nc + c) * H + h) * Q;
        // ---- M[t][s] = C[t].B[s] exp(S[t] - S[s]) for s <= t
        for (int64_t i = 0; i < q; i++) {
            float *m = M + i * Q;
            for (int64_t j = 0; j <= i; j++) m[j] = S[i] - S[j];
            ssd_exp(m, m, i + 1);
            for (int64_t j = 0; j <= i; j++) m[j] *= CB[i * Q + j];
            for (int64_t j = i + 1; j < q; j++) m[j] = 0.0f;
        }
        // ---- intra-chunk output, straight into y
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)q, (int)P, (int)q, 1.0f, M, (int)Q,
                    Xd + hh * P, (int)Dg, 0.0f, t->y + bl0 * D + h * P, (int)D);
    }
    // ---- the chunk's own state H_c [N][Dg] = B^T Xw
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)N, (int)Dg, (int)q, 1.0f, Bc, (int)(G * N),
                Xw, (int)Dg, 0.0f, states + (b * g->nc + c) * N * D + gi * Dg, (int)D);
}

// ---------------------------------------------------------------- pass 2

/* Heads [k0, k0 + nh) of group gi, batch b, chunk after chunk: the state entering the
 * chunk (Hin, [N][slice], from h0 or zero) gives y[t] += exp(S[t]) C[t] Hin (one sgemm),
 * then D*u and the gate finish y; then Hin = exp(S[end]) Hin + H_c. */
static void ssd_pass2(const ssd_geom *g, const scan_tensors *t, const float *states,
                      const float *Eg, float *scr, int64_t b, int64_t gi, int64_t k0, int64_t nh)
{
    const int64_t Q = g->Q, N = g->N, D = g->D, G = g->G, H = g->H, P = g->P, W = nh * P;
    const int64_t d0 = k0 * P; /* first channel of the slice */
    float *Hin = scr;          /* [N][W] */
    float *Y = Hin + N * W;    /* [Q][W] C Hin */
#if defined(__AVX512F__)
    const mb_exp_tab tab = mb_exp_tab_init();
#endif
    for (int64_t n = 0; n < N; n++)
        for (int64_t j = 0; j < W; j++) Hin[n * W + j] = t->h0 ? t->h0[(b * D + d0 + j) * N + n] : 0.0f;
    for (int64_t c = 0; c < g->nc; c++) {
        const int64_t t0 = c * Q, q = g->L - t0 < Q ? g->L - t0 : Q, bl0 = b * g->L + t0;
        const float *E = Eg + (b * g->nc + c) * H * Q; /* [H][Q] exp(S) */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)q, (int)W, (int)N, 1.0f,
                    t->Cm + (bl0 * G + gi) * N, (int)(G * N), Hin, (int)W, 0.0f, Y, (int)W);
        // ---- y = (intra + exp(S) C Hin + D u) * silu(z), row by row
        for (int64_t i = 0; i < q; i++) {
            const int64_t bl = bl0 + i;
            for (int64_t hh = 0; hh < nh; hh++) {
                const int64_t h = k0 + hh, o = hh * P;
                const float e = E[h * Q + i], dsk = t->Dskip ? t->Dskip[h] : 0.0f;
                const float *yr = Y + i * W + o, *u = t->u + bl * D + d0 + o;
                const float *z = t->z ? t->z + bl * D + d0 + o : NULL;
                float *y = t->y + bl * D + d0 + o;
                int64_t p = 0;
#if defined(__AVX512F__)
                const __m512 ev = _mm512_set1_ps(e), dv = _mm512_set1_ps(dsk);
                for (; p + 16 <= P; p += 16) {
                    __m512 v = _mm512_fmadd_ps(ev, _mm512_loadu_ps(yr + p), _mm512_loadu_ps(y + p));
                    v = _mm512_fmadd_ps(dv, _mm512_loadu_ps(u + p), v);
                    if (z) v = _mm512_mul_ps(v, mb_silu512(_mm512_loadu_ps(z + p), &tab));
                    _mm512_storeu_ps(y + p, v);
                }
#endif
                for (; p < P; p++) {
                    y[p] += e * yr[p] + dsk * u[p];
                    if (z) y[p] *= z[p] / (1.0f + expf(-z[p]));
                }
            }
        }
        // ---- Hin = exp(S[end]) Hin + H_c
        const float *Hc = states + (b * g->nc + c) * N * D + d0;
        for (int64_t n = 0; n < N; n++)
            for (int64_t hh = 0; hh < nh; hh++) {
                const float e = E[(k0 + hh) * Q + q - 1];
                float *hr = Hin + n * W + hh * P;
                const float *hc = Hc + n * D + hh * P;
                for (int64_t p = 0; p < P; p++) hr[p] = e * hr[p] + hc[p];
            }
    }
    if (t->h_last)
        for (int64_t n = 0; n < N; n++)
            for (int64_t j = 0; j < W; j++) t->h_last[(b * D + d0 + j) * N + n] = Hin[n * W + j];
}

// ---------------------------------------------------------------- the kernel

static int ssd_forward(const scan_shape *s, const scan_tensors *t, const scan_opts *o, void *ws, mb_err *err)
{
    const char *why = ssd_unsupported(s, o);
    if (why) return mb_fail(err, "ssd: %s", why);
    ssd_geom g;
    ssd_geom_init(&g, s, o);
    const int threads = o->threads > 0 ? o->threads : 1;
    const int64_t B = g.B, N = g.N, D = g.D, nc = g.nc, Q = g.Q;
    float *states = ws;                        /* [B][nc][N][D] */
    float *Sg = states + B * nc * N * D;       /* [B][nc][H][Q] */
    float *Eg = Sg + B * nc * g.H * Q;         /* [B][nc][H][Q] exp(S) */
    float *scratch = Eg + B * nc * g.H * Q;    /* [threads][thread_floats] */

#pragma omp parallel num_threads(threads)
    {
        float *scr = scratch + (size_t)omp_get_thread_num() * g.thread_floats;
        // ---- pass 1: per (batch, chunk, group)
#pragma omp for schedule(dynamic, 1)
        for (int64_t it = 0; it < B * nc * g.G; it++)
            ssd_pass1(&g, s, t, states, Sg, Eg, scr, it / (nc * g.G), (it / g.G) % nc, it % g.G);
        // ---- pass 2: per (batch, group, slice of heads), chunks in order
#pragma omp for schedule(static)
        for (int64_t it = 0; it < B * g.G * g.slices; it++) {
            const int64_t b = it / (g.G * g.slices), gi = (it / g.slices) % g.G, sl = it % g.slices;
            const int64_t k0 = gi * g.Hg + sl * g.slice_heads;
            const int64_t nh = (sl + 1) * g.slice_heads <= g.Hg ? g.slice_heads : g.Hg - sl * g.slice_heads;
            ssd_pass2(&g, t, states, Eg, scr, b, gi, k0, nh);
        }
    }
    return 0;
}

/* Per chunk and group (q steps): C B^T 2 q^2 N; the chunk states 2 N q Dg; the state
 * output 2 q N Dg plus its scale-and-add into y (2 q Dg). Per chunk and head: the mask's
 * differences and products (2 per entry, q(q+1)/2 entries), the masked product 2 q^2 P,
 * the cumulative sum (2 q), the weights' differences (q), dt*u and the weighting (2 q P).
 * The recurrence: 2 flops per
 * (chunk, state, channel). Per (b, t, channel): D*u (2), gate (4). Exps: per (chunk,
 * head) the mask (q(q+1)/2), the weights to the chunk's end (q) and exp(S) (q); softplus
 * per (t, head), silu per (t, channel). Bytes: the tensors once; the chunk states written
 * (pass 1) and read (pass 2); y written by pass 1 and read and written by pass 2; S and
 * exp(S) written and read once; the scratch stays in cache (not counted). */
static void ssd_cost(const scan_shape *s, const scan_opts *o, scan_cost *c)
{
    memset(c, 0, sizeof *c);
    if (s->a_kind != SCAN_A_HEAD) return;
    ssd_geom g;
    ssd_geom_init(&g, s, o);
    double flops = 0, exps = 0;
    for (int64_t ci = 0; ci < g.nc; ci++) {
        const double q = (double)(g.L - ci * g.Q < g.Q ? g.L - ci * g.Q : g.Q);
        const double per_group = 2 * q * q * g.N + 2.0 * g.N * q * g.Dg + 2.0 * q * g.N * g.Dg + 2.0 * q * g.Dg;
        const double per_head = q * (q + 1) + 2 * q * q * g.P + 3 * q + 2 * q * g.P;
        flops += g.B * (g.G * per_group + g.H * per_head);
        exps += g.B * g.H * (q * (q + 1) / 2 + 2 * q);
    }
    const double BL = (double)g.B * g.L, BLD = BL * g.D;
    flops += 2.0 * g.B * g.nc * g.N * g.D + BLD * ((s->has_dskip ? 2 : 0) + (s->has_z ? 4 : 0));
    exps += (s->softplus ? BL * g.H : 0) + (s->has_z ? BLD : 0);
    c->flops = flops;
    c->exps = exps;
    c->workspace = (double)ssd_workspace(s, o);
    const double st = 4.0 * g.B * g.nc * g.N * g.D, se = 4.0 * 2 * g.B * g.nc * g.H * g.Q;
    c->bytes = (double)scan_shape_tensor_bytes(s) + 2 * st + 2 * 4.0 * BLD + 2 * se;
}

const scan_kernel scan_kernel_ssd = {
    .name = "ssd",
#if defined(__AVX512F__)
    .exp_routine = "mb_exp_avx512",
#else
    .exp_routine = "glibc_expf",
#endif
    .summary = "Mamba-2 chunked state-space duality: masked C B^T, chunk states, sgemm",
    .supports = "head problems only (scalar A per head); --chunk Q (default 64)",
    .unsupported = ssd_unsupported,
    .workspace_bytes = ssd_workspace,
    .forward = ssd_forward,
    .cost = ssd_cost,
};

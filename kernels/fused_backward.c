/* kernels/fused_backward.c: training for the fused kernel (kernels/fused.c): forward_save
 * is the fused forward itself in one pass (scan_fused_forward_ckpt), writing the state every
 * K steps (K = opts.checkpoint, default 64); the backward recomputes the states of one
 * K-step segment at a time from those checkpoints, then walks the segment backwards.
 * Nothing of size L x N is kept:
 *
 *     saved      = [B][ceil(L/K)][D][N] checkpoints (h at t = 0, K, 2K, ...); AVX-512:
 *                  [B][ceil(L/K)][tiles][N][16], the state as the kernels hold it (lanes
 *                  = 16 channels; tiles counted over the groups or heads, lanes past a
 *                  group's or head's end 0), so saving and reading one is a copy
 *     workspace  = per thread: the segment's states and decays, T x N x 16 floats each
 *                  (T = max(K, 64));
 *                  the unit's rows of the segment (dt, dt u, u, dy, z, softplus'), and
 *                  accumulators for the parameter gradients (or the forward's workspace)
 *
 * so the extra memory is O(B D N L / K) against sequential's 2 B L D N.
 *
 * Per segment, backwards (the adjoint gh = dloss/dh carried across segments):
 *     recompute   h_t = e_t h_{t-1} + dt u B_t,  e_t = exp(dt A)   (kept for the segment)
 *     reverse     g1 = gh + gy C_t;  dC_t += gy h_t;  dB_t += dt u g1;
 *                 ddt += sum_n g1 (A e h_{t-1} + B u);  dA += dt g1 e h_{t-1};
 *                 du = gy Dskip + dt (g1 . B_t);  gh = g1 e_t
 * with gy = dy silu(z), dz = dy (C.h + D u) silu'(z); ddelta = ddt sigmoid(delta + bias).
 *
 * AVX-512 build: a work unit is a run of up to FB_UT tiles of 16 channels (diag; tiles
 * never straddle a group) or one head. Per segment the unit's rows of u, delta, dy, z are
 * read row by row into the thread's buffers (phase 1: rows are D floats apart, and read a
 * tile at a time they fall into a few cache sets), each tile is recomputed and walked back
 * with states in registers and mbench's table exp (kernels/simd.h, as the forward), and
 * du, dz, ddelta go out row by row (phase 3, streamed, inside the next segment's phase 1
 * loop); phase 1 prefetches its rows FB_PFD rows ahead, and the next segment's rows are
 * also prefetched one row a recompute step. dB and dC, sums over the 16 channels of a tile, go
 * through a transposing reduction tree (8 states at a time) into per-thread accumulators,
 * reduced once at the end. Other builds: the same algorithm one channel at a time in C. */
#include <math.h>
#include <omp.h>
#include <string.h>

#include "scan.h"
#include "simd.h"

#if defined(__AVX512F__)
#define FB_VL 16
#else
#define FB_VL 1
#endif
#define FB_TB 64 /* the least segment buffer length */
#define FB_NB 8  /* backward: states per register block */
#define FB_UT 8  /* diag: most tiles of a work unit */
#define FB_PFD 4 /* phase 1: rows of prefetch distance (2, 3, 4 measured alike; 8: +3%, 16: +8%) */

// ---------------------------------------------------------------- geometry

typedef struct {
    int64_t B, L, D, N, G, K, per_k, per_group;
    int64_t Kc, nseg;       /* checkpoint interval, segments */
    bool head;
    int64_t seg, seg_tiles; /* AVX-512: channels per tile segment (group or head), tiles in it */
    int64_t unit_tiles, units, units_per; /* tiles of a unit (at most), units, units per head or group */
    int64_t nBm, nA;
    int64_t acc_floats;     /* per thread: dB, dC [B][L][G][N], dA, dbias [K], dD [K] */
    int64_t scr_floats;     /* per thread: scratch of forward_save or backward */
    int64_t thread_floats;
} fb_geom;

static int64_t rup16(int64_t n) { return (n + 15) / 16 * 16; }

static void fb_geom_init(fb_geom *g, const scan_shape *s, const scan_opts *o)
{
    g->B = s->batch, g->L = s->seqlen, g->D = s->channels, g->N = s->d_state, g->G = s->groups;
    g->K = scan_shape_k(s);
    g->per_k = g->D / g->K, g->per_group = g->D / g->G;
    g->head = s->a_kind == SCAN_A_HEAD;
    g->Kc = scan_opts_checkpoint(o);
    if (g->Kc > g->L) g->Kc = g->L;
    g->nseg = (g->L + g->Kc - 1) / g->Kc;
    g->seg = g->head ? g->per_k : g->per_group;
    g->seg_tiles = (g->seg + FB_VL - 1) / FB_VL;
    /* a unit: one head (head), or a run of up to FB_UT tiles of one group (diag), as long
     * as every thread still gets a unit; its rows of u, delta, z, dy are contiguous runs */
    if (g->head) {
        g->unit_tiles = g->seg_tiles;
        g->units_per = 1;
    } else {
        const int64_t th = o->threads > 0 ? o->threads : 1, pieces = g->B * g->G;
        int64_t ut = pieces * g->seg_tiles / th;
        ut = ut < 1 ? 1 : ut > FB_UT ? FB_UT : ut;
        g->units_per = (g->seg_tiles + ut - 1) / ut;
        g->unit_tiles = (g->seg_tiles + g->units_per - 1) / g->units_per;
    }
    g->units = g->head ? g->B * g->K : g->B * g->G * g->units_per;
    scan_sizes z;
    scan_shape_sizes(s, &z);
    g->nBm = z.Bm, g->nA = z.A;
    g->acc_floats = rup16(2 * g->nBm + g->nA + 2 * g->K);
    const int64_t N = g->N, V = FB_VL, T = g->Kc > FB_TB ? g->Kc : FB_TB, ntl = g->unit_tiles;
    /* backward: hs, es [T][N][V]; gh, A, A2, dA [ntl][N][V]; the segment's
     * rows dt, dt u, u, dy, z, sig [ntl][T][V]; ddt, gB, accy [T][V]; dts, dec, hsig, hd_ddt,
     * hd_geh [rup16(T)]; dbias, dD [ntl][V] */
    const int64_t bwd = 2 * T * N * V + 4 * ntl * N * V + 6 * (ntl * (T * V + 16) + 16) + 3 * T * V + 5 * rup16(T) + 2 * ntl * V;
    g->scr_floats = rup16(bwd + 64);
    g->thread_floats = g->acc_floats + g->scr_floats;
}

static int fb_threads(const scan_opts *o) { return o->threads > 0 ? o->threads : 1; }

/* floats of one checkpoint slot: [tiles][N][16] (AVX-512) or [D][N] */
static int64_t fb_slot_floats(const fb_geom *g)
{
#if defined(__AVX512F__)
    return g->D / g->seg * g->seg_tiles * g->N * 16;
#else
    return g->D * g->N;
#endif
}

size_t scan_fused_saved_bytes(const scan_shape *s, const scan_opts *o)
{
    fb_geom g;
    fb_geom_init(&g, s, o);
    return (size_t)(g.B * g.nseg * fb_slot_floats(&g)) * sizeof(float);
}

extern const scan_kernel scan_kernel_fused;

size_t scan_fused_backward_workspace(const scan_shape *s, const scan_opts *o)
{
    fb_geom g;
    fb_geom_init(&g, s, o);
    size_t need = (size_t)fb_threads(o) * (size_t)g.thread_floats * sizeof(float);
    const size_t f = scan_kernel_fused.workspace_bytes(s, o); /* forward_save: the fused forward's */
    if (f > need) need = f;
    return need;
}


/* Sums the per-thread accumulators into the gradients (inside a parallel region): those of
 * the team it got, which may be smaller than asked (a nested region, OMP_THREAD_LIMIT):
 * only its threads zeroed theirs. */
static void fb_reduce(const fb_geom *g, const scan_grads *gr, const float *ws)
{
    const int threads = omp_get_num_threads();
    const int64_t tf = g->thread_floats, nBm = g->nBm, nA = g->nA, K = g->K;
#pragma omp for schedule(static)
    for (int64_t i = 0; i < nBm; i++) {
        float sb = 0.0f, sc = 0.0f;
        for (int th = 0; th < threads; th++) sb += ws[th * tf + i], sc += ws[th * tf + nBm + i];
        gr->dBm[i] = sb;
        gr->dCm[i] = sc;
    }
#pragma omp for schedule(static)
    for (int64_t i = 0; i < nA + 2 * K; i++) {
        float sum = 0.0f;
        for (int th = 0; th < threads; th++) sum += ws[th * tf + 2 * nBm + i];
        if (i < nA) gr->dA[i] = sum;
        else if (i < nA + K) {
            if (gr->ddelta_bias) gr->ddelta_bias[i - nA] = sum;
        } else if (gr->dDskip) gr->dDskip[i - nA - K] = sum;
    }
}

#if !defined(__AVX512F__)
// ---------------------------------------------------------------- portable: one channel at a time

static void fb_backward_run(const fb_geom *g, const scan_shape *s, const scan_tensors *t, const scan_grads *gr,
                            const float *ckpt, float *ws, int threads)
{
    const int64_t B = g->B, L = g->L, D = g->D, N = g->N, G = g->G, K = g->K, Kc = g->Kc;
    const int64_t nBm = g->nBm, nA = g->nA;
#pragma omp parallel num_threads(threads)
    {
        float *tdB = ws + (int64_t)omp_get_thread_num() * g->thread_floats; /* [B][L][G][N] */
        float *tdC = tdB + nBm, *tdA = tdC + nBm, *tdbias = tdA + nA, *tdD = tdbias + K;
        float *hs = tdB + g->acc_floats; /* [Kc][N] */
        float *es = hs + Kc * N;         /* [Kc][N] */
        float *gh = es + Kc * N;         /* [N] */
        for (int64_t i = 0; i < g->acc_floats; i++) tdB[i] = 0.0f;
#pragma omp for schedule(static)
        for (int64_t bk = 0; bk < B * K; bk++) {
            const int64_t b = bk / K, k = bk % K;
            const float Dk = t->Dskip ? t->Dskip[k] : 0.0f;
            for (int64_t l = 0; l < L; l++) gr->ddelta[(b * L + l) * K + k] = 0.0f;
            for (int64_t d = k * g->per_k; d < (k + 1) * g->per_k; d++) {
                const int64_t gi = d / g->per_group;
                for (int64_t n = 0; n < N; n++) gh[n] = gr->dh_last ? gr->dh_last[(b * D + d) * N + n] : 0.0f;
                for (int64_t sg = g->nseg - 1; sg >= 0; sg--) {
                    const int64_t t0 = sg * Kc, tb = L - t0 < Kc ? L - t0 : Kc;
                    const float *hstart = ckpt + (b * g->nseg + sg) * fb_slot_floats(g) + d * N;
                    // ---- recompute the segment's states and decays
                    for (int64_t tt = 0; tt < tb; tt++) {
                        const int64_t bl = b * L + t0 + tt;
                        float dt = t->delta[bl * K + k] + (t->delta_bias ? t->delta_bias[k] : 0.0f);
                        if (s->softplus) dt = mb_softplusf(dt);
                        const float dtu = dt * t->u[bl * D + d];
                        const float *Bm = t->Bm + (bl * G + gi) * N, *hp = tt ? hs + (tt - 1) * N : hstart;
                        for (int64_t n = 0; n < N; n++) {
                            const float e = expf(dt * (g->head ? t->A[k] : t->A[d * N + n]));
                            es[tt * N + n] = e;
                            hs[tt * N + n] = e * hp[n] + dtu * Bm[n];
                        }
                    }
                    // ---- walk it backwards
                    for (int64_t tt = tb - 1; tt >= 0; tt--) {
                        const int64_t bl = b * L + t0 + tt;
                        const float x = t->delta[bl * K + k] + (t->delta_bias ? t->delta_bias[k] : 0.0f);
                        const float dt = s->softplus ? mb_softplusf(x) : x, dsp = s->softplus ? mb_sigmoidf(x) : 1.0f;
                        const float u = t->u[bl * D + d], dtu = dt * u;
                        const float *Bm = t->Bm + (bl * G + gi) * N, *Cm = t->Cm + (bl * G + gi) * N;
                        const float *hc = hs + tt * N, *hp = tt ? hs + (tt - 1) * N : hstart, *e = es + tt * N;
                        float gy = gr->dy[bl * D + d];
                        if (t->z) {
                            float acc = Dk * u;
                            for (int64_t n = 0; n < N; n++) acc += Cm[n] * hc[n];
                            const float zz = t->z[bl * D + d], sgm = mb_sigmoidf(zz);
                            gr->dz[bl * D + d] = gy * acc * sgm * (1.0f + zz * (1.0f - sgm));
                            gy *= zz * sgm;
                        }
                        tdD[k] += gy * u;
                        float *dB = tdB + (bl * G + gi) * N, *dC = tdC + (bl * G + gi) * N;
                        float ddt = 0.0f, gB = 0.0f;
                        for (int64_t n = 0; n < N; n++) {
                            dC[n] += gy * hc[n];
                            const float g1 = gh[n] + gy * Cm[n], geh = g1 * e[n] * hp[n];
                            const float a = g->head ? t->A[k] : t->A[d * N + n];
                            ddt += a * geh;
                            tdA[g->head ? k : d * N + n] += dt * geh;
                            gB += g1 * Bm[n];
                            dB[n] += g1 * dtu;
                            gh[n] = g1 * e[n];
                        }
                        ddt += gB * u;
                        gr->du[bl * D + d] = gy * Dk + dt * gB;
                        gr->ddelta[bl * K + k] += ddt * dsp;
                        tdbias[k] += ddt * dsp;
                    }
                }
                if (gr->dh0)
                    for (int64_t n = 0; n < N; n++) gr->dh0[(b * D + d) * N + n] = gh[n];
            }
        }
        fb_reduce(g, gr, ws);
    }
}

#else
// ---------------------------------------------------------------- AVX-512: channels in lanes

typedef struct {
    int64_t b, k, grp; /* batch, head (head problems) or -1, group */
    int64_t c0;        /* first channel */
    int64_t left;      /* channels of the tile segment (head or group) from c0 */
    int64_t ntl;       /* tiles of the unit */
} fb_unit;

static fb_unit fb_unit_of(const fb_geom *g, int64_t u)
{
    fb_unit r;
    if (g->head) {
        r.b = u / g->K, r.k = u % g->K;
        r.c0 = r.k * g->per_k;
        r.left = g->per_k;
        r.ntl = g->seg_tiles;
    } else {
        const int64_t per_b = g->G * g->units_per;
        r.b = u / per_b;
        const int64_t rest = u % per_b, ch = rest % g->units_per, tile = ch * g->unit_tiles;
        r.k = -1;
        r.c0 = (rest / g->units_per) * g->per_group + tile * 16;
        r.left = g->per_group - tile * 16;
        r.ntl = g->seg_tiles - tile < g->unit_tiles ? g->seg_tiles - tile : g->unit_tiles;
    }
    r.grp = r.c0 / g->per_group;
    return r;
}

static inline __mmask16 fb_mask(int64_t m) { return (__mmask16)(m >= 16 ? 0xffff : (1u << m) - 1); }

/* [N] rows of channel c.. (stride N) -> [N][16] lanes; missing lanes 0 */
static void fb_load_rows(float *dst, const float *src, int64_t N, int64_t m)
{
    memset(dst, 0, (size_t)(N * 16) * sizeof(float));
    if (src)
        for (int64_t l = 0; l < m; l++)
            for (int64_t n = 0; n < N; n++) dst[n * 16 + l] = src[l * N + n];
}

static void fb_store_rows(float *dst, const float *src, int64_t N, int64_t m)
{
    for (int64_t l = 0; l < m; l++)
        for (int64_t n = 0; n < N; n++) dst[l * N + n] = src[n * 16 + l];
}

/* gy = dy silu(z) and dz = dy acc silu'(z), acc = y before the gate, through exp(-|z|) */
static inline __m512 fb_gate_back(__m512 dy, __m512 z, __m512 acc, __m512 *dz)
{
    const __m512 one = _mm512_set1_ps(1.0f);
    /* sigmoid(z) = 1 / (1 + e) or e / (1 + e), e = exp(-|z|) by the 16-entry exp (one vpermps,
     * not the scan's two-register vpermt2ps: its error does not build up), rcp14 + Newton */
    const __m512 e = mb_exp2_t16_512(_mm512_mul_ps(_mm512_abs_ps(z), _mm512_set1_ps(-MB_LOG2E)));
    const __m512 den = _mm512_add_ps(e, one);
    __m512 rc = _mm512_rcp14_ps(den);
    rc = _mm512_fmadd_ps(rc, _mm512_fnmadd_ps(den, rc, one), rc);
    const __m512 sg = _mm512_mask_mul_ps(rc, _mm512_cmp_ps_mask(z, _mm512_setzero_ps(), _CMP_LT_OQ), rc, e);
    const __m512 ds = _mm512_mul_ps(sg, _mm512_fmadd_ps(z, _mm512_sub_ps(one, sg), one));    /* silu'(z) */
    *dz = _mm512_mul_ps(_mm512_mul_ps(dy, acc), ds);
    return _mm512_mul_ps(dy, _mm512_mul_ps(z, sg));
}

/* r[j] = sum over the 16 lanes of v[j], j < 8: a transposing tree, 24 operations */
static inline __m256 fb_reduce8(const __m512 v[8])
{
    const __m512 t01 = _mm512_add_ps(_mm512_unpacklo_ps(v[0], v[1]), _mm512_unpackhi_ps(v[0], v[1]));
    const __m512 t23 = _mm512_add_ps(_mm512_unpacklo_ps(v[2], v[3]), _mm512_unpackhi_ps(v[2], v[3]));
    const __m512 t45 = _mm512_add_ps(_mm512_unpacklo_ps(v[4], v[5]), _mm512_unpackhi_ps(v[4], v[5]));
    const __m512 t67 = _mm512_add_ps(_mm512_unpacklo_ps(v[6], v[7]), _mm512_unpackhi_ps(v[6], v[7]));
    const __m512 u0 = _mm512_add_ps(_mm512_shuffle_ps(t01, t23, _MM_SHUFFLE(1, 0, 1, 0)),
                                    _mm512_shuffle_ps(t01, t23, _MM_SHUFFLE(3, 2, 3, 2)));
    const __m512 u1 = _mm512_add_ps(_mm512_shuffle_ps(t45, t67, _MM_SHUFFLE(1, 0, 1, 0)),
                                    _mm512_shuffle_ps(t45, t67, _MM_SHUFFLE(3, 2, 3, 2)));
    const __m512 w = _mm512_add_ps(_mm512_shuffle_f32x4(u0, u1, _MM_SHUFFLE(2, 0, 2, 0)),
                                   _mm512_shuffle_f32x4(u0, u1, _MM_SHUFFLE(3, 1, 3, 1)));
    const __m512 r = _mm512_add_ps(_mm512_shuffle_f32x4(w, w, _MM_SHUFFLE(2, 0, 2, 0)),
                                   _mm512_shuffle_f32x4(w, w, _MM_SHUFFLE(3, 1, 3, 1)));
    return _mm512_castps512_ps256(r);
}

/* softplus(x), as the forward computes it (kernels/simd.h), and its derivative sigmoid(x)
 * = exp(x - softplus(x)), an argument <= 0, by the 16-entry exp: no reciprocal, no second
 * log1p (the exp(-|x|) + reciprocal + atanh series shared by both took ~2x the FMA-pipe ops) */
static inline __m512 fb_softplus_sig512(__m512 x, __m512 *sig, const mb_exp_tab *tab)
{
    const __m512 sp = mb_softplus512(x, tab);
    /* min(., 0): at x = +inf, x - sp is NaN and the sigmoid must be 1 (vminps returns 0 there) */
    *sig = mb_exp2_t16_512(_mm512_mul_ps(_mm512_min_ps(_mm512_sub_ps(x, sp), _mm512_setzero_ps()), _mm512_set1_ps(MB_LOG2E)));
    return sp;
}

/* Head problems: per step of a segment, dts [tb] (dt), dec [tb] (exp(dt A)), hsig [tb]
 * (softplus'); padded with zeros to a multiple of 16. */
static void fb_head_steps(const fb_geom *g, const scan_shape *s, const scan_tensors *t, const fb_unit *un,
                          int64_t bl0, int64_t tb, float *dts, float *dec, float *hsig, const mb_exp_tab *tab)
{
    const int64_t K = g->K;
    const float bias = t->delta_bias ? t->delta_bias[un->k] : 0.0f, A2 = t->A[un->k] * MB_LOG2E;
    for (int64_t i = 0; i < tb; i++) dts[i] = t->delta[(bl0 + i) * K + un->k] + bias;
    for (int64_t i = tb; i < rup16(tb); i++) dts[i] = 0.0f;
    for (int64_t i = 0; i < tb; i += 16) {
        const __m512 x = _mm512_load_ps(dts + i);
        __m512 sg = _mm512_set1_ps(1.0f);
        const __m512 d = s->softplus ? fb_softplus_sig512(x, &sg, tab) : x;
        _mm512_store_ps(hsig + i, sg);
        _mm512_store_ps(dts + i, d);
        _mm512_store_ps(dec + i, mb_exp2_512(_mm512_mul_ps(d, _mm512_set1_ps(A2)), tab));
    }
}

/* The unit's buffers of one segment, [ntl][T][16] each: in, dt, dt u, u, dy, z and (diag)
 * softplus'; in place later: gy over dy, dz over z, du over u, ddelta over sig (diag). */
typedef struct {
    float *dtv, *dtu, *ub, *dyb, *zb, *sgb;
    int64_t ts; /* floats from one tile's rows to the next's: T x 16 + 16, so that the rows of
                   one step of the unit's tiles (and arrays) fall into different L1 sets */
} fb_rows;

static inline void fb_put(float *dst, __mmask16 mk, __m512 v)
{
    /* full aligned lines go around the cache (no read of the line first) */
    if (mk == 0xFFFF && !((uintptr_t)dst & 63)) _mm512_stream_ps(dst, v);
    else
        _mm512_mask_storeu_ps(dst, mk, v);
}

/* Phase 3: row tt of du, dz and (diag) ddelta out (row bl of the tensors) */
static inline void fb_row_out(const fb_geom *g, const scan_tensors *t, const scan_grads *gr, const fb_unit *un,
                              int64_t bl, int64_t tt, const fb_rows *r)
{
    const int64_t D = g->D, K = g->K;
    for (int64_t i = 0; i < un->ntl; i++) {
        const int64_t c = un->c0 + 16 * i, m = un->left - 16 * i < 16 ? un->left - 16 * i : 16;
        const __mmask16 mk = fb_mask(m);
        const int64_t o = i * r->ts + tt * 16;
        fb_put(gr->du + bl * D + c, mk, _mm512_load_ps(r->ub + o));
        if (t->z) fb_put(gr->dz + bl * D + c, mk, _mm512_load_ps(r->zb + o));
        if (!g->head) fb_put(gr->ddelta + bl * K + c, mk, _mm512_load_ps(r->sgb + o));
    }
}

/* Phase 1: the segment's rows of u, delta, dy, z, read row by row over the unit's tiles
 * (one contiguous run a row: rows D floats apart would otherwise land in a few cache sets).
 * Each row's lines are prefetched FB_PFD rows ahead, into L1: the prefetch of the whole
 * segment during the previous one (fb_pf) alone left ~80% of this phase waiting on these
 * loads at L 2048 (every row is a new 4 KB page). The previous segment's outputs, still in
 * the buffers (tbo rows from row out0), go out in the same loop, each row just before its
 * slots are refilled: streamed in a phase of their own they waited ~10% of the time on the
 * write-combining buffers, here they overlap the reads' latency. */
static void fb_rows_in(const fb_geom *g, const scan_shape *s, const scan_tensors *t, const scan_grads *gr,
                       const fb_unit *un, int64_t bl0, int64_t tb, int64_t out0, int64_t tbo, const float *dts,
                       const fb_rows *r, const mb_exp_tab *tab)
{
    const int64_t D = g->D, K = g->K, rows = tb > tbo ? tb : tbo;
    for (int64_t tt = 0; tt < rows; tt++) {
        const int64_t bl = bl0 + tt;
        if (tt < tbo) fb_row_out(g, t, gr, un, out0 + tt, tt, r);
        if (tt >= tb) continue;
        if (tt + FB_PFD < tb)
            for (int64_t i = 0; i < un->ntl; i++) {
                const int64_t c = un->c0 + 16 * i, bp = bl + FB_PFD;
                _mm_prefetch((const char *)(t->u + bp * D + c), _MM_HINT_T0);
                _mm_prefetch((const char *)(gr->dy + bp * D + c), _MM_HINT_T0);
                if (t->z) _mm_prefetch((const char *)(t->z + bp * D + c), _MM_HINT_T0);
                if (!g->head) _mm_prefetch((const char *)(t->delta + bp * K + c), _MM_HINT_T0);
            }
        for (int64_t i = 0; i < un->ntl; i++) {
            const int64_t c = un->c0 + 16 * i, m = un->left - 16 * i < 16 ? un->left - 16 * i : 16;
            const __mmask16 mk = fb_mask(m);
            const int64_t o = i * r->ts + tt * 16;
            __m512 dt;
            if (g->head) {
                dt = _mm512_set1_ps(dts[tt]);
            } else {
                __m512 x = _mm512_maskz_loadu_ps(mk, t->delta + bl * K + c), sg = _mm512_set1_ps(1.0f);
                if (t->delta_bias) x = _mm512_add_ps(x, _mm512_maskz_loadu_ps(mk, t->delta_bias + c));
                dt = s->softplus ? fb_softplus_sig512(x, &sg, tab) : x;
                _mm512_store_ps(r->sgb + o, sg);
            }
            const __m512 u = _mm512_maskz_loadu_ps(mk, t->u + bl * D + c);
            _mm512_store_ps(r->dtv + o, dt);
            _mm512_store_ps(r->dtu + o, _mm512_mul_ps(dt, u));
            _mm512_store_ps(r->ub + o, u);
            _mm512_store_ps(r->dyb + o, _mm512_maskz_loadu_ps(mk, gr->dy + bl * D + c));
            if (t->z) _mm512_store_ps(r->zb + o, _mm512_maskz_loadu_ps(mk, t->z + bl * D + c));
        }
    }
}

// ---- backward: recompute a segment of one tile, then walk it backwards

/* The lines of the previous segment's rows of a tile, to prefetch one row a step while
 * this segment computes (the rows are D floats apart, so the hardware prefetchers do not
 * follow them, and issuing a segment's ~450 lines at once would stall on the miss buffers). */
typedef struct {
    const char *rd[4], *wr[3]; /* row 0 of what is read (u, dy, z, delta) and written (du, dz, ddelta) */
    int64_t rs[4], ws[3];      /* their row strides in bytes */
    int nrd, nwr;
    int64_t rows;
} fb_pf;

static inline void fb_pf_row(const fb_pf *pf, int64_t r)
{
    for (int i = 0; i < pf->nrd; i++) _mm_prefetch(pf->rd[i] + r * pf->rs[i], _MM_HINT_T1);
    for (int i = 0; i < pf->nwr; i++) _mm_prefetch(pf->wr[i] + r * pf->ws[i], _MM_HINT_ET0);
}

/* h from hstart over tb steps; hs, es [tb][N][16] (row stride N*16; es for diag only);
 * accy [tb][16] += C.h when the gate needs y before it */
static inline __attribute__((always_inline)) void
fb_rec_block(const int nb, const bool head, const int64_t tb, const int64_t N, const float *A2, const float *hstart,
             const float *dtv, const float *dtu, const float *dec, const float *Bp, const float *Cp, int64_t stride,
             float *hs, float *es, float *accy, bool first, bool want_acc, const fb_pf *pf, const mb_exp_tab *tab)
{
    __m512 h[16];
    for (int j = 0; j < nb; j++) h[j] = _mm512_load_ps(hstart + 16 * j);
    for (int64_t t = 0; t < tb; t++) {
        if (pf && t < pf->rows) fb_pf_row(pf, t);
        const __m512 dt = _mm512_load_ps(dtv + 16 * t), du = _mm512_load_ps(dtu + 16 * t);
        const float *bt = Bp + t * stride, *ct = Cp + t * stride;
        float *hrow = hs + t * N * 16, *erow = es + t * N * 16;
        const __m512 a = head ? _mm512_set1_ps(dec[t]) : _mm512_setzero_ps();
        __m512 y = _mm512_setzero_ps();
#pragma GCC unroll 16
        for (int j = 0; j < nb; j++) {
            const __m512 e = head ? a : mb_exp2_512(_mm512_mul_ps(dt, _mm512_load_ps(A2 + 16 * j)), tab);
            h[j] = _mm512_fmadd_ps(e, h[j], _mm512_mul_ps(du, _mm512_set1_ps(bt[j])));
            _mm512_store_ps(hrow + 16 * j, h[j]);
            if (!head) _mm512_store_ps(erow + 16 * j, e);
            if (want_acc) y = _mm512_fmadd_ps(_mm512_set1_ps(ct[j]), h[j], y);
        }
        if (want_acc) _mm512_store_ps(accy + 16 * t, first ? y : _mm512_add_ps(y, _mm512_load_ps(accy + 16 * t)));
    }
    if (pf)
        for (int64_t t = tb; t < pf->rows; t++) fb_pf_row(pf, t);
}

/* The reverse walk of nb <= 8 states over the segment: gh, dA (diag) [nb][16] in and out;
 * ddt, gB [tb][16] accumulate over state blocks; dB, dC rows (stride G*N) accumulate. */
static inline __attribute__((always_inline)) void
fb_rev_block(const int nb, const bool head, const int64_t tb, const int64_t N, const float *hs, const float *es,
             const float *hstart, float *gh, const float *At, float *dA, const float *dtv, const float *dtu,
             const float *dec, const float *gy, float *ddt, float *gB, const float *Bp, const float *Cp,
             int64_t stride, float *accB, float *accC)
{
    __m512 g[FB_NB], da[FB_NB];
    for (int j = 0; j < nb; j++) {
        g[j] = _mm512_load_ps(gh + 16 * j);
        da[j] = head ? _mm512_setzero_ps() : _mm512_load_ps(dA + 16 * j);
    }
    const __mmask8 m8 = (__mmask8)((1u << nb) - 1);
    for (int64_t t = tb - 1; t >= 0; t--) {
        const __m512 gyv = _mm512_load_ps(gy + 16 * t), dt = _mm512_load_ps(dtv + 16 * t);
        const __m512 du = _mm512_load_ps(dtu + 16 * t);
        const float *bt = Bp + t * stride, *ct = Cp + t * stride;
        const float *hrow = hs + t * N * 16, *erow = es + t * N * 16;
        const float *hp = t ? hs + (t - 1) * N * 16 : hstart;
        const __m512 a = head ? _mm512_set1_ps(dec[t]) : _mm512_setzero_ps();
        __m512 ddtv = _mm512_setzero_ps(), gBv = _mm512_setzero_ps();
        __m512 vC[FB_NB], vB[FB_NB];
#pragma GCC unroll 8
        for (int j = 0; j < FB_NB; j++) {
            if (j >= nb) {
                vC[j] = vB[j] = _mm512_setzero_ps();
                continue;
            }
            const __m512 h = _mm512_load_ps(hrow + 16 * j), e = head ? a : _mm512_load_ps(erow + 16 * j);
            const __m512 bj = _mm512_set1_ps(bt[j]);
            const __m512 g1 = _mm512_fmadd_ps(gyv, _mm512_set1_ps(ct[j]), g[j]);
            vC[j] = _mm512_mul_ps(gyv, h);
            /* g1 e h_{t-1} as (g1 e) h_{t-1}: g1 e is the next adjoint, so one multiply
             * less (not h_t - dt u B_t: that cancels where e is tiny, large dt) */
            g[j] = _mm512_mul_ps(g1, e);
            const __m512 geh = _mm512_mul_ps(g[j], _mm512_load_ps(hp + 16 * j));
            if (head) {
                ddtv = _mm512_add_ps(ddtv, geh);
            } else {
                ddtv = _mm512_fmadd_ps(_mm512_load_ps(At + 16 * j), geh, ddtv);
                da[j] = _mm512_fmadd_ps(dt, geh, da[j]);
            }
            gBv = _mm512_fmadd_ps(g1, bj, gBv);
            vB[j] = _mm512_mul_ps(g1, du);
        }
        _mm512_store_ps(ddt + 16 * t, _mm512_add_ps(ddtv, _mm512_load_ps(ddt + 16 * t)));
        _mm512_store_ps(gB + 16 * t, _mm512_add_ps(gBv, _mm512_load_ps(gB + 16 * t)));
        float *cC = accC + t * stride, *cB = accB + t * stride;
        _mm256_mask_storeu_ps(cC, m8, _mm256_add_ps(_mm256_maskz_loadu_ps(m8, cC), fb_reduce8(vC)));
        _mm256_mask_storeu_ps(cB, m8, _mm256_add_ps(_mm256_maskz_loadu_ps(m8, cB), fb_reduce8(vB)));
    }
    for (int j = 0; j < nb; j++) {
        _mm512_store_ps(gh + 16 * j, g[j]);
        if (!head) _mm512_store_ps(dA + 16 * j, da[j]);
    }
}

/* One unit (a run of tiles of one group, or one head), segments last first. Per segment:
 * its rows in (phase 1); per tile: recompute, the gate, the reverse walk, du and ddelta
 * (phase 2); the rows out (phase 3) go inside the next segment's phase 1 (fb_rows_in),
 * each row just before its slots are refilled, and after the last segment. While a tile
 * recomputes segment sg, its lines of segment sg - 1 are prefetched, one row a step. */
static void fb_bwd_unit(const fb_geom *g, const scan_shape *s, const scan_tensors *t, const scan_grads *gr,
                        const float *ckpt, const fb_unit *un, float *acc, float *scr, const mb_exp_tab *tab_in)
{
    const mb_exp_tab tab_l = *tab_in, *tab = &tab_l; /* a local copy: its address does not escape, so the table stays in registers */
    const int64_t L = g->L, D = g->D, N = g->N, G = g->G, K = g->K, b = un->b, ntl = un->ntl, NT = g->unit_tiles;
    const int64_t T = g->Kc > FB_TB ? g->Kc : FB_TB;
    float *tdB = acc, *tdC = tdB + g->nBm, *tdA = tdC + g->nBm, *tdbias = tdA + g->nA, *tdD = tdbias + K;
    float *hs = scr;                /* [T][N][16] */
    float *es = hs + T * N * 16;    /* [T][N][16] */
    float *Ats = es + T * N * 16;   /* [NT][N][16] A (diag) */
    float *A2s = Ats + NT * N * 16; /* [NT][N][16] A log2(e) (diag) */
    float *dAs = A2s + NT * N * 16; /* [NT][N][16] dA (diag) */
    float *gh = dAs + NT * N * 16;  /* [NT][N][16] */
    fb_rows r;                      /* [NT][T][16] each, tile stride ts, array stride as */
    r.ts = T * 16 + 16;
    const int64_t as = NT * r.ts + 16;
    r.dtv = gh + NT * N * 16, r.dtu = r.dtv + as, r.ub = r.dtu + as;
    r.dyb = r.ub + as, r.zb = r.dyb + as, r.sgb = r.zb + as;
    float *ddt = r.sgb + as, *gB = ddt + T * 16, *accy = gB + T * 16; /* [T][16] */
    /* [T16] each: T rounded up to 16, so each starts 64-byte aligned and fb_head_steps'
     * vectors (rup16(tb) entries) stay inside their own array */
    const int64_t T16 = rup16(T);
    float *dts = accy + T * 16, *dec = dts + T16, *hsig = dec + T16, *hd_ddt = hsig + T16, *hd_geh = hd_ddt + T16;
    float *vbias = hd_geh + T16, *vD = vbias + NT * 16; /* [NT][16] */
    const bool head = g->head;

    for (int64_t i = 0; i < ntl; i++) {
        const int64_t c = un->c0 + 16 * i, m = un->left - 16 * i < 16 ? un->left - 16 * i : 16;
        fb_load_rows(gh + i * N * 16, gr->dh_last ? gr->dh_last + (b * D + c) * N : NULL, N, m);
        if (!head) {
            float *At = Ats + i * N * 16, *A2 = A2s + i * N * 16, *dA = dAs + i * N * 16;
            fb_load_rows(At, t->A + c * N, N, m);
            for (int64_t j = 0; j < N * 16; j++) A2[j] = At[j] * MB_LOG2E, dA[j] = 0.0f;
        }
        for (int64_t l = 0; l < 16; l++) vbias[i * 16 + l] = vD[i * 16 + l] = 0.0f;
    }
    float dA_h = 0.0f, dbias_h = 0.0f;
    const float Ak = head ? t->A[un->k] : 0.0f;
    const int64_t tile0 = un->c0 / g->seg * g->seg_tiles + un->c0 % g->seg / 16; /* the unit's first, in a slot */

    int64_t out0 = 0, tbo = 0; /* the rows whose outputs are still in the buffers */
    for (int64_t sg = g->nseg - 1; sg >= 0; sg--) {
        const int64_t t0 = sg * g->Kc, tb = L - t0 < g->Kc ? L - t0 : g->Kc;
        const int64_t bl0 = b * L + t0;
        if (head) {
            fb_head_steps(g, s, t, un, bl0, tb, dts, dec, hsig, tab);
            for (int64_t tt = 0; tt < tb; tt++) hd_ddt[tt] = hd_geh[tt] = 0.0f;
        }
        fb_rows_in(g, s, t, gr, un, bl0, tb, out0, tbo, dts, &r, tab);
        for (int64_t i = 0; i < ntl; i++) {
            const int64_t c = un->c0 + 16 * i, m = un->left - 16 * i < 16 ? un->left - 16 * i : 16;
            float *ghi = gh + i * N * 16;
            const float *A2 = A2s + i * N * 16, *At = Ats + i * N * 16;
            float *dAt = dAs + i * N * 16;
            float *dtv = r.dtv + i * r.ts, *dtu = r.dtu + i * r.ts, *ub = r.ub + i * r.ts;
            float *gy = r.dyb + i * r.ts, *zb = r.zb + i * r.ts, *sgb = r.sgb + i * r.ts;
            fb_pf pf = {.nrd = 0, .nwr = 0, .rows = sg > 0 ? g->Kc : 0};
            if (sg > 0) {
                const int64_t r0 = bl0 - g->Kc, rsD = D * (int64_t)sizeof(float), rsK = K * (int64_t)sizeof(float);
#define FB_PF_RD(ptr, st) (pf.rd[pf.nrd] = (const char *)(ptr), pf.rs[pf.nrd++] = (st))
                FB_PF_RD(t->u + r0 * D + c, rsD);
                FB_PF_RD(gr->dy + r0 * D + c, rsD);
                if (t->z) FB_PF_RD(t->z + r0 * D + c, rsD);
                if (!head) FB_PF_RD(t->delta + r0 * K + c, rsK);
#undef FB_PF_RD
            }
            /* the segment's start: tile i of the unit's checkpoint, read in place */
            const float *hst = ckpt + (b * g->nseg + sg) * fb_slot_floats(g) + (tile0 + i) * N * 16;
            if (sg > 0) /* the tile's checkpoint of the segment before, for its turn */
                for (int64_t j = 0; j < N * 16; j += 16) _mm_prefetch((const char *)(hst - fb_slot_floats(g) + j), _MM_HINT_T1);
            const float *Bp = t->Bm + (bl0 * G + un->grp) * N, *Cp = t->Cm + (bl0 * G + un->grp) * N;
            // ---- recompute the segment
            for (int64_t n0 = 0; n0 < N; n0 += 16) {
                const int nb = N - n0 < 16 ? (int)(N - n0) : 16;
                const bool za = t->z != NULL, first = n0 == 0;
                float *hsn = hs + n0 * 16, *esn = es + n0 * 16;
                const float *A2n = A2 + n0 * 16, *hstn = hst + n0 * 16;
                const fb_pf *pfp = first && pf.rows ? &pf : NULL;
                if (nb == 16 && head)
                    fb_rec_block(16, true, tb, N, A2n, hstn, dtv, dtu, dec, Bp + n0, Cp + n0, G * N, hsn, esn, accy, first, za, pfp, tab);
                else if (nb == 16)
                    fb_rec_block(16, false, tb, N, A2n, hstn, dtv, dtu, dec, Bp + n0, Cp + n0, G * N, hsn, esn, accy, first, za, pfp, tab);
                else
                    fb_rec_block(nb, head, tb, N, A2n, hstn, dtv, dtu, dec, Bp + n0, Cp + n0, G * N, hsn, esn, accy, first, za, pfp, tab);
            }
            // ---- the gate and the skip: gy (over dy), dz (over z); dD
            const __m512 dsk = !t->Dskip ? _mm512_setzero_ps()
                               : head ? _mm512_set1_ps(t->Dskip[un->k])
                                      : _mm512_maskz_loadu_ps(fb_mask(m), t->Dskip + c);
            __m512 dD_v = _mm512_load_ps(vD + 16 * i), dbias_v = _mm512_load_ps(vbias + 16 * i);
            for (int64_t tt = 0; tt < tb; tt++) {
                const __m512 u = _mm512_load_ps(ub + 16 * tt);
                __m512 gyv = _mm512_load_ps(gy + 16 * tt);
                if (t->z) {
                    __m512 dz;
                    const __m512 y = _mm512_fmadd_ps(dsk, u, _mm512_load_ps(accy + 16 * tt));
                    gyv = fb_gate_back(gyv, _mm512_load_ps(zb + 16 * tt), y, &dz);
                    _mm512_store_ps(zb + 16 * tt, dz);
                }
                _mm512_store_ps(gy + 16 * tt, gyv);
                dD_v = _mm512_fmadd_ps(gyv, u, dD_v);
                _mm512_store_ps(ddt + 16 * tt, _mm512_setzero_ps());
                _mm512_store_ps(gB + 16 * tt, _mm512_setzero_ps());
            }
            // ---- the reverse walk, FB_NB states at a time
            for (int64_t n0 = 0; n0 < N; n0 += FB_NB) {
                const int nb = N - n0 < FB_NB ? (int)(N - n0) : FB_NB;
                float *cB = tdB + (bl0 * G + un->grp) * N + n0, *cC = tdC + (bl0 * G + un->grp) * N + n0;
                const float *hsn = hs + n0 * 16, *esn = es + n0 * 16, *hstn = hst + n0 * 16, *Atn = At + n0 * 16;
                float *ghn = ghi + n0 * 16, *dAn = dAt + n0 * 16;
                if (nb == FB_NB && head)
                    fb_rev_block(FB_NB, true, tb, N, hsn, esn, hstn, ghn, Atn, dAn, dtv, dtu, dec, gy, ddt, gB, Bp + n0, Cp + n0, G * N, cB, cC);
                else if (nb == FB_NB)
                    fb_rev_block(FB_NB, false, tb, N, hsn, esn, hstn, ghn, Atn, dAn, dtv, dtu, dec, gy, ddt, gB, Bp + n0, Cp + n0, G * N, cB, cC);
                else
                    fb_rev_block(nb, head, tb, N, hsn, esn, hstn, ghn, Atn, dAn, dtv, dtu, dec, gy, ddt, gB, Bp + n0, Cp + n0, G * N, cB, cC);
            }
            // ---- per step: du (over u); ddelta (diag, over sig) or its per-head sums
            for (int64_t tt = 0; tt < tb; tt++) {
                const __m512 u = _mm512_load_ps(ub + 16 * tt);
                const __m512 gBv = _mm512_load_ps(gB + 16 * tt), gyv = _mm512_load_ps(gy + 16 * tt);
                _mm512_store_ps(ub + 16 * tt, _mm512_fmadd_ps(_mm512_load_ps(dtv + 16 * tt), gBv, _mm512_mul_ps(gyv, dsk)));
                const __m512 ddtv = _mm512_load_ps(ddt + 16 * tt);
                if (head) {
                    hd_geh[tt] += _mm512_reduce_add_ps(ddtv);
                    hd_ddt[tt] += _mm512_reduce_add_ps(_mm512_mul_ps(gBv, u));
                } else {
                    const __m512 dd = _mm512_mul_ps(_mm512_fmadd_ps(gBv, u, ddtv), _mm512_load_ps(sgb + 16 * tt));
                    _mm512_store_ps(sgb + 16 * tt, dd);
                    dbias_v = _mm512_add_ps(dbias_v, dd);
                }
            }
            _mm512_store_ps(vD + 16 * i, dD_v);
            _mm512_store_ps(vbias + 16 * i, dbias_v);
        }
        out0 = bl0, tbo = tb;
        if (head)
            for (int64_t tt = 0; tt < tb; tt++) {
                const float dd = (Ak * hd_geh[tt] + hd_ddt[tt]) * hsig[tt];
                gr->ddelta[(bl0 + tt) * K + un->k] = dd;
                dbias_h += dd;
                dA_h += dts[tt] * hd_geh[tt];
            }
    }
    for (int64_t tt = 0; tt < tbo; tt++) fb_row_out(g, t, gr, un, out0 + tt, tt, &r); /* the first segment's */
    // ---- the unit's shares of dh0 and of the parameter gradients
    for (int64_t i = 0; i < ntl; i++) {
        const int64_t c = un->c0 + 16 * i, m = un->left - 16 * i < 16 ? un->left - 16 * i : 16;
        if (gr->dh0) fb_store_rows(gr->dh0 + (b * D + c) * N, gh + i * N * 16, N, m);
        if (head) {
            tdD[un->k] += _mm512_reduce_add_ps(_mm512_load_ps(vD + 16 * i));
        } else {
            const float *dAt = dAs + i * N * 16;
            for (int64_t l = 0; l < m; l++) {
                for (int64_t n = 0; n < N; n++) tdA[(c + l) * N + n] += dAt[n * 16 + l];
                tdbias[c + l] += vbias[i * 16 + l];
                tdD[c + l] += vD[i * 16 + l];
            }
        }
    }
    if (head) {
        tdA[un->k] += dA_h;
        tdbias[un->k] += dbias_h;
    }
}

static void fb_backward_run(const fb_geom *g, const scan_shape *s, const scan_tensors *t, const scan_grads *gr,
                            const float *ckpt, float *ws, int threads)
{
#pragma omp parallel num_threads(threads)
    {
        const mb_exp_tab tab = mb_exp_tab_init();
        float *acc = ws + (int64_t)omp_get_thread_num() * g->thread_floats, *scr = acc + g->acc_floats;
        for (int64_t i = 0; i < g->acc_floats; i++) acc[i] = 0.0f;
#pragma omp for schedule(static)
        for (int64_t u = 0; u < g->units; u++) {
            const fb_unit un = fb_unit_of(g, u);
            fb_bwd_unit(g, s, t, gr, ckpt, &un, acc, scr, &tab);
        }
        _mm_sfence(); /* the streamed stores of du, dz, ddelta are visible before the reduction's barrier */
        fb_reduce(g, gr, ws);
    }
}
#endif

// ---------------------------------------------------------------- the entry points

/* The fused forward itself (kernels/fused.c), in one pass, writing the state every K
 * steps into the checkpoints: y is the forward's own and the save costs one transposed
 * store of the state per K steps. */
int scan_fused_forward_save(const scan_shape *s, const scan_tensors *t, const scan_opts *o, void *saved, void *ws,
                            mb_err *err)
{
    fb_geom g;
    fb_geom_init(&g, s, o);
    const int64_t DN = g.D * g.N, slot = fb_slot_floats(&g);
    float *ck = saved; /* [B][nseg][slot]: slot 0 the initial state */
    for (int64_t b = 0; b < g.B; b++) {
        float *c0 = ck + b * g.nseg * slot;
        memset(c0, 0, (size_t)slot * sizeof(float));
        if (!t->h0) continue;
#if defined(__AVX512F__)
        for (int64_t d = 0; d < g.D; d++) { /* channel d: lane d % seg % 16 of tile (d / seg) seg_tiles + d % seg / 16 */
            float *dst = c0 + ((d / g.seg) * g.seg_tiles + d % g.seg / 16) * g.N * 16 + d % g.seg % 16;
            for (int64_t n = 0; n < g.N; n++) dst[n * 16] = t->h0[b * DN + d * g.N + n];
        }
#else
        memcpy(c0, t->h0 + b * DN, (size_t)DN * sizeof(float));
#endif
    }
    return scan_fused_forward_ckpt(s, t, o, ws, ck, g.Kc, err);
}

int scan_fused_backward(const scan_shape *s, const scan_tensors *t, const scan_grads *gr, const scan_opts *o,
                        const void *saved, void *ws, mb_err *err)
{
    (void)err;
    fb_geom g;
    fb_geom_init(&g, s, o);
    fb_backward_run(&g, s, t, gr, saved, ws, fb_threads(o));
    return 0;
}

/* Counted from the code (an FMA is 2 flops; softplus, each exp and its argument's scaling
 * by log2 e count as one exp and no flop; delta + bias is part of dt; a reciprocal estimate
 * counts 1 and its Newton step 4; lanes beyond the problem's channels or steps are not
 * counted).
 * AVX-512 path, per state update: the recompute, e = exp(dt A) (1, diag only: head takes
 * it per step and head) and h = e h + dt u B (3), + C.h for the gate (2); the reverse
 * walk g1 (2), gy h (1), gh = g1 e (1), gh h_{t-1} (1), diag ddt (2) and dA (2) or head
 * ddt (1), gB (2), g1 dt u (1) = 12 (head 9); the two 16-lane trees of dC and dB,
 * each summing a tile's channels into the accumulator: 1 add per channel each.
 * Per (t, channel): dt u (1); diag softplus' = exp(x - softplus(x)) (1); the gate, with z:
 * y = D u + C.h (2, + 1 per further block of 16 states), e = exp(-|z|) (the sign goes
 * into the scaling by log2 e: no flop), 1 + e, rcp14, Newton, sigmoid (7), silu' (4), dz (2), gy (2); dD (2); ddt and gB summed over
 * the blocks of 8 states (2 per block); du (3); diag ddelta (3) and dbias (1), head the
 * per-head sums of ddt and gB u (3). Per (t, head): softplus' (1) and dt A (1);
 * ddelta (3), dbias (1), dA (2). Per unit: diag dA, dbias, dD into the thread's
 * accumulators (B D N + 2 B D), head dD's lanes (B D) and dA, dbias (2 B H). The sum of
 * the per-thread accumulators: threads x (2 BLGN + |A| + 2K).
 * Portable path: per update the recompute exp(dt A) (1 + an exp) and h (3), the reverse
 * walk as sequential's diag one (15, head too); per (t, channel) dt u twice (2),
 * softplus' as 1 / (1 + exp(-x)) (3), the gate (12 + 2N), dD (2), ddt += gB u (2), du (3),
 * ddelta and dbias from ddt softplus' (4); softplus twice, its sigmoid, sigmoid(z) and the
 * recompute's exp per update as exps. */
void scan_fused_backward_cost(const scan_shape *s, const scan_opts *o, scan_cost *c)
{
    fb_geom g;
    fb_geom_init(&g, s, o);
    const double upd = scan_shape_updates(s), BL = (double)s->batch * s->seqlen;
    const double BLD = BL * s->channels, BLK = BL * (double)g.K, N = (double)s->d_state;
    const bool head = s->a_kind == SCAN_A_HEAD, sp = s->softplus, gate = s->has_z;
    const double reduce = (double)fb_threads(o) * (2.0 * g.nBm + g.nA + 2.0 * g.K);
#if defined(__AVX512F__)
    const double blk16 = (double)((s->d_state + 15) / 16), blk8 = (double)((s->d_state + FB_NB - 1) / FB_NB);
    const double per_upd = (head ? 3 : 4) + (gate ? 2 : 0) + (head ? 9 : 12) + 2;
    const double per_tc = 1 + (!head && sp ? 1 : 0) + (gate ? 2 + (blk16 - 1) + 7 + 4 + 2 + 2 : 0) + 2 +
                          2 * blk8 + 3 + 3 + (head ? 0 : 1);
    const double per_tk = head ? (sp ? 1 : 0) + 1 + 3 + 1 + 2 : 0;
    const double per_unit = head ? BLD / s->seqlen + 2.0 * s->batch * g.K
                                 : (double)s->batch * s->channels * (N + 2);
    c->flops = per_upd * upd + per_tc * BLD + per_tk * BLK + per_unit + reduce;
    /* diag: the recompute's exp per update, softplus and softplus' per (t, channel); head:
     * softplus, softplus' and exp(dt A) per (t, head); sigmoid(z) per (t, channel) */
    c->exps = head ? BLK * ((sp ? 2 : 0) + 1) : upd + BLD * (sp ? 2 : 0);
    c->exps += gate ? BLD : 0;
#else
    const double per_tc = 2 + (sp ? 3 : 0) + (gate ? 12 + 2 * N : 0) + 2 + 2 + 3 + 4;
    c->flops = 19.0 * upd + per_tc * BLD + reduce;
    c->exps = upd + BLD * ((sp ? 3 : 0) + (gate ? 1 : 0));
    (void)head, (void)BLK;
#endif
    c->workspace = (double)scan_fused_backward_workspace(s, o);
    /* inputs read twice (recompute, reverse), checkpoints once, gradients written once */
    c->bytes = 2.0 * (double)scan_shape_tensor_bytes(s) + (double)scan_fused_saved_bytes(s, o) +
               (double)scan_grad_bytes(s);
}

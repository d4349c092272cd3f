/* kernels/fused.c: the fused scan (the official CUDA kernel's "hardware-aware" scan,
 * llama.cpp's ssm_scan, on a CPU): the state never leaves registers, exp(dt*A) is
 * computed on the fly, nothing of size L is materialised.
 *
 * Channels are cut into tiles of VL lanes (16 with AVX-512) that never straddle a group
 * (diag) or a head (head), so B and C are broadcast scalars per (t, n), and for head
 * problems dt and the decay exp(dt*A) are one scalar per (head, t). A work unit is one
 * (batch, tile) for diag problems and one (batch, head) with all its tiles for head
 * problems; threads take units statically (head, AVX-512: a thread's units of one batch
 * element take turns over chunks of FU_TC steps, see fu_run). Inside a unit, time is walked in blocks of
 * FU_TB steps: a prologue computes dt (softplus), dt*u and, for head problems, the decay
 * for the block; then for each block of up to 16 states the state tile (16 states x 16
 * lanes = 16 zmm registers) is loaded from the unit's scratch, advanced over the block,
 * and stored back; an epilogue adds D*u and the gate. The state at every block boundary
 * sits in the scratch (hm), which is where a backward pass can take its checkpoints.
 *
 * Build-time paths: AVX-512 intrinsics (__AVX512F__) with mbench's own table exp
 * (kernels/simd.h, row "mb_exp_avx512" of kernels/exp.c); otherwise the same structure in
 * portable C over VL = 8 (AVX2) or 4 lanes that the compiler vectorises, with
 * mb_exp_portable (row "mb_exp_portable"). */
#include <math.h>
#include <omp.h>
#include <string.h>

#include "scan.h"
#include "simd.h"

#define FU_TB 32 /* time steps per block */
#if defined(__AVX512F__)
#define FU_VL 16
#elif defined(__AVX2__)
#define FU_VL 8
#else
#define FU_VL 4
#endif
#define FU_NB 16 /* states per register block */
#define FU_UNIT_FLOATS (48 * 1024) /* target scratch of a work unit (192 KB), head */
#define FU_TC 256 /* head, AVX-512: steps per time chunk (a thread's units take turns per chunk) */
#define FU_UNIT_FLOATS_DIAG (32 * 1024) /* diag (128 KB: the state and A of up to 57 tiles of 16 states) */

// ---------------------------------------------------------------- geometry

typedef struct {
    int64_t B, L, D, N, G, K;
    int64_t seg;        /* channels per segment: a group (diag) or a head (head) */
    int64_t seg_tiles;  /* tiles per segment: ceil(seg / VL) */
    int64_t per_group;  /* channels per group */
    int64_t chunks;     /* units per batch element (diag: per group) */
    int64_t chunk_len;  /* tiles (diag) or heads (head) per unit */
    int64_t units;      /* work units */
    int64_t unit_tiles; /* most tiles of a unit */
    bool head;
    /* head, AVX-512: a thread runs its units of one batch element in turn over a chunk of
     * tc steps, chunk after chunk, with their states (state_floats each, `live` at most)
     * kept in its scratch next to one unit's per-block buffers (buf_floats) */
    int64_t tc, live;
    size_t state_floats, buf_floats;
    size_t thread_floats; /* scratch per thread */
} fu_geom;

/* Units are contiguous runs of tiles of one batch element (and one group, diag; whole
 * heads, head), as few as give every thread one, but capped in size (FU_UNIT_FLOATS);
 * a unit reads each row of u, delta, z and y as one contiguous run per time step. */
static void fu_geom_init(fu_geom *g, const scan_shape *s, int threads)
{
    g->B = s->batch, g->L = s->seqlen, g->D = s->channels, g->N = s->d_state, g->G = s->groups;
    g->K = scan_shape_k(s);
    g->head = s->a_kind == SCAN_A_HEAD;
    g->per_group = g->D / g->G;
    g->seg = g->head ? g->D / g->K : g->per_group;
    g->seg_tiles = (g->seg + FU_VL - 1) / FU_VL;
    const int64_t outer = g->head ? g->B : g->B * g->G; /* independent pieces */
    const int64_t inner = g->head ? g->K : g->seg_tiles; /* what a piece splits into */
    int64_t want = (threads + outer - 1) / outer;
    g->chunks = want < 1 ? 1 : want > inner ? inner : want;
    g->chunk_len = (inner + g->chunks - 1) / g->chunks;
    /* ... but small enough that a unit's scratch (state, A, per-block buffers) stays near
     * L1/L2 size, FU_UNIT_FLOATS, next to the rows being streamed */
    /* diag: a unit's scratch is its tiles' state and A (2 N VL floats a tile) plus the
     * jobs' per-block buffers (dtv, dtu, yb doubled, zb: 7 TB VL floats); head: per tile
     * the state and the per-block buffers */
    const int64_t per = g->head ? g->seg_tiles * (g->N * FU_VL + 3 * FU_TB * FU_VL) + 5 * FU_TB
                                : 2 * g->N * FU_VL;
    const int64_t room = g->head ? FU_UNIT_FLOATS : FU_UNIT_FLOATS_DIAG - 7 * FU_TB * FU_VL;
    const int64_t cap = room / per > 1 ? room / per : 1;
    if (g->chunk_len > cap) g->chunk_len = cap;
    g->chunks = (inner + g->chunk_len - 1) / g->chunk_len;
    g->units = outer * g->chunks;
    g->unit_tiles = g->head ? g->chunk_len * g->seg_tiles : g->chunk_len;
    /* head: hm [unit_tiles][N][VL]; dtv, dtu, yb [unit_tiles][TB][VL]; dts, dec, P, 1/P,
     * restart flags [heads of a unit][TB].
     * diag: hm, A2 [unit_tiles][N][VL]; dtv, dtu, yb [2][TB][VL] (two jobs at a time), zb [TB][VL] */
    const int64_t heads = g->head ? g->chunk_len : 0;
    g->thread_floats = g->head ? (size_t)(g->N * FU_VL * g->unit_tiles + 3 * FU_TB * FU_VL * g->unit_tiles + 5 * FU_TB * heads)
                               : (size_t)(2 * g->N * FU_VL * g->unit_tiles + 7 * FU_TB * FU_VL);
    g->state_floats = (size_t)(g->N * FU_VL * g->unit_tiles);
    g->buf_floats = (size_t)(3 * FU_TB * FU_VL * g->unit_tiles + 5 * FU_TB * heads);
    g->tc = g->L, g->live = 1;
#if defined(__AVX512F__)
    if (g->head) {
        const int64_t per_thread = (g->units + threads - 1) / threads;
        g->live = per_thread < g->chunks ? per_thread : g->chunks;
        g->tc = FU_TC;
        g->thread_floats = g->live * g->state_floats + g->buf_floats;
    }
#endif
    g->thread_floats = (g->thread_floats + 15) / 16 * 16; /* keep each thread's block 64-byte aligned */
}

static const char *fu_unsupported(const scan_shape *s, const scan_opts *o)
{
    (void)s, (void)o;
    return NULL;
}

static size_t fu_workspace(const scan_shape *s, const scan_opts *o)
{
    fu_geom g;
    const int threads = o->threads > 0 ? o->threads : 1;
    fu_geom_init(&g, s, threads);
    return (size_t)threads * g.thread_floats * sizeof(float);
}

/* A unit: batch b and its tiles [t_lo, t_hi) counted within the group (diag) or over
 * the heads (head: tile i is tile i % seg_tiles of head i / seg_tiles). */
typedef struct {
    int64_t b, grp, t_lo, ntl;
} fu_unit;

static fu_unit fu_unit_of(const fu_geom *g, int64_t u)
{
    fu_unit r;
    const int64_t per_b = g->head ? g->chunks : g->G * g->chunks;
    r.b = u / per_b;
    const int64_t rest = u % per_b, ch = rest % g->chunks;
    r.grp = g->head ? 0 : rest / g->chunks;
    const int64_t inner = g->head ? g->K : g->seg_tiles;
    int64_t lo = ch * g->chunk_len, hi = lo + g->chunk_len > inner ? inner : lo + g->chunk_len;
    if (g->head) lo *= g->seg_tiles, hi *= g->seg_tiles;
    r.t_lo = lo, r.ntl = hi - lo;
    return r;
}

/* Tile i of a unit: first channel c, live lanes m, head k (head problems), group. */
typedef struct {
    int64_t c, m, k, grp;
    bool head_start; /* first tile of its head */
} fu_tile;

static fu_tile fu_tile_of(const fu_geom *g, const fu_unit *un, int64_t i, int64_t VL)
{
    fu_tile r;
    const int64_t ti = un->t_lo + i;
    if (g->head) {
        r.k = ti / g->seg_tiles;
        const int64_t j = ti % g->seg_tiles;
        r.c = r.k * g->seg + j * VL;
        r.m = g->seg - j * VL < VL ? g->seg - j * VL : VL;
        r.grp = r.c / g->per_group;
        r.head_start = j == 0;
    } else {
        r.k = -1, r.grp = un->grp, r.head_start = false;
        r.c = un->grp * g->per_group + ti * VL;
        r.m = g->seg - ti * VL < VL ? g->seg - ti * VL : VL;
    }
    return r;
}

/* The unit's final states out: hm [ntl][N][VL] (lane l of tile i is channel tile.c + l)
 * into h_last [B][D][N]. */
static void fu_h_last_out(const fu_geom *g, const fu_unit *un, const float *hm, const scan_tensors *t, int64_t VL)
{
    const int64_t D = g->D, N = g->N;
    for (int64_t i = 0; i < un->ntl; i++) {
        const fu_tile tl = fu_tile_of(g, un, i, VL);
        const float *h = hm + i * N * VL;
        for (int64_t l = 0; l < tl.m; l++)
            for (int64_t n = 0; n < N; n++) t->h_last[(un->b * D + tl.c + l) * N + n] = h[n * VL + l];
    }
}

/* Training (kernels/fused_backward.c): the forward may also write the state every `every`
 * steps into slot j = h after step j*every - 1 (slot 0, the initial state, is the
 * caller's) of ck: AVX-512, ck [B][slots][tiles][N][16] as the state is held (tiles of 16
 * channels counted over the segments, lanes past a segment's end 0), so a checkpoint is a
 * copy; other builds ck [B][slots][D][N]. Time blocks then end on those steps. */
typedef struct {
    float *ck;
    int64_t every; /* 0: no checkpoints */
} fu_ckpt;

static inline int64_t fu_block_len(int64_t L, int64_t t0, const fu_ckpt *cp)
{
    int64_t tb = L - t0 < FU_TB ? L - t0 : FU_TB;
    if (cp->every > 0 && cp->every - t0 % cp->every < tb) tb = cp->every - t0 % cp->every;
    return tb;
}

/* After the block ending at step `end`: the state of the unit's tiles, hm [ntl][N][VL],
 * into its checkpoint slot, if one falls there. */
static void fu_ckpt_store(const fu_geom *g, const fu_unit *un, const fu_ckpt *cp, const float *hm, int64_t end,
                          int64_t VL)
{
    if (cp->every <= 0 || end % cp->every || end >= g->L) return;
    const int64_t nseg = (g->L + cp->every - 1) / cp->every, D = g->D, N = g->N;
#if defined(__AVX512F__)
    const int64_t tiles = D / g->seg * g->seg_tiles;
    float *ck = cp->ck + (un->b * nseg + end / cp->every) * tiles * N * 16;
    for (int64_t i = 0; i < un->ntl; i++) { /* streamed: no read of the lines first */
        const fu_tile tl = fu_tile_of(g, un, i, 16);
        float *dst = ck + (tl.c / g->seg * g->seg_tiles + tl.c % g->seg / 16) * N * 16;
        for (int64_t j = 0; j < N * 16; j += 16) _mm512_stream_ps(dst + j, _mm512_load_ps(hm + i * N * 16 + j));
    }
    (void)VL;
#else
    float *dst = cp->ck + (un->b * nseg + end / cp->every) * D * N;
    for (int64_t i = 0; i < un->ntl; i++) {
        const fu_tile tl = fu_tile_of(g, un, i, VL);
        const float *h = hm + i * N * VL;
        for (int64_t l = 0; l < tl.m; l++)
            for (int64_t n = 0; n < N; n++) dst[(tl.c + l) * N + n] = h[n * VL + l];
    }
#endif
}

#if defined(__AVX512F__)
// ---------------------------------------------------------------- AVX-512

/* A diag tile's prologue for one block: dt = softplus(delta + bias) and dt u into the
 * tile's per-block buffers. Row by row inside another tile's scan (fu_pro_row: the loads,
 * which miss L1, and the prefetch of the same rows of the block after, since rows are D
 * floats apart and the hardware prefetchers stop at pages), then softplus as one pass over
 * the rows in L1 (fu_pro_pass): inside the scan's steps its ~70-cycle dependency chain held
 * up retirement and cost more than the pass does. */
typedef struct {
    const float *delta, *u, *z; /* the tile's row at its block's first step; rows D apart */
    float *dtv, *dtu;           /* [TB][16] out (softplus: delta + bias and u until the pass) */
    __m512 bias;
    int64_t rows;    /* rows of the block (0: nothing to do) */
    int64_t pf_rows; /* rows whose row pf_off floats further on exists (prefetched) */
    int64_t D, pf_off;
    __mmask16 mk;
    bool softplus;
} fu_pro;

static inline __attribute__((always_inline)) void fu_pro_row(const fu_pro *p, int64_t tt)
{
    const int64_t o = tt * p->D;
    if (tt < p->pf_rows) {
        _mm_prefetch((const char *)(p->delta + o + p->pf_off), _MM_HINT_T1);
        _mm_prefetch((const char *)(p->u + o + p->pf_off), _MM_HINT_T1);
        if (p->z) _mm_prefetch((const char *)(p->z + o + p->pf_off), _MM_HINT_T1);
    }
    const __m512 x = _mm512_add_ps(_mm512_maskz_loadu_ps(p->mk, p->delta + o), p->bias);
    const __m512 u = _mm512_maskz_loadu_ps(p->mk, p->u + o);
    _mm512_store_ps(p->dtv + 16 * tt, x);
    _mm512_store_ps(p->dtu + 16 * tt, p->softplus ? u : _mm512_mul_ps(x, u));
}

static inline void fu_pro_pass(const fu_pro *p, const mb_exp_tab *tab)
{
    if (!p->softplus) return;
    for (int64_t tt = 0; tt < p->rows; tt++) {
        const __m512 dt = mb_softplus512(_mm512_load_ps(p->dtv + 16 * tt), tab);
        _mm512_store_ps(p->dtv + 16 * tt, dt);
        _mm512_store_ps(p->dtu + 16 * tt, _mm512_mul_ps(dt, _mm512_load_ps(p->dtu + 16 * tt)));
    }
}

/* A diag tile's epilogue for one block: y = (y + D u) * silu(z), out to memory (full
 * aligned lines streamed around the cache: no read of the line first). Row by row inside
 * another tile's scan (fu_epi_row: + D u, and the loads of z into zb), then the gate as one
 * pass (fu_epi_pass), for the same reason as the prologue's softplus. */
typedef struct {
    float *yb;          /* [TB][16] the scan's y */
    float *zb;          /* [TB][16] the rows of z */
    const float *u, *z; /* the tile's row at its block's first step */
    float *y;
    __m512 dsk;
    int64_t rows, D;
    __mmask16 mk;
    bool dskip;
} fu_epi;

static inline __attribute__((always_inline)) void fu_y_out(const fu_epi *e, int64_t o, __m512 y)
{
    if (e->mk == 0xFFFF && !((uintptr_t)(e->y + o) & 63)) _mm512_stream_ps(e->y + o, y);
    else _mm512_mask_storeu_ps(e->y + o, e->mk, y);
}

static inline __attribute__((always_inline)) void fu_epi_row(const fu_epi *e, int64_t tt)
{
    const int64_t o = tt * e->D;
    __m512 y = _mm512_load_ps(e->yb + 16 * tt);
    if (e->dskip) y = _mm512_fmadd_ps(e->dsk, _mm512_maskz_loadu_ps(e->mk, e->u + o), y);
    if (!e->z) {
        fu_y_out(e, o, y);
        return;
    }
    _mm512_store_ps(e->yb + 16 * tt, y);
    _mm512_store_ps(e->zb + 16 * tt, _mm512_maskz_loadu_ps(e->mk, e->z + o));
}

static inline void fu_epi_pass(const fu_epi *e, const mb_exp_tab *tab)
{
    if (!e->z) return;
    for (int64_t tt = 0; tt < e->rows; tt++)
        fu_y_out(e, tt * e->D, mb_silu_mul512(_mm512_load_ps(e->yb + 16 * tt), _mm512_load_ps(e->zb + 16 * tt), tab));
}

/* One register block of nb <= 16 states, diag: h[j] = exp(dt * A[j]) h[j] + dt u B[j];
 * y += C[j] h[j]. A2 [nb][16] holds A log2(e); hm [nb][16] the state in and out.
 * Row t of another tile's prologue (pro) and epilogue (epi), if given, run inside step t:
 * the scan leaves FP add and load/store slots free, and their loads (rows of u, delta, z
 * D floats apart) are issued a whole tile ahead of their use instead of stalling it. */
static inline __attribute__((always_inline)) void
fu_diag_block(const int nb, const int64_t tb, const float *A2, float *hm, const float *dtv,
              const float *dtu, const float *Bp, const float *Cp, int64_t stride, float *yb,
              bool first, const mb_exp_tab *tab, const fu_pro *pro, const fu_epi *epi)
{
    __m512 h[FU_NB];
    for (int j = 0; j < nb; j++) h[j] = _mm512_load_ps(hm + 16 * j);
    for (int64_t t = 0; t < tb; t++) {
        if (pro && t < pro->rows) fu_pro_row(pro, t);
        if (epi && t < epi->rows) fu_epi_row(epi, t);
        const __m512 dt = _mm512_load_ps(dtv + 16 * t), du = _mm512_load_ps(dtu + 16 * t);
        const float *bt = Bp + t * stride, *ct = Cp + t * stride;
        __m512 y0 = first ? _mm512_setzero_ps() : _mm512_load_ps(yb + 16 * t);
        __m512 y1 = _mm512_setzero_ps();
#pragma GCC unroll 16
        for (int j = 0; j < nb; j++) {
            __m512 e = mb_exp2_512(_mm512_mul_ps(dt, _mm512_load_ps(A2 + 16 * j)), tab);
            h[j] = _mm512_fmadd_ps(e, h[j], _mm512_mul_ps(du, _mm512_set1_ps(bt[j])));
            if (j & 1) y1 = _mm512_fmadd_ps(_mm512_set1_ps(ct[j]), h[j], y1);
            else y0 = _mm512_fmadd_ps(_mm512_set1_ps(ct[j]), h[j], y0);
        }
        _mm512_store_ps(yb + 16 * t, _mm512_add_ps(y0, y1));
    }
    for (int j = 0; j < nb; j++) _mm512_store_ps(hm + 16 * j, h[j]);
    /* rows the scan's block was too short for */
    if (pro)
        for (int64_t t = tb; t < pro->rows; t++) fu_pro_row(pro, t);
    if (epi)
        for (int64_t t = tb; t < epi->rows; t++) fu_epi_row(epi, t);
}

/* The same for head problems, where the decay a[t] is one scalar per step, so the state
 * can be carried scaled: h[t] = P[t] g[t] with P the product of the decays since the last
 * restart. Then a step is g[j] += w B[j] with w = dt u / P[t] (one FMA instead of a
 * multiply and an FMA), and y = P[t] C.g is scaled in the epilogue. A restart step
 * (flag rs[t]: the first of the block, or where P would fall below 2^-64, so 1/P stays
 * finite) is the plain update h = (a P_prev) h + dt u B with coefficient cd[t], after
 * which P = 1. hm holds the true state h at the block's end (a checkpoint). */
static inline __attribute__((always_inline)) void
fu_head_block(const int nb, const int64_t tb, float *hm, const float *cd, const float *rs,
              const float *P, const float *dtu, const float *wv, const float *Bp, const float *Cp,
              int64_t stride, float *yb, bool first)
{
    __m512 g[FU_NB];
    for (int j = 0; j < nb; j++) g[j] = _mm512_load_ps(hm + 16 * j);
    for (int64_t t = 0; t < tb; t++) {
        const float *bt = Bp + t * stride, *ct = Cp + t * stride;
        if (rs[t] != 0.0f) {
            const __m512 a = _mm512_set1_ps(cd[t]), du = _mm512_load_ps(dtu + 16 * t);
            for (int j = 0; j < nb; j++) g[j] = _mm512_fmadd_ps(a, g[j], _mm512_mul_ps(du, _mm512_set1_ps(bt[j])));
        } else {
            const __m512 w = _mm512_load_ps(wv + 16 * t);
#pragma GCC unroll 16
            for (int j = 0; j < nb; j++) g[j] = _mm512_fmadd_ps(w, _mm512_set1_ps(bt[j]), g[j]);
        }
        /* four partial sums: the per-step work is short here, so y's chain must be too */
        __m512 y[4] = {first ? _mm512_setzero_ps() : _mm512_load_ps(yb + 16 * t), _mm512_setzero_ps(),
                       _mm512_setzero_ps(), _mm512_setzero_ps()};
#pragma GCC unroll 16
        for (int j = 0; j < nb; j++) y[j & 3] = _mm512_fmadd_ps(_mm512_set1_ps(ct[j]), g[j], y[j & 3]);
        _mm512_store_ps(yb + 16 * t, _mm512_add_ps(_mm512_add_ps(y[0], y[1]), _mm512_add_ps(y[2], y[3])));
    }
    const __m512 pl = _mm512_set1_ps(P[tb - 1]);
    for (int j = 0; j < nb; j++) _mm512_store_ps(hm + 16 * j, _mm512_mul_ps(pl, g[j]));
}

/* fu_head_block for two tiles of one head at once, 8 states each: every broadcast of B[j]
 * and C[j] then feeds two FMAs (the loads, not the FMAs, bound the single-tile loop). */
static inline __attribute__((always_inline)) void
fu_head_block2(const int nb, const int64_t tb, float *hm0, float *hm1, const float *cd, const float *rs,
               const float *P, const float *dtu0, const float *dtu1, const float *wv0, const float *wv1,
               const float *Bp, const float *Cp, int64_t stride, float *yb0, float *yb1, bool first)
{
    __m512 g0[FU_NB / 2], g1[FU_NB / 2];
    for (int j = 0; j < nb; j++) g0[j] = _mm512_load_ps(hm0 + 16 * j), g1[j] = _mm512_load_ps(hm1 + 16 * j);
    for (int64_t t = 0; t < tb; t++) {
        const float *bt = Bp + t * stride, *ct = Cp + t * stride;
        if (rs[t] != 0.0f) {
            const __m512 a = _mm512_set1_ps(cd[t]);
            const __m512 d0 = _mm512_load_ps(dtu0 + 16 * t), d1 = _mm512_load_ps(dtu1 + 16 * t);
            for (int j = 0; j < nb; j++) {
                const __m512 bj = _mm512_set1_ps(bt[j]);
                g0[j] = _mm512_fmadd_ps(a, g0[j], _mm512_mul_ps(d0, bj));
                g1[j] = _mm512_fmadd_ps(a, g1[j], _mm512_mul_ps(d1, bj));
            }
        } else {
            const __m512 w0 = _mm512_load_ps(wv0 + 16 * t), w1 = _mm512_load_ps(wv1 + 16 * t);
#pragma GCC unroll 8
            for (int j = 0; j < nb; j++) {
                const __m512 bj = _mm512_set1_ps(bt[j]);
                g0[j] = _mm512_fmadd_ps(w0, bj, g0[j]);
                g1[j] = _mm512_fmadd_ps(w1, bj, g1[j]);
            }
        }
        __m512 y0[2] = {first ? _mm512_setzero_ps() : _mm512_load_ps(yb0 + 16 * t), _mm512_setzero_ps()};
        __m512 y1[2] = {first ? _mm512_setzero_ps() : _mm512_load_ps(yb1 + 16 * t), _mm512_setzero_ps()};
#pragma GCC unroll 8
        for (int j = 0; j < nb; j++) {
            const __m512 cj = _mm512_set1_ps(ct[j]);
            y0[j & 1] = _mm512_fmadd_ps(cj, g0[j], y0[j & 1]);
            y1[j & 1] = _mm512_fmadd_ps(cj, g1[j], y1[j & 1]);
        }
        _mm512_store_ps(yb0 + 16 * t, _mm512_add_ps(y0[0], y0[1]));
        _mm512_store_ps(yb1 + 16 * t, _mm512_add_ps(y1[0], y1[1]));
    }
    const __m512 pl = _mm512_set1_ps(P[tb - 1]);
    for (int j = 0; j < nb; j++) {
        _mm512_store_ps(hm0 + 16 * j, _mm512_mul_ps(pl, g0[j]));
        _mm512_store_ps(hm1 + 16 * j, _mm512_mul_ps(pl, g1[j]));
    }
}

static inline __mmask16 fu_lanes(int64_t m) { return m >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << m) - 1); }

/* The prologue of the job (block of tb steps at t0, tile i of the unit) into dtv, dtu. */
static fu_pro fu_pro_of(const fu_geom *g, const fu_unit *un, const scan_shape *s, const scan_tensors *t, int64_t t0,
                        int64_t tb, int64_t i, float *dtv, float *dtu)
{
    const fu_tile tl = fu_tile_of(g, un, i, 16);
    const int64_t o = (un->b * g->L + t0) * g->D + tl.c, next = g->L - t0 - tb;
    fu_pro p = {.delta = t->delta + o, .u = t->u + o, .z = t->z ? t->z + o : NULL, .dtv = dtv, .dtu = dtu,
                .rows = tb, .pf_rows = next < tb ? next : tb, .D = g->D, .pf_off = tb * g->D,
                .mk = fu_lanes(tl.m), .softplus = s->softplus};
    p.bias = t->delta_bias ? _mm512_maskz_loadu_ps(p.mk, t->delta_bias + tl.c) : _mm512_setzero_ps();
    return p;
}

/* A diag unit walks time in blocks of (up to) FU_TB steps and, inside a block, tile after
 * tile: a job is one (block, tile). Its prologue (dt = softplus(delta + bias), dt u for its
 * rows), its scan (16 states at a time in registers) and its epilogue (+ D u, * silu(z), y
 * streamed out) are software-pipelined: job k's scan runs the prologue of job k + 1 and the
 * epilogue of job k - 1 row by row inside its steps (double buffers of one tile, 14 KB
 * with zb, L1), so their loads overlap the scan instead of stalling it; softplus and the
 * gate then run as passes over those rows in L1 (fu_pro_pass, fu_epi_pass). The
 * prologue also prefetches the tile's rows of the next block (rows are D floats apart). */
static void fu_run_unit_diag(const fu_geom *g, const scan_shape *s, const scan_tensors *t, int64_t unit,
                             float *scr, const fu_ckpt *cp)
{
    const int64_t L = g->L, D = g->D, N = g->N, G = g->G;
    const fu_unit un = fu_unit_of(g, unit);
    const int64_t b = un.b, ntl = un.ntl;
    const mb_exp_tab tab = mb_exp_tab_init();
    float *hm = scr;                /* [ntl][N][16] state */
    float *A2 = hm + ntl * N * 16;  /* [ntl][N][16] A[c, n] log2(e) */
    float *dtv = A2 + ntl * N * 16; /* [2][TB][16] dt of a job (even, odd jobs) */
    float *dtu = dtv + 2 * FU_TB * 16; /* [2][TB][16] dt * u */
    float *yb = dtu + 2 * FU_TB * 16;  /* [2][TB][16] y before D u and the gate */
    float *zb = yb + 2 * FU_TB * 16;   /* [TB][16] split: z rows of the epilogue */

    // ---- the state in (transposed to [n][lane]) and the scaled A
    for (int64_t i = 0; i < ntl; i++) {
        const fu_tile tl = fu_tile_of(g, &un, i, 16);
        float *h = hm + i * N * 16, *a2 = A2 + i * N * 16;
        memset(h, 0, (size_t)(N * 16) * sizeof(float));
        memset(a2, 0, (size_t)(N * 16) * sizeof(float));
        for (int64_t l = 0; l < tl.m; l++)
            for (int64_t n = 0; n < N; n++) {
                if (t->h0) h[n * 16 + l] = t->h0[(b * D + tl.c + l) * N + n];
                a2[n * 16 + l] = t->A[(tl.c + l) * N + n] * MB_LOG2E;
            }
    }
    const int64_t tb0 = fu_block_len(L, 0, cp);
    fu_pro pro = fu_pro_of(g, &un, s, t, 0, tb0, 0, dtv, dtu);
    for (int64_t tt = 0; tt < tb0; tt++) fu_pro_row(&pro, tt);
    fu_pro_pass(&pro, &tab);

    fu_epi epi = {0}; /* the epilogue of the previous job (rows 0: none yet) */
    int64_t k = 0;    /* job number */
    for (int64_t t0 = 0, tb; t0 < L; t0 += tb) {
        tb = fu_block_len(L, t0, cp);
        const int64_t bl0 = b * L + t0;
        for (int64_t i = 0; i < ntl; i++, k++) {
            const fu_tile tl = fu_tile_of(g, &un, i, 16);
            // ---- the next job's prologue, run inside this scan
            float *dv1 = dtv + ((k + 1) & 1) * FU_TB * 16, *du1 = dtu + ((k + 1) & 1) * FU_TB * 16;
            pro.rows = 0;
            if (i + 1 < ntl) pro = fu_pro_of(g, &un, s, t, t0, tb, i + 1, dv1, du1);
            else if (t0 + tb < L) pro = fu_pro_of(g, &un, s, t, t0 + tb, fu_block_len(L, t0 + tb, cp), 0, dv1, du1);
            // ---- the scan, one register block of states at a time
            const float *Bp = t->Bm + (bl0 * G + tl.grp) * N, *Cp = t->Cm + (bl0 * G + tl.grp) * N;
            float *h = hm + i * N * 16, *y = yb + (k & 1) * FU_TB * 16;
            const float *a2 = A2 + i * N * 16, *dv = dtv + (k & 1) * FU_TB * 16, *du = dtu + (k & 1) * FU_TB * 16;
            for (int64_t n0 = 0; n0 < N; n0 += FU_NB) {
                const int nb = N - n0 < FU_NB ? (int)(N - n0) : FU_NB;
                const fu_pro *pp = n0 == 0 ? &pro : NULL;
                const fu_epi *ep = n0 == 0 ? &epi : NULL;
                if (nb == FU_NB)
                    fu_diag_block(FU_NB, tb, a2 + n0 * 16, h + n0 * 16, dv, du, Bp + n0, Cp + n0, G * N, y, n0 == 0,
                                  &tab, pp, ep);
                else
                    fu_diag_block(nb, tb, a2 + n0 * 16, h + n0 * 16, dv, du, Bp + n0, Cp + n0, G * N, y, n0 == 0,
                                  &tab, pp, ep);
            }
            fu_epi_pass(&epi, &tab);
            fu_pro_pass(&pro, &tab);
            // ---- this job's epilogue runs inside the next one's scan
            const int64_t eo = bl0 * D + tl.c;
            epi.mk = fu_lanes(tl.m);
            epi.yb = y, epi.u = t->u + eo, epi.z = t->z ? t->z + eo : NULL, epi.y = t->y + eo;
            epi.dskip = t->Dskip != NULL;
            epi.dsk = t->Dskip ? _mm512_maskz_loadu_ps(epi.mk, t->Dskip + tl.c) : _mm512_setzero_ps();
            epi.rows = tb, epi.D = D, epi.zb = zb;
        }
        fu_ckpt_store(g, &un, cp, hm, t0 + tb, 16);
    }
    for (int64_t tt = 0; tt < epi.rows; tt++) fu_epi_row(&epi, tt);
    fu_epi_pass(&epi, &tab);
    // ---- the final state out
    if (t->h_last) fu_h_last_out(g, &un, hm, t, 16);
}

/* The prefetches (into L2) of one block's rows for a head unit: rows are D floats apart, a
 * new page each, where the hardware prefetchers stop. Per row, u's and z's lines of every
 * tile of the unit, and the first line of y's: the epilogue's streaming stores of y start
 * a new page each row, and a store that misses the TLB waits for the page walk; this load
 * walks it early (one line of y, not the row's four: the others would be read only to be
 * overwritten; measured: all four lines slower than one). Issued a few at a time between
 * the scan's register blocks (fu_pfq_run) rather than all at the prologue: a burst of
 * hundreds of misses fills the miss queues and stalls the loads behind it. */
typedef struct {
    const fu_unit *un; /* whose rows (NULL: none) */
    int64_t row0;      /* first row, of [B][L] */
    int64_t next, total; /* items done and to do: item j is tile j % ntl of row j / ntl */
} fu_pfq;

static inline void fu_pfq_run(const fu_geom *g, const scan_tensors *t, fu_pfq *q, int64_t count)
{
    if (!q->un) return;
    const int64_t ntl = q->un->ntl;
    for (int64_t end = q->next + count < q->total ? q->next + count : q->total; q->next < end; q->next++) {
        const int64_t i = q->next % ntl, o = (q->row0 + q->next / ntl) * g->D;
        const int64_t c = fu_tile_of(g, q->un, i, 16).c;
        if (i == 0) _mm_prefetch((const char *)(t->y + o + c), _MM_HINT_T1);
        _mm_prefetch((const char *)(t->u + o + c), _MM_HINT_T1);
        if (t->z) _mm_prefetch((const char *)(t->z + o + c), _MM_HINT_T1);
    }
}

/* A head unit (whole heads of one batch element) over the steps [ta, tz): blocks of FU_TB
 * steps; per block the prologue (dt and the decay per (head, step), dt u and w = dt u / P)
 * and the epilogue (+ D u, the gate, y out) go row by row over all the unit's tiles, so
 * memory is read and written in contiguous runs; the scans in between go tile by tile
 * (two tiles of a head at once) with the state in registers. hm [ntl][N][16] is the unit's
 * state, kept between calls (read from h0 at ta = 0, written to h_last at tz = L); buf its
 * per-block buffers (fu_geom_init: buf_floats). */
static void fu_run_unit(const fu_geom *g, const scan_shape *s, const scan_tensors *t, int64_t unit, float *hm,
                        float *buf, const fu_ckpt *cp, int64_t ta, int64_t tz, const fu_unit *nx, int64_t nt)
{
    const int64_t nx_rows = nx ? (g->L - nt < FU_TB ? g->L - nt : FU_TB) : 0;
    const int64_t L = g->L, D = g->D, N = g->N, G = g->G, K = g->K;
    const fu_unit un = fu_unit_of(g, unit);
    const int64_t b = un.b, ntl = un.ntl;
    const int64_t nheads = ntl / g->seg_tiles, k0 = fu_tile_of(g, &un, 0, 16).k;
    const mb_exp_tab tab = mb_exp_tab_init();
    float *dtv = buf;                    /* [ntl][TB][16] w = dt u / P */
    float *dtu = dtv + ntl * FU_TB * 16; /* [ntl][TB][16] dt * u */
    float *yb = dtu + ntl * FU_TB * 16;  /* [ntl][TB][16] y */
    float *dts = yb + ntl * FU_TB * 16;  /* [nheads][TB] dt per step */
    float *dec = dts + nheads * FU_TB;   /* [nheads][TB] exp(dt A), then restart coefficients */
    float *Ps = dec + nheads * FU_TB;    /* [nheads][TB] scale P of the state */
    float *iPs = Ps + nheads * FU_TB;    /* [nheads][TB] 1 / P */
    float *rst = iPs + nheads * FU_TB;   /* [nheads][TB] restart flags */

    // ---- the state in (transposed to [n][lane])
    if (ta == 0)
        for (int64_t i = 0; i < ntl; i++) {
            const fu_tile tl = fu_tile_of(g, &un, i, 16);
            float *h = hm + i * N * 16;
            memset(h, 0, (size_t)(N * 16) * sizeof(float));
            if (t->h0)
                for (int64_t l = 0; l < tl.m; l++)
                    for (int64_t n = 0; n < N; n++) h[n * 16 + l] = t->h0[(b * D + tl.c + l) * N + n];
        }
    /* lane masks: the unit's lanes are its tiles' lanes; a tile's dead lanes are masked */
    const int64_t seg_m = g->seg - (g->seg_tiles - 1) * 16; /* live lanes of a head's last tile */
    const __mmask16 full = 0xFFFF, last = (__mmask16)((1u << seg_m) - 1);

    for (int64_t t0 = ta, tb; t0 < tz; t0 += tb) {
        tb = fu_block_len(L, t0, cp);
        if (tb > tz - t0) tb = tz - t0;
        const int64_t bl0 = b * L + t0;
        // ---- dt and the decay, one per (head, step), 16 steps a vector
        for (int64_t hh = 0; hh < nheads; hh++) {
            const int64_t k = k0 + hh;
            float *ds = dts + hh * FU_TB, *de = dec + hh * FU_TB;
            const float bias_k = t->delta_bias ? t->delta_bias[k] : 0.0f;
            const __m512 A2k = _mm512_set1_ps(t->A[k] * MB_LOG2E);
            for (int64_t i = 0; i < tb; i++) ds[i] = t->delta[(bl0 + i) * K + k] + bias_k;
            for (int64_t i = tb; i < (tb + 15) / 16 * 16; i++) ds[i] = 0.0f;
            for (int64_t i = 0; i < tb; i += 16) {
                __m512 d = _mm512_load_ps(ds + i);
                if (s->softplus) d = mb_softplus512(d, &tab);
                _mm512_store_ps(ds + i, d);
                _mm512_store_ps(de + i, mb_exp2_512(_mm512_mul_ps(d, A2k), &tab));
            }
            /* the scale P of the carried state (see fu_head_block) */
            float *ps = Ps + hh * FU_TB, *ips = iPs + hh * FU_TB, *rs = rst + hh * FU_TB;
            float P = 1.0f;
            for (int64_t i = 0; i < tb; i++) {
                const float a = de[i], Pn = P * a;
                if (i == 0 || !(Pn >= 0x1p-64f)) {
                    rs[i] = 1.0f, de[i] = a * P, P = 1.0f;
                } else {
                    rs[i] = 0.0f, P = Pn;
                }
                ps[i] = P, ips[i] = 1.0f / P;
            }
        }
        /* the rows of the unit's next block, or on the chunk's last block those of the
         * next unit's first block, fetched while this one computes (fu_pfq) */
        fu_pfq pq = {NULL, 0, 0, 0};
        if (t0 + tb < tz) {
            const int64_t nb = fu_block_len(L, t0 + tb, cp);
            pq = (fu_pfq){&un, bl0 + tb, 0, (nb < tz - t0 - tb ? nb : tz - t0 - tb) * ntl};
        } else if (nx) {
            pq = (fu_pfq){nx, nx->b * L + nt, 0, nx_rows * nx->ntl};
        }
        const int64_t calls = ntl * ((N + FU_NB - 1) / FU_NB); /* the scan's register blocks, about */
        const int64_t pq_per = (pq.total + calls - 1) / calls;
        // ---- prologue, row by row: dt * u and w = dt u / P
        for (int64_t tt = 0; tt < tb; tt++) {
            const int64_t bl = bl0 + tt;
            const float *urow = t->u + bl * D;
            for (int64_t i = 0; i < ntl; i++) {
                const fu_tile tl = fu_tile_of(g, &un, i, 16);
                const __mmask16 mk = tl.m == 16 ? full : last;
                const __m512 dt = _mm512_set1_ps(dts[(tl.k - k0) * FU_TB + tt]);
                const __m512 du = _mm512_mul_ps(dt, _mm512_maskz_loadu_ps(mk, urow + tl.c));
                _mm512_store_ps(dtu + (i * FU_TB + tt) * 16, du);
                _mm512_store_ps(dtv + (i * FU_TB + tt) * 16, _mm512_mul_ps(du, _mm512_set1_ps(iPs[(tl.k - k0) * FU_TB + tt])));
            }
        }
        // ---- the scan, tile by tile (two tiles of a head at once), one register block of states at a time
        for (int64_t i = 0; i < ntl; i++) {
            const fu_tile tl = fu_tile_of(g, &un, i, 16);
            const int64_t o = (tl.k - k0) * FU_TB;
            const float *Bp = t->Bm + (bl0 * G + tl.grp) * N, *Cp = t->Cm + (bl0 * G + tl.grp) * N;
            if (i + 1 < ntl && tl.m == 16) {
                const fu_tile t2 = fu_tile_of(g, &un, i + 1, 16);
                if (t2.k == tl.k && t2.m == 16) { /* two full tiles of one head: as a pair */
                    float *h0 = hm + i * N * 16, *h1 = hm + (i + 1) * N * 16;
                    float *y0 = yb + i * FU_TB * 16, *y1 = yb + (i + 1) * FU_TB * 16;
                    const float *d0 = dtu + i * FU_TB * 16, *d1 = dtu + (i + 1) * FU_TB * 16;
                    const float *w0 = dtv + i * FU_TB * 16, *w1 = dtv + (i + 1) * FU_TB * 16;
                    for (int64_t n0 = 0; n0 < N; n0 += FU_NB / 2) {
                        const int nb = N - n0 < FU_NB / 2 ? (int)(N - n0) : FU_NB / 2;
                        fu_pfq_run(g, t, &pq, pq_per);
                        if (nb == FU_NB / 2)
                            fu_head_block2(FU_NB / 2, tb, h0 + n0 * 16, h1 + n0 * 16, dec + o, rst + o, Ps + o, d0, d1,
                                           w0, w1, Bp + n0, Cp + n0, G * N, y0, y1, n0 == 0);
                        else
                            fu_head_block2(nb, tb, h0 + n0 * 16, h1 + n0 * 16, dec + o, rst + o, Ps + o, d0, d1,
                                           w0, w1, Bp + n0, Cp + n0, G * N, y0, y1, n0 == 0);
                    }
                    i++;
                    continue;
                }
            }
            float *h = hm + i * N * 16, *y = yb + i * FU_TB * 16;
            const float *du = dtu + i * FU_TB * 16, *wv = dtv + i * FU_TB * 16;
            for (int64_t n0 = 0; n0 < N; n0 += FU_NB) {
                const int nb = N - n0 < FU_NB ? (int)(N - n0) : FU_NB;
                fu_pfq_run(g, t, &pq, pq_per);
                if (nb == FU_NB)
                    fu_head_block(FU_NB, tb, h + n0 * 16, dec + o, rst + o, Ps + o, du, wv, Bp + n0, Cp + n0, G * N, y, n0 == 0);
                else
                    fu_head_block(nb, tb, h + n0 * 16, dec + o, rst + o, Ps + o, du, wv, Bp + n0, Cp + n0, G * N, y, n0 == 0);
            }
        }
        fu_pfq_run(g, t, &pq, pq.total); /* what the scan left */
        // ---- epilogue, row by row: y P + D u, * silu(z), store y
        for (int64_t tt = 0; tt < tb; tt++) {
            const int64_t bl = bl0 + tt;
            const float *urow = t->u + bl * D, *zrow = t->z ? t->z + bl * D : NULL;
            float *yrow = t->y + bl * D;
            for (int64_t i = 0; i < ntl; i++) {
                const fu_tile tl = fu_tile_of(g, &un, i, 16);
                const __mmask16 mk = tl.m == 16 ? full : last;
                __m512 y = _mm512_mul_ps(_mm512_load_ps(yb + (i * FU_TB + tt) * 16), _mm512_set1_ps(Ps[(tl.k - k0) * FU_TB + tt]));
                if (t->Dskip) y = _mm512_fmadd_ps(_mm512_set1_ps(t->Dskip[tl.k]), _mm512_maskz_loadu_ps(mk, urow + tl.c), y);
                if (zrow) y = mb_silu_mul512(y, _mm512_maskz_loadu_ps(mk, zrow + tl.c), &tab);
                /* full aligned lines of y go around the cache (no read of the line first) */
                if (mk == full && !((uintptr_t)(yrow + tl.c) & 63)) _mm512_stream_ps(yrow + tl.c, y);
                else _mm512_mask_storeu_ps(yrow + tl.c, mk, y);
            }
        }
        fu_ckpt_store(g, &un, cp, hm, t0 + tb, 16);
    }
    // ---- the final state out
    if (tz == L && t->h_last) fu_h_last_out(g, &un, hm, t, 16);
}

#else
// ---------------------------------------------------------------- portable (AVX2 / scalar)


static inline float fu_silu(float z)
{
    float e = mb_exp_portable(-fabsf(z));
    return (z < 0 ? z * e : z) / (1.0f + e);
}

static void fu_run_unit(const fu_geom *g, const scan_shape *s, const scan_tensors *t, int64_t unit,
                        float *scr, const fu_ckpt *cp)
{
    const int64_t L = g->L, D = g->D, N = g->N, G = g->G, K = g->K, VL = FU_VL;
    const fu_unit un = fu_unit_of(g, unit);
    const int64_t b = un.b, ntl = un.ntl;
    /* [ntl][N][VL] state, after the A2 part that only diag problems reserve (fu_geom_init) */
    float *hm = scr + (g->head ? 0 : ntl * N * VL);
    float *dtv = hm + ntl * N * VL; /* [TB][VL] dt */
    float *dtu = dtv + FU_TB * VL;  /* [TB][VL] dt * u */
    float *yb = dtu + FU_TB * VL;   /* [TB][VL] y */
    float *dec = yb + FU_TB * VL;   /* [TB] head: exp(dt A) per step */

    for (int64_t i = 0; i < ntl; i++) {
        const fu_tile tl = fu_tile_of(g, &un, i, VL);
        float *h = hm + i * N * VL;
        memset(h, 0, (size_t)(N * VL) * sizeof(float));
        if (t->h0)
            for (int64_t l = 0; l < tl.m; l++)
                for (int64_t n = 0; n < N; n++) h[n * VL + l] = t->h0[(b * D + tl.c + l) * N + n];
    }
    for (int64_t t0 = 0, tb; t0 < L; t0 += tb) {
        tb = fu_block_len(L, t0, cp);
        const int64_t bl0 = b * L + t0;
        for (int64_t i = 0; i < ntl; i++) {
            const fu_tile tl = fu_tile_of(g, &un, i, VL);
            const int64_t c = tl.c, m = tl.m;
            float *h = hm + i * N * VL;
            for (int64_t tt = 0; tt < tb; tt++) {
                const int64_t bl = bl0 + tt;
                for (int64_t l = 0; l < VL; l++) {
                    const int64_t k = g->head ? tl.k : c + l;
                    float dt = 0.0f, u = 0.0f;
                    if (l < m) {
                        dt = t->delta[bl * K + k] + (t->delta_bias ? t->delta_bias[k] : 0.0f);
                        if (s->softplus) dt = mb_softplusf(dt);
                        u = t->u[bl * D + c + l];
                    }
                    dtv[tt * VL + l] = dt;
                    dtu[tt * VL + l] = dt * u;
                }
                if (g->head) dec[tt] = mb_exp_portable(dtv[tt * VL] * t->A[tl.k]);
            }
            const float *Bp = t->Bm + (bl0 * G + tl.grp) * N, *Cp = t->Cm + (bl0 * G + tl.grp) * N;
            for (int64_t tt = 0; tt < tb; tt++) {
                const float *bt = Bp + tt * G * N, *ct = Cp + tt * G * N;
                float y[FU_VL] = {0};
                for (int64_t n = 0; n < N; n++) {
                    float *hn = h + n * VL;
                    for (int64_t l = 0; l < VL; l++) {
                        const int64_t d = l < m ? c + l : c; /* dead lanes reuse a live channel's A */
                        const float a = g->head ? dec[tt] : mb_exp_portable(dtv[tt * VL + l] * t->A[d * N + n]);
                        hn[l] = a * hn[l] + dtu[tt * VL + l] * bt[n];
                        y[l] += ct[n] * hn[l];
                    }
                }
                for (int64_t l = 0; l < VL; l++) yb[tt * VL + l] = y[l];
            }
            for (int64_t tt = 0; tt < tb; tt++) {
                const int64_t bl = bl0 + tt;
                for (int64_t l = 0; l < m; l++) {
                    float y = yb[tt * VL + l];
                    const float u = t->u[bl * D + c + l];
                    if (t->Dskip) y += t->Dskip[g->head ? tl.k : c + l] * u;
                    if (t->z) y *= fu_silu(t->z[bl * D + c + l]);
                    t->y[bl * D + c + l] = y;
                }
            }
        }
        fu_ckpt_store(g, &un, cp, hm, t0 + tb, VL);
    }
    if (t->h_last) fu_h_last_out(g, &un, hm, t, VL);
}
#endif

// ---------------------------------------------------------------- the kernel

static void fu_run(const scan_shape *s, const scan_tensors *t, const scan_opts *o, void *ws, const fu_ckpt *cp)
{
    const int threads = o->threads > 0 ? o->threads : 1;
    fu_geom g;
    fu_geom_init(&g, s, threads);
    float *scratch = ws; /* [threads][thread_floats] */
#pragma omp parallel num_threads(threads)
    {
        const int tid = omp_get_thread_num();
        float *scr = scratch + (size_t)tid * g.thread_floats;
#if defined(__AVX512F__)
        if (g.head) {
            /* the thread's units (a contiguous share, as schedule(static) would give), a
             * run of one batch element at a time: chunk of tc steps after chunk, every
             * unit of the run over the chunk, so each row's page of u, z, y is visited by
             * all the run's units within one chunk (see kernels/README.md, fused) */
            /* shared out over the team it got, which may be smaller than asked (a nested
             * region, OMP_THREAD_LIMIT); a run holds at most g.live states (the scratch's) */
            const int team = omp_get_num_threads();
            const int64_t q = g.units / team, r = g.units % team;
            const int64_t lo = tid * q + (tid < r ? tid : r), hi = lo + q + (tid < r);
            float *buf = scr + g.live * g.state_floats;
            for (int64_t u0 = lo, u1; u0 < hi; u0 = u1) {
                const int64_t b = fu_unit_of(&g, u0).b;
                for (u1 = u0 + 1; u1 < hi && u1 - u0 < g.live && fu_unit_of(&g, u1).b == b; u1++) {}
                for (int64_t ta = 0; ta < g.L; ta += g.tc) {
                    const int64_t tz = g.L - ta < g.tc ? g.L : ta + g.tc;
                    for (int64_t u = u0; u < u1; u++) {
                        /* the unit after this one: the next of the run over this chunk,
                         * or the run's first over the next chunk */
                        const fu_unit nx = fu_unit_of(&g, u + 1 < u1 ? u + 1 : u0);
                        const int64_t nt = u + 1 < u1 ? ta : tz;
                        fu_run_unit(&g, s, t, u, scr + (u - u0) * g.state_floats, buf, cp, ta, tz,
                                    nt < g.L ? &nx : NULL, nt);
                    }
                }
            }
        } else {
#pragma omp for schedule(static)
            for (int64_t u = 0; u < g.units; u++) fu_run_unit_diag(&g, s, t, u, scr, cp);
        }
        _mm_sfence(); /* the streamed stores of y are visible before the kernel returns */
#else
#pragma omp for schedule(static)
        for (int64_t u = 0; u < g.units; u++) fu_run_unit(&g, s, t, u, scr, cp);
#endif
    }
}

static int fu_forward(const scan_shape *s, const scan_tensors *t, const scan_opts *o, void *ws, mb_err *err)
{
    (void)err;
    const fu_ckpt none = {NULL, 0};
    fu_run(s, t, o, ws, &none);
    return 0;
}

int scan_fused_forward_ckpt(const scan_shape *s, const scan_tensors *t, const scan_opts *o, void *ws, float *ckpt,
                            int64_t every, mb_err *err)
{
    if (every < 1) return mb_fail(err, "fused: checkpoint interval %lld must be >= 1", (long long)every);
    const fu_ckpt cp = {ckpt, every};
    fu_run(s, t, o, ws, &cp);
    return 0;
}

/* Counted from the algorithm, per state update (diag): dt*A (1), dt*u*B (1, dt*u hoisted),
 * a*h + x (2), C*h (2) = 6 flops and one exp. Head problems, AVX-512 path (scaled state,
 * see fu_head_block): g += w B (2) and C*g (2) per update, plus the multiply by dt u on
 * restart steps: one per block of FU_TB steps at least (more where dt*A is so negative
 * that the scale would pass 2^-64: data-dependent, not counted); per (b, t, channel) w and
 * the scale of y (2); per (b, t, head) dt*A, the product P and 1/P (3). Portable path:
 * a*h + x with x = dt*u*B, C*h (5 per update), dt*A per (t, head). Per (b, t, channel)
 * also dt*u (1), D*u (2), the gate (4: silu's add, divide, multiply and y's multiply).
 * Exps: one per update (diag) or per (head, step); softplus per dt entry and step, silu
 * per channel and step. Bytes: every tensor once, plus the per-thread scratch written and
 * read once (it stays in L1/L2). */
static void fu_cost(const scan_shape *s, const scan_opts *o, scan_cost *c)
{
    const double upd = scan_shape_updates(s);
    const double BL = (double)s->batch * s->seqlen, BLD = BL * s->channels;
    const bool head = s->a_kind == SCAN_A_HEAD;
    const double BLK = BL * (double)scan_shape_k(s);
#if defined(__AVX512F__)
    /* the gate y z / (1 + e) (mb_silu_mul512: the exp's argument scaling is the exp's): 3 */
    const double per_tc = 1 + (s->has_dskip ? 2 : 0) + (s->has_z ? 3 : 0);
    const double restarts = (double)s->batch * (double)((s->seqlen + FU_TB - 1) / FU_TB) * s->channels * s->d_state;
    c->flops = head ? 4.0 * upd + restarts + 3.0 * BLK + BLD * (per_tc + 2) : 6.0 * upd + BLD * per_tc;
#else
    /* the gate y silu(z), silu = z e / (1 + e) or z / (1 + e) with e = exp(-|z|): 4 */
    const double per_tc = 1 + (s->has_dskip ? 2 : 0) + (s->has_z ? 4 : 0);
    c->flops = head ? 5.0 * upd + BLK + BLD * per_tc : 6.0 * upd + BLD * per_tc;
#endif
    c->exps = (head ? BLK : upd) + (s->softplus ? BLK : 0) + (s->has_z ? BLD : 0);
    c->workspace = (double)fu_workspace(s, o);
    c->bytes = (double)scan_shape_tensor_bytes(s) + 2.0 * c->workspace;
}

const scan_kernel scan_kernel_fused = {
    .name = "fused",
#if defined(__AVX512F__)
    .exp_routine = "mb_exp_avx512",
#else
    .exp_routine = "mb_exp_portable",
#endif
    .summary = "state in registers, one pass over t per channel tile, exp(dt*A) on the fly",
    .supports = "diag and head, every optional tensor",
    .unsupported = fu_unsupported,
    .workspace_bytes = fu_workspace,
    .forward = fu_forward,
    .cost = fu_cost,
    /* training: kernels/fused_backward.c (checkpoints every opts.checkpoint steps) */
    .saved_bytes = scan_fused_saved_bytes,
    .forward_save = scan_fused_forward_save,
    .backward_workspace_bytes = scan_fused_backward_workspace,
    .backward = scan_fused_backward,
    .backward_cost = scan_fused_backward_cost,
};

/* kernels/sequential.c: the materialising sequential scan (mamba.py's
 * selective_scan_seq, the official selective_scan_ref).
 *
 * Phase 1 materialises deltaA = exp(dt*A) and deltaB_u = dt*B*u as [B][L][D][N] in
 * the workspace; phase 2 walks t once, h = deltaA*h + deltaB_u and y = C.h, for every
 * (b, d). Threads split the B*D (batch, channel) pairs statically, the same split in
 * both phases, so each thread reads back what it wrote. exp is glibc's scalar expf.
 *
 * Loop order: t outer, the thread's channels inner (as selective_scan_seq's
 * "for t: h = deltaA[:, t] * h + deltaB_u[:, t]" over all channels at once), so each
 * thread reads and writes one contiguous run of every [D][N] row per step; the states of
 * the thread's channels (its share of [B][D][N], 48 KB on the Mamba-1 shape) stay in
 * L1/L2. Walking t once per channel instead put every (t, d) row on a new 4 KiB page
 * (rows are D*N floats apart): one TLB miss and one DRAM latency per 64 bytes, 2.8x
 * the time per step from L 8192 to 16384 (kernels/README.md, "L scaling").
 * Past a few MB the materialised rows are written with non-temporal stores (no
 * read-for-ownership of lines that phase 2 reads back from DRAM anyway). */
#include <math.h>
#include <omp.h>
#if defined(__AVX512F__)
#include <immintrin.h>
#endif

#include "scan.h"
#include "simd.h"

static const char *seq_unsupported(const scan_shape *s, const scan_opts *o)
{
    (void)s, (void)o;
    return NULL;
}

/* one state row: N floats padded to 16 (64 bytes) */
static int64_t seq_hrow(const scan_shape *s) { return (s->d_state + 15) / 16 * 16; }

/* deltaA, deltaB_u: 2 x [B][L][D][N] floats, then the states [B][D][hrow] */
static size_t seq_workspace(const scan_shape *s, const scan_opts *o)
{
    (void)o;
    return (2 * (size_t)s->batch * s->seqlen * s->channels * s->d_state +
            (size_t)s->batch * s->channels * seq_hrow(s)) * sizeof(float);
}


/* The (batch, channel) pairs [lo, hi) of thread me of nth (the static split). */
static void seq_share(int64_t pairs, int me, int nth, int64_t *lo, int64_t *hi)
{
    *lo = pairs * me / nth;
    *hi = pairs * (me + 1) / nth;
}

/* Bytes of materialised rows above which they are stored non-temporally: past the L2 of
 * a core. Measured (Mamba-1 shape, 2 threads, phase 1 per (t, channel) and thread):
 * streaming stores were faster at every L from 128 (25 MB, inside the 32 MB L3) to 8192;
 * at L 2048 0.123 s against 0.157 s for the whole forward. */
#define SEQ_NT_BYTES ((int64_t)4 << 20)

/* dst[0..n) = src[0..n): a streaming (non-temporal) store when nt and the rows are whole
 * aligned 16-float vectors, else a plain one. */
static inline void seq_put(float *dst, const float *src, int64_t n, bool nt)
{
#if defined(__AVX512F__)
    if (nt) {
        for (int64_t i = 0; i < n; i += 16) _mm512_stream_ps(dst + i, _mm512_loadu_ps(src + i));
        return;
    }
#endif
    (void)nt;
    for (int64_t i = 0; i < n; i++) dst[i] = src[i];
}

/* for every (b, d) pair of [lo, hi) at step l, in memory order, with bl = b L + l, the
 * dt entry k and the group g (no division per pair where K = D or G = 1). Two loops:
 * the body that follows is the inner loop's. */
#define SEQ_FOR_PAIRS(lo, hi)                                                                      \
    for (int64_t b = (lo) / D, bl = b * L + l; b * D < (hi); b++, bl += L)                          \
        for (int64_t d = (lo) > b * D ? (lo) - b * D : 0, d_end = (hi) - b * D < D ? (hi) - b * D : D, \
                     k = per_k == 1 ? d : d / per_k, g = G == 1 ? 0 : d / per_group;                    \
             d < d_end; d++, k = per_k == 1 ? d : d / per_k, g = G == 1 ? 0 : d / per_group)

/* The forward on given buffers: deltaA, deltaB_u [B][L][D][N], states [B][D][hrow].
 * keep_states: phase 2 overwrites deltaB_u with the states h_t (training). */
static void seq_run(const scan_shape *s, const scan_tensors *t, const scan_opts *o, float *dA, float *dBu,
                    float *hs, bool keep_states)
{
    const int64_t B = s->batch, L = s->seqlen, D = s->channels, N = s->d_state, G = s->groups;
    const int64_t K = scan_shape_k(s), per_k = D / K, per_group = D / G, HR = seq_hrow(s);
    const bool head = s->a_kind == SCAN_A_HEAD;
    const int64_t bytes = 2 * B * L * D * N * (int64_t)sizeof(float);
#if defined(__AVX512F__)
    /* whole aligned rows of 16: N a multiple of 16 (the workspace is 64-byte aligned) */
    const bool nt = N % 16 == 0 && bytes > SEQ_NT_BYTES;
#else
    const bool nt = false;
    (void)bytes;
#endif

#pragma omp parallel num_threads(o->threads > 0 ? o->threads : 1)
    {
        int64_t lo, hi;
        seq_share(B * D, omp_get_thread_num(), omp_get_num_threads(), &lo, &hi);
        float ra[16], rx[16]; /* one row chunk of 16 before it is stored */
        // ---- phase 1: materialise deltaA and deltaB_u, t after t, the thread's channels
        for (int64_t l = 0; l < L; l++) {
            SEQ_FOR_PAIRS(lo, hi) {
                float dt = t->delta[bl * K + k] + (t->delta_bias ? t->delta_bias[k] : 0.0f);
                if (s->softplus) dt = mb_softplusf(dt);
                const float du = dt * t->u[bl * D + d];
                const float *Bm = t->Bm + (bl * G + g) * N;
                float *a = dA + (bl * D + d) * N, *x = dBu + (bl * D + d) * N;
                const float e = head ? expf(dt * t->A[k]) : 0.0f;
                const float *A = t->A + d * N;
                for (int64_t n0 = 0; n0 < N; n0 += 16) {
                    const int64_t m = N - n0 < 16 ? N - n0 : 16;
                    /* the arguments first, then the calls: expf between the products
                     * of one loop ran at 2.1 ns a call here, after them at 1.6 */
                    for (int64_t j = 0; j < m; j++) ra[j] = head ? e : dt * A[n0 + j];
                    if (!head)
                        for (int64_t j = 0; j < m; j++) ra[j] = expf(ra[j]);
                    for (int64_t j = 0; j < m; j++) rx[j] = du * Bm[n0 + j];
                    seq_put(a + n0, ra, m, nt);
                    seq_put(x + n0, rx, m, nt);
                }
            }
        }
#if defined(__AVX512F__)
        if (nt) _mm_sfence(); /* the streamed rows are visible before phase 2 reads them */
#endif
        // ---- phase 2: h = deltaA * h + deltaB_u; y = C . h (+ D u, * silu(z))
        for (int64_t bd = lo; bd < hi; bd++)
            for (int64_t n = 0; n < N; n++) hs[bd * HR + n] = t->h0 ? t->h0[bd * N + n] : 0.0f;
        for (int64_t l = 0; l < L; l++) {
            SEQ_FOR_PAIRS(lo, hi) {
                float *h = hs + (b * D + d) * HR;
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
                t->y[bl * D + d] = mb_readoutf(acc, t->Dskip ? t->Dskip + k : NULL, t->u[bl * D + d],
                                               t->z ? t->z + bl * D + d : NULL);
            }
        }
        if (t->h_last)
            for (int64_t bd = lo; bd < hi; bd++)
                for (int64_t n = 0; n < N; n++) t->h_last[bd * N + n] = hs[bd * HR + n];
    }
}

static int seq_forward(const scan_shape *s, const scan_tensors *t, const scan_opts *o, void *ws, mb_err *err)
{
    (void)err;
    const int64_t BLDN = s->batch * s->seqlen * s->channels * s->d_state;
    float *dA = ws;          /* [B][L][D][N] */
    float *dBu = dA + BLDN;  /* [B][L][D][N] */
    float *hs = dBu + BLDN;  /* [B][D][hrow] */
    seq_run(s, t, o, dA, dBu, hs, false);
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
 * down once; threads split the (batch, dt entry k) units (one channel for diag, a head's
 * channels for head, so ddelta needs no reduction across threads); at each step every
 * channel of the thread's units updates its adjoint gh (a row of [B][D][hrow]):
 *     gh += gy C_t;  ddt += gh . (A deltaA h_{t-1} + B_t u);  dA += dt gh deltaA h_{t-1};
 *     dB_t += dt u gh;  du += dt gh . B_t;  gh *= deltaA
 * (t outer, channels inner, like the forward: contiguous runs of every row). Parameter
 * gradients shared between units (dA, ddelta_bias, dDskip; dBm and dCm summed over a
 * group's channels) go to per-thread accumulators, summed at the end. */

static size_t seq_saved(const scan_shape *s, const scan_opts *o)
{
    (void)o;
    return 2 * (size_t)s->batch * s->seqlen * s->channels * s->d_state * sizeof(float);
}

/* per thread: dB, dC [B][L][G][N]; dA [D][N] or [H]; dbias, dDskip [K] */
static int64_t seq_acc_floats(const scan_shape *s)
{
    scan_sizes z;
    scan_shape_sizes(s, &z);
    const int64_t K = scan_shape_k(s);
    return (2 * z.Bm + z.A + 2 * K + 15) / 16 * 16;
}

/* the rows gh (backward) or h (forward_save) [B][D][hrow], a zero row [hrow], then the
 * per-thread accumulators [threads][acc] (the forward uses the rows only) */
static size_t seq_bwd_workspace(const scan_shape *s, const scan_opts *o)
{
    const int64_t threads = o->threads > 0 ? o->threads : 1;
    return ((size_t)(s->batch * s->channels + 1) * seq_hrow(s) + (size_t)threads * seq_acc_floats(s)) *
           sizeof(float);
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


static int seq_backward(const scan_shape *s, const scan_tensors *t, const scan_grads *gr, const scan_opts *o,
                        const void *saved, void *ws, mb_err *err)
{
    (void)err;
    const int64_t B = s->batch, L = s->seqlen, D = s->channels, N = s->d_state, G = s->groups;
    const int64_t K = scan_shape_k(s), per_k = D / K, per_group = D / G, HR = seq_hrow(s);
    const bool head = s->a_kind == SCAN_A_HEAD;
    const int64_t BLDN = B * L * D * N;
    const float *dAs = saved;      /* [B][L][D][N] deltaA */
    const float *H = dAs + BLDN;   /* [B][L][D][N] states h_t */
    scan_sizes z;
    scan_shape_sizes(s, &z);
    const int64_t nBm = z.Bm, nA = z.A, per_thread = seq_acc_floats(s);
    const int threads = o->threads > 0 ? o->threads : 1;
    float *ghs = ws;                     /* [B][D][hrow] */
    float *zero = ghs + B * D * HR;      /* [hrow] */
    float *acc = zero + HR;              /* [threads][per_thread] */
    for (int64_t n = 0; n < HR; n++) zero[n] = 0.0f;

#pragma omp parallel num_threads(threads)
    {
        const int tid = omp_get_thread_num();
        float *tdB = acc + tid * per_thread;         /* [B][L][G][N] */
        float *tdC = tdB + nBm;                      /* [B][L][G][N] */
        float *tdA = tdC + nBm;                      /* [D][N] or [H] */
        float *tdbias = tdA + nA;                    /* [K] */
        float *tdD = tdbias + K;                     /* [K] */
        for (int64_t i = 0; i < per_thread; i++) tdB[i] = 0.0f;
        int64_t lo, hi;
        seq_share(B * K, tid, omp_get_num_threads(), &lo, &hi);
        for (int64_t bk = lo; bk < hi; bk++)
            for (int64_t c = 0; c < per_k * N; c++) {
                const int64_t bd = bk * per_k + c / N, n = c % N; /* units are runs of channels */
                ghs[bd * HR + n] = gr->dh_last ? gr->dh_last[bd * N + n] : 0.0f;
            }

        for (int64_t l = L - 1; l >= 0; l--) {
            for (int64_t b = lo / K, bl = b * L + l; b * K < hi; b++, bl += L)
            for (int64_t k = lo > b * K ? lo - b * K : 0; k < K && b * K + k < hi; k++) {
                const float Dk = t->Dskip ? t->Dskip[k] : 0.0f;
                const float xk = t->delta[bl * K + k] + (t->delta_bias ? t->delta_bias[k] : 0.0f);
                /* dt and softplus' once per (t, dt entry): a head's channels share them */
                const float dt = s->softplus ? mb_softplusf(xk) : xk;
                const float dsp = s->softplus ? mb_sigmoidf(xk) : 1.0f;
                float dd = 0.0f; /* ddelta of (b, l, k), summed over the unit's channels */
                for (int64_t d = k * per_k; d < (k + 1) * per_k; d++) {
                    const int64_t g = G == 1 ? 0 : d / per_group;
                    float *gh = ghs + (b * D + d) * HR;
                    const float *h0 = t->h0 ? t->h0 + (b * D + d) * N : zero;
                    const float u = t->u[bl * D + d];
                    const float *Bm = t->Bm + (bl * G + g) * N, *Cm = t->Cm + (bl * G + g) * N;
                    const float *a = dAs + (bl * D + d) * N, *hc = H + (bl * D + d) * N;
                    const float *hp = l > 0 ? H + ((bl - 1) * D + d) * N : h0;
                    float gy = gr->dy[bl * D + d];
                    if (t->z) {
                        float yc = Dk * u;
                        for (int64_t n = 0; n < N; n++) yc += Cm[n] * hc[n];
                        const float zz = t->z[bl * D + d], sg = mb_sigmoidf(zz);
                        gr->dz[bl * D + d] = gy * yc * sg * (1.0f + zz * (1.0f - sg));
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
                    dd += ddt;
                }
                dd *= dsp;
                gr->ddelta[bl * K + k] = dd;
                tdbias[k] += dd;
            }
        }
        if (gr->dh0)
            for (int64_t bk = lo; bk < hi; bk++)
                for (int64_t c = 0; c < per_k * N; c++) {
                    const int64_t bd = bk * per_k + c / N, n = c % N;
                    gr->dh0[bd * N + n] = ghs[bd * HR + n];
                }
        const int nth = omp_get_num_threads(); /* the accumulators that were zeroed */
#pragma omp barrier
        // ---- sum the per-thread accumulators
#pragma omp for schedule(static)
        for (int64_t i = 0; i < nBm; i++) {
            float sb = 0.0f, sc = 0.0f;
            for (int th = 0; th < nth; th++) {
                sb += acc[th * per_thread + i];
                sc += acc[th * per_thread + nBm + i];
            }
            gr->dBm[i] = sb;
            gr->dCm[i] = sc;
        }
#pragma omp for schedule(static)
        for (int64_t i = 0; i < nA + 2 * K; i++) {
            float sum = 0.0f;
            for (int th = 0; th < nth; th++) sum += acc[th * per_thread + 2 * nBm + i];
            if (i < nA) gr->dA[i] = sum;
            else if (i < nA + K) {
                if (gr->ddelta_bias) gr->ddelta_bias[i - nA] = sum;
            } else if (gr->dDskip) gr->dDskip[i - nA - K] = sum;
        }
    }
    return 0;
}

/* Counted from seq_backward (an FMA is 2 flops; dt = softplus(delta + bias) counts as an
 * exp only; sigmoid(x) = 1 / (1 + exp(-x)) is 3 flops and an exp):
 *   per update: dC += gy h (2), g1 = gh + gy C (2), gh = g1 a (1), gB += g1 B (2),
 *     dB += g1 dt u (2); diag: geh = g1 a h_{t-1} (2), ddt += A geh (2), dA += dt geh (2)
 *     = 15; head: geh += g1 a h_{t-1} (3) = 12
 *   per (t, channel): dD += gy u (2), dt u (1), du = gy D + dt gB (3), dd += ddt (1); diag
 *     ddt += gB u (2), head ddt = A geh + gB u (3) and dA += dt geh (2); the gate: D u (1),
 *     C.h (2N), sigmoid(z) (3), dz (6), gy *= z sigmoid (2)
 *   per (t, dt entry): dd *= softplus' (1), dbias += dd (1); softplus' sigmoid (3, with
 *     softplus: it and softplus are taken once per (t, dt entry), once per head on head
 *     problems)
 *   the sum of the per-thread accumulators: threads x (2 BLGN + |A| + 2K) adds. */
static void seq_backward_cost(const scan_shape *s, const scan_opts *o, scan_cost *c)
{
    const double upd = scan_shape_updates(s);
    const double BL = (double)s->batch * s->seqlen, BLD = BL * s->channels, BLK = BL * (double)scan_shape_k(s);
    const bool head = s->a_kind == SCAN_A_HEAD;
    const int threads = o->threads > 0 ? o->threads : 1;
    scan_sizes z;
    scan_shape_sizes(s, &z);
    const double per_tc = 7 + (head ? 5 : 2) + (s->has_z ? 12.0 + 2.0 * s->d_state : 0);
    const double per_tk = 2 + (s->softplus ? 3 : 0);
    c->flops = (head ? 12.0 : 15.0) * upd + BLD * per_tc + BLK * per_tk +
               (double)threads * (2.0 * z.Bm + z.A + 2.0 * scan_shape_k(s));
    /* softplus and its sigmoid per (t, dt entry), sigmoid(z) per (t, channel) */
    c->exps = BLK * (s->softplus ? 2 : 0) + BLD * (s->has_z ? 1 : 0);
    c->workspace = (double)seq_bwd_workspace(s, o);
    /* saved (deltaA, h) read once, the inputs and gradients once, the accumulators twice */
    c->bytes = (double)seq_saved(s, o) + (double)scan_shape_tensor_bytes(s) + (double)scan_grad_bytes(s) +
               2.0 * threads * 2 * (double)z.Bm * sizeof(float);
}

/* forward_save runs the forward's two phases on saved instead of the workspace (deltaA and
 * deltaB_u written once, read once, as the forward's) and also writes each state h_t over
 * deltaB_u: one float per update more */
static double seq_save_extra_bytes(const scan_shape *s, const scan_opts *o)
{
    (void)o;
    return 4.0 * scan_shape_updates(s);
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
    .save_extra_bytes = seq_save_extra_bytes,
};

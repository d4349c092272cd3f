/* kernels/ssd_backward.c: training for the chunked SSD kernel (kernels/ssd.c), "head"
 * problems (one scalar A per head). forward_save is the ssd forward itself and keeps
 * nothing; the backward differentiates the chunked form, recomputing the chunk states,
 * with the big products as small dense matrix products.
 *
 * ---- the forward, per batch b, head h (P channels, group g), chunk c of q steps
 * With dt_i (after softplus), a_i = dt_i A, S_i = a_0 + .. + a_i (inside the chunk),
 * E_i = exp(S_i), w_i = exp(S_{q-1} - S_i), L_ij = exp(S_i - S_j) (j <= i), X_i = dt_i u_i
 * ([P]), and Hin_c ([N][P]) the state entering the chunk (Hin_0 = h0, else 0):
 *
 *     acc_i = E_i C_i^T Hin_c + sum_{j<=i} M_ij X_j + Dskip u_i,   M_ij = (C_i.B_j) L_ij
 *     y_i   = acc_i silu(z_i)
 *     H_c   = sum_j w_j B_j X_j^T                (the chunk's own state, [N][P])
 *     Hin_{c+1} = e_c Hin_c + H_c,  e_c = E_{q-1};   h_last = Hin_{nc}
 *
 * ---- the backward (loss = sum dy y + sum dh_last h_last), with gy = dy silu(z):
 *   gate          dz = dy acc silu'(z)
 *   recurrence    dHin_nc = dh_last;  dHin_c = e_c dHin_{c+1} + Z_c,
 *                 Z_c = sum_i E_i C_i gy_i^T            (the state-to-output term)
 *                 dH_c = dHin_{c+1};  dS_{q-1} += e_c sum(dHin_{c+1} * Hin_c);  dh0 = dHin_0
 *   state out     dC_i += E_i Hin_c gy_i;   dS_i += E_i gy_i.(C_i^T Hin_c)
 *   intra-chunk   dM = gy X^T (masked j <= i);  dX += M^T gy;
 *                 dCB = sum_heads dM * L;  dC += dCB B;  dB += dCB^T C;
 *                 R = dM * M:  dS_i += sum_j R_ij,  dS_j -= sum_i R_ij
 *   chunk state   U = B dH ([q][P]);  dX_j += w_j U_j;  dB_j += w_j X_j dH^T (sum over heads);
 *                 dw_j = X_j.U_j:  dS_{q-1} += sum_j w_j dw_j,  dS_j -= w_j dw_j
 *   skip          du += Dskip gy;  dDskip += sum gy u
 *   decay         da_k = sum_{i>=k} dS_i (S is a cumulative sum);  dA += sum dt da;
 *                 ddt = A da + u.dX;  du += dt dX;  ddelta = ddt sigmoid(delta + bias)
 *
 * ---- the passes (workspace: the entering states and their adjoints, 2 x [B][H][nc][N][P],
 *      a head's chunks contiguous)
 *   A  per (batch, head), parallel: the head's chunks walked forward with its state [N][P]
 *      in scratch (dt, S; slot c = Hin_c; Hin_{c+1} = e_c Hin_c + B^T (w X)), then backward
 *      (slot c = dHin_{c+1}; the recurrence's dS term; dHin_c = e_c dHin_{c+1} + C^T (E gy));
 *      dh0. Two N x P x q products per chunk; the chunk's own state never goes to memory.
 *   B  per (batch, chunk, group), parallel: everything else of the chunk; its rows of dB,
 *      dC, du, ddelta, dz belong to it alone (no reduction); dA, dbias, dDskip go to
 *      per-(batch, chunk, head) partials summed in a fixed order at the end. Products per
 *      head: C Hin and B dH (q x P, N), Hin (E gy)^T and dH (w X)^T summed over the group's
 *      heads (N x q, P: transposed, on transposed copies of the small operands), gy X^T,
 *      M^T gy (and M X with a gate) (q x q or q x P, depth P or q); per group C B^T (q x q,
 *      N), dCB B and dCB^T C (q x N, q).
 * Every product is mb_gemm_small (kernels/gemm_small.h), as in the forward: on these
 * shapes it ran 190-210 GFLOP/s per core against OpenBLAS's 80-90 under this environment's
 * OPENBLAS_CORETYPE=Haswell (measured with both on the four big shapes of pass B). */
#include <math.h>
#include <omp.h>
#include <string.h>

#include "gemm_small.h"
#include "scan.h"
#include "simd.h"

#define SB_DEFAULT_CHUNK 64 /* measured on the Mamba-2 shape: 34 ms at 64, 38 at 32, 40 at 128 */

extern const scan_kernel scan_kernel_ssd;

// ---------------------------------------------------------------- geometry

typedef struct {
    int64_t B, L, D, N, G, H, P, Q, nc, Dg, Hg;
    int64_t n_states, n_steps, n_part; /* floats of Hs (= dHs), dtv (= Sv / 2), rec (= part / 3) */
    int64_t thread_floats;
} sb_geom;

static int64_t sb_rup16(int64_t n) { return (n + 15) / 16 * 16; }
static int sb_threads(const scan_opts *o) { return o->threads > 0 ? o->threads : 1; }

/* pass B's float scratch before its doubles: CB, Lm, M, dM, dCB [Q][Q]; B^T, dC^T, dB^T
 * [N][Q]; Xd, Xd^T, gy, (E gy)^T or (w X)^T, Y, dX, U [Q][Dg]; E, w [Hg][Q] */
static int64_t sb_chunk_floats(const sb_geom *g)
{
    return sb_rup16(5 * g->Q * g->Q + 3 * g->N * g->Q + 7 * g->Q * g->Dg + 2 * g->Hg * g->Q);
}

static void sb_geom_init(sb_geom *g, const scan_shape *s, const scan_opts *o)
{
    g->B = s->batch, g->L = s->seqlen, g->D = s->channels, g->N = s->d_state, g->G = s->groups;
    g->H = s->heads > 0 ? s->heads : 1;
    g->P = g->D / g->H;
    g->Q = o->chunk > 0 ? o->chunk : SB_DEFAULT_CHUNK;
    if (g->Q > g->L) g->Q = g->L;
    g->nc = (g->L + g->Q - 1) / g->Q;
    g->Dg = g->D / g->G, g->Hg = g->H / g->G;
    g->n_states = sb_rup16(g->B * g->nc * g->N * g->D);
    g->n_steps = sb_rup16(g->B * g->nc * g->H * g->Q);
    g->n_part = sb_rup16(g->B * g->nc * g->H);
    const int64_t Q = g->Q;
    /* pass A: the running state [N][P], T [Q][P], E, w [Q];
     * pass B: sb_chunk_floats, then dS [Hg][Q] doubles */
    const int64_t a = g->N * g->P + Q * g->P + 2 * Q, c = sb_chunk_floats(g) + 2 * g->Hg * Q;
    const int64_t m = a > c ? a : c;
    g->thread_floats = sb_rup16(m + 64);
}

static const char *sb_unsupported(const scan_shape *s, const scan_opts *o)
{
    return scan_kernel_ssd.unsupported(s, o);
}

size_t scan_ssd_saved_bytes(const scan_shape *s, const scan_opts *o)
{
    (void)s, (void)o;
    return 0; /* nothing: the backward recomputes the chunk states */
}

/* Hs, dHs [B][nc][N][D]; dtv [B][nc][H][Q]; Sv [B][nc][H][Q] doubles; rec [B][nc][H]; part [3][B][nc][H];
 * threads x scratch. At least the forward's workspace (forward_save runs it here). */
size_t scan_ssd_backward_workspace(const scan_shape *s, const scan_opts *o)
{
    if (sb_unsupported(s, o)) return 0;
    sb_geom g;
    sb_geom_init(&g, s, o);
    const size_t mine = ((size_t)(2 * g.n_states + 3 * g.n_steps + 4 * g.n_part) +
                         (size_t)sb_threads(o) * (size_t)g.thread_floats) * sizeof(float);
    const size_t fwd = scan_kernel_ssd.workspace_bytes(s, o);
    return mine > fwd ? mine : fwd;
}

int scan_ssd_forward_save(const scan_shape *s, const scan_tensors *t, const scan_opts *o, void *saved, void *ws,
                          mb_err *err)
{
    (void)saved;
    return scan_kernel_ssd.forward(s, t, o, ws, err);
}

// ---------------------------------------------------------------- small helpers

/* One row of n channels of the gate: gy = dy silu(z) (dy without a gate); with acc, also
 * dz = dy acc silu'(z), silu'(z) = sigmoid(z) (1 + z (1 - sigmoid(z))). */
static void sb_gate_row(const float *dy, const float *z, const float *acc, float *gy, float *dz, int64_t n)
{
    if (!z) {
        if (gy) memcpy(gy, dy, (size_t)n * sizeof(float));
        return;
    }
    int64_t p = 0;
#if defined(__AVX512F__)
    const mb_exp_tab tab = mb_exp_tab_init();
    for (; p < n; p += 16) {
        const __mmask16 m = n - p >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (n - p)) - 1);
        const __m512 zv = _mm512_maskz_loadu_ps(m, z + p), dv = _mm512_maskz_loadu_ps(m, dy + p);
        const __m512 sg = mb_sigmoid512(zv, &tab);
        if (gy) _mm512_mask_storeu_ps(gy + p, m, _mm512_mul_ps(dv, _mm512_mul_ps(zv, sg)));
        if (acc) {
            const __m512 one = _mm512_set1_ps(1.0f);
            const __m512 d1 = _mm512_mul_ps(sg, _mm512_fmadd_ps(zv, _mm512_sub_ps(one, sg), one));
            _mm512_mask_storeu_ps(dz + p, m, _mm512_mul_ps(_mm512_mul_ps(dv, _mm512_maskz_loadu_ps(m, acc + p)), d1));
        }
    }
#endif
    for (; p < n; p++) {
        const float sg = mb_sigmoidf(z[p]);
        if (gy) gy[p] = dy[p] * (z[p] * sg);
        if (acc) dz[p] = dy[p] * acc[p] * sg * (1.0f + z[p] * (1.0f - sg));
    }
}

/* the chunk's steps of one head: its dt and S (cumulative log decay, summed in double) */
static void sb_decay(const scan_shape *s, const scan_tensors *t, int64_t H, int64_t h, int64_t bl0, int64_t q,
                     float *dt, double *S)
{
    double acc = 0;
    for (int64_t i = 0; i < q; i++) {
        float d = t->delta[(bl0 + i) * H + h] + (t->delta_bias ? t->delta_bias[h] : 0.0f);
        if (s->softplus) d = mb_softplusf(d);
        dt[i] = d;
        acc += (double)d * t->A[h];
        S[i] = acc;
    }
}

/* E = exp(S), w = exp(S[q-1] - S) (the differences in double: |S| reaches thousands
 * with large dt, where a float S would put ulp(S) ~ 1e-4 into every decay) */
static void sb_weights(const double *S, int64_t q, float *E, float *w)
{
    for (int64_t i = 0; i < q; i++) E[i] = (float)S[i], w[i] = (float)(S[q - 1] - S[i]);
    mb_exp_array(E, E, q);
    mb_exp_array(w, w, q);
}

// ---------------------------------------------------------------- pass A: the walks

/* Head h of batch b, chunk after chunk, its state [N][P] in scratch (cur):
 *   forward   dt, S of the chunk; slot c of Hs = Hin_c; Hin_{c+1} = e_c Hin_c + B^T (w X)
 *   backward  slot c of dHs = dHin_{c+1} (= dH_c); rec = e_c sum(dHin_{c+1} Hin_c);
 *             dHin_c = e_c dHin_{c+1} + C^T (E gy);   at the end dh0 = dHin_0
 * The chunk's own state never goes to memory; each product is N x P x q. */
/* Prefetches P floats of q rows (row stride D) starting at x: a head's rows of the next
 * chunk are a page or more apart, which the hardware prefetchers do not follow. */
static void sb_prefetch_rows(const float *x, int64_t q, int64_t D, int64_t P)
{
    for (int64_t i = 0; i < q; i++)
        for (int64_t p = 0; p < P; p += 16) __builtin_prefetch(x + i * D + p, 0, 1);
}

static void sb_walk(const sb_geom *g, const scan_shape *s, const scan_tensors *t, const scan_grads *gr, float *Hs,
                    float *dHs, float *dtv, double *Sv, float *rec, float *scr, int64_t b, int64_t h)
{
    const int64_t N = g->N, D = g->D, P = g->P, Q = g->Q, H = g->H, GN = g->G * g->N, d0 = h * P;
    const int64_t gi = h / g->Hg;
    float *cur = scr;       /* [N][P] Hin_c, then dHin_c */
    float *T = cur + N * P; /* [Q][P] w X, then E gy */
    float *E = T + Q * P;   /* [Q] exp(S) */
    float *w = E + Q;       /* [Q] exp(S[q-1] - S) */

    // ---- forward
    for (int64_t n = 0; n < N; n++)
        for (int64_t p = 0; p < P; p++) cur[n * P + p] = t->h0 ? t->h0[(b * D + d0 + p) * N + n] : 0.0f;
    for (int64_t c = 0; c < g->nc; c++) {
        const int64_t t0 = c * Q, q = g->L - t0 < Q ? g->L - t0 : Q, bl0 = b * g->L + t0;
        const int64_t k = (b * g->nc + c) * H + h;
        float *dt = dtv + k * Q, *slot = Hs + ((b * H + h) * g->nc + c) * N * P;
        if (c + 1 < g->nc) {
            const int64_t qn = g->L - t0 - Q < Q ? g->L - t0 - Q : Q;
            sb_prefetch_rows(t->u + (bl0 + Q) * D + d0, qn, D, P);
        }
        sb_decay(s, t, H, h, bl0, q, dt, Sv + k * Q);
        sb_weights(Sv + k * Q, q, E, w);
        const float ec = E[q - 1];
        for (int64_t n = 0; n < N; n++)
            for (int64_t p = 0; p < P; p++) {
                slot[n * P + p] = cur[n * P + p];
                cur[n * P + p] *= ec;
            }
        for (int64_t i = 0; i < q; i++) {
            const float *u = t->u + (bl0 + i) * D + d0, f = w[i] * dt[i];
            for (int64_t p = 0; p < P; p++) T[i * P + p] = f * u[p];
        }
        mb_gemm_small((int)N, (int)P, (int)q, t->Bm + (bl0 * g->G + gi) * N, 1, GN, T, P, cur, P, NULL, 1.0f, false);
    }
    // ---- backward
    for (int64_t n = 0; n < N; n++)
        for (int64_t p = 0; p < P; p++)
            cur[n * P + p] = gr->dh_last ? gr->dh_last[(b * D + d0 + p) * N + n] : 0.0f;
    for (int64_t c = g->nc - 1; c >= 0; c--) {
        const int64_t t0 = c * Q, q = g->L - t0 < Q ? g->L - t0 : Q, bl0 = b * g->L + t0;
        const int64_t k = (b * g->nc + c) * H + h;
        float *slot = dHs + ((b * H + h) * g->nc + c) * N * P;
        const float *hin = Hs + ((b * H + h) * g->nc + c) * N * P;
        if (c > 0) {
            sb_prefetch_rows(gr->dy + (bl0 - Q) * D + d0, Q, D, P);
            if (t->z) sb_prefetch_rows(t->z + (bl0 - Q) * D + d0, Q, D, P);
        }
        sb_weights(Sv + k * Q, q, E, w);
        const float ec = E[q - 1];
        double dot = 0;
        for (int64_t n = 0; n < N; n++) {
            float part = 0.0f;
            for (int64_t p = 0; p < P; p++) {
                const float v = cur[n * P + p];
                slot[n * P + p] = v;
                part += v * hin[n * P + p];
                cur[n * P + p] = ec * v;
            }
            dot += part;
        }
        rec[k] = (float)(ec * dot);
        for (int64_t i = 0; i < q; i++) {
            const int64_t bl = bl0 + i;
            sb_gate_row(gr->dy + bl * D + d0, t->z ? t->z + bl * D + d0 : NULL, NULL, T + i * P, NULL, P);
            for (int64_t p = 0; p < P; p++) T[i * P + p] *= E[i];
        }
        mb_gemm_small((int)N, (int)P, (int)q, t->Cm + (bl0 * g->G + gi) * N, 1, GN, T, P, cur, P, NULL, 1.0f, false);
    }
    if (gr->dh0)
        for (int64_t n = 0; n < N; n++)
            for (int64_t p = 0; p < P; p++) gr->dh0[(b * D + d0 + p) * N + n] = cur[n * P + p];
}

// ---------------------------------------------------------------- pass B: the chunks

/* chunk c of batch b, group gi: every gradient of its rows; dA, dbias, dDskip of its
 * heads into part [3][B][nc][H] (stride np). The products whose operands are both
 * contiguous along the contraction (over the group's channels) run transposed, on
 * transposed copies of the chunk's small operands, so every product is mb_gemm_small's
 * C = diag(rs) A Bm with Bm row-major. */
static void sb_chunk(const sb_geom *g, const scan_shape *s, const scan_tensors *t, const scan_grads *gr,
                      const float *Hs, const float *dHs, const float *dtv, const double *Sv, const float *rec,
                      float *part, float *scr, int64_t b, int64_t c, int64_t gi)
{
    const int64_t Q = g->Q, N = g->N, D = g->D, G = g->G, H = g->H, P = g->P, Dg = g->Dg, Hg = g->Hg;
    const int64_t t0 = c * Q, q = g->L - t0 < Q ? g->L - t0 : Q, bl0 = b * g->L + t0, np = g->n_part;
    float *CB = scr;          /* [Q][Q] C B^T */
    float *Lm = CB + Q * Q;   /* [Q][Q] exp(S_i - S_j), j <= i */
    float *M = Lm + Q * Q;    /* [Q][Q] CB Lm, zero above the diagonal */
    float *dM = M + Q * Q;    /* [Q][Q] gy X^T */
    float *dCB = dM + Q * Q;  /* [Q][Q] sum over heads of dM Lm, zero above the diagonal */
    float *BcT = dCB + Q * Q; /* [N][Q] B^T of the chunk */
    float *tC = BcT + N * Q;  /* [N][Q] dC^T of the state output */
    float *tB = tC + N * Q;   /* [N][Q] dB^T of the chunk state */
    float *Xd = tB + N * Q;   /* [Q][Dg] dt u */
    float *XdT = Xd + Q * Dg; /* [Dg][Q] (dt u)^T */
    float *GY = XdT + Q * Dg; /* [Q][Dg] gy = dy silu(z) */
    float *TT = GY + Q * Dg;  /* [Dg][Q] (E gy)^T, then (w X)^T */
    float *Y = TT + Q * Dg;   /* [Q][Dg] C Hin, then acc (with a gate) */
    float *dX = Y + Q * Dg;   /* [Q][Dg] dloss/dX */
    float *U = dX + Q * Dg;   /* [Q][Dg] B dH */
    float *E = U + Q * Dg;    /* [Hg][Q] exp(S) */
    float *w = E + Hg * Q;    /* [Hg][Q] exp(S[q-1] - S) */
    double *dS = (double *)(scr + sb_chunk_floats(g)); /* [Hg][Q] dloss/dS, then da (double:
                                          the pairs' terms enter twice with opposite signs) */
    const int64_t GN = G * N;
    const float *Bc = t->Bm + (bl0 * G + gi) * N, *Cc = t->Cm + (bl0 * G + gi) * N;
    float *dBc = gr->dBm + (bl0 * G + gi) * N, *dCc = gr->dCm + (bl0 * G + gi) * N;
    const int64_t k0 = (b * g->nc + c) * H + gi * Hg;
    /* head hh's entering state and its adjoint, [N][P] each */
#define SB_HIN(hh) (Hs + ((b * H + gi * Hg + (hh)) * g->nc + c) * N * P)
#define SB_DH(hh) (dHs + ((b * H + gi * Hg + (hh)) * g->nc + c) * N * P)
    const int iq = (int)q, iN = (int)N, iP = (int)P;

    // ---- the heads' weights; the rows' dt u (and transposed), gy, B^T
    for (int64_t hh = 0; hh < Hg; hh++) {
        sb_weights(Sv + (k0 + hh) * Q, q, E + hh * Q, w + hh * Q);
        for (int64_t i = 0; i < q; i++) dS[hh * Q + i] = 0.0;
    }
    for (int64_t i = 0; i < q; i++) {
        const float *u = t->u + (bl0 + i) * D + gi * Dg;
        sb_gate_row(gr->dy + (bl0 + i) * D + gi * Dg, t->z ? t->z + (bl0 + i) * D + gi * Dg : NULL, NULL,
                    GY + i * Dg, NULL, Dg);
        for (int64_t hh = 0; hh < Hg; hh++) {
            const float dt = dtv[(k0 + hh) * Q + i], e = E[hh * Q + i];
            for (int64_t p = hh * P; p < (hh + 1) * P; p++) {
                const float x = dt * u[p];
                Xd[i * Dg + p] = x;
                XdT[p * Q + i] = x;
                TT[p * Q + i] = e * GY[i * Dg + p];
            }
        }
        for (int64_t n = 0; n < N; n++) BcT[n * Q + i] = Bc[i * GN + n];
    }

    // ---- state to output: Y = C Hin; dS_i += E_i gy_i.Y_i; dC^T = Hin (E gy)^T
    for (int64_t hh = 0; hh < Hg; hh++) {
        mb_gemm_small(iq, iP, iN, Cc, GN, 1, SB_HIN(hh), P, Y + hh * P, Dg, NULL, 0.0f, false);
        mb_gemm_small(iN, iq, iP, SB_HIN(hh), P, 1, TT + hh * P * Q, Q, tC, Q, NULL, hh ? 1.0f : 0.0f, false);
    }
    for (int64_t i = 0; i < q; i++) {
        const float *u = t->u + (bl0 + i) * D + gi * Dg;
        for (int64_t hh = 0; hh < Hg; hh++) {
            const int64_t o = i * Dg + hh * P;
            const float e = E[hh * Q + i], dk = t->Dskip ? t->Dskip[gi * Hg + hh] : 0.0f;
            float dot = 0.0f;
            for (int64_t p = 0; p < P; p++) dot += GY[o + p] * Y[o + p];
            dS[hh * Q + i] += e * dot;
            if (t->z)
                for (int64_t p = 0; p < P; p++) Y[o + p] = e * Y[o + p] + dk * u[hh * P + p];
        }
    }

    // ---- chunk state: dB^T = dH (w X)^T; U = B dH; dX = w U; dw = X.U into dS
    for (int64_t hh = 0; hh < Hg; hh++)
        for (int64_t p = hh * P; p < (hh + 1) * P; p++)
            for (int64_t i = 0; i < q; i++) TT[p * Q + i] = w[hh * Q + i] * XdT[p * Q + i];
    for (int64_t hh = 0; hh < Hg; hh++) {
        mb_gemm_small(iN, iq, iP, SB_DH(hh), P, 1, TT + hh * P * Q, Q, tB, Q, NULL, hh ? 1.0f : 0.0f, false);
        mb_gemm_small(iq, iP, iN, Bc, GN, 1, SB_DH(hh), P, U + hh * P, Dg, NULL, 0.0f, false);
    }
#undef SB_HIN
#undef SB_DH
    for (int64_t hh = 0; hh < Hg; hh++) {
        double *dSh = dS + hh * Q;
        double end = 0.0;
        for (int64_t i = 0; i < q; i++) {
            const int64_t o = i * Dg + hh * P;
            const float wi = w[hh * Q + i];
            float dw = 0.0f;
            for (int64_t p = 0; p < P; p++) {
                dw += Xd[o + p] * U[o + p];
                dX[o + p] = wi * U[o + p];
            }
            if (i < q - 1) { /* the last step's w = 1 would enter dS_{q-1} twice, opposite signs */
                end += wi * dw;
                dSh[i] -= wi * dw;
            }
        }
        dSh[q - 1] += end + rec[k0 + hh]; /* and the recurrence's e_c term */
    }
    // ---- the state terms of dC and dB, transposed back into the chunk's rows
    for (int64_t i = 0; i < q; i++)
        for (int64_t n = 0; n < N; n++) {
            dCc[i * GN + n] = tC[n * Q + i];
            dBc[i * GN + n] = tB[n * Q + i];
        }

    // ---- intra-chunk: per head M, dM = gy X^T, dX += M^T gy (Y += M X); dCB and dS
    mb_gemm_small(iq, iq, iN, Cc, GN, 1, BcT, Q, CB, Q, NULL, 0.0f, false);
    for (int64_t i = 0; i < q; i++)
        for (int64_t j = 0; j < q; j++) dCB[i * Q + j] = 0.0f;
    for (int64_t hh = 0; hh < Hg; hh++) {
        const double *S = Sv + (k0 + hh) * Q;
        double *dSh = dS + hh * Q;
        for (int64_t i = 0; i < q; i++) {
            float *l = Lm + i * Q, *m = M + i * Q;
            for (int64_t j = 0; j <= i; j++) l[j] = (float)(S[i] - S[j]);
            mb_exp_array(l, l, i + 1);
            for (int64_t j = 0; j <= i; j++) m[j] = CB[i * Q + j] * l[j];
            for (int64_t j = i + 1; j < q; j++) m[j] = 0.0f;
        }
        mb_gemm_small(iq, iq, iP, GY + hh * P, Dg, 1, XdT + hh * P * Q, Q, dM, Q, NULL, 0.0f, false);
        mb_gemm_small(iq, iP, iq, M, 1, Q, GY + hh * P, Dg, dX + hh * P, Dg, NULL, 1.0f, false);
        if (t->z) mb_gemm_small(iq, iP, iq, M, Q, 1, Xd + hh * P, Dg, Y + hh * P, Dg, NULL, 1.0f, true);
        for (int64_t i = 0; i < q; i++) {
            const float *l = Lm + i * Q, *dm = dM + i * Q, *cb = CB + i * Q;
            float *dcb = dCB + i * Q;
            double row = 0.0;
            for (int64_t j = 0; j < i; j++) {
                const float tt = dm[j] * l[j], r = tt * cb[j];
                dcb[j] += tt;
                row += r;
                dSh[j] -= r;
            }
            dcb[i] += dm[i] * l[i]; /* the diagonal's r enters dS_i twice with opposite signs */
            dSh[i] += row;
        }
    }
    mb_gemm_small(iq, iN, iq, dCB, Q, 1, Bc, GN, dCc, GN, NULL, 1.0f, true);
    mb_gemm_small(iq, iN, iq, dCB, 1, Q, Cc, GN, dBc, GN, NULL, 1.0f, false);

    // ---- per head: da (reverse cumulative sum of dS), ddt, du, ddelta; dz; the partials
    for (int64_t hh = 0; hh < Hg; hh++) {
        const int64_t h = gi * Hg + hh, k = k0 + hh;
        const float A = t->A[h], dk = t->Dskip ? t->Dskip[h] : 0.0f;
        const float *dt = dtv + k * Q;
        double *da = dS + hh * Q;
        double pA = 0, pbias = 0, pD = 0;
        for (int64_t i = q - 2; i >= 0; i--) da[i] += da[i + 1];
        for (int64_t i = 0; i < q; i++) {
            const int64_t bl = bl0 + i, o = i * Dg + hh * P;
            const float *u = t->u + bl * D + h * P;
            float *du = gr->du + bl * D + h * P;
            float udx = 0.0f, gu = 0.0f;
            for (int64_t p = 0; p < P; p++) {
                udx += u[p] * dX[o + p];
                gu += GY[o + p] * u[p];
                du[p] = dt[i] * dX[o + p] + dk * GY[o + p];
            }
            const float x = t->delta[bl * H + h] + (t->delta_bias ? t->delta_bias[h] : 0.0f);
            const float ddt = ((float)(A * da[i]) + udx) * (s->softplus ? mb_sigmoidf(x) : 1.0f);
            gr->ddelta[bl * H + h] = ddt;
            pA += dt[i] * da[i];
            pbias += ddt;
            pD += gu;
        }
        part[k] = (float)pA;
        part[np + k] = (float)pbias;
        part[2 * np + k] = (float)pD;
    }
    if (t->z)
        for (int64_t i = 0; i < q; i++)
            sb_gate_row(gr->dy + (bl0 + i) * D + gi * Dg, t->z + (bl0 + i) * D + gi * Dg, Y + i * Dg, NULL,
                        gr->dz + (bl0 + i) * D + gi * Dg, Dg);
}

// ---------------------------------------------------------------- the backward

int scan_ssd_backward(const scan_shape *s, const scan_tensors *t, const scan_grads *gr, const scan_opts *o,
                      const void *saved, void *ws, mb_err *err)
{
    (void)saved;
    const char *why = sb_unsupported(s, o);
    if (why) return mb_fail(err, "ssd backward: %s", why);
    sb_geom g;
    sb_geom_init(&g, s, o);
    const int threads = sb_threads(o);
    const int64_t B = g.B, nc = g.nc, G = g.G, H = g.H;
    float *Hs = ws;                    /* [B][H][nc][N][P] Hin_c, the state entering chunk c */
    float *dHs = Hs + g.n_states;      /* [B][H][nc][N][P] dH_c = dHin_{c+1} */
    float *dtv = dHs + g.n_states;     /* [B][nc][H][Q] dt */
    double *Sv = (double *)(dtv + g.n_steps); /* [B][nc][H][Q] S, in double */
    float *rec = dtv + 3 * g.n_steps;  /* [B][nc][H] the recurrence's dS_{q-1} term */
    float *part = rec + g.n_part;      /* [3][B][nc][H] dA, dbias, dDskip partials */
    float *scratch = part + 3 * g.n_part; /* [threads][thread_floats] */

#pragma omp parallel num_threads(threads)
    {
        float *scr = scratch + (size_t)omp_get_thread_num() * g.thread_floats;
#pragma omp for schedule(dynamic, 1)
        for (int64_t it = 0; it < B * H; it++) sb_walk(&g, s, t, gr, Hs, dHs, dtv, Sv, rec, scr, it / H, it % H);
#pragma omp for schedule(dynamic, 1)
        for (int64_t it = 0; it < B * nc * G; it++)
            sb_chunk(&g, s, t, gr, Hs, dHs, dtv, Sv, rec, part, scr, it / (nc * G), (it / G) % nc, it % G);
        // ---- the parameter gradients: the partials summed in (batch, chunk) order
#pragma omp for schedule(static)
        for (int64_t h = 0; h < H; h++) {
            double a = 0, bi = 0, d = 0;
            for (int64_t bc = 0; bc < B * nc; bc++) {
                a += part[bc * H + h];
                bi += part[g.n_part + bc * H + h];
                d += part[2 * g.n_part + bc * H + h];
            }
            gr->dA[h] = (float)a;
            if (gr->ddelta_bias) gr->ddelta_bias[h] = (float)bi;
            if (gr->dDskip) gr->dDskip[h] = (float)d;
        }
    }
    return 0;
}

// ---------------------------------------------------------------- cost

/* Counted from the loops above, with the forward's conventions (a product 2 m n k, a lower
 * triangular one q(q+1) n; dt itself, delta + bias and softplus, counts as exps only;
 * sigmoid(x) is 3 flops and an exp; the double sums count like the float ones).
 * Pass A, per (batch, head, chunk of q): the two N x P x q products (4 N P q); the cumulative
 * sum (2q), the weights' differences twice (2q), w dt (q); w dt u and E gy (2 q P); the
 * entering state's decay (N P) and the backward's copy-dot-decay (3 N P), its dot's sum (N)
 * and scale (1); with a gate, gy (5 per channel and step).
 * Pass B, per (batch, chunk, group): C B^T (2 q^2 N), dCB B (lower: q(q+1) N), dCB^T C
 * (2 q^2 N); per channel and step dt u and E gy (2), w X (1), and with a gate gy (5) and dz
 * (9). Per head: the weights' differences (q); C Hin, Hin (E gy)^T, dH (w X)^T, B dH
 * (8 N P q); gy.Y (2 q P) into dS (2q), with a gate acc = E Y + D u (3 q P); X.U and w U
 * (3 q P), dS's w dw terms (4 (q-1) + 2); the mask's differences and products q(q+1); gy X^T
 * and M^T gy (4 q^2 P), with a gate M X (lower: q(q+1) P); per entry below the diagonal
 * dCB, r and the two dS terms (5), per diagonal entry 3; the reverse cumulative sum (q-1);
 * per step u.dX, gy.u, du (7 P), ddt (3, softplus' 3 more), dA, dbias, dDskip (4).
 * The partials: 3 adds per (batch, chunk, head). Exps: the weights (2q) three times per
 * (chunk, head) (both walks and pass B), the masks (q(q+1)/2); per (t, head) softplus and
 * its sigmoid; with a gate silu per (t, channel) three times (gy in both passes, dz).
 * Bytes: the inputs read twice (both passes), the gradients written once, the entering
 * states and their adjoints written by pass A, the states read again by its backward walk,
 * both read by pass B. */
void scan_ssd_backward_cost(const scan_shape *s, const scan_opts *o, scan_cost *c)
{
    memset(c, 0, sizeof *c);
    if (sb_unsupported(s, o)) return;
    sb_geom g;
    sb_geom_init(&g, s, o);
    const double N = (double)g.N, P = (double)g.P, Dg = (double)g.Dg, z = s->has_z ? 1 : 0;
    double flops = 0, exps = 0;
    for (int64_t ci = 0; ci < g.nc; ci++) {
        const double q = (double)(g.L - ci * g.Q < g.Q ? g.L - ci * g.Q : g.Q);
        const double walk = 4 * N * P * q + 5 * q + 2 * q * P + 4 * N * P + N + 1 + z * 5 * q * P;
        const double group = 4 * q * q * N + q * (q + 1) * N + q * Dg * (3 + z * 14);
        const double head = 8 * N * P * q + 12 * q * P + 4 * q * q * P + z * (3 * q * P + q * (q + 1) * P) +
                            3.5 * q * q + 16.5 * q - 3 + (s->softplus ? 3 * q : 0);
        flops += g.B * (g.H * (walk + head) + g.G * group + 3.0 * g.H);
        exps += g.B * g.H * (6.0 * q + q * (q + 1) / 2);
    }
    const double BL = (double)g.B * g.L, BLD = BL * g.D, st = (double)g.B * g.nc * g.N * g.D;
    exps += BL * g.H * (s->softplus ? 2.0 : 0.0) + (s->has_z ? 3.0 * BLD : 0.0);
    c->flops = flops;
    c->exps = exps;
    c->workspace = (double)scan_ssd_backward_workspace(s, o);
    c->bytes = 2.0 * (double)scan_shape_tensor_bytes(s) + (double)scan_grad_bytes(s) + 4.0 * 5.0 * st;
}

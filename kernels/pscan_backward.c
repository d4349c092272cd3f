/* kernels/pscan_backward.c: training for the parallel scan (kernels/pscan.c). forward_save
 * is the pscan forward (its phases, kernels/pscan.h) that keeps deltaA (before the sweeps
 * multiply it in place, so the sweeps run on a copy in the workspace) and the scanned
 * states h; the backward runs the same Blelloch up-/down-sweep on the reverse recurrence
 * of the adjoint, reading time backwards through the indices (no flipped copies):
 *
 *     G_t = dloss/dh_t = gy_t C_t + deltaA_{t+1} G_{t+1},   G_{L-1} = gy C + dh_last
 *
 * i.e. the operator (a1, x1) o (a2, x2) = (a1 a2, a2 x1 + x2) over t' = L-1-t with
 * coefficients a'_t = deltaA_{t+1}. Then every (b, t) row is independent:
 *
 *     dC_t += gy h_t;  dB_t += dt u G_t;  ddt = sum_n G (A deltaA h_{t-1} + B u);
 *     dA += dt G deltaA h_{t-1};  du = gy D + dt (G . B_t);  dh0 = deltaA_0 G_0
 *
 * A row is one thread's, so dB and dC (sums over a group's channels) and ddelta (over a
 * head's) need no reduction; dA, ddelta_bias and dDskip go to per-thread accumulators.
 * saved = deltaA and h, 2 x [B][L][D][N]; workspace = the coefficients and the adjoint,
 * 2 x [B][L][D][N], plus the accumulators. */
#include <math.h>
#include <omp.h>

#include "pscan.h"
#include "scan.h"
#include "simd.h"

static int pb_threads(const scan_opts *o) { return o->threads > 0 ? o->threads : 1; }

size_t scan_pscan_saved_bytes(const scan_shape *s, const scan_opts *o)
{
    (void)o;
    return pscan_rows_bytes(s); /* deltaA, h */
}

/* per-thread accumulators: dA [D][N] or [H], dbias [K], dDskip [K] */
static int64_t pb_acc_floats(const scan_shape *s)
{
    scan_sizes z;
    scan_shape_sizes(s, &z);
    return (z.A + 2 * scan_shape_k(s) + 15) / 16 * 16;
}

size_t scan_pscan_backward_workspace(const scan_shape *s, const scan_opts *o)
{
    return pscan_rows_bytes(s) + (size_t)pb_threads(o) * (size_t)pb_acc_floats(s) * sizeof(float);
}

int scan_pscan_forward_save(const scan_shape *s, const scan_tensors *t, const scan_opts *o, void *saved, void *ws,
                            mb_err *err)
{
    (void)err;
    const int64_t B = s->batch, L = s->seqlen, R = s->channels * s->d_state;
    float *dA = saved;         /* [B][L][D][N] deltaA, kept */
    float *H = dA + B * L * R; /* [B][L][D][N] deltaB_u, scanned into h */
    float *ac = ws;            /* [B][L][D][N] a copy of deltaA the sweeps consume */
#pragma omp parallel num_threads(pb_threads(o))
    {
        pscan_materialise(s, t, dA, H, ac);
        pscan_sweeps(ac, H, B, L, R, false);
        pscan_read_out(s, t, H);
    }
    return 0;
}

int scan_pscan_backward(const scan_shape *s, const scan_tensors *t, const scan_grads *gr, const scan_opts *o,
                        const void *saved, void *ws, mb_err *err)
{
    (void)err;
    const int64_t B = s->batch, L = s->seqlen, D = s->channels, N = s->d_state, G = s->groups;
    const int64_t K = scan_shape_k(s), per_k = D / K, per_group = D / G, R = D * N;
    const float *dA = saved;         /* [B][L][D][N] deltaA */
    const float *H = dA + B * L * R; /* [B][L][D][N] h */
    float *ac = ws;                  /* [B][L][D][N] coefficients a'_t = deltaA_{t+1} */
    float *X = ac + B * L * R;       /* [B][L][D][N] gy C, scanned into G */
    float *accs = X + B * L * R;     /* [threads][acc] */
    const int64_t nacc = pb_acc_floats(s);
    scan_sizes z;
    scan_shape_sizes(s, &z);
    const bool head = s->a_kind == SCAN_A_HEAD;
    const int threads = pb_threads(o);
#pragma omp parallel num_threads(threads)
    {
        float *tdA = accs + omp_get_thread_num() * nacc, *tdbias = tdA + z.A, *tdD = tdbias + K;
        for (int64_t i = 0; i < nacc; i++) tdA[i] = 0.0f;
        // ---- the recurrence's inputs: gy C_t (+ dh_last at the end), and dz, dDskip
#pragma omp for schedule(static)
        for (int64_t bl = 0; bl < B * L; bl++) {
            const int64_t b = bl / L, l = bl % L;
            for (int64_t d = 0; d < D; d++) {
                const int64_t k = d / per_k, g = d / per_group;
                const float *h = H + bl * R + d * N, *Cm = t->Cm + (bl * G + g) * N;
                const float u = t->u[bl * D + d];
                float gy = gr->dy[bl * D + d];
                if (t->z) {
                    float acc = t->Dskip ? t->Dskip[k] * u : 0.0f;
                    for (int64_t n = 0; n < N; n++) acc += Cm[n] * h[n];
                    const float zz = t->z[bl * D + d], sg = mb_sigmoidf(zz);
                    gr->dz[bl * D + d] = gy * acc * sg * (1.0f + zz * (1.0f - sg));
                    gy *= zz * sg;
                }
                tdD[k] += gy * u;
                float *x = X + bl * R + d * N, *c = ac + bl * R + d * N;
                const float *an = l + 1 < L ? dA + (bl + 1) * R + d * N : NULL;
                for (int64_t n = 0; n < N; n++) {
                    x[n] = gy * Cm[n];
                    c[n] = an ? an[n] : 1.0f;
                }
                if (l == L - 1 && gr->dh_last)
                    for (int64_t n = 0; n < N; n++) x[n] += gr->dh_last[(b * D + d) * N + n];
            }
        }
        // ---- G_t = deltaA_{t+1} G_{t+1} + gy C_t: the sweeps, time reversed
        pscan_sweeps(ac, X, B, L, R, true);
        // ---- every (b, t) row: dB, dC, ddelta, du; dA, dbias into the accumulators
#pragma omp for schedule(static)
        for (int64_t bl = 0; bl < B * L; bl++) {
            const int64_t b = bl / L, l = bl % L;
            float *dBr = gr->dBm + bl * G * N, *dCr = gr->dCm + bl * G * N;
            for (int64_t i = 0; i < G * N; i++) dBr[i] = dCr[i] = 0.0f;
            for (int64_t k = 0; k < K; k++) gr->ddelta[bl * K + k] = 0.0f;
            for (int64_t d = 0; d < D; d++) {
                const int64_t k = d / per_k, g = d / per_group;
                const float x = t->delta[bl * K + k] + (t->delta_bias ? t->delta_bias[k] : 0.0f);
                const float dt = s->softplus ? mb_softplusf(x) : x, dsp = s->softplus ? mb_sigmoidf(x) : 1.0f;
                const float u = t->u[bl * D + d], dtu = dt * u, Dk = t->Dskip ? t->Dskip[k] : 0.0f;
                const float *Bm = t->Bm + (bl * G + g) * N, *Cm = t->Cm + (bl * G + g) * N;
                const float *h = H + bl * R + d * N, *a = dA + bl * R + d * N, *Gt = X + bl * R + d * N;
                const float *hp = l ? H + (bl - 1) * R + d * N : t->h0 ? t->h0 + (b * D + d) * N : NULL;
                /* gy again (cheaper than keeping it): dy silu(z) */
                float gy = gr->dy[bl * D + d];
                if (t->z) gy *= t->z[bl * D + d] * mb_sigmoidf(t->z[bl * D + d]);
                float ddt = 0.0f, gB = 0.0f;
                for (int64_t n = 0; n < N; n++) {
                    dCr[g * N + n] += gy * h[n];
                    dBr[g * N + n] += Gt[n] * dtu;
                    gB += Gt[n] * Bm[n];
                    if (hp) {
                        const float geh = Gt[n] * a[n] * hp[n];
                        const float Av = head ? t->A[k] : t->A[d * N + n];
                        ddt += Av * geh;
                        tdA[head ? k : d * N + n] += dt * geh;
                    }
                }
                ddt += gB * u;
                gr->du[bl * D + d] = gy * Dk + dt * gB;
                gr->ddelta[bl * K + k] += ddt * dsp;
                tdbias[k] += ddt * dsp;
                if (l == 0 && gr->dh0)
                    for (int64_t n = 0; n < N; n++) gr->dh0[(b * D + d) * N + n] = a[n] * Gt[n];
                (void)Cm;
            }
        }
        // ---- sum the accumulators: the team's, which may be smaller than asked (nested
        // regions, OMP_THREAD_LIMIT): only its threads zeroed theirs
        const int team = omp_get_num_threads();
#pragma omp for schedule(static)
        for (int64_t i = 0; i < z.A + 2 * K; i++) {
            float sum = 0.0f;
            for (int th = 0; th < team; th++) sum += accs[th * nacc + i];
            if (i < z.A) gr->dA[i] = sum;
            else if (i < z.A + K) {
                if (gr->ddelta_bias) gr->ddelta_bias[i - z.A] = sum;
            } else if (gr->dDskip) gr->dDskip[i - z.A - K] = sum;
        }
    }
    return 0;
}

/* Counted from the loops above (dt itself, delta + bias and softplus, counts as exps only, as
 * in the forward models; sigmoid(x) = 1 / (1 + exp(-x)) is 3 flops and an exp).
 * Per update: gy C (1); the row pass dC (2), dB (2), gB (2), and where there is an h_{t-1}
 * (not at t = 0 without h0) geh (2), ddt (2), dA (2): 13, or 7. Per operator application
 * (the sweeps, as the forward's) 3. Per (b, t, channel): dDskip (2), dt u (1), gB u (2), du
 * (3), ddelta (2), dbias (2) = 12; softplus' 3; with a gate, pass one's D u (1, with
 * Dskip), C.h (2N), sigmoid (3), dz (6), gy (2) and the row pass's gy again (5). dh_last is
 * added once and dh0 = deltaA G once per (b, channel, state); the per-thread accumulators
 * of dA, dbias and dDskip are summed once each. Exps per (b, t, channel): softplus and its
 * sigmoid, and silu's sigmoid twice (both passes) with a gate. */
void scan_pscan_backward_cost(const scan_shape *s, const scan_opts *o, scan_cost *c)
{
    const double upd = scan_shape_updates(s);
    const double BLD = (double)s->batch * s->seqlen * s->channels, BDN = (double)s->batch * s->channels * s->d_state;
    double apps = pscan_applications(s->seqlen);
    apps *= (double)s->batch * s->channels * s->d_state;
    scan_sizes z;
    scan_shape_sizes(s, &z);
    const double per_bld = 12 + (s->softplus ? 3 : 0) + (s->has_z ? 2.0 * s->d_state + 16 + (s->has_dskip ? 1 : 0) : 0);
    c->flops = 13.0 * upd - (s->has_h0 ? 0 : 6.0 * BDN) + 3.0 * apps + BLD * per_bld +
               BDN * ((s->want_h_last ? 1 : 0) + (s->has_h0 ? 1 : 0)) +
               (double)pb_threads(o) * (double)(z.A + 2 * scan_shape_k(s));
    c->exps = BLD * ((s->softplus ? 2 : 0) + (s->has_z ? 2 : 0));
    c->workspace = (double)scan_pscan_backward_workspace(s, o);
    /* saved read twice (h, deltaA), the workspace written once and swept, gradients once */
    c->bytes = 2.0 * (double)scan_pscan_saved_bytes(s, o) + 2.0 * c->workspace + 24.0 * apps +
               (double)scan_shape_tensor_bytes(s) + (double)scan_grad_bytes(s);
}

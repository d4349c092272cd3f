/* kernels/reference_backward.c: the fp64 oracle's backward pass. The plainest reverse
 * loops, every quantity in double, one thread; tests/test_oracle_backward.c checks it
 * against central finite differences of scan_reference.
 *
 * The loss is sum(dy * y) + sum(dh_last * h_last). Per batch b, channel d (k = k(d),
 * g = g(d)), with states h_t (h_0 = h0, t = 1..L) recomputed forward first, and the
 * adjoint gh = dloss/dh_t walked from t = L (gh = dh_last) down to t = 0 (gh = dh0):
 *
 *     x = delta + bias;  dt = softplus(x);  e_n = exp(dt A_n)
 *     acc = C_t . h_t + Dskip u                  y = acc * silu(z)
 *     dz   = dy acc silu'(z);   gy = dy silu(z)          (gy = dy without a gate)
 *     dDskip += gy u;  du += gy Dskip;  dC_t += gy h_t;  gh += gy C_t
 *     h_t = e h_{t-1} + dt B_t u, so:
 *     ddt  = sum_n gh_n (A_n e_n h_{t-1,n} + B_n u);   dA_n += gh_n dt e_n h_{t-1,n}
 *     dB_t += gh dt u;  du += dt (gh . B_t);  gh *= e
 *     ddelta = ddt sigmoid(x) (softplus' = sigmoid);  ddelta_bias += ddelta */
#include <math.h>
#include <string.h>

#include "../common/mem.h"
#include "scan.h"

int scan_reference_backward(const scan_shape *s, const scan_tensors *t, const float *dy,
                            const float *dh_last, scan_grads_f64 *r, mb_err *err)
{
    if (scan_shape_check(s, err)) return -1;
    const int64_t B = s->batch, L = s->seqlen, D = s->channels, N = s->d_state, G = s->groups;
    const int64_t K = scan_shape_k(s), per_k = D / K, per_group = D / G;
    const bool head = s->a_kind == SCAN_A_HEAD;
    int64_t sz[SCAN_NGRADS];
    scan_grad_sizes(s, sz);
    for (int i = 0; i < SCAN_NGRADS; i++)
        if (r->g[i]) memset(r->g[i], 0, (size_t)sz[i] * sizeof(double));
    double *du = r->g[SCAN_G_DU], *ddelta = r->g[SCAN_G_DDELTA], *dbias = r->g[SCAN_G_DBIAS],
           *dA = r->g[SCAN_G_DA], *dB = r->g[SCAN_G_DB], *dC = r->g[SCAN_G_DC],
           *dDskip = r->g[SCAN_G_DDSKIP], *dz = r->g[SCAN_G_DZ], *dh0 = r->g[SCAN_G_DH0];

    double *h = mb_alloc((size_t)((L + 1) * N + N) * sizeof(double)); /* [L+1][N] states, then gh [N] */
    if (!h) return mb_fail(err, "out of memory (oracle backward states: %lld doubles)", (long long)((L + 2) * N));
    double *gh = h + (L + 1) * N;

    for (int64_t b = 0; b < B; b++) {
        for (int64_t d = 0; d < D; d++) {
            const int64_t k = d / per_k, g = d / per_group;
            const double Dk = t->Dskip ? t->Dskip[k] : 0.0;
            // ---- forward: the states h_0 .. h_L of this (b, d)
            for (int64_t n = 0; n < N; n++) h[n] = t->h0 ? t->h0[(b * D + d) * N + n] : 0.0;
            for (int64_t l = 0; l < L; l++) {
                const int64_t bl = b * L + l;
                double dt = (double)t->delta[bl * K + k] + (t->delta_bias ? t->delta_bias[k] : 0.0);
                if (s->softplus) dt = scan_softplus_d(dt);
                const double u = t->u[bl * D + d];
                const float *Bm = t->Bm + (bl * G + g) * N;
                for (int64_t n = 0; n < N; n++) {
                    const double a = head ? t->A[k] : t->A[d * N + n];
                    h[(l + 1) * N + n] = exp(dt * a) * h[l * N + n] + dt * (double)Bm[n] * u;
                }
            }
            // ---- reverse
            for (int64_t n = 0; n < N; n++) gh[n] = dh_last ? dh_last[(b * D + d) * N + n] : 0.0;
            for (int64_t l = L - 1; l >= 0; l--) {
                const int64_t bl = b * L + l;
                const double x = (double)t->delta[bl * K + k] + (t->delta_bias ? t->delta_bias[k] : 0.0);
                const double dt = s->softplus ? scan_softplus_d(x) : x;
                const double dsp = s->softplus ? 1.0 / (1.0 + exp(-x)) : 1.0;
                const double u = t->u[bl * D + d];
                const float *Bm = t->Bm + (bl * G + g) * N, *Cm = t->Cm + (bl * G + g) * N;
                const double *hl = h + (l + 1) * N, *hp = h + l * N;
                double acc = Dk * u;
                for (int64_t n = 0; n < N; n++) acc += (double)Cm[n] * hl[n];
                double gy = dy[bl * D + d];
                if (t->z) {
                    const double zz = t->z[bl * D + d], sg = 1.0 / (1.0 + exp(-zz));
                    dz[bl * D + d] = gy * acc * sg * (1.0 + zz * (1.0 - sg));
                    gy *= zz * sg;
                }
                double dul = gy * Dk;
                if (dDskip) dDskip[k] += gy * u;
                double ddt = 0;
                for (int64_t n = 0; n < N; n++) {
                    dC[(bl * G + g) * N + n] += gy * hl[n];
                    gh[n] += gy * (double)Cm[n];
                    const double a = head ? t->A[k] : t->A[d * N + n];
                    const double e = exp(dt * a);
                    ddt += gh[n] * (a * e * hp[n] + (double)Bm[n] * u);
                    dA[head ? k : d * N + n] += gh[n] * dt * e * hp[n];
                    dB[(bl * G + g) * N + n] += gh[n] * dt * u;
                    dul += gh[n] * dt * (double)Bm[n];
                    gh[n] *= e;
                }
                du[bl * D + d] = dul;
                ddelta[bl * K + k] += ddt * dsp;
                if (dbias) dbias[k] += ddt * dsp;
            }
            if (dh0)
                for (int64_t n = 0; n < N; n++) dh0[(b * D + d) * N + n] = gh[n];
        }
    }
    mb_free(h);
    return 0;
}

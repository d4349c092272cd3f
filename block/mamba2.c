/* block/mamba2.c: the Mamba-2 mixer (mamba_ssm's Mamba2, HF Mamba2Mixer), forward and
 * backward. in_proj gives z, x, B, C, dt; a causal depthwise conv + SiLU over (x, B, C);
 * the scan with one A and dt per head, G groups of B and C, D per head and no gate; then
 * the gated RMSNorm y = rmsnorm(y * silu(z)) * w (norm_before_gate = False, per group of
 * d_inner / ngroups channels, as RMSNormGated with group_size = d_inner / ngroups and
 * model/mamba2.c), and out_proj. x, out: [B][L][dm]; BL = B*L rows. */
#include <math.h>
#include <omp.h>

#include "block/block_impl.h"

int block_mamba2_forward(block *b, const float *x, float *out, bool save, mb_err *err)
{
    const block_shape *s = &b->s;
    const int64_t BL = s->batch * s->seqlen, dm = s->d_model, di = s->d_inner, GN = s->ngroups * s->d_state;
    const int64_t H = di / s->headdim;
    const float *W = b->param[BP_W_IN], *cw = b->param[BP_CONV_W], *cb = b->param[BP_CONV_B];
    const int64_t K = s->d_conv;
    // zxbcdt = self.in_proj(u); z, xBC, dt = split(zxbcdt, [di, di + 2 G N, H])  (row blocks)
    block_linear(x, W, b->z, BL, di, dm);
    block_linear(x, W + di * dm, b->xi, BL, di, dm);
    block_linear(x, W + 2 * di * dm, b->Bi, BL, GN, dm);
    block_linear(x, W + (2 * di + GN) * dm, b->Ci, BL, GN, dm);
    block_linear(x, W + (2 * di + 2 * GN) * dm, b->delta, BL, H, dm);
    // xBC = act(conv1d(xBC)); x, B, C = split(xBC, [di, G N, G N])
    block_conv(b, b->xi, cw, cb, b->xc, di);
    block_conv(b, b->Bi, cw + di * K, cb + di, b->Bc, GN);
    block_conv(b, b->Ci, cw + (di + GN) * K, cb + di + GN, b->Cc, GN);
    block_silu(b, b->xc, b->xs, BL * di);
    block_silu(b, b->Bc, b->Bs, BL * GN);
    block_silu(b, b->Cc, b->Cs, BL * GN);
    // A = -exp(A_log); y = ssd(x, dt, A, B, C, D, dt_bias, dt_softplus=True)
    block_a_from_log(b);
    if (block_scan_forward(b, save, err)) return -1;
    // y = self.norm(y, z): g = y silu(z); per group of gs = di / G channels:
    // y = g / sqrt(mean_group(g^2) + eps) * w
    const float *nw = b->param[BP_NORM_W];
    const int64_t G = s->ngroups, gs = di / G;
#pragma omp parallel for schedule(static) num_threads(b->o.threads > 0 ? b->o.threads : 1)
    for (int64_t r = 0; r < BL; r++) {
        const float *y = b->y + r * di, *z = b->z + r * di;
        float *g = b->g + r * di, *yn = b->yn + r * di;
        for (int64_t gi = 0; gi < G; gi++) {
            double ss = 0;
            for (int64_t c = gi * gs; c < (gi + 1) * gs; c++) {
                g[c] = y[c] * (z[c] / (1.0f + expf(-z[c])));
                ss += (double)g[c] * g[c];
            }
            const float rs = 1.0f / sqrtf((float)(ss / (double)gs) + BLOCK_NORM_EPS);
            b->rstd[r * G + gi] = rs;
            for (int64_t c = gi * gs; c < (gi + 1) * gs; c++) yn[c] = g[c] * rs * nw[c];
        }
    }
    // out = self.out_proj(y)
    block_linear(b->yn, b->param[BP_W_OUT], out, BL, dm, di);
    return 0;
}

int block_mamba2_backward(block *b, const float *x, const float *dout, float *dx, mb_err *err)
{
    const block_shape *s = &b->s;
    const int64_t BL = s->batch * s->seqlen, dm = s->d_model, di = s->d_inner, GN = s->ngroups * s->d_state;
    const int64_t H = di / s->headdim, K = s->d_conv;
    const float *W = b->param[BP_W_IN], *cw = b->param[BP_CONV_W], *nw = b->param[BP_NORM_W];
    float *gW = b->grad[BP_W_IN], *gcw = b->grad[BP_CONV_W], *gcb = b->grad[BP_CONV_B], *gnw = b->grad[BP_NORM_W];
    const int threads = b->o.threads > 0 ? b->o.threads : 1;
    // out = yn W_out^T
    block_linear_dx(dout, b->param[BP_W_OUT], b->dyn, BL, dm, di, 0.0f);
    block_linear_dw(dout, b->yn, b->grad[BP_W_OUT], BL, dm, di);
    // per group: yn = g r w, r = (mean_group g^2 + eps)^-1/2:  dw = sum dyn g r;  a = dyn w;
    // dg = r a - g r^3 mean_group(a g);  then g = y silu(z): dy = dg silu(z), dz = dg y silu'(z)
    const int64_t G = s->ngroups, gs = di / G;
#pragma omp parallel for schedule(static) num_threads(threads)
    for (int64_t r = 0; r < BL; r++) {
        const float *g = b->g + r * di, *dyn = b->dyn + r * di, *y = b->y + r * di, *z = b->z + r * di;
        float *dy = b->dy + r * di, *dz = b->dz + r * di;
        for (int64_t gi = 0; gi < G; gi++) {
            const float rs = b->rstd[r * G + gi];
            double ag = 0;
            for (int64_t c = gi * gs; c < (gi + 1) * gs; c++) ag += (double)dyn[c] * nw[c] * g[c];
            const float m = (float)(ag / (double)gs) * rs * rs * rs;
            for (int64_t c = gi * gs; c < (gi + 1) * gs; c++) {
                const float dg = rs * dyn[c] * nw[c] - g[c] * m;
                const float sg = 1.0f / (1.0f + expf(-z[c]));
                dy[c] = dg * z[c] * sg;
                dz[c] = dg * y[c] * sg * (1.0f + z[c] * (1.0f - sg));
            }
        }
    }
#pragma omp parallel num_threads(threads)
    {
        const int nt = omp_get_num_threads(), id = omp_get_thread_num();
        const int64_t c0 = di * id / nt, c1 = di * (id + 1) / nt;
        for (int64_t c = c0; c < c1; c++) gnw[c] = 0.0f;
        for (int64_t r = 0; r < BL; r++)
            for (int64_t c = c0; c < c1; c++) gnw[c] += b->dyn[r * di + c] * b->g[r * di + c] * b->rstd[r * G + c / gs];
    }
    // the scan: dxs, ddelta, d(dt_bias), dA -> dA_log, dB, dC, dD
    if (block_scan_backward(b, err)) return -1;
    // silu and conv over x, B, C
    block_silu_backward(b, b->xc, b->dxs, b->dxc, BL * di);
    block_silu_backward(b, b->Bc, b->dBs, b->dBc, BL * GN);
    block_silu_backward(b, b->Cc, b->dCs, b->dCc, BL * GN);
    block_conv_backward(b, b->xi, cw, b->dxc, b->dxi, gcw, gcb, di);
    block_conv_backward(b, b->Bi, cw + di * K, b->dBc, b->dBi, gcw + di * K, gcb + di, GN);
    block_conv_backward(b, b->Ci, cw + (di + GN) * K, b->dCc, b->dCi, gcw + (di + GN) * K, gcb + di + GN, GN);
    // in_proj, by row blocks: z, x, B, C, dt
    const float *dparts[5] = {b->dz, b->dxi, b->dBi, b->dCi, b->ddelta};
    const int64_t rows[5] = {di, di, GN, GN, H};
    int64_t off = 0;
    for (int i = 0; i < 5; i++) {
        block_linear_dw(dparts[i], x, gW + off * dm, BL, rows[i], dm);
        if (dx) block_linear_dx(dparts[i], W + off * dm, dx, BL, rows[i], dm, i ? 1.0f : 0.0f);
        off += rows[i];
    }
    return 0;
}

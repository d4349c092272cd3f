/* model/mamba1.c: the Mamba-1 mixer (mamba_ssm's Mamba.forward / HF MambaMixer), each
 * step under the PyTorch line it implements. I = d_inner, N = d_state, R = dt_rank. */
#include "model/mixer.h"
#include "model/ops.h"

int mamba1_mixer(mamba_run *r, const mamba_layer *l, const mixer_state *ms, int64_t B, int64_t L, float *out,
                 mb_err *err)
{
    const mamba_config *c = &r->w->cfg;
    const int64_t BL = B * L, dm = c->d_model, I = c->d_inner, N = c->d_state, R = c->dt_rank;
    const int T = r->threads;

    // xz = self.in_proj(hidden_states); x, z = xz.chunk(2, dim=-1)          x, z: [BL][I]
    // (one token: one pass over in_proj into [2I], x and z are its halves)
    float *xin = r->xin, *z = r->z;
    if (BL == 1) {
        ops_linear(r->proj, r->xn, l->in_proj, l->in_proj_bias, 1, 2 * I, dm, T);
        xin = r->proj, z = r->proj + I;
    } else {
        ops_linear(xin, r->xn, l->in_proj, l->in_proj_bias, BL, I, dm, T);
        ops_linear(z, r->xn, l->in_proj + I * dm, l->in_proj_bias ? l->in_proj_bias + I : NULL, BL, I, dm, T);
    }

    // x = self.act(self.conv1d(x)[..., :seqlen])   (causal depthwise, kernel d_conv, + bias, SiLU)
    ops_conv1d_silu(xin, l->conv_wt, l->conv_b, ms->conv, B, L, I, c->d_conv, r->u, I, NULL, I, NULL,
                    r->scratch, T);

    // x_dbl = self.x_proj(x); dt, B, C = torch.split(x_dbl, [dt_rank, d_state, d_state], dim=-1)
    float *dtr = r->dtr, *Bm = r->Bm, *Cm = r->Cm; /* [BL][R], [BL][N], [BL][N] */
    if (BL == 1) {
        ops_linear(r->proj + 2 * I, r->u, l->x_proj, NULL, 1, R + 2 * N, I, T);
        dtr = r->proj + 2 * I, Bm = dtr + R, Cm = dtr + R + N;
    } else {
        ops_linear(dtr, r->u, l->x_proj, NULL, BL, R, I, T);
        ops_linear(Bm, r->u, l->x_proj + R * I, NULL, BL, N, I, T);
        ops_linear(Cm, r->u, l->x_proj + (R + N) * I, NULL, BL, N, I, T);
    }

    // dt = self.dt_proj.weight @ dt  (its bias goes to the scan as delta_bias)      [BL][I]
    ops_linear(r->delta, dtr, l->dt_proj, NULL, BL, I, R, T);

    // A = -torch.exp(self.A_log.float())
    // y = selective_scan_fn(x, dt, A, B, C, self.D.float(), z=z, delta_bias=self.dt_proj.bias.float(),
    //                       delta_softplus=True)
    //   i.e. dt = softplus(dt + bias); h = exp(dt A) h + dt B x; y = C.h + D x; y *= silu(z)
    scan_shape s = mamba_scan_shape(c, B, L, ms->h_last != NULL, ms->h0 != NULL);
    scan_tensors t = {.u = r->u, .delta = r->delta, .delta_bias = l->dt_bias, .A = l->A, .Bm = Bm,
                      .Cm = Cm, .Dskip = l->D, .z = z, .h0 = ms->h0, .y = r->y, .h_last = ms->h_last};
    if (mamba_scan(r, &s, &t, err)) return -1;

    // out = self.out_proj(y)                                                       [BL][d_model]
    ops_linear(out, r->y, l->out_proj, l->out_proj_bias, BL, dm, I, T);
    return 0;
}

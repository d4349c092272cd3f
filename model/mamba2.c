/* model/mamba2.c: the Mamba-2 mixer (mamba_ssm's Mamba2.forward / HF Mamba2Mixer), each
 * step under the PyTorch line it implements. I = d_inner = H * P, N = d_state, G = ngroups,
 * H = heads, C = I + 2 G N conv channels. */
#include <math.h>

#include "model/mixer.h"
#include "model/ops.h"

int mamba2_mixer(mamba_run *r, const mamba_layer *l, const mixer_state *ms, int64_t B, int64_t L, float *out,
                 mb_err *err)
{
    const mamba_config *c = &r->w->cfg;
    const int64_t BL = B * L, dm = c->d_model, I = c->d_inner, N = c->d_state, G = c->ngroups, H = c->nheads;
    const int64_t C = mamba_config_conv_dim(c);
    const int T = r->threads;
    const float *bias = l->in_proj_bias;

    // zxbcdt = self.in_proj(u); z, xBC, dt = torch.split(zxbcdt, [d_inner, d_inner + 2 G N, nheads], dim=-1)
    // (one token: one pass over in_proj into [I + C + H], z, xBC, dt are its slices)
    float *z = r->z, *xin = r->xin, *delta = r->delta; /* [BL][I], [BL][C], [BL][H] */
    if (BL == 1) {
        ops_linear(r->proj, r->xn, l->in_proj, bias, 1, I + C + H, dm, T);
        z = r->proj, xin = r->proj + I, delta = r->proj + I + C;
    } else {
        ops_linear(z, r->xn, l->in_proj, bias, BL, I, dm, T);
        ops_linear(xin, r->xn, l->in_proj + I * dm, bias ? bias + I : NULL, BL, C, dm, T);
        ops_linear(delta, r->xn, l->in_proj + (I + C) * dm, bias ? bias + I + C : NULL, BL, H, dm, T);
    }

    // xBC = self.act(self.conv1d(xBC.transpose(1, 2)).transpose(1, 2)[:, :seqlen])
    // x, B, C = torch.split(xBC, [d_inner, G N, G N], dim=-1)      -> u [BL][I], Bm, Cm [BL][G][N]
    ops_conv1d_silu(xin, l->conv_wt, l->conv_b, ms->conv, B, L, C, c->d_conv, r->u, I, r->Bm, I + G * N, r->Cm,
                    r->scratch, T);

    // A = -torch.exp(self.A_log.float())                                                  [H]
    // y = mamba_chunk_scan_combined(x, dt, A, B, C, D=self.D, z=None if rmsnorm else z,
    //                               dt_bias=self.dt_bias, dt_softplus=True, dt_limit=...)
    //   i.e. per head: dt = clamp(softplus(dt + dt_bias), dt_limit); h = exp(dt A) h + dt B x;
    //   y = C.h + D x (B, C of the head's group)
    scan_shape s = mamba_scan_shape(c, B, L, ms->h_last != NULL, ms->h0 != NULL);
    const bool limited = c->dt_limit_lo > 0.0 || isfinite(c->dt_limit_hi);
    if (limited) { /* the clamp comes after softplus: do both here, the scan gets dt as is */
        ops_dt_limit(delta, l->dt_bias, BL, H, (float)c->dt_limit_lo, (float)c->dt_limit_hi, T);
        s.softplus = false, s.has_bias = false;
    }
    if (!c->rms_norm) s.has_z = true;
    scan_tensors t = {.u = r->u, .delta = delta, .delta_bias = limited ? NULL : l->dt_bias, .A = l->A,
                      .Bm = r->Bm, .Cm = r->Cm, .Dskip = l->D, .z = c->rms_norm ? NULL : z, .h0 = ms->h0,
                      .y = r->y, .h_last = ms->h_last};
    if (mamba_scan(r, &s, &t, err)) return -1;

    // y = self.norm(y, z)     (RMSNormGated, group_size = d_inner / ngroups, norm_before_gate)
    if (c->rms_norm)
        ops_gated_rmsnorm(r->y, z, l->gnorm, BL, I, G, (float)c->eps, c->norm_before_gate, T);

    // out = self.out_proj(y)                                                         [BL][d_model]
    ops_linear(out, r->y, l->out_proj, l->out_proj_bias, BL, dm, I, T);
    return 0;
}

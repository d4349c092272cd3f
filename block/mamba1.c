/* block/mamba1.c: the Mamba-1 mixer (mamba.py's MambaBlock, the official Mamba class),
 * forward and backward. x, out: [B][L][dm]; BL = B*L rows. Above each step, the
 * reference formula it implements (PyTorch). */
#include <math.h>

#include "block/block_impl.h"

int block_mamba1_forward(block *b, const float *x, float *out, bool save, mb_err *err)
{
    const block_shape *s = &b->s;
    const int64_t BL = s->batch * s->seqlen, dm = s->d_model, di = s->d_inner, N = s->d_state, R = s->dt_rank;
    const float *W_in = b->param[BP_W_IN], *W_x = b->param[BP_W_X];
    // xz = self.in_proj(x); x, z = xz.chunk(2, dim=-1)      (two GEMMs, contiguous halves)
    block_linear(x, W_in, b->xi, BL, di, dm);
    block_linear(x, W_in + di * dm, b->z, BL, di, dm);
    // x = F.silu(self.conv1d(x.transpose(1, 2))[:, :, :L].transpose(1, 2))
    block_conv(b, b->xi, b->param[BP_CONV_W], b->param[BP_CONV_B], b->xc, di);
    block_silu(b, b->xc, b->xs, BL * di);
    // deltaBC = self.x_proj(x); delta, B, C = split(deltaBC, [R, N, N])
    block_linear(b->xs, W_x, b->dtr, BL, R, di);
    block_linear(b->xs, W_x + R * di, b->Bs, BL, N, di);
    block_linear(b->xs, W_x + (R + N) * di, b->Cs, BL, N, di);
    // delta = self.dt_proj.weight @ delta   (its bias is the scan's delta_bias, with the softplus)
    block_linear(b->dtr, b->param[BP_W_DT], b->delta, BL, di, R);
    // A = -torch.exp(self.A_log); y = selective_scan(x, delta, A, B, C, D, z, delta_bias, softplus)
    block_a_from_log(b);
    if (block_scan_forward(b, save, err)) return -1;
    // output = self.out_proj(y)
    block_linear(b->y, b->param[BP_W_OUT], out, BL, dm, di);
    return 0;
}

int block_mamba1_backward(block *b, const float *x, const float *dout, float *dx, mb_err *err)
{
    const block_shape *s = &b->s;
    const int64_t BL = s->batch * s->seqlen, dm = s->d_model, di = s->d_inner, N = s->d_state, R = s->dt_rank;
    const float *W_in = b->param[BP_W_IN], *W_x = b->param[BP_W_X];
    float *gW_in = b->grad[BP_W_IN], *gW_x = b->grad[BP_W_X];
    // out = y W_out^T:  dy = dout W_out;  dW_out = dout^T y
    block_linear_dx(dout, b->param[BP_W_OUT], b->dy, BL, dm, di, 0.0f);
    block_linear_dw(dout, b->y, b->grad[BP_W_OUT], BL, dm, di);
    // the scan: d(xs), d(delta), d(dt_bias), dA -> dA_log, dB, dC, dD, dz
    if (block_scan_backward(b, err)) return -1;
    // delta = dtr W_dt^T
    block_linear_dw(b->ddelta, b->dtr, b->grad[BP_W_DT], BL, di, R);
    block_linear_dx(b->ddelta, b->param[BP_W_DT], b->ddtr, BL, di, R, 0.0f);
    // (dtr, B, C) = xs W_x^T, by row blocks of W_x; dxs accumulates onto the scan's du
    block_linear_dw(b->ddtr, b->xs, gW_x, BL, R, di);
    block_linear_dw(b->dBs, b->xs, gW_x + R * di, BL, N, di);
    block_linear_dw(b->dCs, b->xs, gW_x + (R + N) * di, BL, N, di);
    block_linear_dx(b->ddtr, W_x, b->dxs, BL, R, di, 1.0f);
    block_linear_dx(b->dBs, W_x + R * di, b->dxs, BL, N, di, 1.0f);
    block_linear_dx(b->dCs, W_x + (R + N) * di, b->dxs, BL, N, di, 1.0f);
    // xs = silu(xc); xc = conv(xi)
    block_silu_backward(b, b->xc, b->dxs, b->dxc, BL * di);
    block_conv_backward(b, b->xi, b->param[BP_CONV_W], b->dxc, b->dxi, b->grad[BP_CONV_W], b->grad[BP_CONV_B], di);
    // (xi, z) = x W_in^T
    block_linear_dw(b->dxi, x, gW_in, BL, di, dm);
    block_linear_dw(b->dz, x, gW_in + di * dm, BL, di, dm);
    if (dx) {
        block_linear_dx(b->dxi, W_in, dx, BL, di, dm, 0.0f);
        block_linear_dx(b->dz, W_in + di * dm, dx, BL, di, dm, 1.0f);
    }
    return 0;
}

/* block/block_impl.h: the inside of a block (block/block.c, mamba1.c, mamba2.c share
 * it): parameters, activations kept for the backward, backward temporaries, and the
 * scan kernel's buffers. Shapes with BL = batch * seqlen. */
#ifndef MB_BLOCK_IMPL_H
#define MB_BLOCK_IMPL_H

#include "block/block.h"

#define BLOCK_MAX_MEM 64
#define BLOCK_NORM_EPS 1e-5f

struct block {
    block_shape s;
    const scan_kernel *k;
    scan_opts o;
    scan_shape ss; /* the scan inside */
    bool train;
    int64_t np[BLOCK_NPARAMS];
    float *param[BLOCK_NPARAMS], *grad[BLOCK_NPARAMS];

    // ---- activations (forward; kept for the backward)
    float *z, *xi, *xc, *xs;      /* [BL][di]: gate, conv in, conv out, silu(conv out) */
    float *Bi, *Bc, *Bs;          /* Mamba-2: [BL][G*N] conv in, out, silu; Mamba-1: Bs [BL][N] */
    float *Ci, *Cc, *Cs;          /* the same for C */
    float *dtr;                   /* Mamba-1: [BL][R] */
    float *delta;                 /* [BL][di] (Mamba-1) or [BL][H] (Mamba-2), before the bias */
    float *A;                     /* [di][N] or [H]: -exp(A_log) */
    float *y;                     /* [BL][di] the scan's output */
    float *g, *rstd, *yn;         /* Mamba-2: [BL][di] y silu(z), [BL][G] 1/rms per group, [BL][di] normed */

    // ---- backward temporaries (train)
    float *dy, *dyn;              /* [BL][di] */
    float *dxs, *dxc, *dxi, *dz;  /* [BL][di] */
    float *ddelta;                /* like delta */
    float *dA;                    /* like A */
    float *dBs, *dCs, *dBc, *dCc, *dBi, *dCi; /* like Bs ... */
    float *ddtr;                  /* Mamba-1: [BL][R] */
    scan_grads sg;

    // ---- the scan kernel's buffers
    void *scan_ws;    /* forward workspace (inference), or the training workspace */
    void *scan_saved; /* training */
    size_t scan_ws_fwd, scan_ws_train, scan_saved_bytes;
    void *train_ws;

    void *mem[BLOCK_MAX_MEM];
    int nmem;
    int64_t bytes, train_bytes;
};

// ---- shared pieces (block/block.c, block/params.c)
int block_init_params(block *b, uint64_t seed, mb_err *err);
/* Y [M][n] = X [M][k] W^T, W [n][k] (a torch Linear without bias) */
void block_linear(const float *X, const float *W, float *Y, int64_t M, int64_t n, int64_t k);
/* dX [M][k] (=|+=) dY [M][n] W;  beta 0 overwrites, 1 accumulates */
void block_linear_dx(const float *dY, const float *W, float *dX, int64_t M, int64_t n, int64_t k, float beta);
/* dW [n][k] = dY^T [n][M] X [M][k] */
void block_linear_dw(const float *dY, const float *X, float *dW, int64_t M, int64_t n, int64_t k);
/* causal depthwise conv over C channels, width K: out[t,c] = bias[c] + sum_j w[c,j] in[t-K+1+j,c] */
void block_conv(const block *b, const float *in, const float *w, const float *bias, float *out, int64_t C);
void block_conv_backward(const block *b, const float *in, const float *w, const float *dout, float *din,
                         float *dw, float *dbias, int64_t C);
/* y = silu(x); dx = dy silu'(x) */
void block_silu(const block *b, const float *x, float *y, int64_t n);
void block_silu_backward(const block *b, const float *x, const float *dy, float *dx, int64_t n);
/* A = -exp(A_log); dA_log = dA * A */
void block_a_from_log(const block *b);
int block_scan_forward(block *b, bool save, mb_err *err);
int block_scan_backward(block *b, mb_err *err);

int block_mamba1_forward(block *b, const float *x, float *out, bool save, mb_err *err);
int block_mamba1_backward(block *b, const float *x, const float *dout, float *dx, mb_err *err);
int block_mamba2_forward(block *b, const float *x, float *out, bool save, mb_err *err);
int block_mamba2_backward(block *b, const float *x, const float *dout, float *dx, mb_err *err);

#endif

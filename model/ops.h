/* model/ops.h: the dense pieces of a Mamba block, each one loop nest over rows of
 * [rows][width] activations (row = one token of one sequence), split over OpenMP threads:
 * projections (BLAS), RMSNorm, gated group RMSNorm, causal depthwise conv1d with state. */
#ifndef MB_MODEL_OPS_H
#define MB_MODEL_OPS_H

#include <stdint.h>

/* Y[M][N] = X[M][K] . W[N][K]^T (+ bias[N])   (PyTorch's nn.Linear: y = x W^T + b)
 * Through cblas_sgemm; each thread runs single-threaded BLAS on its block of rows (large M)
 * or of output features (small M). For M <= OPS_FEW_ROWS (decode) a plain SIMD dot-product
 * loop per weight row, measured faster than OpenBLAS's sgemv on this machine (ops.c). */
#define OPS_FEW_ROWS 8
void ops_linear(float *Y, const float *X, const float *W, const float *bias, int64_t M, int64_t N, int64_t K,
                int threads);

/* Y[m][n] (+)= W[n] . X[m] (+ bias[n]) for the weight rows n in [lo, hi) and the M activation
 * rows m (Y row stride ldy, X row stride ldx; accumulate: add to Y instead of storing).
 * Each weight row is read from memory once and dotted with every X row while it sits in
 * L1: the decode projections, which stream the weights. One thread; the caller splits
 * the rows. Measured faster than OpenBLAS 0.3.21's sgemv here (model/README.md). */
void ops_dot_rows(float *Y, int64_t ldy, const float *X, int64_t ldx, int64_t M, const float *W, const float *bias,
                  int64_t K, int64_t lo, int64_t hi, int accumulate);

/* y = x * rsqrt(mean(x^2) + eps) * w, per row of width n.  y may alias x. */
void ops_rmsnorm_row(float *y, const float *x, const float *w, int64_t n, float eps); /* one row, one thread */
void ops_rmsnorm(float *y, const float *x, const float *w, int64_t rows, int64_t n, float eps, int threads);

/* Mamba-2's gated RMSNorm (mamba_ssm RMSNormGated, group_size = n / groups):
 *   norm_before_gate = false:  y = rmsnorm_g(y * silu(z)) * w
 *   norm_before_gate = true:   y = rmsnorm_g(y) * w * silu(z)
 * where rmsnorm_g normalises each group of n / groups consecutive channels. In place on y. */
void ops_gated_rmsnorm(float *y, const float *z, const float *w, int64_t rows, int64_t n, int64_t groups,
                       float eps, int norm_before_gate, int threads);

/* Causal depthwise conv1d + SiLU over L steps of B sequences, C channels, kernel K:
 *   out[b,t,c] = silu(bias[c] + sum_k wt[k][c] * in[b, t-(K-1)+k, c])
 * where in[b, s<0, c] comes from state[b][c][K-1+s] (the K-1 inputs before this call;
 * zeros if state is NULL). The output channel c goes to out_ch(c): channels [0, c1) to
 * out0 (width c1), [c1, c2) to out1 (width c2-c1), [c2, C) to out2 (width C-c2), so
 * Mamba-2's x, B, C land in separate contiguous tensors. If state is given it is updated
 * to the last K-1 inputs. in: [B][L][C]; state: [B][C][K-1]; scratch: [threads][C]. */
void ops_conv1d_silu(const float *in, const float *wt, const float *bias, float *state, int64_t B, int64_t L,
                     int64_t C, int64_t K, float *out0, int64_t c1, float *out1, int64_t c2, float *out2,
                     float *scratch, int threads);

/* One token of the causal conv + SiLU, for channels [lo, hi) of B rows, one thread:
 *   out[b][c] = silu(bias[c] + sum_{k<K-1} wt[k][c] * state[b][c][k] + wt[K-1][c] * in[b][c])
 * then state[b][c] shifts left by one and takes in[b][c] (state NULL: zeros, kept so).
 * in, out: [B][C]; wt: [K][C]; state: [B][C][K-1]. Same sums as ops_conv1d_silu. */
void ops_conv1d_step(const float *in, const float *wt, const float *bias, float *state, int64_t B, int64_t C,
                     int64_t K, int64_t lo, int64_t hi, float *out);

/* dt = clamp(softplus(dt + bias[h]), lo, hi) over [rows][H], in place. */
void ops_dt_limit(float *dt, const float *bias, int64_t rows, int64_t H, float lo, float hi, int threads);

static inline float ops_silu(float x) { return x / (1.0f + __builtin_expf(-x)); }

#endif

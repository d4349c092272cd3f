/* block/block.h: one Mamba block, forward and backward, for timing training at the
 * level of a whole layer (the mamba.py "Performances" study): Mamba-1 (in_proj, causal
 * depthwise conv + SiLU, x_proj, dt_proj, selective scan with the gate, out_proj) and
 * Mamba-2 (in_proj to z, x, B, C, dt; conv + SiLU over x, B, C; scan with scalar A per
 * head; gated RMSNorm; out_proj). The scan goes through any kernel of the table (its
 * forward, or forward_save + backward when training); everything else is shared code,
 * projections through cblas_sgemm.
 *
 * Every buffer (parameters, their gradients, activations, the scan's saved buffer and
 * workspaces) is allocated by block_init, so that timed calls never allocate. */
#ifndef MB_BLOCK_H
#define MB_BLOCK_H

#include <stdbool.h>
#include <stdint.h>

#include "common/err.h"
#include "kernels/scan.h"

typedef enum { BLOCK_MAMBA1 = 1, BLOCK_MAMBA2 = 2 } block_kind;

typedef struct {
    block_kind kind;
    int64_t batch, seqlen;   /* B, L */
    int64_t d_model;         /* dm */
    int64_t d_inner;         /* di = expand * dm */
    int64_t d_state;         /* N */
    int64_t d_conv;          /* conv width (4) */
    int64_t dt_rank;         /* Mamba-1: R (ceil(dm / 16)) */
    int64_t headdim;         /* Mamba-2: P; heads H = di / P */
    int64_t ngroups;         /* Mamba-2: G (B, C groups) */
} block_shape;

/* Defaults of the mamba.py study for a d_model: expand 2, N 16, conv 4, R = ceil(dm/16),
 * headdim 64 (Mamba-2), 1 group. */
void block_shape_default(block_shape *s, block_kind kind, int64_t d_model, int64_t d_state,
                         int64_t seqlen, int64_t batch);
int block_shape_check(const block_shape *s, mb_err *err);
/* The scan problem inside the block. */
void block_scan_shape(const block_shape *s, scan_shape *ss);
/* e.g. "mamba1 B=1 L=2048 dm=768 di=1536 N=16 R=48" */
void block_shape_describe(const block_shape *s, char *buf, size_t len);

/* Parameters, in a fixed order (absent ones have size 0). */
enum {
    BP_W_IN, BP_CONV_W, BP_CONV_B, BP_W_X, BP_W_DT, BP_DT_BIAS, BP_A_LOG, BP_DSKIP, BP_NORM_W,
    BP_W_OUT, BLOCK_NPARAMS
};
extern const char *const block_param_names[BLOCK_NPARAMS];
void block_param_sizes(const block_shape *s, int64_t n[BLOCK_NPARAMS]);

typedef struct block block; /* opaque: block/block_impl.h */

/* Allocates everything for one shape and kernel (training buffers too when train) and
 * draws parameters like Mamba's initialisation (seeded). 0 or -1 with err. */
int block_init(block **out, const block_shape *s, const scan_kernel *k, const scan_opts *o, bool train,
               uint64_t seed, mb_err *err);
void block_free(block *b);

/* x [B][L][dm] -> out [B][L][dm]. save: keep what block_backward needs (train only). */
int block_forward(block *b, const float *x, float *out, bool save, mb_err *err);
/* After block_forward(save): dout [B][L][dm] -> dx [B][L][dm] (may be NULL) and every
 * parameter's gradient (block_grad), overwritten, not accumulated. */
int block_backward(block *b, const float *x, const float *dout, float *dx, mb_err *err);

float *block_param(block *b, int i); /* [size] or NULL */
float *block_grad(block *b, int i);  /* [size] or NULL (train only) */

/* Bytes block_init allocated, and the part that only training needs. */
int64_t block_bytes(const block *b);
int64_t block_train_bytes(const block *b);
/* FLOPs of one forward, and of one backward, counted from the algorithm: GEMMs (2 m n k),
 * conv, pointwise work, plus the scan kernel's own cost model (forward, backward). */
double block_flops(const block *b, bool backward);

#endif

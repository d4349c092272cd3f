/* model/mamba.h: running a Mamba-1 / Mamba-2 language model: the activation buffers and
 * the scan kernel's workspace (allocated once, for at most max_batch x max_len tokens per
 * call), the recurrent state (per layer: conv state and ssm state), and the forward pass.
 *
 * One forward over L tokens of B sequences runs every layer on all B*L tokens at once
 * (parallel mode: projections as matrix products, the scan over L steps). With a state it
 * starts from the state and leaves it after the last token, so a prompt can be run in
 * parallel and then decoded token by token (L = 1: recurrent mode) with the same results
 * as one parallel pass over the whole sequence. */
#ifndef MB_MODEL_MAMBA_H
#define MB_MODEL_MAMBA_H

#include <stdbool.h>
#include <stdint.h>

#include "kernels/scan.h"
#include "model/weights.h"

typedef struct {
    int64_t batch;
    int64_t pos;      /* tokens consumed so far (0: fresh, zero state) */
    float *conv;      /* [n_layer][B][C][K-1] last K-1 conv inputs */
    float *ssm[2];    /* [n_layer][B][I][N] ssm state; ping-pong, ssm[cur] is current */
    int cur;
} mamba_state;

/* Bytes of recurrent state one decoded token reads and writes per sequence: every layer's
 * ssm state [I][N] (read as h0, written as h_last) and conv state [C][K-1] (read, shifted,
 * written), fp32. With the weights (mamba_weights.decode_bytes) this is the memory traffic
 * a decode step cannot avoid; the activations are a few KB and stay in cache. */
double mamba_state_bytes_per_token(const mamba_config *c);

int mamba_state_init(mamba_state *s, const mamba_config *c, int64_t batch, mb_err *err);
void mamba_state_reset(mamba_state *s, const mamba_config *c);
void mamba_state_free(mamba_state *s);

typedef struct {
    const mamba_weights *w;
    const scan_kernel *kernel;
    int threads;
    int64_t max_batch, max_len;
    /* activations, rows = B*L tokens (row-major, last dimension contiguous) */
    float *x;       /* [BL][d_model] residual stream */
    float *xn;      /* [BL][d_model] normalised */
    float *xin;     /* [BL][C] conv input (x part of in_proj; Mamba-2: xBC) */
    float *z;       /* [BL][I] gate */
    float *u;       /* [BL][I] conv output = scan input */
    float *Bm, *Cm; /* [BL][G][N] */
    float *dtr;     /* Mamba-1: [BL][R] low-rank dt */
    float *delta;   /* [BL][I] (Mamba-1) or [BL][H] (Mamba-2) */
    float *y;       /* [BL][I] scan output */
    float *last;    /* [B][d_model] last-position rows for the head */
    float *proj;    /* [in_proj rows + x_proj rows] one token's fused projections (decode) */
    float *scratch; /* [threads][C] conv rows */
    void *ws;       /* scan workspace, ws_bytes */
    size_t ws_bytes;
    /* the one-token step (model/decode.c; Mamba-1 with a kernel that runs channel slices) */
    bool step_ok;
    float *step_xn;  /* [threads][max_batch][d_model] each thread's normalised rows */
    float *step_dbl; /* [max_batch][dt_rank + 2 d_state] x_proj output */
    void *step_ws;   /* [threads][step_ws_bytes] each thread's scan workspace */
    size_t step_ws_bytes;
    /* time spent, accumulated over calls (seconds) */
    double t_scan, t_total;
} mamba_run;

/* Allocates and first-touches every buffer for calls of up to max_batch x max_len tokens
 * with this kernel (workspace from kernel->workspace_bytes). -1 if the kernel cannot run the
 * model's scan problem (message says why). */
int mamba_run_init(mamba_run *r, const mamba_weights *w, const scan_kernel *k, int threads, int64_t max_batch,
                   int64_t max_len, mb_err *err);
void mamba_run_free(mamba_run *r);

/* The scan problem one layer solves for B x L tokens (st: with a state). */
scan_shape mamba_scan_shape(const mamba_config *c, int64_t B, int64_t L, bool with_state, bool has_h0);

/* Runs tokens [B][L] (ids < vocab_size, checked by the caller). st NULL: a fresh parallel
 * pass with no state kept; else st (batch B) is advanced by L tokens. logits: NULL, or
 * [B][L][vocab] (all_positions) or [B][vocab] (the last position only). */
int mamba_forward(mamba_run *r, mamba_state *st, const int32_t *tokens, int64_t B, int64_t L, float *logits,
                  bool all_positions, mb_err *err);

#endif

/* model/mixer.h: the two mixers (mamba1.c, mamba2.c) and the scan call they share
 * (mamba.c). Internal to model/. */
#ifndef MB_MODEL_MIXER_H
#define MB_MODEL_MIXER_H

#include "model/mamba.h"

/* The per-layer slices of a state (all NULL without a state). */
typedef struct {
    float *conv;         /* [B][C][K-1] */
    const float *h0;     /* [B][I][N] or NULL (fresh) */
    float *h_last;       /* [B][I][N] or NULL */
} mixer_state;

/* out[BL][d_model] = mixer(xn[BL][d_model]) for one layer. */
int mamba1_mixer(mamba_run *r, const mamba_layer *l, const mixer_state *ms, int64_t B, int64_t L, float *out,
                 mb_err *err);
int mamba2_mixer(mamba_run *r, const mamba_layer *l, const mixer_state *ms, int64_t B, int64_t L, float *out,
                 mb_err *err);

/* Mamba-1's one-token step (model/decode.c): tokens [B], one parallel region for the whole
 * token; state may be NULL; logits [B][vocab] or NULL. The caller advances the state. */
int mamba1_step_init(mamba_run *r, mb_err *err); /* sets r->step_ok; 0 or -1 (out of memory) */
void mamba1_step_free(mamba_run *r);
int mamba1_step(mamba_run *r, mamba_state *st, const int32_t *tokens, int64_t B, float *logits, mb_err *err);

/* Runs the model's scan kernel on s / t within the reserved workspace; adds to r->t_scan. */
int mamba_scan(mamba_run *r, const scan_shape *s, const scan_tensors *t, mb_err *err);

#endif

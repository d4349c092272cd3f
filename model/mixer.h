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

/* Runs the model's scan kernel on s / t within the reserved workspace; adds to r->t_scan. */
int mamba_scan(mamba_run *r, const scan_shape *s, const scan_tensors *t, mb_err *err);

#endif

/* model/synth.h: synthetic checkpoints of the published Mamba shapes (nothing can be
 * downloaded here), initialised as Mamba's own code initialises a fresh model. */
#ifndef MB_MODEL_SYNTH_H
#define MB_MODEL_SYNTH_H

#include <stdint.h>

#include "common/err.h"
#include "model/weights.h"

/* Names: tiny 130m 370m 790m 1.4b mamba2-tiny mamba2-130m mamba2-370m. */
int synth_preset(const char *name, mamba_config *c, mb_err *err);
/* Comma-separated preset names, for help and errors. */
extern const char synth_preset_names[];

/* Allocates w for c and fills it with the reference initialisation, seeded:
 * embedding ~ N(0, 0.02); in_proj, x_proj, conv1d (weight and bias) ~ nn.Linear / nn.Conv1d
 * default U(-1/sqrt(fan_in), 1/sqrt(fan_in)); out_proj the same divided by sqrt(n_layer)
 * (rescale_prenorm_residual); dt_proj.weight ~ U(-R^-0.5, R^-0.5); dt bias = inverse
 * softplus of dt, dt log-uniform in [dt_min, dt_max] floored at dt_floor; A_log = log(1..N)
 * per channel (Mamba-1) or log(U(1, 16)) per head (Mamba-2, A_init_range); D = 1; norms = 1. */
int synth_weights(mamba_weights *w, const mamba_config *c, uint64_t seed, mb_err *err);

#endif

/* model/config.h: the shape and options of a Mamba-1 or Mamba-2 language model, read from
 * config.json in the Hugging Face style (MambaConfig / Mamba2Config) or the original
 * state-spaces style (d_model, n_layer, ssm_cfg, ...), and written in the HF style. */
#ifndef MB_MODEL_CONFIG_H
#define MB_MODEL_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

typedef enum { MAMBA_V1 = 1, MAMBA_V2 = 2 } mamba_arch;
typedef enum { MAMBA_STYLE_HF = 0, MAMBA_STYLE_ORIGINAL = 1 } mamba_style;

typedef struct {
    mamba_arch arch;
    mamba_style style;       /* which config.json style it was read from */
    int64_t d_model;         /* hidden_size */
    int64_t n_layer;         /* num_hidden_layers */
    int64_t vocab_size;      /* as in the config (token ids must be below it) */
    int64_t vocab;           /* rows of the embedding = logits per token (padded in the original style) */
    int64_t d_state;         /* N: state_size */
    int64_t d_conv;          /* conv_kernel */
    int64_t expand;
    int64_t d_inner;         /* intermediate_size = expand * d_model */
    int64_t dt_rank;         /* Mamba-1: time_step_rank */
    int64_t headdim, nheads, ngroups, chunk_size; /* Mamba-2 */
    bool use_bias;           /* in_proj / out_proj bias */
    bool conv_bias;          /* conv1d bias */
    bool tie;                /* lm_head shares the embedding */
    bool rms_norm;           /* Mamba-2: gated RMSNorm in the mixer (else the gate goes into the scan) */
    bool norm_before_gate;   /* Mamba-2 gated norm: norm(y) * silu(z) instead of norm(y * silu(z)) */
    double eps;              /* layer_norm_epsilon of every RMSNorm */
    double dt_limit_lo, dt_limit_hi; /* Mamba-2 time_step_limit: dt clamped after softplus */
    /* initialisation (used by synth; read when present) */
    double dt_min, dt_max, dt_floor, init_range;
} mamba_config;

/* Reads path (config.json). 0, or -1 with a message naming the file and the field. */
int mamba_config_load(mamba_config *c, const char *path, mb_err *err);
/* The same from text (what names it in messages). Python's json writes the non-standard
 * tokens Infinity, -Infinity and NaN; they are accepted as numbers. */
int mamba_config_parse(mamba_config *c, const char *text, size_t len, const char *what, mb_err *err);
/* Derived sizes and consistency (divisibility, ranges). */
int mamba_config_check(const mamba_config *c, const char *what, mb_err *err);
/* Writes config.json in the HF style (MambaConfig or Mamba2Config), or the original style. */
int mamba_config_write(const mamba_config *c, const char *path, mamba_style style, mb_err *err);
/* One line, e.g. "Mamba-1 d_model=768 n_layer=24 vocab=50280 d_state=16 d_inner=1536 dt_rank=48". */
void mamba_config_describe(const mamba_config *c, char *buf, size_t len);

/* Mamba-2: channels of the conv (x, B, C) and width of in_proj's output. */
int64_t mamba_config_conv_dim(const mamba_config *c);

#endif

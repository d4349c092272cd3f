/* model/weights.h: the parameters of a Mamba-1 / Mamba-2 language model in fp32, loaded from
 * a checkpoint directory (config.json + safetensors, Hugging Face or state-spaces tensor
 * names) with every tensor's shape checked against the config, or saved to one. */
#ifndef MB_MODEL_WEIGHTS_H
#define MB_MODEL_WEIGHTS_H

#include "common/err.h"
#include "model/config.h"
#include "model/safetensors.h"

/* One residual block: x = x + mixer(rmsnorm(x)). I = d_inner, N = d_state, R = dt_rank,
 * H = heads, G = groups, C = conv channels (I for Mamba-1, I + 2 G N for Mamba-2),
 * P = in_proj rows (2 I for Mamba-1, I + C + H for Mamba-2), K = d_conv. */
typedef struct {
    float *norm;          /* [d_model] */
    float *in_proj;       /* [P][d_model] */
    float *in_proj_bias;  /* [P] or NULL */
    float *conv_w;        /* [C][1][K] */
    float *conv_b;        /* [C] or NULL */
    float *x_proj;        /* Mamba-1: [R + 2N][I] */
    float *dt_proj;       /* Mamba-1: [I][R] */
    float *dt_bias;       /* Mamba-1: dt_proj.bias [I]; Mamba-2: dt_bias [H] */
    float *A_log;         /* Mamba-1: [I][N]; Mamba-2: [H] */
    float *D;             /* Mamba-1: [I]; Mamba-2: [H] */
    float *gnorm;         /* Mamba-2: mixer.norm.weight [I] (gated RMSNorm) */
    float *out_proj;      /* [d_model][I] */
    float *out_proj_bias; /* [d_model] or NULL */
    /* derived at load */
    float *A;             /* -exp(A_log), same shape */
    float *conv_wt;       /* conv_w transposed: [K][C] */
} mamba_layer;

typedef struct {
    mamba_config cfg;
    float *embed;         /* [vocab][d_model] */
    float *norm_f;        /* [d_model] */
    float *lm_head;       /* [vocab][d_model]; == embed when tied */
    mamba_layer *layers;  /* [n_layer] */
    void *arena;          /* every tensor, one 2 MiB-aligned block (huge pages advised) */
    size_t arena_len, arena_used;
    double param_bytes;   /* fp32 bytes of the distinct parameters */
    double decode_bytes;  /* fp32 weight bytes read per decoded token (one embedding row) */
} mamba_weights;

/* Loads dir/config.json and dir/model.safetensors (or the shards of
 * model.safetensors.index.json). Errors name the file and the tensor. */
int mamba_weights_load(mamba_weights *w, const char *dir, mb_err *err);
/* Allocates zeroed parameters for cfg (for synthesis). */
int mamba_weights_alloc(mamba_weights *w, const mamba_config *cfg, mb_err *err);
/* Computes the derived tensors (A, conv_wt) and the byte counts; after alloc + fill. */
void mamba_weights_derive(mamba_weights *w);
/* Writes config.json + model.safetensors into dir (created if missing), in the Hugging
 * Face or the state-spaces layout, tensors in dtype (F32, F16 or BF16). */
int mamba_weights_save(const mamba_weights *w, const char *dir, mamba_style style, st_dtype dtype, mb_err *err);
void mamba_weights_free(mamba_weights *w);

#endif

/* model/synth.c: preset shapes and Mamba's initialisation (see synth.h). */
#include "synth.h"

#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>
#include <math.h>
#include <string.h>

const char synth_preset_names[] = "tiny, 130m, 370m, 790m, 1.4b, mamba2-tiny, mamba2-130m, mamba2-370m";

int synth_preset(const char *name, mamba_config *c, mb_err *err)
{
    static const struct {
        const char *name;
        int v;
        int64_t d_model, n_layer, vocab, d_state, headdim, ngroups, chunk;
    } presets[] = {
        /* Mamba-1: the state-spaces/mamba-*-hf shapes (vocab 50280 = 50277 padded to 8) */
        {"tiny", 1, 64, 2, 256, 16, 0, 0, 0},
        {"130m", 1, 768, 24, 50280, 16, 0, 0, 0},
        {"370m", 1, 1024, 48, 50280, 16, 0, 0, 0},
        {"790m", 1, 1536, 48, 50280, 16, 0, 0, 0},
        {"1.4b", 1, 2048, 48, 50280, 16, 0, 0, 0},
        /* Mamba-2: state-spaces/mamba2-* (vocab 50288 = 50277 padded to 16); tiny has 2 groups */
        {"mamba2-tiny", 2, 64, 2, 256, 32, 16, 2, 16},
        {"mamba2-130m", 2, 768, 24, 50288, 128, 64, 1, 256},
        {"mamba2-370m", 2, 1024, 48, 50288, 128, 64, 1, 256},
    };
    for (size_t i = 0; i < sizeof presets / sizeof *presets; i++) {
        if (strcmp(name, presets[i].name)) continue;
        memset(c, 0, sizeof *c);
        c->arch = presets[i].v == 2 ? MAMBA_V2 : MAMBA_V1;
        c->style = MAMBA_STYLE_HF;
        c->d_model = presets[i].d_model, c->n_layer = presets[i].n_layer;
        c->vocab_size = c->vocab = presets[i].vocab;
        c->d_state = presets[i].d_state, c->d_conv = 4, c->expand = 2, c->d_inner = 2 * c->d_model;
        c->dt_rank = (c->d_model + 15) / 16;
        c->headdim = presets[i].headdim, c->ngroups = presets[i].ngroups, c->chunk_size = presets[i].chunk;
        c->nheads = c->headdim ? c->d_inner / c->headdim : 0;
        c->use_bias = false, c->conv_bias = true, c->tie = true;
        c->rms_norm = true, c->norm_before_gate = false, c->eps = 1e-5;
        c->dt_limit_lo = 0.0, c->dt_limit_hi = INFINITY;
        c->dt_min = 1e-3, c->dt_max = 1e-1, c->dt_floor = 1e-4, c->init_range = 0.02;
        return mamba_config_check(c, name, err);
    }
    return mb_fail(err, "--preset: unknown preset \"%s\" (known: %s)", name, synth_preset_names);
}

// ---------------------------------------------------------------- initialisation

static void fill_uniform(gsl_rng *r, float *x, int64_t n, double bound)
{
    for (int64_t i = 0; i < n; i++) x[i] = (float)((2.0 * gsl_rng_uniform(r) - 1.0) * bound);
}

static void fill_const(float *x, int64_t n, float v)
{
    for (int64_t i = 0; i < n; i++) x[i] = v;
}

/* dt = exp(U * (log dt_max - log dt_min) + log dt_min).clamp(min=dt_floor); bias = dt + log(-expm1(-dt)) */
static void fill_dt_bias(gsl_rng *r, float *x, int64_t n, const mamba_config *c)
{
    for (int64_t i = 0; i < n; i++) {
        double dt = exp(gsl_rng_uniform(r) * (log(c->dt_max) - log(c->dt_min)) + log(c->dt_min));
        dt = fmax(dt, c->dt_floor);
        x[i] = (float)(dt + log(-expm1(-dt)));
    }
}

int synth_weights(mamba_weights *w, const mamba_config *c, uint64_t seed, mb_err *err)
{
    if (mamba_weights_alloc(w, c, err)) return -1;
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    if (!r) {
        mamba_weights_free(w);
        return mb_fail(err, "out of memory");
    }
    gsl_rng_set(r, (unsigned long)seed);
    const int64_t dm = c->d_model, I = c->d_inner, N = c->d_state, K = c->d_conv, R = c->dt_rank;
    const int64_t C = mamba_config_conv_dim(c), H = c->nheads;
    const int64_t P = c->arch == MAMBA_V1 ? 2 * I : I + C + H;

    // nn.init.normal_(embedding.weight, std=0.02)
    for (int64_t i = 0; i < c->vocab * dm; i++) w->embed[i] = (float)gsl_ran_gaussian_ziggurat(r, c->init_range);
    for (int64_t li = 0; li < c->n_layer; li++) {
        mamba_layer *l = &w->layers[li];
        fill_const(l->norm, dm, 1.0f);
        // nn.Linear default: U(-1/sqrt(fan_in), 1/sqrt(fan_in)); biases zeroed by _init_weights
        fill_uniform(r, l->in_proj, P * dm, 1.0 / sqrt((double)dm));
        // nn.Conv1d(groups=C) default: fan_in = K, weight and bias U(-1/sqrt(K), 1/sqrt(K))
        fill_uniform(r, l->conv_w, C * K, 1.0 / sqrt((double)K));
        if (l->conv_b) fill_uniform(r, l->conv_b, C, 1.0 / sqrt((double)K));
        if (c->arch == MAMBA_V1) {
            fill_uniform(r, l->x_proj, (R + 2 * N) * I, 1.0 / sqrt((double)I));
            // dt_init_std = dt_rank**-0.5 * dt_scale; nn.init.uniform_(dt_proj.weight, -std, std)
            fill_uniform(r, l->dt_proj, I * R, 1.0 / sqrt((double)R));
            fill_dt_bias(r, l->dt_bias, I, c);
            // A = repeat(arange(1, d_state + 1), "n -> d n", d=d_inner); A_log = log(A)
            for (int64_t d = 0; d < I; d++)
                for (int64_t n = 0; n < N; n++) l->A_log[d * N + n] = (float)log((double)(n + 1));
            fill_const(l->D, I, 1.0f);
        } else {
            fill_dt_bias(r, l->dt_bias, H, c);
            // A = torch.empty(nheads).uniform_(*A_init_range=(1, 16)); A_log = log(A)
            for (int64_t h = 0; h < H; h++) l->A_log[h] = (float)log(1.0 + 15.0 * gsl_rng_uniform(r));
            fill_const(l->D, H, 1.0f);
            if (l->gnorm) fill_const(l->gnorm, I, 1.0f);
        }
        // out_proj: kaiming_uniform_(a=sqrt(5)) then /= sqrt(n_residuals_per_layer * n_layer)
        fill_uniform(r, l->out_proj, dm * I, 1.0 / sqrt((double)I) / sqrt((double)c->n_layer));
    }
    fill_const(w->norm_f, dm, 1.0f);
    if (!c->tie) fill_uniform(r, w->lm_head, c->vocab * dm, 1.0 / sqrt((double)dm));
    gsl_rng_free(r);
    mamba_weights_derive(w);
    return 0;
}

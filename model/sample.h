/* model/sample.h: choosing the next token from logits: greedy, or temperature sampling
 * restricted by top-k and top-p (nucleus), with a repetition penalty; seeded GSL RNG. */
#ifndef MB_MODEL_SAMPLE_H
#define MB_MODEL_SAMPLE_H

#include <gsl/gsl_rng.h>
#include <stdint.h>

typedef struct {
    double temperature; /* 0: greedy (argmax) */
    int64_t top_k;      /* 0: off */
    double top_p;       /* 1: off */
    double repetition_penalty; /* 1: off; > 1 discourages tokens already seen (CTRL / HF rule) */
} sample_opts;

#define SAMPLE_DEFAULT ((sample_opts){.temperature = 0.0, .top_k = 0, .top_p = 1.0, .repetition_penalty = 1.0})

typedef struct {
    double p;
    int32_t id;
} sample_cand;

typedef struct {
    int64_t vocab;
    sample_cand *cand; /* [vocab] working scores */
    unsigned char *seen; /* [vocab] marks for the repetition penalty (all zero between calls) */
} sampler;

int sampler_init(sampler *s, int64_t vocab);
void sampler_free(sampler *s);

/* The next token for logits[vocab] given the ids seen so far (history[n]). rng may be
 * NULL when temperature is 0. */
int32_t sampler_next(sampler *s, const float *logits, const sample_opts *o, const int32_t *history, int64_t n,
                     gsl_rng *rng);

#endif

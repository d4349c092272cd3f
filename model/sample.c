/* model/sample.c: greedy / temperature / top-k / top-p sampling with a repetition penalty. */
#include "sample.h"

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

int sampler_init(sampler *s, int64_t vocab)
{
    s->vocab = vocab;
    s->cand = malloc((size_t)vocab * sizeof *s->cand);
    s->seen = calloc((size_t)vocab, 1);
    if (!s->cand || !s->seen) {
        sampler_free(s);
        return -1;
    }
    return 0;
}

void sampler_free(sampler *s)
{
    free(s->cand);
    free(s->seen);
    s->cand = NULL, s->seen = NULL;
}

static int by_p_desc(const void *a, const void *b)
{
    const sample_cand *x = a, *y = b;
    return x->p < y->p ? 1 : x->p > y->p ? -1 : (x->id > y->id) - (x->id < y->id);
}

int32_t sampler_next(sampler *s, const float *logits, const sample_opts *o, const int32_t *history, int64_t n,
                     gsl_rng *rng)
{
    const int64_t V = s->vocab;
    sample_cand *c = s->cand;
    for (int64_t i = 0; i < V; i++) c[i] = (sample_cand){.p = logits[i], .id = (int32_t)i};
    // repetition penalty (CTRL, as HF applies it): score < 0 ? score * penalty : score / penalty,
    // once for every distinct id seen so far
    if (o->repetition_penalty != 1.0) {
        for (int64_t j = 0; j < n; j++) {
            int32_t id = history[j];
            if (id < 0 || id >= V || s->seen[id]) continue;
            s->seen[id] = 1;
            c[id].p = c[id].p < 0 ? c[id].p * o->repetition_penalty : c[id].p / o->repetition_penalty;
        }
        for (int64_t j = 0; j < n; j++)
            if (history[j] >= 0 && history[j] < V) s->seen[history[j]] = 0;
    }
    // greedy: the first id of the highest score
    if (o->temperature <= 0.0 || !rng) {
        int64_t best = 0;
        for (int64_t i = 1; i < V; i++)
            if (c[i].p > c[best].p) best = i;
        return (int32_t)best;
    }
    // probabilities softmax(score / temperature), unnormalised
    double mx = -INFINITY;
    for (int64_t i = 0; i < V; i++) mx = fmax(mx, c[i].p);
    for (int64_t i = 0; i < V; i++) c[i].p = exp((c[i].p - mx) / o->temperature);
    int64_t m = V;
    if (o->top_k > 0 || o->top_p < 1.0) { /* most likely first */
        qsort(c, (size_t)V, sizeof *c, by_p_desc);
        if (o->top_k > 0 && o->top_k < m) m = o->top_k;
    }
    double total = 0;
    for (int64_t i = 0; i < m; i++) total += c[i].p;
    // top-p: the smallest prefix whose probability reaches top_p (at least one token)
    if (o->top_p < 1.0) {
        double cum = 0;
        int64_t keep = 0;
        while (keep < m) {
            cum += c[keep++].p / total;
            if (cum >= o->top_p) break;
        }
        m = keep;
        total = 0;
        for (int64_t i = 0; i < m; i++) total += c[i].p;
    }
    // draw
    double u = gsl_rng_uniform(rng) * total, acc = 0;
    for (int64_t i = 0; i < m; i++) {
        acc += c[i].p;
        if (u < acc) return c[i].id;
    }
    return c[m - 1].id;
}

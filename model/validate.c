/* model/validate.c: kernels inside a whole model vs the oracle model (see validate.h). */
#include "validate.h"

#include <gsl/gsl_rng.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/mamba.h"

/* max |a - r| and that over max |r| */
static void logits_compare(const float *a, const float *r, int64_t n, double *max_abs, double *max_rel)
{
    double e = 0, m = 0;
    for (int64_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - (double)r[i]);
        if (!(d <= e)) e = d; /* NaN propagates */
        m = fmax(m, fabs((double)r[i]));
    }
    *max_abs = e;
    *max_rel = m > 0 ? e / m : e;
}

static int64_t argmax(const float *x, int64_t n)
{
    int64_t b = 0;
    for (int64_t i = 1; i < n; i++)
        if (x[i] > x[b]) b = i;
    return b;
}

/* logits [B][L][V] of one parallel pass */
static int run_parallel(const mamba_weights *w, const scan_kernel *k, const validate_opts *o, const int32_t *tok,
                        float *logits, mb_err *err)
{
    mamba_run r;
    if (mamba_run_init(&r, w, k, o->threads, o->batch, o->len, err)) return -1;
    int rc = mamba_forward(&r, NULL, tok, o->batch, o->len, logits, true, err);
    mamba_run_free(&r);
    return rc;
}

/* logits [B][L][V]: the first `prompt` tokens in parallel, then one token at a time */
static int run_recurrent(const mamba_weights *w, const scan_kernel *k, const validate_opts *o, const int32_t *tok,
                         float *logits, mb_err *err)
{
    const int64_t B = o->batch, L = o->len, P = o->prompt, V = w->cfg.vocab;
    mamba_run r;
    mamba_state st;
    float *pl = malloc((size_t)(B * (P > 1 ? P : 1) * V) * sizeof(float)); /* [B][P][V] */
    int32_t *step = malloc((size_t)(B * (P > 1 ? P : 1)) * sizeof(int32_t));
    if (!pl || !step) {
        free(pl), free(step);
        return mb_fail(err, "out of memory");
    }
    if (mamba_run_init(&r, w, k, o->threads, B, P, err)) {
        free(pl), free(step);
        return -1;
    }
    int rc = mamba_state_init(&st, &w->cfg, B, err);
    if (rc == 0) {
        for (int64_t b = 0; b < B; b++) memcpy(step + b * P, tok + b * L, (size_t)P * sizeof(int32_t));
        rc = mamba_forward(&r, &st, step, B, P, pl, true, err);
        for (int64_t b = 0; rc == 0 && b < B; b++)
            memcpy(logits + b * L * V, pl + b * P * V, (size_t)(P * V) * sizeof(float));
        for (int64_t t = P; rc == 0 && t < L; t++) {
            for (int64_t b = 0; b < B; b++) step[b] = tok[b * L + t];
            rc = mamba_forward(&r, &st, step, B, 1, pl, true, err);
            for (int64_t b = 0; rc == 0 && b < B; b++)
                memcpy(logits + (b * L + t) * V, pl + b * V, (size_t)V * sizeof(float));
        }
        mamba_state_free(&st);
    }
    mamba_run_free(&r);
    free(pl), free(step);
    return rc;
}

int validate_model(const mamba_weights *w, const validate_opts *o, validate_row *rows, int *nrows, mb_err *err)
{
    const mamba_config *c = &w->cfg;
    const int64_t B = o->batch, L = o->len, V = c->vocab, n = B * L * V;
    *nrows = 0;
    if (o->prompt < 1 || o->prompt > L) return mb_fail(err, "prompt must be in [1, len]");
    const scan_kernel *oracle = NULL;
    for (int i = 0; i < scan_kernel_count; i++)
        if (scan_kernels[i]->oracle) oracle = scan_kernels[i];
    if (!oracle) return mb_fail(err, "no oracle kernel in the table");
    int32_t *tok = malloc((size_t)(B * L) * sizeof *tok);
    float *ref = malloc((size_t)n * sizeof(float)), *par = malloc((size_t)n * sizeof(float)),
          *rec = malloc((size_t)n * sizeof(float));
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    int rc = -1;
    if (!tok || !ref || !par || !rec || !rng) {
        mb_fail(err, "out of memory (logits of %lld x %lld x %lld)", (long long)B, (long long)L, (long long)V);
        goto done;
    }
    gsl_rng_set(rng, (unsigned long)o->seed);
    for (int64_t i = 0; i < B * L; i++) tok[i] = (int32_t)gsl_rng_uniform_int(rng, (unsigned long)c->vocab_size);

    // the oracle model: the same model with the fp64 scan
    if (run_parallel(w, oracle, o, tok, ref, err)) goto done;

    for (int i = 0; i < scan_kernel_count; i++) {
        const scan_kernel *k = scan_kernels[i];
        validate_row *row = &rows[(*nrows)++];
        memset(row, 0, sizeof *row);
        row->kernel = k;
        scan_opts so = {.threads = o->threads};
        scan_shape s = mamba_scan_shape(c, B, L, true, true);
        const char *why = k->unsupported(&s, &so);
        if (why) {
            row->skipped = true, row->ok = true;
            snprintf(row->reason, sizeof row->reason, "%s", why);
            continue;
        }
        mb_err kerr;
        if (k == oracle) memcpy(par, ref, (size_t)n * sizeof(float));
        else if (run_parallel(w, k, o, tok, par, &kerr)) {
            snprintf(row->reason, sizeof row->reason, "parallel run failed: %s", kerr.msg);
            continue;
        }
        logits_compare(par, ref, n, &row->max_abs, &row->max_rel);
        int64_t agree = 0;
        for (int64_t p = 0; p < B * L; p++) agree += argmax(par + p * V, V) == argmax(ref + p * V, V);
        row->argmax_agree = (double)agree / (double)(B * L);
        if (run_recurrent(w, k, o, tok, rec, &kerr)) {
            snprintf(row->reason, sizeof row->reason, "recurrent run failed: %s", kerr.msg);
            continue;
        }
        logits_compare(rec, par, n, &row->rec_max_abs, &row->rec_max_rel);
        row->ok = row->max_rel <= o->tolerance && row->rec_max_rel <= o->tolerance;
        if (!(row->max_rel <= o->tolerance))
            snprintf(row->reason, sizeof row->reason, "logits differ from the oracle model's by %.3g (> %.3g)",
                     row->max_rel, o->tolerance);
        else if (!(row->rec_max_rel <= o->tolerance))
            snprintf(row->reason, sizeof row->reason, "recurrent decode differs from the parallel pass by %.3g (> %.3g)",
                     row->rec_max_rel, o->tolerance);
    }
    rc = 0;
done:
    if (rng) gsl_rng_free(rng);
    free(tok), free(ref), free(par), free(rec);
    return rc;
}

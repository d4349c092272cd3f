/* tests/test_model.c: the model's own consistency on the tiny presets of both families:
 * decode == parallel (prompt split at several points, batch 2, chunked prefill), the
 * Mamba-2 variants (dt limit, norm before gate, no mixer norm), that a broken state is
 * caught, batch rows independent, validate_model passing, the one-token decode step with
 * every kernel and 1-3 threads, the gated RMSNorm per group, and the sampler. */
#include <gsl/gsl_rng.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "model/mamba.h"
#include "model/ops.h"
#include "model/sample.h"
#include "model/synth.h"
#include "model/validate.h"

static double rel_diff(const float *a, const float *r, int64_t n)
{
    double e = 0, m = 0;
    for (int64_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - r[i]);
        if (!(d <= e)) e = d;
        m = fmax(m, fabs((double)r[i]));
    }
    return e / m;
}

/* logits [B][L][V]: tokens in chunks of the given lengths (summing to L) through one state;
 * reset_at >= 0 resets the state before that chunk (a deliberately broken decode) */
static int run_chunks(const mamba_weights *w, const scan_kernel *k, const int32_t *tok, int64_t B, int64_t L,
                      const int64_t *chunks, int nchunks, int reset_at, float *logits)
{
    const int64_t V = w->cfg.vocab;
    mamba_run r;
    mamba_state st;
    mb_err err;
    int32_t *part = malloc((size_t)(B * L) * sizeof *part);
    float *pl = malloc((size_t)(B * L * V) * sizeof *pl);
    int rc = mamba_run_init(&r, w, k, 2, B, L, &err) || mamba_state_init(&st, &w->cfg, B, &err);
    CHECK(rc == 0, "init: %s", err.msg);
    int64_t t0 = 0;
    for (int c = 0; rc == 0 && c < nchunks; c++) {
        const int64_t n = chunks[c];
        if (c == reset_at) mamba_state_reset(&st, &w->cfg);
        for (int64_t b = 0; b < B; b++) memcpy(part + b * n, tok + b * L + t0, (size_t)n * sizeof *part);
        rc = mamba_forward(&r, &st, part, B, n, pl, true, &err);
        CHECK(rc == 0, "forward: %s", err.msg);
        for (int64_t b = 0; rc == 0 && b < B; b++)
            memcpy(logits + (b * L + t0) * V, pl + b * n * V, (size_t)(n * V) * sizeof *pl);
        t0 += n;
    }
    mamba_state_free(&st);
    mamba_run_free(&r);
    free(part), free(pl);
    return rc;
}

static void check_decode(const mamba_weights *w, const char *what)
{
    const int64_t B = 2, L = 20, V = w->cfg.vocab, n = B * L * V;
    const scan_kernel *k = scan_kernel_find("sequential");
    int32_t tok[2 * 20];
    for (int i = 0; i < B * L; i++) tok[i] = (int32_t)((i * 37 + 11) % w->cfg.vocab_size);
    float *par = malloc((size_t)n * sizeof *par), *rec = malloc((size_t)n * sizeof *rec);
    /* one parallel pass, no state */
    mamba_run r;
    mb_err err;
    CHECK(mamba_run_init(&r, w, k, 2, B, L, &err) == 0, "%s", err.msg);
    CHECK(mamba_forward(&r, NULL, tok, B, L, par, true, &err) == 0, "%s", err.msg);
    mamba_run_free(&r);
    /* first parallel chunk of 1, 3 (= d_conv - 1), 7 or all 20 tokens, or chunks 2, 9, 5; then 1 by 1 */
    int64_t ones[20];
    for (int i = 0; i < 20; i++) ones[i] = 1;
    const int64_t *splits[] = {ones, (int64_t[]){3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1},
                               (int64_t[]){7, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1}, (int64_t[]){20},
                               (int64_t[]){2, 9, 5, 1, 1, 1, 1}};
    const int nsplits[] = {20, 18, 14, 1, 7};
    for (int s = 0; s < 5; s++) {
        memset(rec, 0, (size_t)n * sizeof *rec);
        if (run_chunks(w, k, tok, B, L, splits[s], nsplits[s], -1, rec)) continue;
        double d = rel_diff(rec, par, n);
        CHECK(d <= 1e-5, "%s split %d: recurrent vs parallel rel diff %g", what, s, d);
    }
    /* the comparison can fail: a state reset half way makes decode differ from parallel */
    run_chunks(w, k, tok, B, L, splits[2], nsplits[2], 5, rec);
    CHECK(rel_diff(rec, par, n) > 1e-2, "%s: a broken state went unnoticed (%g)", what, rel_diff(rec, par, n));
    /* batch rows are independent: row 1 alone gives row 1's logits */
    float *one = malloc((size_t)(L * V) * sizeof *one);
    CHECK(mamba_run_init(&r, w, k, 1, 1, L, &err) == 0, "%s", err.msg);
    CHECK(mamba_forward(&r, NULL, tok + L, 1, L, one, true, &err) == 0, "%s", err.msg);
    CHECK(rel_diff(one, par + L * V, L * V) <= 1e-5, "%s: batch row 1 alone differs", what);
    /* the last-position head equals the all-positions head there */
    CHECK(mamba_forward(&r, NULL, tok + L, 1, L, one, false, &err) == 0, "%s", err.msg);
    CHECK(rel_diff(one, par + (2 * L - 1) * V, V) <= 1e-5, "%s: last-position logits differ", what);
    /* token ids outside the vocabulary are refused */
    int32_t badtok[2] = {1, (int32_t)w->cfg.vocab};
    CHECK(mamba_forward(&r, NULL, badtok, 1, 2, one, false, &err) == -1 && strstr(err.msg, "position 1"),
          "out-of-vocabulary token: %s", err.msg);
    mamba_run_free(&r);
    free(one), free(par), free(rec);
}

/* The one-token step (model/decode.c) with every kernel that runs the model's scan and 1, 2
 * and 3 threads (3: uneven channel slices, one of them short): a prompt in parallel, then
 * token by token, against one parallel pass. Mamba-1 must take the step; Mamba-2 decodes
 * through the general path. */
static void check_step(const mamba_weights *w, const char *what)
{
    const int64_t L = 12, P = 4, V = w->cfg.vocab;
    int32_t tok[12];
    for (int i = 0; i < L; i++) tok[i] = (int32_t)((i * 53 + 7) % w->cfg.vocab_size);
    float *par = malloc((size_t)(L * V) * sizeof *par), *rec = malloc((size_t)(L * V) * sizeof *rec);
    mb_err err;
    for (int ki = 0; ki < scan_kernel_count; ki++) {
        const scan_kernel *k = scan_kernels[ki];
        for (int T = 1; T <= 3; T++) {
            mamba_run r;
            mamba_state st;
            if (mamba_run_init(&r, w, k, T, 1, L, &err)) continue; /* a kernel that cannot run this model */
            CHECK(r.step_ok == (w->cfg.arch == MAMBA_V1), "%s %s: step_ok %d", what, k->name, r.step_ok);
            CHECK(mamba_forward(&r, NULL, tok, 1, L, par, true, &err) == 0, "%s", err.msg);
            CHECK(mamba_state_init(&st, &w->cfg, 1, &err) == 0, "%s", err.msg);
            CHECK(mamba_forward(&r, &st, tok, 1, P, rec, true, &err) == 0, "%s", err.msg);
            for (int64_t t = P; t < L; t++)
                CHECK(mamba_forward(&r, &st, tok + t, 1, 1, rec + t * V, false, &err) == 0, "%s", err.msg);
            double d = rel_diff(rec, par, L * V);
            CHECK(d <= 1e-5, "%s, kernel %s, %d threads: step vs parallel rel diff %g", what, k->name, T, d);
            /* a single token with no state: the step from a zero state, as the parallel pass */
            CHECK(mamba_forward(&r, NULL, tok, 1, 1, rec, false, &err) == 0, "%s", err.msg);
            d = rel_diff(rec, par, V);
            CHECK(d <= 1e-5, "%s, kernel %s, %d threads: stateless step rel diff %g", what, k->name, T, d);
            mamba_state_free(&st);
            mamba_run_free(&r);
        }
    }
    free(par), free(rec);
}

/* The decode bound's byte count, from the config by hand: every parameter a token reads
 * once (one embedding row, the head whether tied or not) and the state read and written. */
static void check_bytes(const mamba_weights *w, const char *what)
{
    const mamba_config *c = &w->cfg;
    const double dm = c->d_model, I = c->d_inner, N = c->d_state, K = c->d_conv, R = c->dt_rank, H = c->nheads;
    const double C = c->arch == MAMBA_V1 ? I : I + 2.0 * c->ngroups * N;
    const double P = c->arch == MAMBA_V1 ? 2 * I : I + C + H; /* in_proj rows */
    double layer = dm + P * dm + C * K + dm * I;             /* norm, in_proj, conv, out_proj */
    if (c->use_bias) layer += P + dm;
    if (c->conv_bias) layer += C;
    if (c->arch == MAMBA_V1) layer += (R + 2 * N) * I + I * R + I + I * N + I; /* x_proj, dt_proj (+bias), A, D */
    else layer += 3 * H + (c->rms_norm ? I : 0);                              /* dt_bias, A, D, mixer norm */
    const double want = 4.0 * (c->n_layer * layer + dm + dm + (double)c->vocab * dm); /* norm_f, embedding row, head */
    CHECK(fabs(w->decode_bytes - want) < 0.5, "%s: decode bytes %.0f, want %.0f", what, w->decode_bytes, want);
    const double state = 2.0 * 4.0 * c->n_layer * (I * N + C * (K - 1));
    CHECK(fabs(mamba_state_bytes_per_token(c) - state) < 0.5, "%s: state bytes %.0f, want %.0f", what,
          mamba_state_bytes_per_token(c), state);
}

static void check_validate(const mamba_weights *w, const char *what)
{
    validate_opts o = {.batch = 2, .len = 24, .prompt = 9, .seed = 3, .threads = 2, .tolerance = VALIDATE_TOLERANCE};
    validate_row rows[64];
    int n = 0;
    mb_err err;
    CHECK(validate_model(w, &o, rows, &n, &err) == 0, "%s: validate: %s", what, err.msg);
    CHECK(n == scan_kernel_count, "%s: one row per kernel", what);
    int ran = 0;
    for (int i = 0; i < n; i++) {
        CHECK(rows[i].ok, "%s: kernel %s: %s", what, rows[i].kernel->name, rows[i].reason);
        ran += !rows[i].skipped;
        if (!rows[i].skipped) CHECK(rows[i].argmax_agree > 0.99, "%s: %s argmax agreement", what, rows[i].kernel->name);
    }
    CHECK(ran >= 2, "%s: the oracle and at least one kernel ran", what);
}

static void test_models(void)
{
    mb_err err;
    const char *presets[] = {"tiny", "mamba2-tiny"};
    for (int p = 0; p < 2; p++) {
        mamba_config c;
        mamba_weights w;
        CHECK(synth_preset(presets[p], &c, &err) == 0, "%s", err.msg);
        CHECK(synth_weights(&w, &c, 11, &err) == 0, "%s", err.msg);
        check_decode(&w, presets[p]);
        check_step(&w, presets[p]);
        check_bytes(&w, presets[p]);
        check_validate(&w, presets[p]);
        mamba_weights_free(&w);
    }
    /* the byte count of an untied Mamba-1 with projection biases */
    {
        mamba_config c;
        mamba_weights w;
        synth_preset("tiny", &c, &err);
        c.tie = false, c.use_bias = true;
        CHECK(synth_weights(&w, &c, 7, &err) == 0, "%s", err.msg);
        check_bytes(&w, "tiny untied with biases");
        check_step(&w, "tiny untied with biases");
        mamba_weights_free(&w);
    }
    /* Mamba-2 variants: a finite dt limit, norm before the gate, the gate inside the scan */
    struct {
        const char *what;
        double lo, hi;
        bool nbg, rms;
    } var[] = {{"dt_limit", 0.01, 0.05, false, true}, {"norm_before_gate", 0, INFINITY, true, true},
               {"no mixer norm", 0, INFINITY, false, false}};
    for (int v = 0; v < 3; v++) {
        mamba_config c;
        mamba_weights w;
        synth_preset("mamba2-tiny", &c, &err);
        c.dt_limit_lo = var[v].lo, c.dt_limit_hi = var[v].hi, c.norm_before_gate = var[v].nbg, c.rms_norm = var[v].rms;
        CHECK(synth_weights(&w, &c, 5, &err) == 0, "%s", err.msg);
        check_decode(&w, var[v].what);
        check_bytes(&w, var[v].what);
        check_validate(&w, var[v].what);
        mamba_weights_free(&w);
    }
}

static void test_sampler(void)
{
    const int64_t V = 6;
    float logits[6] = {1.0f, 3.0f, -2.0f, 2.9f, 0.0f, 2.0f};
    sampler s;
    CHECK(sampler_init(&s, V) == 0, "sampler_init");
    sample_opts o = SAMPLE_DEFAULT;
    CHECK(sampler_next(&s, logits, &o, NULL, 0, NULL) == 1, "greedy picks the argmax");
    /* repetition penalty 2 on token 1: 3/2 = 1.5 < 2.9, so greedy moves to token 3 */
    int32_t hist[3] = {1, 1, 4};
    o.repetition_penalty = 2.0;
    CHECK(sampler_next(&s, logits, &o, hist, 3, NULL) == 3, "repetition penalty");
    o.repetition_penalty = 1.0;
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(r, 1);
    /* top-k 1 and a tiny top-p are greedy */
    o.temperature = 1.0, o.top_k = 1;
    for (int i = 0; i < 20; i++) CHECK(sampler_next(&s, logits, &o, NULL, 0, r) == 1, "top-k 1");
    o.top_k = 0, o.top_p = 1e-6;
    for (int i = 0; i < 20; i++) CHECK(sampler_next(&s, logits, &o, NULL, 0, r) == 1, "top-p tiny");
    /* top-k 2: only tokens 1 and 3, in proportion exp(3) : exp(2.9) */
    o.top_p = 1.0, o.top_k = 2;
    int count[6] = {0};
    const int draws = 20000;
    for (int i = 0; i < draws; i++) count[sampler_next(&s, logits, &o, NULL, 0, r)]++;
    CHECK(count[1] + count[3] == draws, "top-k 2 stays in the top 2");
    double want = exp(3.0) / (exp(3.0) + exp(2.9));
    CHECK(fabs((double)count[1] / draws - want) < 0.02, "top-k 2 frequencies %g vs %g", (double)count[1] / draws, want);
    /* top-p 0.9 of softmax: cumulative over sorted {3, 2.9, 2, 1, 0, -2} */
    o.top_k = 0, o.top_p = 0.9;
    memset(count, 0, sizeof count);
    for (int i = 0; i < draws; i++) count[sampler_next(&s, logits, &o, NULL, 0, r)]++;
    CHECK(count[2] == 0 && count[4] == 0, "top-p 0.9 excludes the unlikely tail");
    /* the same seed gives the same draws; temperature -> 0 approaches greedy */
    o.top_p = 1.0, o.temperature = 0.7;
    gsl_rng *a = gsl_rng_alloc(gsl_rng_mt19937), *b = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(a, 99), gsl_rng_set(b, 99);
    int same = 1;
    for (int i = 0; i < 100; i++) same &= sampler_next(&s, logits, &o, NULL, 0, a) == sampler_next(&s, logits, &o, NULL, 0, b);
    CHECK(same, "seeded sampling is reproducible");
    o.temperature = 1e-3;
    CHECK(sampler_next(&s, logits, &o, NULL, 0, a) == 1, "temperature 1e-3 is greedy");
    gsl_rng_free(a), gsl_rng_free(b), gsl_rng_free(r);
    sampler_free(&s);
}

/* Mamba-2's gated RMSNorm normalises each group of d_inner / n_groups channels on its own
 * (mamba_ssm RMSNormGated, group_size): two groups of very different scale each come out
 * with RMS 1, which a norm over the whole row would not give (group 0 would be ~0.1). */
static void test_gated_norm(void)
{
    const int64_t n = 8, G = 2, gs = n / G;
    const float w[8] = {1, 2, 1, 2, 1, 2, 1, 2};
    const float z[8] = {3, 3, 3, 3, -1, -1, -1, -1};
    for (int nbg = 0; nbg < 2; nbg++) {
        float y[16];
        for (int64_t r = 0; r < 2; r++) /* two rows: rows are independent */
            for (int64_t i = 0; i < n; i++) y[r * n + i] = (float)((i < gs ? 0.5 : 40.0) * (i % 2 ? -1 : 1) * (r + 1));
        float zz[16];
        for (int64_t i = 0; i < 16; i++) zz[i] = z[i % n];
        float y0[16];
        memcpy(y0, y, sizeof y);
        ops_gated_rmsnorm(y, zz, w, 2, n, G, 1e-6f, nbg, 2);
        for (int64_t r = 0; r < 2; r++)
            for (int64_t g = 0; g < G; g++) {
                /* the expected value, in double, from the definition */
                double v[4], ss = 0;
                for (int64_t i = 0; i < gs; i++) {
                    const int64_t c = g * gs + i;
                    const double silu = z[c] / (1.0 + exp(-(double)z[c]));
                    v[i] = nbg ? y0[r * n + c] : y0[r * n + c] * silu;
                    ss += v[i] * v[i];
                }
                for (int64_t i = 0; i < gs; i++) {
                    const int64_t c = g * gs + i;
                    const double silu = z[c] / (1.0 + exp(-(double)z[c]));
                    double want = v[i] / sqrt(ss / (double)gs + 1e-6) * w[c];
                    if (nbg) want *= silu;
                    CHECK(fabs(y[r * n + c] - want) <= 1e-5 * fabs(want),
                          "gated norm (norm_before_gate %d) row %lld channel %lld: %g, want %g", nbg, (long long)r,
                          (long long)c, y[r * n + c], want);
                }
            }
    }
}

int main(void)
{
    test_gated_norm();
    test_models();
    test_sampler();
    return check_report("test_model");
}

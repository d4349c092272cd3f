/* harness/cmd_model.c: `mbench model synth|logits|bench|generate`: synthesise a checkpoint,
 * dump logits for comparison with other implementations, time prefill and decode, generate
 * token ids. The model itself lives in model/. */
#include <cblas.h>
#include <gsl/gsl_rng.h>
#include <gsl/gsl_sort.h>
#include <gsl/gsl_statistics_double.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/file.h"
#include "harness/bench.h"
#include "harness/cli.h"
#include "harness/cmd.h"
#include "model/mamba.h"
#include "model/sample.h"
#include "model/synth.h"
#include "model/tokens.h"

// ---------------------------------------------------------------- shared flags

/* The kernel by name (NULL: the default, fused if the table has it, else sequential). */
static const scan_kernel *model_kernel(const char *name, mb_err *err)
{
    if (!name) {
        const scan_kernel *k = scan_kernel_find("fused");
        return k ? k : scan_kernel_find("sequential");
    }
    const scan_kernel *k = scan_kernel_find(name);
    if (!k) {
        int off = snprintf(err->msg, sizeof err->msg, "--kernel: unknown kernel \"%s\"; known:", name);
        for (int i = 0; i < scan_kernel_count && off < (int)sizeof err->msg; i++)
            off += snprintf(err->msg + off, sizeof err->msg - (size_t)off, " %s", scan_kernels[i]->name);
    }
    return k;
}

static int model_load(const char *dir, mamba_weights *w)
{
    mb_err err;
    if (!dir) return cmd_usage_error("model: --model DIR is required");
    if (mamba_weights_load(w, dir, &err)) return cmd_usage_error(err.msg);
    return 0;
}

/* One flag of a subcommand and where its value goes: a string, an integer or a double in
 * [lo, hi], or a switch without a value (set to 1). A table of them ends with {0}. */
typedef struct {
    const char *name;
    const char **str;
    int64_t *i64;
    double *dbl;
    int *on;
    int64_t ilo, ihi;
    double dlo, dhi;
} model_flag;

#define MF_STR(name, dst) {name, .str = (dst)}
#define MF_INT(name, dst, lo, hi) {name, .i64 = (dst), .ilo = (lo), .ihi = (hi)}
#define MF_DOUBLE(name, dst, lo, hi) {name, .dbl = (dst), .dlo = (lo), .dhi = (hi)}
#define MF_ON(name, dst) {name, .on = (dst)}

/* Fills the destinations of flags from argv. Returns 0, or 2 after one line on stderr (an
 * unknown argument, a missing or bad value, naming the flag). */
static int model_parse(const char *sub, int argc, char **argv, const model_flag *flags)
{
    mb_err err;
    cli_iter it;
    cli_iter_init(&it, argc, argv, 0);
    while (cli_next(&it)) {
        const model_flag *f = flags;
        while (f->name && strcmp(f->name, it.flag)) f++;
        if (!f->name) {
            fprintf(stderr, "mbench: model %s: unknown argument \"%s\" (see mbench model %s --help)\n", sub, it.flag,
                    sub);
            return 2;
        }
        if (f->on) {
            *f->on = 1;
            continue;
        }
        if (cli_value(&it, &err)) return cmd_usage_error(err.msg);
        if (f->str) *f->str = it.value;
        else if (f->i64 && cli_parse_i64(it.flag, it.value, f->ilo, f->ihi, f->i64, &err))
            return cmd_usage_error(err.msg);
        else if (f->dbl && cli_parse_double(it.flag, it.value, f->dlo, f->dhi, f->dbl, &err))
            return cmd_usage_error(err.msg);
    }
    return 0;
}

// ---------------------------------------------------------------- synth

static int model_synth(int argc, char **argv)
{
    if (cmd_wants_help(argc, argv)) {
        printf("usage: mbench model synth --preset P --out DIR [--seed S] [--layout hf|original] [--dtype f32|f16|bf16]\n\n"
               "Writes DIR/config.json and DIR/model.safetensors: a model of a published shape with\n"
               "Mamba's own initialisation (A_log = log(1..N), dt bias = inverse softplus of dt\n"
               "log-uniform in [1e-3, 1e-1], D = 1, nn.Linear / nn.Conv1d default ranges, out_proj\n"
               "scaled by 1/sqrt(n_layer)). Presets: %s.\n"
               "  --layout   tensor names and config style: Hugging Face (default) or state-spaces\n"
               "  --dtype    tensor dtype in the file (f32 default)\n",
               synth_preset_names);
        return 0;
    }
    const char *preset = NULL, *out = NULL, *layout = "hf", *dtype = "f32";
    int64_t seed = 0;
    const model_flag flags[] = {MF_STR("--preset", &preset), MF_STR("--out", &out), MF_STR("--layout", &layout),
                                MF_STR("--dtype", &dtype), MF_INT("--seed", &seed, 0, INT64_MAX), {0}};
    if (model_parse("synth", argc, argv, flags)) return 2;
    mb_err err;
    if (!preset) return cmd_usage_error("model synth: --preset is required");
    if (!out) return cmd_usage_error("model synth: --out DIR is required");
    mamba_style style;
    if (!strcmp(layout, "hf")) style = MAMBA_STYLE_HF;
    else if (!strcmp(layout, "original")) style = MAMBA_STYLE_ORIGINAL;
    else return cmd_usage_error("--layout: expected hf or original");
    st_dtype dt;
    if (!strcmp(dtype, "f32")) dt = ST_F32;
    else if (!strcmp(dtype, "f16")) dt = ST_F16;
    else if (!strcmp(dtype, "bf16")) dt = ST_BF16;
    else return cmd_usage_error("--dtype: expected f32, f16 or bf16");
    mamba_config c;
    mamba_weights w;
    if (synth_preset(preset, &c, &err)) return cmd_usage_error(err.msg);
    if (synth_weights(&w, &c, (uint64_t)seed, &err)) return cmd_usage_error(err.msg);
    int rc = mamba_weights_save(&w, out, style, dt, &err);
    if (rc == 0) {
        char d[256];
        mamba_config_describe(&c, d, sizeof d);
        printf("wrote %s/config.json and %s/model.safetensors: %s, %.1f M parameters\n", out, out, d,
               w.param_bytes / 4e6);
    } else fprintf(stderr, "mbench: %s\n", err.msg);
    mamba_weights_free(&w);
    return rc ? 1 : 0;
}

// ---------------------------------------------------------------- logits

static int model_logits(int argc, char **argv)
{
    if (cmd_wants_help(argc, argv)) {
        printf("usage: mbench model logits --model DIR --tokens FILE.json --out FILE.bin [--kernel K] [--threads T]\n\n"
               "Runs the token sequences of FILE.json (a JSON list of lists of ints, all of one\n"
               "length: batch x length) through the model in one parallel pass and writes every\n"
               "position's logits as raw little-endian float32, laid out [batch][length][vocab].\n"
               "  --kernel   scan kernel (fused if present, else sequential)\n"
               "  --threads  OpenMP threads (1)\n");
        return 0;
    }
    const char *dir = NULL, *tokfile = NULL, *out = NULL, *kname = NULL;
    int64_t threads = 1;
    const model_flag flags[] = {MF_STR("--model", &dir), MF_STR("--tokens", &tokfile), MF_STR("--out", &out),
                                MF_STR("--kernel", &kname), MF_INT("--threads", &threads, 1, CLI_MAX_THREADS), {0}};
    if (model_parse("logits", argc, argv, flags)) return 2;
    mb_err err;
    if (!tokfile) return cmd_usage_error("model logits: --tokens FILE.json is required");
    if (!out) return cmd_usage_error("model logits: --out FILE.bin is required");
    const scan_kernel *k = model_kernel(kname, &err);
    if (!k) return cmd_usage_error(err.msg);
    mamba_weights w;
    int rc = model_load(dir, &w);
    if (rc) return rc;
    token_batch tb;
    mamba_run r = {0};
    float *logits = NULL;
    if (tokens_load_json(&tb, tokfile, w.cfg.vocab_size, &err)) {
        mamba_weights_free(&w);
        return cmd_usage_error(err.msg);
    }
    const int64_t n = tb.batch * tb.len * w.cfg.vocab;
    rc = 1;
    if (mamba_run_init(&r, &w, k, (int)threads, tb.batch, tb.len, &err)) {
        fprintf(stderr, "mbench: %s\n", err.msg);
        rc = 2;
        goto done;
    }
    if (!(logits = malloc((size_t)n * sizeof(float)))) {
        fprintf(stderr, "mbench: out of memory for %lld logits\n", (long long)n);
        goto done;
    }
    if (mamba_forward(&r, NULL, tb.ids, tb.batch, tb.len, logits, true, &err)) {
        fprintf(stderr, "mbench: %s\n", err.msg);
        goto done;
    }
    mb_atomic a;
    if (mb_atomic_open(&a, out, &err)) {
        fprintf(stderr, "mbench: %s\n", err.msg);
        rc = 2;
        goto done;
    }
    fwrite(logits, sizeof(float), (size_t)n, a.f); /* x86-64: little-endian; a short write shows at commit */
    if (mb_atomic_commit(&a, &err)) {
        fprintf(stderr, "mbench: %s\n", err.msg);
        goto done;
    }
    printf("wrote %s: float32 [%lld][%lld][%lld] (kernel %s)\n", out, (long long)tb.batch, (long long)tb.len,
           (long long)w.cfg.vocab, k->name);
    rc = 0;
done:
    free(logits);
    mamba_run_free(&r);
    tokens_free(&tb);
    mamba_weights_free(&w);
    return rc;
}

// ---------------------------------------------------------------- bench

static double median_of(double *x, int n)
{
    gsl_sort(x, 1, (size_t)n);
    return gsl_stats_median_from_sorted_data(x, 1, (size_t)n);
}

static int model_bench(mb_ctx *ctx, int argc, char **argv)
{
    if (cmd_wants_help(argc, argv)) {
        printf("usage: mbench model bench --model DIR --prompt-len N --gen M --kernel K --threads T\n"
               "                          [--reps R] [--seed S] [--bind compact|scatter|none] [--json] [--no-calibrate]\n\n"
               "Times a random prompt of N tokens in parallel mode (prefill) and then M tokens decoded\n"
               "one by one (greedy) from the state, R times (5) after one warm-up. Prints prefill and\n"
               "decode tokens/s from the median times, the share of prefill and decode time spent in\n"
               "the scan kernel, and decode against its bandwidth bound: the bytes a token must move\n"
               "(every fp32 weight once, one embedding row, the recurrent state read and written)\n"
               "over the calibrated stream bandwidth at T threads.\n");
        return 0;
    }
    const char *dir = NULL, *kname = NULL, *bind_name = "compact";
    int64_t plen = 0, gen = -1, threads = 0, reps = 5, seed = 42;
    int json = 0, no_calibrate = 0;
    const model_flag flags[] = {MF_STR("--model", &dir),
                                MF_STR("--kernel", &kname),
                                MF_INT("--prompt-len", &plen, 1, 1 << 20),
                                MF_INT("--gen", &gen, 0, 1 << 20),
                                MF_INT("--threads", &threads, 1, CLI_MAX_THREADS),
                                MF_INT("--reps", &reps, 1, 10000),
                                MF_INT("--seed", &seed, 0, INT64_MAX),
                                MF_ON("--json", &json),
                                MF_ON("--no-calibrate", &no_calibrate),
                                MF_STR("--bind", &bind_name),
                                {0}};
    if (model_parse("bench", argc, argv, flags)) return 2;
    pin_mode bind;
    if (pin_mode_parse(bind_name, &bind)) return cmd_usage_error("--bind: expected compact, scatter or none");
    mb_err err;
    if (!plen) return cmd_usage_error("model bench: --prompt-len N is required");
    if (gen < 0) return cmd_usage_error("model bench: --gen M is required");
    if (!threads) return cmd_usage_error("model bench: --threads T is required");
    if (!kname) return cmd_usage_error("model bench: --kernel K is required");
    const scan_kernel *k = model_kernel(kname, &err);
    if (!k) return cmd_usage_error(err.msg);
    mamba_weights w;
    int rc = model_load(dir, &w);
    if (rc) return rc;
    const mamba_config *c = &w.cfg;
    mamba_run r = {0};
    mamba_state st = {0};
    int32_t *prompt = malloc((size_t)plen * sizeof *prompt);
    float *logits = malloc((size_t)c->vocab * sizeof(float));
    double *t_pre = calloc((size_t)reps, sizeof(double)), *t_dec = calloc((size_t)reps, sizeof(double));
    double *s_pre = calloc((size_t)reps, sizeof(double)), *s_dec = calloc((size_t)reps, sizeof(double));
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    char binding[512] = "";
    rc = 1;
    if (!prompt || !logits || !t_pre || !t_dec || !s_pre || !s_dec || !rng) {
        fprintf(stderr, "mbench: out of memory\n");
        goto done;
    }
    gsl_rng_set(rng, (unsigned long)seed);
    for (int64_t i = 0; i < plen; i++) prompt[i] = (int32_t)gsl_rng_uniform_int(rng, (unsigned long)c->vocab_size);
    if (pin_threads(&ctx->topo, (int)threads, bind, binding, sizeof binding, &err)) {
        fprintf(stderr, "mbench: %s\n", err.msg);
        goto done;
    }
    if (mamba_run_init(&r, &w, k, (int)threads, 1, plen, &err) || mamba_state_init(&st, c, 1, &err)) {
        fprintf(stderr, "mbench: %s\n", err.msg);
        rc = 2;
        goto done;
    }
    calib cal;
    cmd_calibration(ctx, &cal, !no_calibrate);
    for (int64_t rep = -1; rep < reps; rep++) { /* rep -1: warm-up */
        mamba_state_reset(&st, c);
        double s0 = r.t_scan, t0 = bench_now();
        if (mamba_forward(&r, &st, prompt, 1, plen, logits, false, &err)) {
            fprintf(stderr, "mbench: %s\n", err.msg);
            goto done;
        }
        double t1 = bench_now(), s1 = r.t_scan;
        for (int64_t g = 0; g < gen; g++) {
            int32_t next = 0;
            for (int64_t v = 1; v < c->vocab; v++) /* greedy */
                if (logits[v] > logits[next]) next = (int32_t)v;
            if (next >= c->vocab_size) next = 0;
            if (mamba_forward(&r, &st, &next, 1, 1, logits, false, &err)) {
                fprintf(stderr, "mbench: %s\n", err.msg);
                goto done;
            }
        }
        double t2 = bench_now();
        if (rep >= 0) {
            t_pre[rep] = t1 - t0, t_dec[rep] = t2 - t1;
            s_pre[rep] = (s1 - s0) / (t1 - t0);
            s_dec[rep] = gen ? (r.t_scan - s1) / (t2 - t1) : 0;
        }
    }
    pin_readback(&ctx->topo, (int)threads, binding, sizeof binding);
    const double mp = median_of(t_pre, (int)reps), md = median_of(t_dec, (int)reps);
    const double sp = median_of(s_pre, (int)reps), sd = median_of(s_dec, (int)reps);
    const double pre_tps = (double)plen / mp, dec_tps = gen ? (double)gen / md : 0;
    const calib_row *row = cal.valid ? calib_row_for(&cal, (int)threads) : NULL;
    const double bw = row ? row->stream_gbps * 1e9 : 0;
    /* per token: every weight once (one embedding row), the recurrent state read and written */
    const double state_bytes = mamba_state_bytes_per_token(c), tok_bytes = w.decode_bytes + state_bytes;
    const double bound_tps = bw > 0 ? bw / tok_bytes : 0;
    char desc[256];
    mamba_config_describe(c, desc, sizeof desc);
    if (json) {
        /* --gen 0 decodes nothing: its decode figures are null, not the empty loop's */
        json_t *o = json_pack("{s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:f, s:f, s:f, s:o, s:o, s:o, s:f, s:s}",
                              "model", dir, "config", desc, "kernel", k->name, "threads", (json_int_t)threads,
                              "prompt_len", (json_int_t)plen, "gen", (json_int_t)gen, "reps", (json_int_t)reps,
                              "prefill_median_s", mp, "prefill_tokens_per_s", pre_tps, "prefill_scan_share", sp,
                              "decode_median_s", gen ? json_real(md) : json_null(), "decode_tokens_per_s",
                              gen ? json_real(dec_tps) : json_null(), "decode_scan_share",
                              gen ? json_real(sd) : json_null(), "decode_weight_bytes_per_token", w.decode_bytes,
                              "binding", binding);
        if (o) json_object_set_new(o, "blas_core", json_string(openblas_get_corename()));
        if (o) json_object_set_new(o, "decode_state_bytes_per_token", json_real(state_bytes));
        if (o && bound_tps > 0) {
            json_object_set_new(o, "stream_gbps", json_real(row->stream_gbps));
            json_object_set_new(o, "decode_bound_tokens_per_s", json_real(bound_tps));
            json_object_set_new(o, "decode_bound_fraction", gen ? json_real(dec_tps / bound_tps) : json_null());
        }
        char *s = o ? json_dumps(o, JSON_PRESERVE_ORDER) : NULL;
        if (!s) {
            fprintf(stderr, "mbench: model bench: cannot build the JSON result\n");
            json_decref(o);
            goto done;
        }
        puts(s);
        free(s);
        json_decref(o);
    } else {
        printf("model    %s (%s)\nkernel   %s, %lld threads (%s), %lld reps after 1 warm-up; OpenBLAS core %s\n",
               dir, desc, k->name, (long long)threads, binding, (long long)reps, openblas_get_corename());
        printf("prefill  %lld tokens: median %.4f s = %.1f tokens/s, %.1f%% of it in the scan\n", (long long)plen, mp,
               pre_tps, 100 * sp);
        if (gen)
            printf("decode   %lld tokens: median %.4f s = %.2f tokens/s (%.2f ms/token), %.1f%% in the scan\n",
                   (long long)gen, md, dec_tps, 1e3 * md / (double)gen, 100 * sd);
        if (gen && bound_tps > 0)
            printf("bound    (%.1f MB of fp32 weights + %.1f MB of state read and written) per token / %.1f GB/s "
                   "stream (%d threads) = %.2f tokens/s: decode reaches %.2f of it\n",
                   w.decode_bytes / 1e6, state_bytes / 1e6, row->stream_gbps, row->threads, bound_tps,
                   dec_tps / bound_tps);
        else if (gen)
            printf("bound    no calibration: %.1f MB of fp32 weights + %.1f MB of state per token (run mbench "
                   "calibrate)\n",
                   w.decode_bytes / 1e6, state_bytes / 1e6);
    }
    rc = 0;
done:
    if (rng) gsl_rng_free(rng);
    free(prompt), free(logits), free(t_pre), free(t_dec), free(s_pre), free(s_dec);
    mamba_state_free(&st);
    mamba_run_free(&r);
    mamba_weights_free(&w);
    return rc;
}

// ---------------------------------------------------------------- generate

static int model_generate(int argc, char **argv)
{
    if (cmd_wants_help(argc, argv)) {
        printf("usage: mbench model generate --model DIR --tokens 1,2,3 --max-new M [sampling] [--seed S]\n"
               "                             [--kernel K] [--threads T]\n\n"
               "Runs the prompt in parallel mode, then decodes M tokens one by one from the state.\n"
               "Prints the new token ids, comma-separated, on stdout.\n"
               "sampling (greedy by default):\n"
               "  --temperature X          sample from softmax(logits / X); 0 = greedy\n"
               "  --top-k K                only the K most likely tokens (0 = off)\n"
               "  --top-p P                only the most likely tokens whose probability reaches P (1 = off)\n"
               "  --repetition-penalty R   divide (or multiply, if negative) the logits of seen tokens by R\n"
               "  --seed S                 the sampler's GSL RNG seed (0)\n");
        return 0;
    }
    const char *dir = NULL, *toks = NULL, *kname = NULL;
    int64_t maxnew = -1, threads = 1, seed = 0;
    sample_opts so = SAMPLE_DEFAULT;
    const model_flag flags[] = {MF_STR("--model", &dir),
                                MF_STR("--tokens", &toks),
                                MF_STR("--kernel", &kname),
                                MF_INT("--max-new", &maxnew, 0, 1 << 24),
                                MF_INT("--threads", &threads, 1, CLI_MAX_THREADS),
                                MF_INT("--seed", &seed, 0, INT64_MAX),
                                MF_DOUBLE("--temperature", &so.temperature, 0, 100),
                                MF_INT("--top-k", &so.top_k, 0, INT64_MAX),
                                MF_DOUBLE("--top-p", &so.top_p, 1e-9, 1),
                                MF_DOUBLE("--repetition-penalty", &so.repetition_penalty, 1e-3, 1e3),
                                {0}};
    if (model_parse("generate", argc, argv, flags)) return 2;
    mb_err err;
    if (!toks) return cmd_usage_error("model generate: --tokens 1,2,3 is required");
    if (maxnew < 0) return cmd_usage_error("model generate: --max-new M is required");
    const scan_kernel *k = model_kernel(kname, &err);
    if (!k) return cmd_usage_error(err.msg);
    mamba_weights w;
    int rc = model_load(dir, &w);
    if (rc) return rc;
    const mamba_config *c = &w.cfg;
    token_batch tb = {0};
    if (tokens_parse_list(&tb, "--tokens", toks, c->vocab_size, &err)) {
        mamba_weights_free(&w);
        return cmd_usage_error(err.msg);
    }
    mamba_run r = {0};
    mamba_state st = {0};
    sampler smp = {0};
    int32_t *hist = malloc((size_t)(tb.len + maxnew) * sizeof *hist);
    float *logits = malloc((size_t)c->vocab * sizeof(float));
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    rc = 1;
    if (!hist || !logits || !rng || sampler_init(&smp, c->vocab)) {
        fprintf(stderr, "mbench: out of memory\n");
        goto done;
    }
    gsl_rng_set(rng, (unsigned long)seed);
    memcpy(hist, tb.ids, (size_t)tb.len * sizeof *hist);
    if (mamba_run_init(&r, &w, k, (int)threads, 1, tb.len, &err) || mamba_state_init(&st, c, 1, &err)) {
        fprintf(stderr, "mbench: %s\n", err.msg);
        rc = 2;
        goto done;
    }
    double t0 = bench_now();
    if (mamba_forward(&r, &st, tb.ids, 1, tb.len, logits, false, &err)) {
        fprintf(stderr, "mbench: %s\n", err.msg);
        goto done;
    }
    double t1 = bench_now();
    int64_t n = tb.len;
    for (int64_t g = 0; g < maxnew; g++) {
        /* only ids of the real vocabulary (the padding rows of the head are never sampled) */
        int32_t next = sampler_next(&smp, logits, &so, hist, n, rng);
        if (next >= c->vocab_size) next = c->vocab_size - 1;
        hist[n++] = next;
        printf("%s%d", g ? "," : "", next);
        if (g + 1 < maxnew && mamba_forward(&r, &st, &next, 1, 1, logits, false, &err)) {
            fprintf(stderr, "mbench: %s\n", err.msg);
            goto done;
        }
    }
    printf("\n");
    double t2 = bench_now();
    fprintf(stderr, "mbench: prompt %lld tokens in %.3f s, %lld new tokens in %.3f s (kernel %s)\n", (long long)tb.len,
            t1 - t0, (long long)maxnew, t2 - t1, k->name);
    rc = 0;
done:
    if (rng) gsl_rng_free(rng);
    free(hist), free(logits);
    sampler_free(&smp);
    mamba_state_free(&st);
    mamba_run_free(&r);
    tokens_free(&tb);
    mamba_weights_free(&w);
    return rc;
}

// ---------------------------------------------------------------- dispatch

int cmd_model(mb_ctx *ctx, int argc, char **argv)
{
    const char *sub = argc > 0 ? argv[0] : NULL;
    if (!sub || !strcmp(sub, "-h") || !strcmp(sub, "--help")) {
        printf("usage: mbench model synth|logits|bench|generate [options]   (each has --help)\n\n"
               "  synth     write a checkpoint of a preset shape with Mamba's initialisation\n"
               "  logits    logits of token sequences as raw float32 [batch][length][vocab]\n"
               "  bench     prefill and decode tokens/s, scan share, decode vs bandwidth bound\n"
               "  generate  token ids in, sampled token ids out\n");
        return sub ? 0 : 2;
    }
    if (!strcmp(sub, "synth")) return model_synth(argc - 1, argv + 1);
    if (!strcmp(sub, "logits")) return model_logits(argc - 1, argv + 1);
    if (!strcmp(sub, "bench")) return model_bench(ctx, argc - 1, argv + 1);
    if (!strcmp(sub, "generate")) return model_generate(argc - 1, argv + 1);
    fprintf(stderr, "mbench: model: unknown subcommand \"%s\" (synth, logits, bench, generate)\n", sub);
    return 2;
}

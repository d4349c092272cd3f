/* harness/cmd_validate.c: `mbench validate [--model DIR | --preset P]`: every kernel of the
 * table that can run the model's scan, inside the whole model, against the same model with
 * the fp64 oracle scan. Exit status 1 if any kernel fails. */
#include <stdio.h>
#include <string.h>

#include "harness/cli.h"
#include "harness/cmd.h"
#include "model/synth.h"
#include "model/validate.h"

int cmd_validate(mb_ctx *ctx, int argc, char **argv)
{
    (void)ctx;
    if (cmd_wants_help(argc, argv)) {
        printf("usage: mbench validate [--model DIR | --preset P] [--batch B] [--len L] [--prompt P]\n"
               "                       [--seed S] [--threads T] [--tolerance X]\n\n"
               "Runs random token sequences (B=2 x L=48) through the model once per kernel of the table\n"
               "that supports its scan (Mamba-1: diag kernels; Mamba-2: all) and once with the fp64\n"
               "oracle scan. Per kernel: max abs and max relative (normwise) logits error against the\n"
               "oracle model, argmax agreement, and parallel vs recurrent agreement (the first P=L/2\n"
               "tokens in parallel, then one token at a time from the state). Fails (exit 1) if an\n"
               "error exceeds the tolerance (%g).\n"
               "  --model DIR   a checkpoint directory (config.json + safetensors)\n"
               "  --preset P    a synthesised model instead (%s), seeded by --seed\n",
               VALIDATE_TOLERANCE, synth_preset_names);
        return 0;
    }
    const char *dir = NULL, *preset = NULL;
    validate_opts o = {.batch = 2, .len = 48, .prompt = 0, .seed = 1, .threads = 1, .tolerance = VALIDATE_TOLERANCE};
    int64_t v;
    mb_err err;
    cli_iter it;
    cli_iter_init(&it, argc, argv, 0);
    while (cli_next(&it)) {
        const char *f = it.flag;
        if (!strcmp(f, "--model") || !strcmp(f, "--preset")) {
            if (cli_value(&it, &err)) return cmd_usage_error(err.msg);
            *(f[2] == 'm' ? &dir : &preset) = it.value;
            continue;
        }
        if (!strcmp(f, "--tolerance")) {
            if (cli_value(&it, &err) || cli_parse_double(f, it.value, 0, 1, &o.tolerance, &err))
                return cmd_usage_error(err.msg);
            continue;
        }
        int64_t *dst = !strcmp(f, "--batch") ? &o.batch : !strcmp(f, "--len") ? &o.len
                     : !strcmp(f, "--prompt") ? &o.prompt : NULL;
        if (dst) {
            if (cli_value(&it, &err) || cli_parse_i64(f, it.value, 1, 1 << 16, dst, &err)) return cmd_usage_error(err.msg);
        } else if (!strcmp(f, "--seed")) {
            if (cli_value(&it, &err) || cli_parse_i64(f, it.value, 0, INT64_MAX, &v, &err)) return cmd_usage_error(err.msg);
            o.seed = (uint64_t)v;
        } else if (!strcmp(f, "--threads")) {
            if (cli_value(&it, &err) || cli_parse_i64(f, it.value, 1, CLI_MAX_THREADS, &v, &err))
                return cmd_usage_error(err.msg);
            o.threads = (int)v;
        } else {
            fprintf(stderr, "mbench: validate: unknown argument \"%s\" (see mbench validate --help)\n", f);
            return 2;
        }
    }
    if (!!dir == !!preset) return cmd_usage_error("validate: give one of --model DIR or --preset P");
    if (!o.prompt) o.prompt = o.len / 2 > 0 ? o.len / 2 : 1;
    if (o.prompt > o.len) return cmd_usage_error("--prompt: must not exceed --len");

    mamba_weights w;
    if (dir) {
        if (mamba_weights_load(&w, dir, &err)) return cmd_usage_error(err.msg);
    } else {
        mamba_config c;
        if (synth_preset(preset, &c, &err)) return cmd_usage_error(err.msg);
        if (synth_weights(&w, &c, o.seed, &err)) return cmd_usage_error(err.msg);
    }
    char desc[256];
    mamba_config_describe(&w.cfg, desc, sizeof desc);
    printf("model   %s: %s\ntokens  %lld x %lld random (seed %llu); recurrent: %lld in parallel, then 1 at a time; "
           "tolerance %g\n\n",
           dir ? dir : preset, desc, (long long)o.batch, (long long)o.len, (unsigned long long)o.seed,
           (long long)o.prompt, o.tolerance);
    validate_row rows[64];
    int n = 0, failed = 0;
    if (validate_model(&w, &o, rows, &n, &err)) {
        fprintf(stderr, "mbench: validate: %s\n", err.msg);
        mamba_weights_free(&w);
        return 1;
    }
    printf("%-12s %-6s %12s %12s %8s %14s  %s\n", "kernel", "status", "max_abs", "max_rel", "argmax", "rec_vs_par_rel",
           "note");
    for (int i = 0; i < n; i++) {
        const validate_row *r = &rows[i];
        if (r->skipped) {
            printf("%-12s %-6s %12s %12s %8s %14s  %s\n", r->kernel->name, "skip", "-", "-", "-", "-", r->reason);
            continue;
        }
        failed += !r->ok;
        printf("%-12s %-6s %12.3g %12.3g %7.1f%% %14.3g  %s\n", r->kernel->name, r->ok ? "ok" : "FAIL", r->max_abs,
               r->max_rel, 100 * r->argmax_agree, r->rec_max_rel,
               r->kernel->oracle ? "the oracle model itself" : r->reason);
    }
    printf("\n%s\n", failed ? "FAILED" : "all kernels agree with the oracle model");
    mamba_weights_free(&w);
    return failed ? 1 : 0;
}

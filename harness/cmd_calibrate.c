/* harness/cmd_calibrate.c: `mbench calibrate`: measures the ceilings for 1..all PUs and
 * stores them as JSON (results/calibration.json by default). */
#include <stdio.h>
#include <string.h>

#include "harness/cli.h"
#include "harness/cmd.h"

static void print_calib(const calib *c)
{
    printf("%-8s %12s %12s", "threads", "stream GB/s", "fma GFLOP/s");
    for (int i = 0; i < c->nexp; i++) printf(" %16s", c->exp_names[i]);
    printf("\n");
    for (int r = 0; r < c->nrows; r++) {
        printf("%-8d %12.1f %12.1f", c->rows[r].threads, c->rows[r].stream_gbps, c->rows[r].fma_gflops);
        for (int i = 0; i < c->nexp; i++) printf(" %14.2f G", c->rows[r].exp_rate[i] * 1e-9);
        printf("\n");
    }
    printf("(exp columns: G exps/s)\n");
}

int cmd_calibrate(mb_ctx *ctx, int argc, char **argv)
{
    if (cmd_wants_help(argc, argv)) {
        printf("usage: mbench calibrate [--threads MAX] [--bind compact|scatter|none] [--quick]\n"
               "                        [--out FILE] [--show]\n\n"
               "Measures this machine's ceilings for 1..MAX pinned threads (default: all PUs):\n"
               "  stream    triad a = b + s*c over 3 x 128 MiB, best of 8 (STREAM's byte count)\n"
               "  fma       fp32 vector FMAs on 12 independent chains per thread\n"
               "  exp       every exp routine the kernels use, over x in [-80, 0], L1-resident\n"
               "and stores them (default %s/results/calibration.json, or $MBENCH_RESULTS).\n"
               "run and sweep put every measurement against these. --show prints the stored one.\n",
               MB_SOURCE_DIR);
        return 0;
    }
    calib_settings cs = {.max_threads = ctx->topo.pus, .bind = PIN_COMPACT, .scale = 1.0, .progress = true};
    char path[512];
    calib_default_path(path, sizeof path);
    int show = 0;
    mb_err err;
    cli_iter it;
    cli_iter_init(&it, argc, argv, 0);
    while (cli_next(&it)) {
        int64_t v;
        if (!strcmp(it.flag, "--threads")) {
            if (cli_value(&it, &err) || cli_parse_i64("--threads", it.value, 1, CALIB_MAX_THREADS, &v, &err))
                return cmd_usage_error(err.msg);
            cs.max_threads = (int)v;
        } else if (!strcmp(it.flag, "--bind")) {
            if (cli_value(&it, &err)) return cmd_usage_error(err.msg);
            if (pin_mode_parse(it.value, &cs.bind)) return cmd_usage_error("--bind: expected compact, scatter or none");
        } else if (!strcmp(it.flag, "--quick")) {
            cs.scale = 0.25;
        } else if (!strcmp(it.flag, "--show")) {
            show = 1;
        } else if (!strcmp(it.flag, "--out")) {
            if (cli_value(&it, &err)) return cmd_usage_error(err.msg);
            snprintf(path, sizeof path, "%s", it.value);
        } else {
            fprintf(stderr, "mbench: calibrate: unknown argument \"%s\" (see --help)\n", it.flag);
            return 2;
        }
    }
    calib c;
    if (show) {
        if (calib_load(&c, path, &err)) {
            fprintf(stderr, "mbench: %s\n", err.msg);
            return 1;
        }
        printf("calibration %s (%s, %s)\n", path, c.date, c.cpu);
        print_calib(&c);
        return 0;
    }
    if (cs.max_threads > ctx->topo.pus)
        fprintf(stderr, "mbench: warning: %d threads on %d PUs: rows above %d oversubscribe\n", cs.max_threads,
                ctx->topo.pus, ctx->topo.pus);
    if (calib_measure(&c, &ctx->topo, &cs, &err) || calib_save(&c, path, &err)) {
        fprintf(stderr, "mbench: calibrate: %s\n", err.msg);
        return 1;
    }
    printf("calibration of %s, %s binding, saved to %s\n", c.cpu, pin_mode_name(cs.bind), path);
    print_calib(&c);
    return 0;
}

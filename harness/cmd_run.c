/* harness/cmd_run.c: `mbench run KERNEL [shape] [settings] [--json]`: one point (or one
 * per thread count), all statistics on stdout, human-readable or as one JSON object. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness/cli.h"
#include "harness/cmd.h"
#include "harness/report.h"
#include "common/mem.h"

static void help(void)
{
    printf("usage: mbench run KERNEL [shape flags] [run flags] [--json] [--no-calibrate]\n\n"
           "Times KERNEL (see mbench list) on one problem: warm-up, then repetitions until\n"
           "both --min-reps and --min-time are met; prints the median, its 95%% CI (order\n"
           "statistics), min, mean, sd, CV, state updates/s, GFLOP/s, GB/s, and the fraction\n"
           "of this machine's calibrated ceiling (exp, FMA or bandwidth) that binds.\n\n%s\n%s"
           "output:\n"
           "  --json             one JSON object on stdout (keys are stable; see README)\n"
           "  --no-calibrate     do not measure ceilings if none are stored\n",
           cli_shape_help, cli_run_help);
}

int cmd_run(mb_ctx *ctx, int argc, char **argv)
{
    if (cmd_wants_help(argc, argv)) {
        help();
        return 0;
    }
    cli_shape cs;
    cli_run cr;
    cli_shape_default(&cs);
    cli_run_default(&cr);
    const char *kname = NULL;
    int json = 0, autocal = 1;
    mb_err err;
    cli_iter it;
    cli_iter_init(&it, argc, argv, 0);
    while (cli_next(&it)) {
        int r = cli_shape_flag(&it, &cs, &err);
        if (r == 0) r = cli_run_flag(&it, &cr, &err);
        if (r < 0) return cmd_usage_error(err.msg);
        if (r > 0) continue;
        if (!strcmp(it.flag, "--json")) json = 1;
        else if (!strcmp(it.flag, "--no-calibrate")) autocal = 0;
        else if (cmd_kernel_arg("run", it.flag, &kname)) return 2;
    }
    const scan_kernel *k = cmd_kernel("run", kname);
    if (!k) return 2;
    if (cli_shape_finish(&cs, &err)) return cmd_usage_error(err.msg);
    if (cr.set.block_level) {
        /* the block around the scan: d_model as given, or channels / expand */
        cr.set.d_model = cs.d_model ? cs.d_model : cs.shape.channels / (cs.expand ? cs.expand : 2);
        block_shape bs;
        if (bench_block_shape(&cs.shape, &cr.set, &bs, &err)) return cmd_usage_error(err.msg);
        block_scan_shape(&bs, &cs.shape);
    }

    /* refuse before allocating anything: unsupported problems, too much memory */
    int64_t need_max = 0;
    for (int i = 0; i < cr.nthreads; i++) {
        cr.set.threads = (int)cr.threads[i];
        scan_opts o = {.threads = cr.set.threads, .chunk = cr.set.chunk, .checkpoint = cr.set.checkpoint};
        const bool train = cr.set.direction != BENCH_FORWARD;
        const char *why = train ? scan_backward_unsupported(k, &cs.shape, &o) : k->unsupported(&cs.shape, &o);
        if (why) {
            fprintf(stderr, "mbench: run: %s cannot run this problem%s: %s\n", k->name,
                    train ? "'s backward" : "", why);
            return 2;
        }
        int64_t need = bench_point_bytes(k, &cs.shape, &cr.set);
        if (need > need_max) need_max = need;
        if (cr.set.threads > ctx->topo.pus)
            fprintf(stderr, "mbench: warning: --threads %d is more than the %d PUs here: threads will share PUs\n",
                    cr.set.threads, ctx->topo.pus);
    }
    int64_t avail = mb_mem_available();
    if (avail > 0 && need_max > avail / 10 * 8) {
        fprintf(stderr, "mbench: run: this shape needs %.2f GiB (tensors + workspace) but only %.2f GiB is available\n",
                need_max / 1073741824.0, avail / 1073741824.0);
        return 2;
    }

    /* bench_block_point counts nothing: counters at block level would be silently absent */
    if (cr.counters && cr.set.block_level)
        return cmd_usage_error("run: --counters count the scan alone: not with --level block");
    cnt_set *cnt = NULL;
    if (cr.counters && cmd_counter_set(ctx, cr.counters, &cnt)) return 2;
    cr.set.counters = cnt;

    calib cal;
    cmd_calibration(ctx, &cal, autocal);
    bench_result res[CLI_MAX_LIST];
    int n = 0, rc = 0;
    for (int i = 0; i < cr.nthreads; i++, n++) {
        cr.set.threads = (int)cr.threads[i];
        int prc = cr.set.block_level ? bench_block_point(k, &cs.shape, &cr.set, &cal, &ctx->topo, &res[i], &err)
                                     : bench_point(k, &cs.shape, &cr.set, &cal, &ctx->topo, &res[i], &err);
        if (prc) {
            fprintf(stderr, "mbench: run: %s\n", err.msg);
            for (int j = 0; j < i; j++) bench_result_free(&res[j]);
            free(cnt);
            return 1;
        }
        if (res[i].status != BENCH_OK) rc = res[i].status == BENCH_SKIPPED ? 2 : 1;
    }
    if (json) report_json_print(stdout, res, n);
    else {
        for (int i = 0; i < n; i++) report_text(stdout, &res[i], &cal);
        if (n > 1) report_speedups(stdout, res, n);
    }
    for (int i = 0; i < n; i++) {
        if (res[i].status != BENCH_OK) fprintf(stderr, "mbench: run: %s\n", res[i].reason);
        bench_result_free(&res[i]);
    }
    free(cnt);
    return rc;
}

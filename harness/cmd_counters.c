/* harness/cmd_counters.c: `mbench counters KERNEL [shape] [--sim] ...`: why a kernel is as
 * fast as it is. Hardware and software counters around separate (untimed) calls where the
 * machine has them; valgrind's cache simulation of one call where it does not (--sim). */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness/cachesim.h"
#include "harness/cli.h"
#include "harness/cmd.h"
#include "harness/report.h"

static void help(void)
{
    printf("usage: mbench counters KERNEL [shape flags] [run flags] [--sim [--cold] [--ll L]] [--json]\n\n"
           "Counts what one call of KERNEL does. Without --sim: the events of --counters (\"default\":\n"
           "PAPI cycles, instructions, L1/L2/L3 misses where PAPI has a CPU component, and the perf\n"
           "software events task-clock, page-faults, context-switches, cpu-migrations), summed over\n"
           "the pinned threads, in calls separate from the timed ones; per call and per state update.\n"
           "`mbench info` lists the counters that work on this machine.\n\n"
           "--sim runs one call under valgrind's cache simulation (callgrind) with this machine's\n"
           "cache geometry from hwloc (printed), and reports instructions, D1 and LL read and write\n"
           "misses and LL write-backs, in total and per state update. valgrind runs the threads one\n"
           "at a time on one simulated hierarchy. It is slow (~50-100x): keep shapes small.\n\n%s\n%s"
           "simulation:\n"
           "  --sim              simulate the caches (valgrind) instead of reading counters\n"
           "  --cold             start from empty caches (default: one warm-up call first)\n"
           "  --ll l2|l3|SIZE,WAYS[,LINE]   the simulated last level (default: hwloc's last level)\n"
           "output:\n"
           "  --json             one JSON object on stdout\n",
           cli_shape_help, cli_run_help);
}

int cmd_counters(mb_ctx *ctx, int argc, char **argv)
{
    if (cmd_wants_help(argc, argv)) {
        help();
        return 0;
    }
    cli_shape cs;
    cli_run cr;
    cli_shape_default(&cs);
    cli_run_default(&cr);
    const char *kname = NULL, *ll = NULL;
    int json = 0, sim = 0, cold = 0, child = 0;
    mb_err err;
    cli_iter it;
    cli_iter_init(&it, argc, argv, 0);
    while (cli_next(&it)) {
        int r = cli_shape_flag(&it, &cs, &err);
        if (r == 0) r = cli_run_flag(&it, &cr, &err);
        if (r < 0) return cmd_usage_error(err.msg);
        if (r > 0) continue;
        if (!strcmp(it.flag, "--json")) json = 1;
        else if (!strcmp(it.flag, "--sim")) sim = 1;
        else if (!strcmp(it.flag, "--cold")) cold = 1;
        else if (!strcmp(it.flag, "--sim-child")) child = 1; /* internal: inside valgrind */
        else if (!strcmp(it.flag, "--ll")) {
            if (cli_value(&it, &err)) return cmd_usage_error(err.msg);
            ll = it.value;
        } else if (cmd_kernel_arg("counters", it.flag, &kname)) return 2;
    }
    const scan_kernel *k = cmd_kernel("counters", kname);
    if (!k) return 2;
    if (cli_shape_finish(&cs, &err)) return cmd_usage_error(err.msg);
    if ((cold || ll) && !sim && !child) return cmd_usage_error("counters: --cold and --ll apply to --sim only");
    if ((sim || child) && cr.nthreads > 1) return cmd_usage_error("counters: --sim takes one --threads value");
    /* what is counted is the scan (bench_point), and --sim simulates its forward alone */
    if (cr.set.block_level) return cmd_usage_error("counters: --level block: counters count the scan alone (--level scan)");
    if ((sim || child) && cr.set.direction != BENCH_FORWARD)
        return cmd_usage_error("counters: --sim simulates the scan's forward only (--direction forward)");
    scan_opts o = {.threads = cr.set.threads, .chunk = cr.set.chunk};
    const char *why = k->unsupported(&cs.shape, &o);
    if (why) {
        fprintf(stderr, "mbench: counters: %s cannot run this problem: %s\n", k->name, why);
        return 2;
    }
    cachesim_request rq = {.kernel = k, .shape = cs.shape, .threads = cr.set.threads, .seed = cr.set.seed,
                           .chunk = cr.set.chunk, .cold = cold};

    // ---- internal: the call valgrind simulates
    if (child) {
        if (cachesim_child(&rq, &err)) {
            fprintf(stderr, "mbench: counters --sim-child: %s\n", err.msg);
            return 1;
        }
        return 0;
    }

    // ---- the cache simulation
    if (sim) {
        if (cachesim_geom_from_topo(&ctx->topo, 0, &rq.geom, &err) ||
            (ll && cachesim_geom_set_ll(&ctx->topo, ll, &rq.geom, &err)))
            return cmd_usage_error(err.msg);
        char geo[256];
        cachesim_geom_describe(&rq.geom, geo, sizeof geo);
        fprintf(stderr, "mbench: counters: simulating %s under valgrind (%s)%s\n", k->name, geo,
                cr.set.threads > 1 ? "; valgrind runs the threads one at a time" : "");
        cachesim_result res;
        if (cachesim_run(&rq, &res, &err)) {
            fprintf(stderr, "mbench: counters: %s\n", err.msg);
            return 1;
        }
        if (json) {
            json_t *out = json_object();
            char desc[160];
            scan_shape_describe(&cs.shape, desc, sizeof desc);
            json_object_set_new(out, "kernel", json_string(k->name));
            json_object_set_new(out, "shape", json_string(desc));
            json_object_set_new(out, "sim", cachesim_json(&res));
            report_json_dump(stdout, out);
            return 0;
        }
        char desc[160];
        scan_shape_describe(&cs.shape, desc, sizeof desc);
        printf("%s  %s  threads=%d  cache simulation\n", k->name, desc, cr.set.threads);
        cachesim_text(stdout, &res);
        return 0;
    }

    // ---- counters around separate calls (with the timing bench_point gives anyway)
    cnt_set *cnt = NULL;
    if (cmd_counter_set(ctx, cr.counters ? cr.counters : "default", &cnt)) return 2;
    cr.set.counters = cnt;
    cr.set.min_time = 0;
    if (cr.set.min_reps > 5) cr.set.min_reps = 5;
    bench_result res[CLI_MAX_LIST];
    int n = 0, rc = 0;
    for (int i = 0; i < cr.nthreads; i++, n++) {
        cr.set.threads = (int)cr.threads[i];
        if (bench_point(k, &cs.shape, &cr.set, NULL, &ctx->topo, &res[i], &err)) {
            fprintf(stderr, "mbench: counters: %s\n", err.msg);
            for (int j = 0; j < i; j++) bench_result_free(&res[j]);
            free(cnt);
            return 1;
        }
        if (res[i].status != BENCH_OK) rc = res[i].status == BENCH_SKIPPED ? 2 : 1;
    }
    if (json) report_json_print(stdout, res, n);
    else
        for (int i = 0; i < n; i++) report_text(stdout, &res[i], NULL);
    for (int i = 0; i < n; i++) {
        if (res[i].status != BENCH_OK) fprintf(stderr, "mbench: counters: %s\n", res[i].reason);
        bench_result_free(&res[i]);
    }
    free(cnt);
    return rc;
}

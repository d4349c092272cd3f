/* harness/main.c: `mbench VERB ...`: loads the topology once, dispatches to the verb,
 * and is the only place that exits. */
#include <cblas.h>
#include <stdio.h>
#include <string.h>

#include "harness/cmd.h"

const cmd_verb cmd_verbs[] = {
    {"list", "kernels, exp routines and scenarios", cmd_list},
    {"info", "the machine as mbench sees it: topology, caches, CPU, compiler, BLAS, PAPI", cmd_info},
    {"calibrate", "measure this machine's ceilings: stream bandwidth, FMA rate, exp rates", cmd_calibrate},
    {"run", "time one kernel on one shape; statistics on stdout", cmd_run},
    {"counters", "cache-miss analysis: PAPI/perf counters, or valgrind's cache simulation (--sim)", cmd_counters},
    {"sweep", "every point x kernel of a scenario: CSVs, fits, plots (resumable)", cmd_sweep},
    {"plot", "redraw the plots and fits of a sweep from its CSVs", cmd_plot},
    {"merge", "merge the shards of a sweep (sweep --shard I/N) into one results directory", cmd_merge},
    {"validate", "every kernel inside a whole Mamba model vs the fp64 oracle model", cmd_validate},
    {"model", "a Mamba-1/Mamba-2 model: synth, logits, bench, generate", cmd_model},
};
const int cmd_verb_count = (int)(sizeof cmd_verbs / sizeof cmd_verbs[0]);

static void usage(FILE *f)
{
    fprintf(f, "usage: mbench VERB [options]   (mbench VERB --help for each verb)\n\nverbs:\n");
    for (int i = 0; i < cmd_verb_count; i++) fprintf(f, "  %-10s %s\n", cmd_verbs[i].name, cmd_verbs[i].summary);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return 0;
    }
    const cmd_verb *v = NULL;
    for (int i = 0; i < cmd_verb_count; i++)
        if (!strcmp(argv[1], cmd_verbs[i].name)) v = &cmd_verbs[i];
    if (!v) {
        fprintf(stderr, "mbench: unknown verb \"%s\"\n", argv[1]);
        usage(stderr);
        return 2;
    }
    /* OpenBLAS runs single-threaded: parallelism is the kernels' own (no oversubscription) */
    openblas_set_num_threads(1);
    mb_ctx ctx = {.argv0 = argv[0]};
    mb_err err;
    if (pin_topo_init(&ctx.topo, &err)) {
        fprintf(stderr, "mbench: %s\n", err.msg);
        return 1;
    }
    int rc = v->fn(&ctx, argc - 2, argv + 2);
    pin_topo_free(&ctx.topo);
    return rc;
}

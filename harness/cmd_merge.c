/* harness/cmd_merge.c: `mbench merge DIR... --out DIR`: the shards of a sweep (or whole
 * sweeps of one scenario) into one results directory (merge.c), then its fits and plots
 * as `mbench plot` draws them. docs/cluster.md. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness/cli.h"
#include "harness/cmd.h"
#include "harness/merge.h"

static void help(void)
{
    printf("usage: mbench merge DIR... --out DIR [--allow-mixed] [--no-plot]\n\n"
           "Merges sweep directories of one scenario, normally the shards of\n"
           "`mbench sweep NAME --shard I/N`, into a new results directory: points.csv, samples.csv,\n"
           "scenario.ini, meta.json (every input's machine, calibration and runs under \"sources\"),\n"
           "fits.csv recomputed over the merged points, and the plots (mbench plot DIR redraws\n"
           "them). Refused (exit status 2, nothing written), naming the point and directories:\n"
           "  - inputs of different scenarios (scenario hash) or partitions (rule, shard count)\n"
           "  - a run (point x kernel) in two inputs with different results; a run found\n"
           "    identically twice (a copied directory, a directory given twice) is kept once\n"
           "  - ok rows of two machine types in one plot (one axis, one value of the others),\n"
           "    saying which part differs: the machine, the commit or the build flags\n"
           "Missing shards, missing runs and unfinished inputs are warnings: the merge holds\n"
           "what was measured and meta.json says \"incomplete\".\n\n"
           "  --out DIR       the merged directory (new; must not hold a sweep)\n"
           "  --allow-mixed   merge several machine types: rows keep their machine_type, and fits\n"
           "                  and plots are drawn per machine type (never one series across them)\n"
           "  --no-plot       fits.csv only (mbench plot DIR draws the plots later)\n\n"
           "Exit status: 0 merged, 1 a write or plot failed, 2 bad input or refused.\n");
}

int cmd_merge(mb_ctx *ctx, int argc, char **argv)
{
    (void)ctx;
    if (cmd_wants_help(argc, argv)) {
        help();
        return 0;
    }
    const char **dirs = calloc((size_t)(argc ? argc : 1), sizeof *dirs);
    const char *out = NULL;
    int ndirs = 0, plot = 1, rc = 0;
    merge_opts o = {0};
    mb_err err;
    if (!dirs) return cmd_usage_error("out of memory");
    cli_iter it;
    cli_iter_init(&it, argc, argv, 0);
    while (cli_next(&it)) {
        const char *f = it.flag;
        if (!strcmp(f, "--out")) {
            if (cli_value(&it, &err)) {
                rc = cmd_usage_error(err.msg);
                goto done;
            }
            out = it.value;
        } else if (!strcmp(f, "--allow-mixed")) o.allow_mixed = true;
        else if (!strcmp(f, "--no-plot")) plot = 0;
        else if (f[0] == '-') {
            fprintf(stderr, "mbench: merge: unknown flag \"%s\" (see mbench merge --help)\n", f);
            rc = 2;
            goto done;
        } else dirs[ndirs++] = f;
    }
    if (!ndirs) {
        rc = cmd_usage_error("merge: which directories? (mbench merge DIR... --out DIR)");
        goto done;
    }
    if (!out) {
        rc = cmd_usage_error("merge: --out DIR is required (the merged directory, new)");
        goto done;
    }
    char cl[2048];
    size_t off = (size_t)snprintf(cl, sizeof cl, "%s merge", ctx->argv0);
    for (int i = 0; i < argc && off < sizeof cl; i++) off += (size_t)snprintf(cl + off, sizeof cl - off, " %s", argv[i]);
    o.command_line = cl;

    merge_report rep;
    int mrc = merge_dirs(dirs, ndirs, out, &o, &rep, &err);
    if (rep.notes[0])
        for (char *save = NULL, *l = strtok_r(rep.notes, "\n", &save); l; l = strtok_r(NULL, "\n", &save))
            fprintf(stderr, "mbench: merge: %s\n", l);
    if (mrc) {
        fprintf(stderr, "mbench: merge: %s\n", err.msg);
        rc = mrc == MERGE_REFUSED ? 2 : 1;
        goto done;
    }
    fprintf(stderr, "mbench: merged %d director%s (%d of %d shards): %d rows, %d samples, %d run%s found twice "
                    "identically (kept once), %d machine type%s -> %s\n",
            rep.ndirs, rep.ndirs == 1 ? "y" : "ies", rep.nshards, rep.shard_count, rep.nrows, rep.nsamples,
            rep.identical, rep.identical == 1 ? "" : "s", rep.ntypes, rep.ntypes == 1 ? "" : "s", out);
    if (rep.total_runs >= 0)
        fprintf(stderr, "mbench: %d of the scenario's %d runs are in the merge\n", rep.total_runs - rep.missing_runs,
                rep.total_runs);
    if (plot && cmd_plot_results("merge", out)) rc = 1;
    printf("results: %s\n", out);
done:
    free(dirs);
    return rc;
}

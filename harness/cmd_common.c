/* harness/cmd_common.c: small pieces every verb uses (help detection, the calibration
 * a run is put against, printing the fits and plots of a results directory). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness/cmd.h"
#include "harness/plot.h"
#include "kernels/scan.h"

int cmd_wants_help(int argc, char **argv)
{
    for (int i = 0; i < argc; i++)
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) return 1;
    return 0;
}

int cmd_usage_error(const char *msg)
{
    fprintf(stderr, "mbench: %s\n", msg);
    return 2;
}

int cmd_calibration(mb_ctx *ctx, calib *cal, int auto_measure)
{
    char path[512];
    mb_err err;
    calib_default_path(path, sizeof path);
    if (calib_load(cal, path, &err) == 0) return 0;
    if (!auto_measure) {
        fprintf(stderr, "mbench: no calibration (%s); ceiling fractions are not reported. Run `mbench calibrate`.\n", err.msg);
        return 0;
    }
    fprintf(stderr, "mbench: no calibration at %s yet: measuring this machine's ceilings first (mbench calibrate)\n", path);
    calib_settings cs = {.max_threads = ctx->topo.pus, .bind = PIN_COMPACT, .scale = 1.0, .progress = true};
    if (calib_measure(cal, &ctx->topo, &cs, &err) || calib_save(cal, path, &err)) {
        fprintf(stderr, "mbench: calibration failed: %s; ceiling fractions are not reported\n", err.msg);
        cal->valid = false;
        return 0;
    }
    snprintf(cal->path, sizeof cal->path, "%s", path);
    return 0;
}

int cmd_counter_set(mb_ctx *ctx, const char *list, cnt_set **out)
{
    mb_err err;
    cnt_system sys;
    *out = NULL;
    if (cnt_system_init(&sys, &err)) {
        fprintf(stderr, "mbench: counters: %s\n", err.msg);
        return -1;
    }
    cnt_set *s = malloc(sizeof *s);
    if (!s) {
        fprintf(stderr, "mbench: out of memory\n");
        return -1;
    }
    int llc = ctx->topo.cache_bytes[2] ? 3 : 2;
    if (cnt_set_init(s, &sys, list, llc, ctx->topo.cache_line, &err)) {
        fprintf(stderr, "mbench: %s\n", err.msg);
        free(s);
        return -1;
    }
    char why[2048];
    if (cnt_set_unavailable(s, why, sizeof why))
        fprintf(stderr, "mbench: counters: %s\nmbench: counters: the other events are counted; for cache misses "
                        "without a PMU use `mbench counters KERNEL --sim` (valgrind's cache simulation)\n", why);
    *out = s;
    return 0;
}

int cmd_kernel_arg(const char *verb, const char *arg, const char **kname)
{
    if (arg[0] == '-') {
        fprintf(stderr, "mbench: %s: unknown flag \"%s\" (see mbench %s --help)\n", verb, arg, verb);
        return 2;
    }
    if (*kname) {
        fprintf(stderr, "mbench: %s: one kernel at a time (got \"%s\" and \"%s\")\n", verb, *kname, arg);
        return 2;
    }
    *kname = arg;
    return 0;
}

const scan_kernel *cmd_kernel(const char *verb, const char *kname)
{
    if (!kname) {
        fprintf(stderr, "mbench: %s: which kernel? (mbench %s KERNEL; see mbench list)\n", verb, verb);
        return NULL;
    }
    const scan_kernel *k = scan_kernel_find(kname);
    if (!k) {
        fprintf(stderr, "mbench: %s: unknown kernel \"%s\"; known:", verb, kname);
        for (int i = 0; i < scan_kernel_count; i++) fprintf(stderr, " %s", scan_kernels[i]->name);
        fprintf(stderr, "\n");
    }
    return k;
}

// ---------------------------------------------------------------- plots

void cmd_print_plot_report(const plot_report *rep)
{
    for (int s = 0; s < rep->nsets; s++)
        for (int k = 0; k < rep->sets[s].nseries; k++)
            if (rep->sets[s].series[k].fitted) fits_print(stdout, &rep->sets[s], &rep->sets[s].series[k]);
    if (rep->note[0]) fprintf(stderr, "mbench: %s\n", rep->note);
}

int cmd_plot_results(const char *verb, const char *dir)
{
    plot_report rep;
    mb_err err;
    const int prc = plot_sweep(dir, &rep, &err);
    cmd_print_plot_report(&rep);
    if (prc)
        fprintf(stderr, "mbench: %s: plots failed: %s (the CSVs in %s are kept; retry with mbench plot %s)\n", verb,
                err.msg, dir, dir);
    else fprintf(stderr, "mbench: %d plots in %s/plots (fits in %s/fits.csv)\n", rep.nfiles, dir, dir);
    plot_report_free(&rep);
    return prc ? 1 : 0;
}

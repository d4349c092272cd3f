/* harness/cmd_plot.c: `mbench plot DIR`: regenerates fits.csv and every plot of a sweep
 * from its CSVs (plot.c), without measuring anything. */
#include <stdio.h>
#include <string.h>

#include "harness/cmd.h"
#include "harness/plot.h"

int cmd_plot(mb_ctx *ctx, int argc, char **argv)
{
    (void)ctx;
    if (cmd_wants_help(argc, argv)) {
        printf("usage: mbench plot DIR\n\n"
               "Redraws the plots of the sweep in DIR from DIR/points.csv (DIR/meta.json adds the\n"
               "machine to the titles): fits.csv (power law per kernel and axis), and in DIR/plots\n"
               "PNG + SVG of time vs axis (log-log, CI bars, fitted exponents), speedup over\n"
               "sequential, fraction of the calibrated ceiling, and for a threads axis speedup and\n"
               "parallel efficiency. Templates: %s/plots/*.gp (plots/README.md).\n"
               "gnuplot: $MBENCH_GNUPLOT, else %s.\n",
               MB_SOURCE_DIR, plot_gnuplot_path());
        return 0;
    }
    if (argc != 1 || argv[0][0] == '-')
        return cmd_usage_error(argc == 0 ? "plot: which results directory? (mbench plot DIR)"
                                         : "plot takes one results directory (mbench plot DIR)");
    plot_report rep;
    mb_err err;
    int rc = plot_sweep(argv[0], &rep, &err);
    cmd_print_plot_report(&rep);
    for (int i = 0; i < rep.nfiles; i++) printf("%s\n", rep.files[i]);
    if (rc) {
        fprintf(stderr, "mbench: plot: %s\n", err.msg);
        /* a directory that is not a sweep is bad input; a failing gnuplot is a failure */
        rc = strstr(err.msg, "points.csv") && !strstr(err.msg, "gnuplot") ? 2 : 1;
    }
    plot_report_free(&rep);
    return rc;
}

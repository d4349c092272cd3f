/* harness/plot.h: the plot driver behind `mbench plot DIR` (and the end of a sweep).
 * From DIR/points.csv alone (meta.json only adds the machine to the titles) it writes
 * fits.csv, then for each swept axis a data file and a small header of gnuplot variables
 * in DIR/plots/, and runs the readable templates plots/NAME.gp on them (PNG via pngcairo
 * and SVG): time, speedup over sequential, fraction of the calibrated ceiling, and for a
 * threads axis speedup and parallel efficiency. See plots/README.md. */
#ifndef MB_PLOT_H
#define MB_PLOT_H

#include "common/err.h"
#include "harness/fits.h"

typedef struct {
    char dir[4096];
    fits_set *sets; /* the fits (printed by the verbs) */
    int nsets;
    int nfiles;
    char **files;   /* every image written */
    char note[512]; /* e.g. "no swept axis: nothing to plot" */
} plot_report;

/* The gnuplot to run: $MBENCH_GNUPLOT, else the one CMake found, else "gnuplot". */
const char *plot_gnuplot_path(void);

/* Writes fits.csv and every plot of the sweep in dir. A missing or failing gnuplot is an
 * error (err says which and where its log is) after fits.csv is written; the CSVs are
 * never touched. */
int plot_sweep(const char *dir, plot_report *rep, mb_err *err);
void plot_report_free(plot_report *rep);

#endif

/* harness/fits.h: from a points.csv table to the series a plot draws and the power-law
 * fits of fits.csv. The swept axes are read from the CSV alone (the columns whose values
 * vary); for each axis, the rows are grouped by the values of the other axes, and within
 * a group each kernel's ok rows make one series sorted by the axis, fitted with
 * log(median) = c + k log(x) (stats_fit_power, GSL least squares). Rows of several
 * machine types (a merge with --allow-mixed) are grouped by machine_type as well. */
#ifndef MB_FITS_H
#define MB_FITS_H

#include <stdbool.h>
#include <stdio.h>

#include "harness/csv.h"
#include "harness/scenario.h"
#include "harness/stats.h"

#define FITS_MAX_KERNELS 32
#define FITS_MAX_SETS 64

typedef struct {
    char kernel[32];
    int table_index;            /* position in the kernel table (colours), or 99 */
    int n;                      /* ok rows */
    int rows[SCEN_MAX_VALUES];  /* row indices into the table, sorted by x */
    double x[SCEN_MAX_VALUES];
    bool fitted;
    stats_powerfit fit;
    /* the same fit on the upper half of the points (the largest ceil(n/2), n >= 5): the
     * growth where fixed per-call costs no longer dominate */
    bool fitted_upper;
    stats_powerfit fit_upper;
    double upper_from;          /* the smallest x of the upper half */
    char note[160];             /* why a kernel with no ok rows is not drawn */
} fits_series;

typedef struct {
    char axis[16];
    char group[256];  /* the other axes' values, e.g. "threads=2" ("" with one axis), and
                         "machine_type=ID" when the rows come from several machine types */
    int nseries;
    fits_series series[FITS_MAX_KERNELS]; /* kernel-table order; n == 0 for not drawn */
} fits_set;

/* The axes of a sweep: columns among the integer keys whose values vary (channels and
 * heads are left out when d_model/expand/headdim explain them). Returns the count. */
int fits_axes(const csv_table *t, const char **axes, int cap);

/* Builds every (axis, group) set with its series and fits. *sets is malloc'ed. */
int fits_build(const csv_table *t, fits_set **sets, int *nsets, mb_err *err);

/* fits.csv: one row per (axis, group, kernel) with at least 2 ok points. */
void fits_write_csv(FILE *f, const fits_set *sets, int nsets, const csv_table *t);

/* One line: "sequential   t ~ d_state^0.650 ± 0.063   (R² 0.937, 9 points); from d_state=16: ^0.98 ± 0.05". */
void fits_print(FILE *f, const fits_set *set, const fits_series *s);

#endif

/* harness/fits.c: series and power-law fits of a sweep (see fits.h). */
#include "fits.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/scan.h"

/* Integer key columns that can be axes, in the scenario's key order. */
static const char *const axis_cols[] = {"batch", "seqlen", "channels", "d_model", "expand", "d_state",
                                        "heads", "headdim", "groups", "threads", "chunk"};
#define NAXIS_COLS ((int)(sizeof axis_cols / sizeof *axis_cols))

static bool varies(const csv_table *t, const char *col)
{
    int c = csv_col(t, col);
    if (c < 0 || t->nrows == 0) return false;
    for (int r = 1; r < t->nrows; r++)
        if (strcmp(t->rows[r][c], t->rows[0][c])) return true;
    return false;
}

int fits_axes(const csv_table *t, const char **axes, int cap)
{
    bool dm = varies(t, "d_model") || varies(t, "expand"), hd = varies(t, "headdim");
    bool ch = varies(t, "channels");
    int n = 0;
    for (int i = 0; i < NAXIS_COLS && n < cap; i++) {
        const char *c = axis_cols[i];
        if (!varies(t, c)) continue;
        if (!strcmp(c, "channels") && dm) continue;             /* d_model x expand */
        if (!strcmp(c, "heads") && (dm || ch || hd)) continue;  /* channels / headdim, or = channels */
        axes[n++] = c;
    }
    return n;
}

static int kernel_table_index(const char *name)
{
    for (int i = 0; i < scan_kernel_count; i++)
        if (!strcmp(scan_kernels[i]->name, name)) return i;
    return 99;
}

/* The other axes' values; and the machine type when the rows come from several
 * (mbench merge --allow-mixed keeps machine types apart). */
static void group_key(const csv_table *t, int r, const char **axes, int naxes, int skip, bool by_machine, char *buf,
                      size_t len)
{
    size_t off = 0;
    buf[0] = 0;
    for (int a = 0; a < naxes && off < len; a++) {
        if (a == skip) continue;
        off += (size_t)snprintf(buf + off, len - off, "%s%s=%s", off ? " " : "", axes[a], csv_get(t, r, axes[a]));
    }
    if (by_machine && off < len)
        snprintf(buf + off, len - off, "%smachine_type=%s", off ? " " : "", csv_get(t, r, "machine_type"));
}

static fits_series *series_for(fits_set *s, const char *kernel)
{
    for (int i = 0; i < s->nseries; i++)
        if (!strcmp(s->series[i].kernel, kernel)) return &s->series[i];
    if (s->nseries == FITS_MAX_KERNELS) return NULL;
    fits_series *f = &s->series[s->nseries++];
    memset(f, 0, sizeof *f);
    snprintf(f->kernel, sizeof f->kernel, "%s", kernel);
    f->table_index = kernel_table_index(kernel);
    return f;
}

static int by_table_index(const void *a, const void *b)
{
    const fits_series *x = a, *y = b;
    return x->table_index != y->table_index ? x->table_index - y->table_index : strcmp(x->kernel, y->kernel);
}

typedef struct {
    double point;
    int row;
} row_key;

static int by_point(const void *a, const void *b)
{
    const row_key *x = a, *y = b;
    return x->point < y->point ? -1 : x->point > y->point ? 1 : x->row - y->row;
}

int fits_build(const csv_table *t, fits_set **sets, int *nsets, mb_err *err)
{
    *sets = NULL;
    *nsets = 0;
    const char *axes[NAXIS_COLS];
    int naxes = fits_axes(t, axes, NAXIS_COLS);
    const bool by_machine = varies(t, "machine_type");
    if (csv_col(t, "median_s") < 0 || csv_col(t, "kernel") < 0 || csv_col(t, "status") < 0)
        return mb_fail(err, "not a points.csv of mbench (no kernel/status/median_s columns)");
    fits_set *out = calloc(FITS_MAX_SETS, sizeof *out);
    if (!out) return mb_fail(err, "out of memory (fits)");
    /* rows in point order, so groups come out in the scenario's order */
    row_key *order = malloc((size_t)(t->nrows ? t->nrows : 1) * sizeof *order);
    if (!order) {
        free(out);
        return mb_fail(err, "out of memory (fits)");
    }
    for (int r = 0; r < t->nrows; r++) order[r] = (row_key){csv_num(t, r, "point"), r};
    qsort(order, (size_t)t->nrows, sizeof *order, by_point);
    int n = 0;
    for (int a = 0; a < naxes; a++) {
        for (int ri = 0; ri < t->nrows; ri++) {
            const int r = order[ri].row;
            char g[256];
            group_key(t, r, axes, naxes, a, by_machine, g, sizeof g);
            fits_set *s = NULL;
            for (int i = 0; i < n; i++)
                if (!strcmp(out[i].axis, axes[a]) && !strcmp(out[i].group, g)) s = &out[i];
            if (!s) {
                if (n == FITS_MAX_SETS) continue; /* more groups than plots we draw */
                s = &out[n++];
                snprintf(s->axis, sizeof s->axis, "%s", axes[a]);
                snprintf(s->group, sizeof s->group, "%s", g);
            }
            fits_series *f = series_for(s, csv_get(t, r, "kernel"));
            if (!f) continue;
            double x = csv_num(t, r, axes[a]), m = csv_num(t, r, "median_s");
            if (strcmp(csv_get(t, r, "status"), "ok") || !(m > 0) || !(x > 0)) {
                if (!f->note[0])
                    snprintf(f->note, sizeof f->note, "%s: %s", csv_get(t, r, "status"), csv_get(t, r, "reason"));
                continue;
            }
            if (f->n == SCEN_MAX_VALUES) continue;
            int j = f->n++; /* insertion by x */
            while (j > 0 && f->x[j - 1] > x) f->x[j] = f->x[j - 1], f->rows[j] = f->rows[j - 1], j--;
            f->x[j] = x, f->rows[j] = r;
        }
    }
    free(order);
    for (int i = 0; i < n; i++) {
        qsort(out[i].series, (size_t)out[i].nseries, sizeof out[i].series[0], by_table_index);
        for (int k = 0; k < out[i].nseries; k++) {
            fits_series *f = &out[i].series[k];
            if (f->n < 2) continue;
            double y[SCEN_MAX_VALUES];
            for (int j = 0; j < f->n; j++) y[j] = csv_num(t, f->rows[j], "median_s");
            mb_err e2;
            f->fitted = stats_fit_power(f->x, y, f->n, &f->fit, &e2) == 0;
            if (f->n >= 5) {
                const int m = (f->n + 1) / 2, lo = f->n - m;
                f->upper_from = f->x[lo];
                f->fitted_upper = stats_fit_power(f->x + lo, y + lo, m, &f->fit_upper, &e2) == 0;
            }
        }
    }
    *sets = out;
    *nsets = n;
    return 0;
}

static void num(FILE *f, double v)
{
    if (isfinite(v)) fprintf(f, ",%.6g", v);
    else fputs(",", f);
}

void fits_write_csv(FILE *f, const fits_set *sets, int nsets, const csv_table *t)
{
    fprintf(f, "axis,group,kernel,n,exponent,exponent_se,prefactor_s,r2,x_min,x_max,median_min_s,median_max_s,"
               "upper_n,upper_x_min,upper_exponent,upper_exponent_se,upper_r2\n");
    for (int i = 0; i < nsets; i++)
        for (int k = 0; k < sets[i].nseries; k++) {
            const fits_series *s = &sets[i].series[k];
            if (!s->fitted) continue;
            double tmin = INFINITY, tmax = 0;
            for (int j = 0; j < s->n; j++) {
                double m = csv_num(t, s->rows[j], "median_s");
                if (m < tmin) tmin = m;
                if (m > tmax) tmax = m;
            }
            fprintf(f, "%s,%s,%s,%d", sets[i].axis, sets[i].group, s->kernel, s->fit.n);
            num(f, s->fit.k), num(f, s->fit.k_se), num(f, exp(s->fit.c)), num(f, s->fit.r2);
            num(f, s->x[0]), num(f, s->x[s->n - 1]), num(f, tmin), num(f, tmax);
            if (s->fitted_upper) {
                fprintf(f, ",%d", s->fit_upper.n);
                num(f, s->upper_from), num(f, s->fit_upper.k), num(f, s->fit_upper.k_se), num(f, s->fit_upper.r2);
            } else fputs(",,,,,", f);
            fputc('\n', f);
        }
}

void fits_print(FILE *f, const fits_set *set, const fits_series *s)
{
    char se[32] = "";
    if (isfinite(s->fit.k_se)) snprintf(se, sizeof se, " ± %.3f", s->fit.k_se);
    fprintf(f, "%-12s t ~ %s^%.3f%s   (R² %.3f, %d points%s%s%s)", s->kernel, set->axis, s->fit.k, se, s->fit.r2,
            s->n, se[0] ? "" : ": no error estimate", set->group[0] ? ", " : "", set->group);
    if (s->fitted_upper)
        fprintf(f, "; from %s=%g: ^%.3f ± %.3f", set->axis, s->upper_from, s->fit_upper.k, s->fit_upper.k_se);
    fputc('\n', f);
}

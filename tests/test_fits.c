/* tests/test_fits.c: the sweep's fits against synthetic power laws: a points table with
 * t = c x^k (with known multiplicative noise) gives back k within its standard error;
 * axes are found from the CSV alone; skipped rows are left out with their reason; two
 * axes give one set per value of the other; fits.csv has its columns. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "harness/csv.h"
#include "harness/fits.h"

static const char *const cols[] = {"point", "kernel", "status", "reason", "d_model", "expand", "channels", "heads",
                                   "d_state", "threads", "median_s"};
#define NC ((int)(sizeof cols / sizeof *cols))

static void add(csv_table *t, int point, const char *kernel, const char *status, int d_state, int threads, double m)
{
    char p[16], n[16], th[16], ms[32];
    snprintf(p, sizeof p, "%d", point), snprintf(n, sizeof n, "%d", d_state), snprintf(th, sizeof th, "%d", threads);
    snprintf(ms, sizeof ms, "%.12g", m);
    const char *cells[NC] = {p, kernel, status, strcmp(status, "ok") ? "needs a = head" : "", "768", "2", "1536",
                             "1536", n, th, strcmp(status, "ok") ? "" : ms};
    mb_err err;
    CHECK(csv_table_add(t, cells, &err) == 0, "add: %s", err.msg);
}

int main(void)
{
    mb_err err;
    csv_table t;
    csv_table_init(&t);
    CHECK(csv_table_set_head(&t, cols, NC, &err) == 0, "%s", err.msg);
    /* sequential: t = 2e-3 N^1.3 x (1 +- 3%) alternating; fused: t = 5e-4 N^0.5 exactly;
     * ssd: skipped everywhere. Rows in a shuffled order, as a sweep writes them. */
    const int ns[8] = {1, 2, 4, 8, 16, 32, 64, 128};
    const int perm[8] = {5, 2, 7, 0, 3, 6, 1, 4};
    for (int i = 0; i < 8; i++) {
        int j = perm[i];
        double noise = (j % 2) ? 1.03 : 1 / 1.03;
        add(&t, j, "sequential", "ok", ns[j], 1, 2e-3 * pow(ns[j], 1.3) * noise);
        add(&t, j, "ssd", "skipped", ns[j], 1, 0);
        add(&t, j, "fused", "ok", ns[j], 1, 5e-4 * pow(ns[j], 0.5));
    }
    const char *axes[8];
    int na = fits_axes(&t, axes, 8);
    CHECK(na == 1 && !strcmp(axes[0], "d_state"), "one axis, d_state (got %d)", na);

    fits_set *sets = NULL;
    int nsets = 0;
    CHECK(fits_build(&t, &sets, &nsets, &err) == 0, "%s", err.msg);
    CHECK(nsets == 1, "one set (got %d)", nsets);
    if (nsets == 1) {
        fits_set *s = &sets[0];
        CHECK(s->nseries == 3, "3 series (got %d)", s->nseries);
        /* kernel-table order: sequential before ssd before fused (when they are in the table);
         * whatever the table holds, each series is found by name */
        for (int k = 0; k < s->nseries; k++) {
            fits_series *f = &s->series[k];
            if (!strcmp(f->kernel, "sequential")) {
                CHECK(f->n == 8 && f->fitted, "sequential fitted on 8 points");
                for (int j = 1; j < f->n; j++) CHECK(f->x[j] > f->x[j - 1], "sorted by x");
                /* the alternating noise is +-3%: the exponent is within a few SE of 1.3 */
                CHECK(fabs(f->fit.k - 1.3) < 0.02 && f->fit.k_se > 0 && fabs(f->fit.k - 1.3) < 4 * f->fit.k_se,
                      "sequential exponent %g +- %g", f->fit.k, f->fit.k_se);
                CHECK(fabs(exp(f->fit.c) - 2e-3) < 2e-4, "prefactor %g", exp(f->fit.c));
            } else if (!strcmp(f->kernel, "fused")) {
                CHECK(f->fitted && fabs(f->fit.k - 0.5) < 1e-9 && fabs(f->fit.r2 - 1) < 1e-9, "fused exact: %g", f->fit.k);
            } else {
                CHECK(!strcmp(f->kernel, "ssd") && f->n == 0 && !f->fitted, "ssd not drawn");
                CHECK(strstr(f->note, "skipped: needs a = head") != NULL, "reason kept: %s", f->note);
            }
        }
    }
    /* fits.csv: header and one row per fitted series */
    char *buf = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&buf, &len);
    fits_write_csv(m, sets, nsets, &t);
    fclose(m);
    const char *head = "axis,group,kernel,n,exponent,exponent_se,prefactor_s,r2,x_min,x_max,median_min_s,median_max_s,"
                       "upper_n,upper_x_min,upper_exponent,upper_exponent_se,upper_r2\n";
    CHECK(!strncmp(buf, head, strlen(head)), "header: %.80s", buf);
    int lines = 0;
    for (char *c = buf; *c; c++) lines += *c == '\n';
    CHECK(lines == 3, "header + 2 fitted rows (got %d lines)", lines);
    CHECK(strstr(buf, "d_state,,sequential,8,1.3") != NULL, "sequential row: %s", buf);
    free(buf);
    free(sets);
    csv_table_free(&t);

    /* a fixed cost plus linear work, t = 2 ms + 0.1 ms x N: the fit over all points
     * bends far below 1 (0.46), the fit over the upper half (N >= 16 of 1..256) is nearer
     * (0.74 = log(27.6 / 3.6) / log 16) */
    csv_table_init(&t);
    csv_table_set_head(&t, cols, NC, &err);
    for (int i = 0; i < 9; i++) add(&t, i, "sequential", "ok", 1 << i, 1, 2e-3 + 1e-4 * (1 << i));
    CHECK(fits_build(&t, &sets, &nsets, &err) == 0 && nsets == 1, "one set");
    if (nsets == 1) {
        const fits_series *f = &sets[0].series[0];
        CHECK(f->fitted && f->fitted_upper && f->fit_upper.n == 5 && f->upper_from == 16, "upper half: %d from %g",
              f->fit_upper.n, f->upper_from);
        CHECK(f->fit.k < 0.5 && f->fit_upper.k > f->fit.k + 0.2 && f->fit_upper.k > 0.7 && f->fit_upper.k < 1.0, "overall %g, upper %g", f->fit.k,
              f->fit_upper.k);
    }
    free(sets);
    csv_table_free(&t);

    /* two axes (d_state x threads): one set per (axis, value of the other); time ~ N / T */
    csv_table_init(&t);
    csv_table_set_head(&t, cols, NC, &err);
    int pt = 0;
    for (int i = 0; i < 4; i++)
        for (int th = 1; th <= 2; th++) add(&t, pt++, "sequential", "ok", ns[i], th, 1e-3 * ns[i] / th);
    na = fits_axes(&t, axes, 8);
    CHECK(na == 2 && !strcmp(axes[0], "d_state") && !strcmp(axes[1], "threads"), "two axes");
    CHECK(fits_build(&t, &sets, &nsets, &err) == 0 && nsets == 2 + 4, "2 d_state sets + 4 threads sets (got %d)", nsets);
    for (int i = 0; i < nsets; i++) {
        const fits_series *f = &sets[i].series[0];
        double want = !strcmp(sets[i].axis, "d_state") ? 1.0 : -1.0;
        CHECK(f->fitted && fabs(f->fit.k - want) < 1e-9, "%s [%s]: exponent %g", sets[i].axis, sets[i].group, f->fit.k);
    }
    CHECK(nsets > 0 && !strcmp(sets[0].group, "threads=1"), "group label: %s", nsets ? sets[0].group : "");
    free(sets);
    csv_table_free(&t);

    /* CSV round trip with quoting */
    csv_table_init(&t);
    const char *h[2] = {"a", "b"}, *r1[2] = {"x,y", "say \"hi\""}, *r2[2] = {"", "2"};
    csv_table_set_head(&t, h, 2, &err);
    csv_table_add(&t, r1, &err), csv_table_add(&t, r2, &err);
    char path[] = "/tmp/mb_test_fits_XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0, "mkstemp");
    if (fd >= 0) close(fd);
    CHECK(csv_write_file(path, &t, &err) == 0, "%s", err.msg);
    csv_table u;
    CHECK(csv_read(&u, path, &err) == 0 && u.nrows == 2 && u.ncols == 2, "read back");
    if (u.nrows == 2) {
        CHECK(!strcmp(u.rows[0][0], "x,y") && !strcmp(u.rows[0][1], "say \"hi\""), "quoted fields survive");
        CHECK(!strcmp(csv_get(&u, 1, "a"), "") && csv_num(&u, 1, "b") == 2 && isnan(csv_num(&u, 1, "a")), "empty");
    }
    csv_table_free(&u);
    csv_table_free(&t);
    unlink(path);
    return check_report("test_fits");
}

/* harness/stats.c: medians, order-statistic confidence intervals, moments, power fits. */
#include "stats.h"

#include <gsl/gsl_cdf.h>
#include <gsl/gsl_fit.h>
#include <gsl/gsl_sort.h>
#include <gsl/gsl_statistics_double.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

bool stats_median_ci_ranks(int n, int *lo, int *hi)
{
    /* K, the samples below the median, is Binomial(n, 1/2); [X(j), X(n+1-j)] misses the
     * median when K < j or K > n - j, with probability 2 P(K <= j - 1): the largest j
     * with P(K <= j - 1) <= 0.025. n < 6: even j = 1 covers less than 95% (n = 5: 93.8%). */
    if (n < 6) {
        *lo = 1, *hi = n;
        return false;
    }
    /* start near the normal approximation, step to the exact rank (the CDF rises with j) */
    int j = (int)floor(0.5 * n - 0.98 * sqrt((double)n)) - 2;
    if (j < 1) j = 1;
    while (j > 1 && gsl_cdf_binomial_P((unsigned)(j - 1), 0.5, (unsigned)n) > 0.025) j--;
    while (gsl_cdf_binomial_P((unsigned)j, 0.5, (unsigned)n) <= 0.025) j++;
    *lo = j;
    *hi = n + 1 - j;
    return true;
}

int stats_summarize(const double *x, int n, stats_summary *out, mb_err *err)
{
    memset(out, 0, sizeof *out);
    if (n < 1) return mb_fail(err, "no samples to summarise");
    double *s = malloc((size_t)n * sizeof *s);
    if (!s) return mb_fail(err, "out of memory (statistics)");
    memcpy(s, x, (size_t)n * sizeof *s);
    gsl_sort(s, 1, (size_t)n);
    out->n = n;
    out->median = gsl_stats_median_from_sorted_data(s, 1, (size_t)n);
    out->min = s[0];
    out->max = s[n - 1];
    out->mean = gsl_stats_mean(s, 1, (size_t)n);
    out->sd = n > 1 ? gsl_stats_sd_m(s, 1, (size_t)n, out->mean) : 0.0;
    out->cv = out->mean > 0 ? out->sd / out->mean : 0.0;
    out->ci_valid = stats_median_ci_ranks(n, &out->ci_lo_rank, &out->ci_hi_rank);
    out->ci_low = out->ci_valid ? s[out->ci_lo_rank - 1] : NAN;
    out->ci_high = out->ci_valid ? s[out->ci_hi_rank - 1] : NAN;
    free(s);
    return 0;
}

int stats_fit_power(const double *x, const double *y, int n, stats_powerfit *out, mb_err *err)
{
    memset(out, 0, sizeof *out);
    double *lx = malloc(2 * (size_t)(n > 0 ? n : 1) * sizeof *lx);
    if (!lx) return mb_fail(err, "out of memory (fit)");
    double *ly = lx + (n > 0 ? n : 1);
    int m = 0;
    for (int i = 0; i < n; i++) {
        if (!(x[i] > 0 && y[i] > 0 && isfinite(x[i]) && isfinite(y[i]))) continue;
        lx[m] = log(x[i]), ly[m] = log(y[i]), m++;
    }
    if (m < 2) {
        free(lx);
        return mb_fail(err, "a power-law fit needs at least 2 positive points (got %d)", m);
    }
    double c0, c1, cov00, cov01, cov11, sumsq;
    gsl_fit_linear(lx, 1, ly, 1, (size_t)m, &c0, &c1, &cov00, &cov01, &cov11, &sumsq);
    double tss = gsl_stats_tss(ly, 1, (size_t)m);
    out->n = m;
    out->c = c0;
    out->k = c1;
    out->k_se = m > 2 ? sqrt(cov11) : NAN;
    out->r2 = tss > 0 ? 1.0 - sumsq / tss : 1.0;
    free(lx);
    return 0;
}

double stats_geomean(const double *x, int n)
{
    double s = 0;
    for (int i = 0; i < n; i++) s += log(x[i]);
    return n ? exp(s / n) : NAN;
}

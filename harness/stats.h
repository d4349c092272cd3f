/* harness/stats.h: summary statistics of timing samples (GSL), and power-law fits. */
#ifndef MB_STATS_H
#define MB_STATS_H

#include <stdbool.h>

#include "common/err.h"

typedef struct {
    int n;
    double median, min, max, mean, sd, cv;
    bool ci_valid;           /* false when n < 6: too few samples for a median CI */
    double ci_low, ci_high;  /* 95% nonparametric CI of the median (order statistics) */
    int ci_lo_rank, ci_hi_rank; /* 1-based ranks used */
} stats_summary;

/* 1-based ranks [j, n + 1 - j] of the 95% CI of the median for n samples, exact from the
 * binomial distribution (GSL): the narrowest symmetric pair whose coverage
 * 1 - 2 P(Binomial(n, 1/2) <= j - 1) is at least 95% (the tables of Le Boudec,
 * "Performance Evaluation of Computer and Communication Systems", 2.1: n = 6 [1, 6],
 * 10 [2, 9], 20 [6, 15], 100 [40, 61]). Returns false (and [1, n]) for n < 6. */
bool stats_median_ci_ranks(int n, int *lo, int *hi);

/* Summarises n samples (not modified). -1 if n < 1. */
int stats_summarize(const double *x, int n, stats_summary *out, mb_err *err);

/* Least-squares fit of log(y) = c + k log(x) (GSL): exponent k, its standard error and
 * R^2. Needs n >= 2 positive pairs (se is NaN for n == 2). */
typedef struct {
    int n;
    double k, k_se, c, r2;
} stats_powerfit;
int stats_fit_power(const double *x, const double *y, int n, stats_powerfit *out, mb_err *err);

/* Geometric mean of n positive values (averages of ratios). */
double stats_geomean(const double *x, int n);

#endif

/* tests/test_stats.c: statistics against values worked by hand. */
#include <math.h>

#include "check.h"
#include "harness/stats.h"

int main(void)
{
    mb_err err;
    stats_summary s;
    /* odd n: median is the middle order statistic; unsorted input */
    double a[5] = {5, 1, 4, 2, 3};
    CHECK(stats_summarize(a, 5, &s, &err) == 0, "%s", err.msg);
    CHECK_NEAR(s.median, 3, 0, "median of 1..5");
    CHECK_NEAR(s.mean, 3, 1e-15, "mean of 1..5");
    CHECK_NEAR(s.sd, sqrt(2.5), 1e-15, "sample sd of 1..5");
    CHECK_NEAR(s.min, 1, 0, "min");
    CHECK_NEAR(s.max, 5, 0, "max");
    CHECK(!s.ci_valid, "n = 5 has no median CI");
    CHECK(a[0] == 5, "input not modified");
    /* even n: mean of the two middle values */
    double b[6] = {10, 1, 7, 3, 8, 2};
    CHECK(stats_summarize(b, 6, &s, &err) == 0, "%s", err.msg);
    CHECK_NEAR(s.median, 5, 0, "median of 6");
    CHECK(s.ci_valid, "n = 6 has a CI");
    /* order-statistic ranks, exact: [j, n + 1 - j] with 2 P(Bin(n, 1/2) <= j - 1) <= 0.05 < 2 P(.. <= j):
     *  n=6:   P(K <= 0) = 1/64 = 0.016, P(K <= 1) = 7/64 = 0.109          -> [1, 6]  (96.9%)
     *  n=10:  P(K <= 1) = 11/1024 = 0.011, P(K <= 2) = 56/1024 = 0.055    -> [2, 9]  (97.9%)
     *  n=20:  P(K <= 5) = 0.0207, P(K <= 6) = 0.0577                      -> [6, 15] (95.9%)
     *  n=21:  P(K <= 5) = 0.0133, P(K <= 6) = 0.0392                      -> [6, 16] (97.3%;
     *         the normal approximation's [7, 16] covers 94.8%)
     *  n=100: P(K <= 39) = 0.0176, P(K <= 40) = 0.0284                    -> [40, 61] */
    int lo, hi;
    CHECK(stats_median_ci_ranks(6, &lo, &hi) && lo == 1 && hi == 6, "n=6 -> %d %d", lo, hi);
    CHECK(stats_median_ci_ranks(10, &lo, &hi) && lo == 2 && hi == 9, "n=10 -> %d %d", lo, hi);
    CHECK(stats_median_ci_ranks(20, &lo, &hi) && lo == 6 && hi == 15, "n=20 -> %d %d", lo, hi);
    CHECK(stats_median_ci_ranks(21, &lo, &hi) && lo == 6 && hi == 16, "n=21 -> %d %d", lo, hi);
    CHECK(stats_median_ci_ranks(100, &lo, &hi) && lo == 40 && hi == 61, "n=100 -> %d %d", lo, hi);
    CHECK(!stats_median_ci_ranks(5, &lo, &hi), "n=5 -> no CI");
    /* every n to 400 and some large ones: [X(lo), X(hi)] holds the median unless fewer than
     * lo or more than hi - 1 samples lie below it: coverage P(lo <= K <= hi - 1) >= 95% (the
     * binomial terms in logs, independent of GSL), symmetric, and one rank narrower each
     * side would not be */
    int bad = 0;
    for (int n = 6; n <= 100000; n = n < 400 ? n + 1 : n * 3 / 2) {
        stats_median_ci_ranks(n, &lo, &hi);
        double cover = 0, narrower = 0;
        for (int k = lo; k <= hi - 1; k++) {
            const double pk = exp(lgamma(n + 1.0) - lgamma(k + 1.0) - lgamma(n - k + 1.0) - n * log(2.0));
            cover += pk;
            if (k > lo && k < hi - 1) narrower += pk;
        }
        if (hi != n + 1 - lo || cover < 0.95 - 1e-12 || narrower >= 0.95 + 1e-12) {
            if (bad++ < 5) fprintf(stderr, "n=%d: ranks [%d, %d] cover %.4f (one narrower %.4f)\n", n, lo, hi,
                                   cover, narrower);
        }
    }
    CHECK(bad == 0, "%d sample counts with a median CI that is not the exact 95%% one", bad);
    double c[20];
    for (int i = 0; i < 20; i++) c[i] = 20 - i; /* values 20..1: sorted, rank r is value r */
    CHECK(stats_summarize(c, 20, &s, &err) == 0, "%s", err.msg);
    CHECK_NEAR(s.ci_low, 6, 0, "ci low = 6th smallest");
    CHECK_NEAR(s.ci_high, 15, 0, "ci high = 15th smallest");
    CHECK_NEAR(s.median, 10.5, 0, "median 1..20");
    CHECK(stats_summarize(c, 0, &s, &err) != 0, "no samples is an error");
    /* power fit: y = 3 x^1.5 exactly, then with noise of known sign */
    double x[6] = {1, 2, 4, 8, 16, 32}, y[6];
    for (int i = 0; i < 6; i++) y[i] = 3 * pow(x[i], 1.5);
    stats_powerfit f;
    CHECK(stats_fit_power(x, y, 6, &f, &err) == 0, "%s", err.msg);
    CHECK_NEAR(f.k, 1.5, 1e-12, "exponent");
    CHECK_NEAR(exp(f.c), 3, 1e-10, "prefactor");
    CHECK_NEAR(f.k_se, 0, 1e-10, "exact fit has zero se");
    CHECK_NEAR(f.r2, 1, 1e-12, "exact fit r2");
    /* alternating +-10% noise: exponent stays near 1.5, se > 0 */
    for (int i = 0; i < 6; i++) y[i] *= (i % 2) ? 1.1 : 0.9;
    CHECK(stats_fit_power(x, y, 6, &f, &err) == 0, "%s", err.msg);
    CHECK(fabs(f.k - 1.5) < 0.05 && f.k_se > 0, "noisy exponent %g se %g", f.k, f.k_se);
    double one[1] = {1};
    CHECK(stats_fit_power(one, one, 1, &f, &err) != 0, "one point cannot be fitted");
    double g[3] = {1, 4, 16};
    CHECK_NEAR(stats_geomean(g, 3), 4, 1e-12, "geomean");
    return check_report("test_stats");
}

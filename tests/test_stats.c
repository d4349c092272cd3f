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
    /* order-statistic ranks by hand:
     *  n=6:  (6 - 4.801)/2 = 0.60 -> 1;  1 + (6 + 4.801)/2 = 6.40 -> 7 -> clamped 6
     *  n=10: (10 - 6.198)/2 = 1.90 -> 2; 1 + 8.099 = 9.10 -> 10
     *  n=20: (20 - 8.765)/2 = 5.62 -> 6; 1 + 14.38 = 15.38 -> 16
     *  n=100: (100 - 19.6)/2 = 40.2 -> 41; 1 + 59.8 = 60.8 -> 61 */
    int lo, hi;
    CHECK(stats_median_ci_ranks(6, &lo, &hi) && lo == 1 && hi == 6, "n=6 -> %d %d", lo, hi);
    CHECK(stats_median_ci_ranks(10, &lo, &hi) && lo == 2 && hi == 10, "n=10 -> %d %d", lo, hi);
    CHECK(stats_median_ci_ranks(20, &lo, &hi) && lo == 6 && hi == 16, "n=20 -> %d %d", lo, hi);
    CHECK(stats_median_ci_ranks(100, &lo, &hi) && lo == 41 && hi == 61, "n=100 -> %d %d", lo, hi);
    CHECK(!stats_median_ci_ranks(5, &lo, &hi), "n=5 -> no CI");
    double c[20];
    for (int i = 0; i < 20; i++) c[i] = 20 - i; /* values 20..1: sorted, rank r is value r */
    CHECK(stats_summarize(c, 20, &s, &err) == 0, "%s", err.msg);
    CHECK_NEAR(s.ci_low, 6, 0, "ci low = 6th smallest");
    CHECK_NEAR(s.ci_high, 16, 0, "ci high = 16th smallest");
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

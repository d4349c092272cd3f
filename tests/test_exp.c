/* tests/test_exp.c: every exp routine of the table meets its stated accuracy against
 * double exp over the scan's range [-80, 0] (dense sweep plus the end points). */
#include <math.h>
#include <stdlib.h>

#include "check.h"
#include "kernels/scan.h"

int main(void)
{
    const int64_t n = 1 << 20;
    float *x = malloc(n * sizeof *x), *y = malloc(n * sizeof *y);
    for (int64_t i = 0; i < n; i++) x[i] = (float)(-80.0 * (double)i / (double)(n - 1));
    x[1] = -0.0f;
    x[2] = -1e-30f;
    x[3] = -87.0f;
    for (int r = 0; r < scan_exp_routine_count; r++) {
        const scan_exp_routine *e = scan_exp_routines[r];
        /* odd n exercises every tail path */
        e->apply(x, y, n - 3);
        double worst = 0;
        int64_t at = 0;
        for (int64_t i = 0; i < n - 3; i++) {
            double ref = exp((double)x[i]);
            /* below FLT_MIN the result is denormal: judge those by absolute error */
            double err = ref > 1.2e-38 ? fabs(y[i] - ref) / ref : fabs(y[i] - ref) / 1.2e-38;
            if (!(err <= worst)) worst = err, at = i;
        }
        printf("%-16s max rel err %.3g at x=%g (stated %.3g)\n", e->name, worst, x[at], e->max_rel_err);
        CHECK(worst <= e->max_rel_err, "%s: %.3g > stated %.3g at x=%g", e->name, worst,
              e->max_rel_err, x[at]);
    }
    free(x);
    free(y);
    return check_report("test_exp");
}

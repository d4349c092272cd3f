/* tests/test_exp.c: every exp routine of the table meets its stated accuracy against
 * double exp over the scan's range [-80, 0] (dense sweep plus the end points); so do the
 * AVX-512 softplus and silu of kernels/simd.h (the fused and ssd kernels' dt and gate)
 * against double formulas over [-80, 80]. */
#include <math.h>
#include <stdlib.h>

#include "check.h"
#include "kernels/scan.h"
#include "kernels/simd.h"

#if defined(__AVX512F__)
/* Relative error of f (16 lanes at a time) against ref over n points of [lo, hi] plus the
 * given specials; results below FLT_MIN are judged by absolute error (as for exp). */
static double worst_of(__m512 (*f)(__m512, const mb_exp_tab *), double (*ref)(double), double lo, double hi,
                       const float *special, int nspecial, float *at)
{
    const mb_exp_tab tab = mb_exp_tab_init();
    const int64_t n = 1 << 20;
    double worst = 0;
    float x[16], y[16];
    for (int64_t i = 0; i < n + nspecial; i += 16) {
        for (int k = 0; k < 16; k++) {
            const int64_t j = i + k;
            x[k] = j < nspecial ? special[j] : (float)(lo + (hi - lo) * (double)(j - nspecial) / (double)(n - 1));
        }
        _mm512_storeu_ps(y, f(_mm512_loadu_ps(x), &tab));
        for (int k = 0; k < 16; k++) {
            const double r = ref((double)x[k]);
            const double err = fabs(r) > 1.2e-38 ? fabs(y[k] - r) / fabs(r) : fabs(y[k] - r) / 1.2e-38;
            if (!(err <= worst) && !isnan(worst)) worst = err, *at = x[k]; /* a NaN sticks */
        }
    }
    return worst;
}

static double softplus_ref(double x) { return x > 0 ? x + log1p(exp(-x)) : log1p(exp(x)); }
static double silu_ref(double z) { return z / (1.0 + exp(-z)); }
static __m512 silu_of(__m512 z, const mb_exp_tab *t) { return mb_silu_mul512(_mm512_set1_ps(1.0f), z, t); }

/* stated: max relative error over [-20, 20] and [-80, 80] (beyond |x| ~ 4 it is mostly
 * the rounding of x log2(e) to float, 6e-8 |x|, that every float exp has) */
static void check_activations(void)
{
    static const float sp[] = {0.0f, -0.0f, 1e-30f, -1e-30f, 1e-8f, -1e-8f, 0x1p-25f, -0x1p-25f, 1.0f, -1.0f,
                               0.0625f, -0.0625f, 20.0f, -20.0f, 80.0f, -80.0f};
    const int ns = (int)(sizeof sp / sizeof sp[0]);
    const struct {
        const char *name;
        __m512 (*f)(__m512, const mb_exp_tab *);
        double (*ref)(double);
        double lo, hi, stated;
    } cases[] = {
        {"mb_softplus512", mb_softplus512, softplus_ref, -20, 20, 2e-6},
        {"mb_softplus512", mb_softplus512, softplus_ref, -80, 80, 5e-6},
        {"mb_silu_mul512", silu_of, silu_ref, -20, 20, 2e-6},
        {"mb_silu_mul512", silu_of, silu_ref, -80, 80, 5e-6},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        float at = 0;
        const double w = worst_of(cases[c].f, cases[c].ref, cases[c].lo, cases[c].hi, sp, ns, &at);
        printf("%-16s on [%g, %g]: max rel err %.3g at x=%g (stated %.3g)\n", cases[c].name, cases[c].lo,
               cases[c].hi, w, at, cases[c].stated);
        CHECK(w <= cases[c].stated, "%s: %.3g > stated %.3g at x=%g", cases[c].name, w, cases[c].stated, at);
    }
}
#endif

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
            if (!(err <= worst) && !isnan(worst)) worst = err, at = i; /* a NaN sticks */
        }
        printf("%-16s max rel err %.3g at x=%g (stated %.3g)\n", e->name, worst, x[at], e->max_rel_err);
        CHECK(worst <= e->max_rel_err, "%s: %.3g > stated %.3g at x=%g", e->name, worst,
              e->max_rel_err, x[at]);
    }
    free(x);
    free(y);
#if defined(__AVX512F__)
    check_activations();
#endif
    return check_report("test_exp");
}

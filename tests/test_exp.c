/* tests/test_exp.c: every exp routine of the table meets its stated accuracy against
 * double exp over the scan's range [-80, 0] (dense sweep plus the end points); so do the
 * AVX-512 softplus and silu of kernels/simd.h (the fused and ssd kernels' dt and gate)
 * against double formulas over [-80, 80]. And the scan's exp does not build up error in
 * slow states (decay near 1, long memory): the fused kernel on a long scan with dt A in
 * [-1e-5, -1e-3] and [-1e-4, -1e-2] against the fp64 oracle. */
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

/* Slow states: u = B = C = 1 (so h > 0 and an exp error of one sign cannot cancel), A[d][n]
 * = -(1 + n / 16), dt log-uniform per (t, d) in [lo, hi] / 1.5 (no softplus), L 16384, one
 * tile of 16 channels; y = sum_n h[n] against the fp64 oracle, max relative error over every
 * (t, d). dt A then spans about [-1.29 hi, -lo / 1.5] (printed as drawn: [-1.29e-3,
 * -6.67e-6] and [-1.29e-2, -6.67e-5] for the nominal ranges below). Measured (2026-11-23):
 * the centred exp 1.3e-6 (nominal [-1e-3, -1e-5]) and 5.0e-6 ([-1e-2, -1e-4]); the previous uncentred one (error 5e-8 with one sign as dt A -> 0-)
 * 4.0e-4 and 3.2e-5, that one times (1 + 1.2e-7) 1.3e-4 and 3.7e-5: the bound 2e-5 fails
 * both. */
static void check_slow_states(void)
{
    const int64_t L = 16384, D = 16, N = 16;
    const scan_shape s = {.batch = 1, .seqlen = L, .channels = D, .d_state = N, .heads = D, .groups = 1,
                          .a_kind = SCAN_A_DIAG};
    const double ranges[2][2] = {{1e-5, 1e-3}, {1e-4, 1e-2}};
    float *u = malloc(L * D * sizeof *u), *delta = malloc(L * D * sizeof *delta), *A = malloc(D * N * sizeof *A);
    float *Bm = malloc(L * N * sizeof *Bm), *y = malloc(L * D * sizeof *y);
    double *ref = malloc(L * D * sizeof *ref);
    const scan_opts o = {.threads = 1};
    const scan_kernel *fu = scan_kernel_find("fused");
    void *ws = malloc(fu->workspace_bytes(&s, &o) + 64);
    for (int64_t i = 0; i < L * D; i++) u[i] = 1.0f;
    for (int64_t i = 0; i < L * N; i++) Bm[i] = 1.0f;
    for (int64_t d = 0; d < D; d++)
        for (int64_t n = 0; n < N; n++) A[d * N + n] = -(1.0f + (float)n / 16.0f);
    uint64_t st = 88172645463325252ull; /* xorshift64 */
    for (int r = 0; r < 2; r++) {
        const double lo = log(ranges[r][0] / 1.5), hi = log(ranges[r][1] / 1.5);
        for (int64_t i = 0; i < L * D; i++) {
            st ^= st << 13, st ^= st >> 7, st ^= st << 17;
            delta[i] = (float)exp(lo + (hi - lo) * (double)(st >> 11) / 9007199254740992.0);
        }
        const scan_tensors t = {.u = u, .delta = delta, .A = A, .Bm = Bm, .Cm = Bm, .y = y};
        mb_err err;
        CHECK(!scan_reference(&s, &t, ref, NULL, &err), "oracle: %s", err.msg);
        CHECK(!fu->forward(&s, &t, &o, (void *)(((uintptr_t)ws + 63) & ~(uintptr_t)63), &err),
              "fused: %s", err.msg);
        double worst = 0;
        for (int64_t i = 0; i < L * D; i++) {
            const double e = fabs(y[i] - ref[i]) / ref[i];
            if (!(e <= worst)) worst = e;
        }
        /* the dt A actually used (dt A[d][n] over every t, d, n: A spans [-31/16, -1]) */
        double amin = 0, amax = -INFINITY;
        for (int64_t i = 0; i < L * D; i++)
            for (int64_t n = 0; n < N; n++) {
                const double x = (double)delta[i] * A[(i % D) * N + n];
                if (x < amin) amin = x;
                if (x > amax) amax = x;
            }
        printf("slow states (nominal [%g, %g]), dt A in [%.3g, %.3g], L %lld: fused max rel err of y %.3g "
               "(bound 2e-5)\n", -ranges[r][1], -ranges[r][0], amin, amax, (long long)L, worst);
        CHECK(worst <= 2e-5, "slow states, dt A in [%.3g, %.3g]: %.3g > 2e-5", amin, amax, worst);
    }
    free(u), free(delta), free(A), free(Bm), free(y), free(ref), free(ws);
}

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
    check_slow_states();
    return check_report("test_exp");
}

/* tests/test_block.c: a whole Mamba block's backward (Mamba-1 and Mamba-2, the scan
 * through each kernel with a backward) against central finite differences of its
 * forward, on tiny shapes, for every parameter and the input.
 *
 * The block runs in fp32 (sgemm), so the differences are of an fp32 function: a five-point
 * stencil (truncation O(h^4)) with a large step h = 2e-2 (relative) keeps fp32 rounding
 * of the loss (summed in double), O(ulp / h), small too; the agreement reached is
 * ~1e-4 of each gradient's scale, against which a wrong or missing term (O(1) relative)
 * stands out: the tolerance is 3e-3 normwise per tensor, and the test checks that a 1%
 * error in one gradient element fails it.
 *
 * The Mamba-2 block's gated RMSNorm is per group (RMSNormGated with group_size = d_inner /
 * ngroups, as model/mamba2.c): checked directly against that formula in double, for 1, 2
 * and 4 groups, so a norm over the whole of d_inner (self-consistent under finite
 * differences) fails. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>

#include "block/block.h"
#include "block/block_impl.h"
#include "check.h"
#include "common/mem.h"

#define FD_TOL 3e-3

static double loss(block *b, const float *x, float *out, const float *dout, int64_t n)
{
    mb_err err;
    if (block_forward(b, x, out, false, &err)) return NAN;
    double l = 0;
    for (int64_t i = 0; i < n; i++) l += (double)dout[i] * out[i];
    return l;
}

static double fd_err(block *b, float *p, int64_t np, const float *an, const float *x, float *out,
                     const float *dout, int64_t n)
{
    double me = 0, mr = 0;
    for (int64_t i = 0; i < np; i++) {
        /* five-point stencil: (8 (f(x+h) - f(x-h)) - (f(x+2h) - f(x-2h))) / 12h, error O(h^4) */
        const float p0 = p[i];
        const double h = 2e-2 * fmax(1.0, fabs((double)p0));
        double f[4];
        const double at[4] = {h, -h, 2 * h, -2 * h};
        for (int j = 0; j < 4; j++) {
            p[i] = (float)(p0 + at[j]);
            f[j] = loss(b, x, out, dout, n);
        }
        p[i] = p0;
        const double fd = (8 * (f[0] - f[1]) - (f[2] - f[3])) / (12 * h);
        const double d = fabs(fd - an[i]);
        me = d > me || !(d == d) ? d : me;
        mr = fmax(mr, fabs(an[i]));
    }
    return mr > 0 ? me / mr : me;
}

static void run(const char *name, const block_shape *s, const scan_kernel *k, double *worst)
{
    mb_err err;
    block *b;
    scan_opts o = {.threads = 1, .checkpoint = 3};
    if (block_init(&b, s, k, &o, true, 11, &err)) {
        CHECK(0, "%s %s: %s", name, k->name, err.msg);
        return;
    }
    /* dt near 1 (not Mamba's 1e-3..1e-1) so that the dt path's gradients (W_dt, dt_bias,
     * A_log, W_x's dt rows) are not drowned by fp32 rounding of the loss */
    float *bias = block_param(b, BP_DT_BIAS);
    for (int64_t i = 0; i < (s->kind == BLOCK_MAMBA1 ? s->d_inner : s->d_inner / s->headdim); i++) bias[i] = (float)(0.2 + 0.1 * (double)(i % 5));
    const int64_t n = s->batch * s->seqlen * s->d_model;
    float *x = malloc((size_t)n * sizeof(float)), *out = malloc((size_t)n * sizeof(float));
    float *dout = malloc((size_t)n * sizeof(float)), *dx = malloc((size_t)n * sizeof(float));
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(r, 3);
    for (int64_t i = 0; i < n; i++) x[i] = (float)gsl_ran_gaussian(r, 1.0), dout[i] = (float)gsl_ran_gaussian(r, 1.0);
    gsl_rng_free(r);
    CHECK(block_forward(b, x, out, true, &err) == 0, "%s", err.msg);
    CHECK(block_backward(b, x, dout, dx, &err) == 0, "%s", err.msg);
    /* the backward leaves the forward's activations alone: it can run again */
    int64_t np[BLOCK_NPARAMS];
    block_param_sizes(s, np);
    printf("%-8s %-11s", name, k->name);
    for (int i = 0; i < BLOCK_NPARAMS; i++) {
        if (!np[i]) continue;
        /* copy the analytic gradient: fd_err's forwards do not touch it, but be plain */
        float *an = malloc((size_t)np[i] * sizeof(float));
        memcpy(an, block_grad(b, i), (size_t)np[i] * sizeof(float));
        double e = fd_err(b, block_param(b, i), np[i], an, x, out, dout, n);
        CHECK(e <= FD_TOL, "%s %s: d%s vs finite differences %.3g", name, k->name, block_param_names[i], e);
        printf(" %s %.1e", block_param_names[i], e);
        if (e > *worst) *worst = e;
        if (i == BP_W_IN) { /* the check can fail: 1% off in the largest element */
            int64_t m = 0;
            for (int64_t j = 1; j < np[i]; j++)
                if (fabsf(an[j]) > fabsf(an[m])) m = j;
            an[m] *= 1.01f;
            double e2 = fd_err(b, block_param(b, i), np[i], an, x, out, dout, n);
            CHECK(e2 > FD_TOL, "%s: a 1%% error in dW_in must fail (%.3g)", name, e2);
        }
        free(an);
    }
    /* the same block on 2 threads (conv, norm, pointwise and the scan split work) agrees */
    block *b2;
    scan_opts o2 = {.threads = 2, .checkpoint = 3};
    float *dx2 = malloc((size_t)n * sizeof(float));
    CHECK(block_init(&b2, s, k, &o2, true, 11, &err) == 0, "%s", err.msg);
    memcpy(block_param(b2, BP_DT_BIAS), block_param(b, BP_DT_BIAS), (size_t)np[BP_DT_BIAS] * sizeof(float));
    CHECK(block_forward(b, x, out, true, &err) == 0 && block_forward(b2, x, out, true, &err) == 0 &&
              block_backward(b, x, dout, dx, &err) == 0 && block_backward(b2, x, dout, dx2, &err) == 0,
          "%s", err.msg);
    for (int i = 0; i < BLOCK_NPARAMS; i++) {
        double me = 0, mr = 0;
        for (int64_t j = 0; j < np[i]; j++) {
            me = fmax(me, fabs((double)block_grad(b, i)[j] - block_grad(b2, i)[j]));
            mr = fmax(mr, fabs((double)block_grad(b, i)[j]));
        }
        CHECK(me <= 1e-5 * mr, "%s %s: d%s on 2 threads differs from 1 thread: %.3g of %.3g", name, k->name,
              block_param_names[i], me, mr);
    }
    block_free(b2);
    free(dx2);
    double e = fd_err(b, x, n, dx, x, out, dout, n);
    CHECK(e <= FD_TOL, "%s %s: dx vs finite differences %.3g", name, k->name, e);
    printf(" x %.1e\n", e);
    free(x), free(out), free(dout), free(dx);
    block_free(b);
}

/* yn = g / sqrt(mean over the group of g^2 + eps) * w, g = y silu(z), in double */
static void check_group_norm(const scan_kernel *k, int64_t groups)
{
    mb_err err;
    block *b;
    block_shape s;
    block_shape_default(&s, BLOCK_MAMBA2, 8, 4, 5, 2);
    s.headdim = 4, s.ngroups = groups; /* di 16: 4 heads */
    scan_opts o = {.threads = 1, .checkpoint = 3};
    if (block_init(&b, &s, k, &o, false, 7, &err)) {
        CHECK(0, "group norm: block_init: %s", err.msg);
        return;
    }
    const int64_t n = s.batch * s.seqlen * s.d_model, di = s.d_inner, gs = di / groups;
    float *x = mb_alloc((size_t)n * sizeof(float)), *out = mb_alloc((size_t)n * sizeof(float));
    for (int64_t i = 0; i < n; i++) x[i] = (float)sin(0.7 * (double)i) * 0.8f;
    CHECK(block_forward(b, x, out, false, &err) == 0, "group norm: forward: %s", err.msg);
    const float *w = block_param(b, BP_NORM_W);
    double worst = 0;
    for (int64_t r = 0; r < s.batch * s.seqlen; r++)
        for (int64_t gi = 0; gi < groups; gi++) {
            double ss = 0, g[64];
            for (int64_t c = 0; c < gs; c++) {
                const int64_t i = r * di + gi * gs + c;
                const double z = b->z[i];
                g[c] = b->y[i] * z / (1.0 + exp(-z));
                ss += g[c] * g[c];
            }
            const double rs = 1.0 / sqrt(ss / (double)gs + BLOCK_NORM_EPS);
            for (int64_t c = 0; c < gs; c++) {
                const double ref = g[c] * rs * w[gi * gs + c], got = b->yn[r * di + gi * gs + c];
                worst = fmax(worst, fabs(got - ref) / fmax(1e-3, fabs(ref)));
            }
        }
    CHECK(worst <= 1e-4, "group norm, %lld groups, %s: yn off the per-group formula by %.3g", (long long)groups,
          k->name, worst);
    printf("group norm %lld groups (%s): max rel err %.1e\n", (long long)groups, k->name, worst);
    free(x), free(out);
    block_free(b);
}

int main(void)
{
    double worst = 0;
    for (int ki = 0; ki < scan_kernel_count; ki++) {
        const scan_kernel *k = scan_kernels[ki];
        block_shape s1, s2, s3;
        block_shape_default(&s1, BLOCK_MAMBA1, 6, 4, 7, 2);
        s1.dt_rank = 2;
        block_shape_default(&s2, BLOCK_MAMBA2, 8, 4, 7, 2);
        s2.headdim = 4, s2.ngroups = 2; /* di 16: 4 heads, 2 groups */
        /* 4 groups of 8 channels (groups of 4 make the norm so curved that the fp32
         * finite differences themselves miss by ~6e-3, for every kernel and the oracle alike) */
        block_shape_default(&s3, BLOCK_MAMBA2, 16, 4, 7, 2);
        s3.headdim = 8, s3.ngroups = 4; /* di 32: 4 heads, a group per head */
        scan_shape ss;
        block_scan_shape(&s1, &ss);
        scan_opts o = {.threads = 1, .checkpoint = 3};
        if (!scan_backward_unsupported(k, &ss, &o)) run("mamba1", &s1, k, &worst);
        block_scan_shape(&s2, &ss);
        if (!scan_backward_unsupported(k, &ss, &o)) run("mamba2", &s2, k, &worst);
        block_scan_shape(&s3, &ss);
        if (!scan_backward_unsupported(k, &ss, &o)) run("mamba2 G=4", &s3, k, &worst);
    }
    const scan_kernel *fu = scan_kernel_find("fused");
    for (int64_t g = 1; g <= 4; g *= 2) check_group_norm(fu, g);
    printf("worst %.2g (tolerance %.0e)\n", worst, FD_TOL);
    return check_report("test_block");
}

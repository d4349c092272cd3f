/* kernels/problem.c: shape checks, sizes, and seeded problem instances (GSL's RNG).
 *
 * Inputs are drawn like a trained Mamba's: dt after softplus log-uniform in
 * [dt_min, dt_max]; A = -(n+1) per channel (S4D-real, "diag") or -U(1, 16) per head
 * ("head", Mamba-2's A_log init range); u, Bm, Cm, z, h0 ~ N(0, 1); Dskip ~ N(1, 0.1). */
#include "scan.h"

#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "../common/mem.h"

// ---------------------------------------------------------------- shape

int64_t scan_shape_k(const scan_shape *s) { return s->a_kind == SCAN_A_HEAD ? s->heads : s->channels; }

double scan_shape_updates(const scan_shape *s)
{
    return (double)s->batch * (double)s->seqlen * (double)s->channels * (double)s->d_state;
}

int scan_shape_check(const scan_shape *s, mb_err *err)
{
    if (s->batch < 1) return mb_fail(err, "batch must be >= 1 (got %lld)", (long long)s->batch);
    if (s->seqlen < 1) return mb_fail(err, "seqlen must be >= 1 (got %lld)", (long long)s->seqlen);
    if (s->channels < 1) return mb_fail(err, "channels must be >= 1 (got %lld)", (long long)s->channels);
    if (s->d_state < 1) return mb_fail(err, "d_state must be >= 1 (got %lld)", (long long)s->d_state);
    if (s->groups < 1) return mb_fail(err, "groups must be >= 1 (got %lld)", (long long)s->groups);
    if (s->a_kind != SCAN_A_DIAG && s->a_kind != SCAN_A_HEAD)
        return mb_fail(err, "a must be diag or head");
    if (s->a_kind == SCAN_A_HEAD) {
        if (s->heads < 1) return mb_fail(err, "heads must be >= 1 (got %lld)", (long long)s->heads);
        if (s->channels % s->heads)
            return mb_fail(err, "heads (%lld) must divide channels (%lld)", (long long)s->heads,
                           (long long)s->channels);
        if (s->heads % s->groups)
            return mb_fail(err, "groups (%lld) must divide heads (%lld)", (long long)s->groups,
                           (long long)s->heads);
    } else if (s->channels % s->groups) {
        return mb_fail(err, "groups (%lld) must divide channels (%lld)", (long long)s->groups,
                       (long long)s->channels);
    }
    /* Every tensor's element count and byte count must fit in int64 (and size_t). */
    int64_t bld, bl, bln, x;
    if (!mb_mul(s->batch, s->seqlen, &bl) || !mb_mul(bl, s->channels, &bld) ||
        !mb_mul(bld, s->d_state, &x) || !mb_mul(x, 16, &x) || !mb_mul(bl, s->groups, &bln) ||
        !mb_mul(bln, s->d_state, &bln) || !mb_mul(bln, 8, &bln) ||
        !mb_mul(s->channels, s->d_state, &x) || !mb_mul(x, s->batch, &x) ||
        !mb_mul(x, 8, &x))
        return mb_fail(err, "the shape's sizes overflow 64-bit arithmetic (B=%lld L=%lld D=%lld N=%lld)",
                       (long long)s->batch, (long long)s->seqlen, (long long)s->channels,
                       (long long)s->d_state);
    return 0;
}

void scan_shape_sizes(const scan_shape *s, scan_sizes *n)
{
    int64_t B = s->batch, L = s->seqlen, D = s->channels, N = s->d_state, G = s->groups;
    int64_t K = scan_shape_k(s);
    n->u = B * L * D;
    n->delta = B * L * K;
    n->bias = s->has_bias ? K : 0;
    n->A = s->a_kind == SCAN_A_HEAD ? s->heads : D * N;
    n->Bm = n->Cm = B * L * G * N;
    n->Dskip = s->has_dskip ? K : 0;
    n->z = s->has_z ? B * L * D : 0;
    n->h0 = s->has_h0 ? B * D * N : 0;
    n->y = B * L * D;
    n->h_last = s->want_h_last ? B * D * N : 0;
}

int64_t scan_shape_tensor_bytes(const scan_shape *s)
{
    scan_sizes n;
    scan_shape_sizes(s, &n);
    int64_t e = n.u + n.delta + n.bias + n.A + n.Bm + n.Cm + n.Dskip + n.z + n.h0 + n.y + n.h_last;
    return e * (int64_t)sizeof(float);
}

void scan_shape_describe(const scan_shape *s, char *buf, size_t len)
{
    if (s->a_kind == SCAN_A_HEAD)
        snprintf(buf, len, "B=%lld L=%lld D=%lld N=%lld H=%lld G=%lld head", (long long)s->batch,
                 (long long)s->seqlen, (long long)s->channels, (long long)s->d_state,
                 (long long)s->heads, (long long)s->groups);
    else
        snprintf(buf, len, "B=%lld L=%lld D=%lld N=%lld G=%lld diag", (long long)s->batch,
                 (long long)s->seqlen, (long long)s->channels, (long long)s->d_state,
                 (long long)s->groups);
}

// ---------------------------------------------------------------- instances

static float *alloc_floats(int64_t n) { return n ? mb_alloc((size_t)n * sizeof(float)) : NULL; }

static void fill_normal(gsl_rng *r, float *x, int64_t n, double mean, double sd)
{
    for (int64_t i = 0; i < n; i++) x[i] = (float)(mean + gsl_ran_gaussian_ziggurat(r, sd));
}

/* inverse of softplus: log(exp(y) - 1), stable for small and large y */
static double inv_softplus(double y) { return y > 20.0 ? y : log(expm1(y)); }

int scan_problem_init(scan_problem *p, const scan_shape *s, const scan_fill *f, mb_err *err)
{
    memset(p, 0, sizeof *p);
    if (scan_shape_check(s, err)) return -1;
    if (!(f->dt_min > 0 && f->dt_max >= f->dt_min))
        return mb_fail(err, "dt range must satisfy 0 < dt_min <= dt_max (got %g, %g)", f->dt_min, f->dt_max);
    p->shape = *s;
    scan_sizes n;
    scan_shape_sizes(s, &n);
    int64_t counts[11] = {n.u, n.delta, n.bias, n.A, n.Bm, n.Cm, n.Dskip, n.z, n.h0, n.y, n.h_last};
    for (int i = 0; i < 11; i++) {
        if (counts[i] && !(p->mem[i] = alloc_floats(counts[i]))) {
            scan_problem_free(p);
            return mb_fail(err, "out of memory allocating %lld floats", (long long)counts[i]);
        }
    }
    float *u = p->mem[0], *delta = p->mem[1], *bias = p->mem[2], *A = p->mem[3], *Bm = p->mem[4],
          *Cm = p->mem[5], *Dskip = p->mem[6], *z = p->mem[7], *h0 = p->mem[8];

    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    if (!r) {
        scan_problem_free(p);
        return mb_fail(err, "out of memory (GSL RNG)");
    }
    gsl_rng_set(r, (unsigned long)f->seed);

    int64_t K = scan_shape_k(s);
    if (bias)
        for (int64_t k = 0; k < K; k++) bias[k] = (float)gsl_ran_flat(r, -0.5, 0.5);
    double lmin = log(f->dt_min), lmax = log(f->dt_max);
    for (int64_t i = 0; i < n.delta; i++) {
        double dt = exp(gsl_ran_flat(r, lmin, lmax));
        double b = bias ? bias[i % K] : 0.0;
        delta[i] = (float)((s->softplus ? inv_softplus(dt) : dt) - b);
    }
    if (s->a_kind == SCAN_A_HEAD)
        for (int64_t h = 0; h < s->heads; h++) A[h] = (float)-gsl_ran_flat(r, 1.0, 16.0);
    else
        for (int64_t d = 0; d < s->channels; d++)
            for (int64_t j = 0; j < s->d_state; j++) A[d * s->d_state + j] = (float)-(j + 1);
    fill_normal(r, u, n.u, 0, 1);
    fill_normal(r, Bm, n.Bm, 0, 1);
    fill_normal(r, Cm, n.Cm, 0, 1);
    if (Dskip) fill_normal(r, Dskip, n.Dskip, 1, 0.1);
    if (z) fill_normal(r, z, n.z, 0, 1);
    if (h0) fill_normal(r, h0, n.h0, 0, 1);
    gsl_rng_free(r);
    memset(p->mem[9], 0, (size_t)n.y * sizeof(float));
    if (p->mem[10]) memset(p->mem[10], 0, (size_t)n.h_last * sizeof(float));

    p->t = (scan_tensors){.u = u, .delta = delta, .delta_bias = bias, .A = A, .Bm = Bm, .Cm = Cm,
                          .Dskip = Dskip, .z = z, .h0 = h0, .y = p->mem[9], .h_last = p->mem[10]};
    return 0;
}

void scan_problem_free(scan_problem *p)
{
    for (int i = 0; i < 11; i++) mb_free(p->mem[i]);
    memset(p, 0, sizeof *p);
}

// ---------------------------------------------------------------- comparison

scan_errors scan_compare(const float *y, const double *ref, int64_t n)
{
    double max_abs = 0, max_ref = 0;
    bool nan = false;
    for (int64_t i = 0; i < n; i++) {
        double d = fabs((double)y[i] - ref[i]);
        if (!(d == d)) nan = true; /* NaN anywhere must fail, never compare as small */
        if (d > max_abs) max_abs = d;
        if (fabs(ref[i]) > max_ref) max_ref = fabs(ref[i]);
    }
    scan_errors e = {max_abs, max_ref > 0 ? max_abs / max_ref : max_abs};
    if (nan) e.max_abs_err = e.max_rel_err = INFINITY;
    return e;
}

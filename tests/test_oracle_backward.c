/* tests/test_oracle_backward.c: the fp64 oracle's backward against central finite
 * differences of the fp64 oracle's forward, in double, on tiny shapes: diag and head,
 * groups > 1, every optional tensor (softplus, delta_bias, Dskip, z, h0, h_last).
 *
 * loss = sum(dy * y) + sum(dh_last * h_last), so dloss/dx_i is the gradient the oracle
 * backward returns for input element x_i. Inputs are fp32; a perturbed input is rounded
 * to fp32 and the step actually taken, (float)(x+e) - (float)(x-e), is the denominator,
 * so the difference quotient is of the exact double function the oracle computes. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "common/mem.h"
#include "kernels/scan.h"

static double loss_of(const scan_shape *s, const scan_tensors *t, const float *dy, const float *dhl,
                      double *y, double *hl)
{
    mb_err err;
    if (scan_reference(s, t, y, s->want_h_last ? hl : NULL, &err)) return NAN;
    double l = 0;
    for (int64_t i = 0; i < s->batch * s->seqlen * s->channels; i++) l += (double)dy[i] * y[i];
    if (s->want_h_last)
        for (int64_t i = 0; i < s->batch * s->channels * s->d_state; i++) l += (double)dhl[i] * hl[i];
    return l;
}

/* max |fd - analytic| / max |analytic| over the gradient of one input tensor */
static double fd_check(const scan_shape *s, scan_tensors *t, float *x, int64_t n, const double *an,
                       const float *dy, const float *dhl, double *y, double *hl)
{
    double max_err = 0, max_ref = 0;
    for (int64_t i = 0; i < n; i++) {
        const float x0 = x[i];
        const double e = 1e-4 * fmax(1.0, fabs((double)x0));
        const float xp = (float)(x0 + e), xm = (float)(x0 - e);
        x[i] = xp;
        const double lp = loss_of(s, t, dy, dhl, y, hl);
        x[i] = xm;
        const double lm = loss_of(s, t, dy, dhl, y, hl);
        x[i] = x0;
        const double fd = (lp - lm) / ((double)xp - (double)xm);
        max_err = fmax(max_err, fabs(fd - an[i]));
        if (!(fabs(fd - an[i]) <= max_err)) max_err = INFINITY; /* NaN */
        max_ref = fmax(max_ref, fabs(an[i]));
    }
    return max_ref > 0 ? max_err / max_ref : max_err;
}

/* Finite differences carry O(e^2) truncation error (e = 1e-4 relative) and O(1e-16 / e)
 * roundoff: agreement to 1e-5 normwise, while a missing or wrong term is O(1). */
#define FD_TOLERANCE 1e-5

static void run_case(const char *name, const scan_shape *s, double dt_min, double dt_max)
{
    mb_err err;
    scan_problem p;
    scan_fill f = {.seed = 77, .dt_min = dt_min, .dt_max = dt_max};
    if (scan_problem_init(&p, s, &f, &err)) {
        CHECK(0, "%s: %s", name, err.msg);
        return;
    }
    scan_grad_bufs gb;
    scan_grads_f64 r;
    CHECK(scan_grad_bufs_init(&gb, s, 5, &err) == 0, "%s", err.msg);
    CHECK(scan_grads_f64_init(&r, s, &err) == 0, "%s", err.msg);
    CHECK(scan_reference_backward(s, &p.t, gb.g.dy, gb.g.dh_last, &r, &err) == 0, "%s", err.msg);
    scan_sizes z;
    scan_shape_sizes(s, &z);
    double *y = malloc((size_t)z.y * sizeof(double));
    double *hl = malloc((size_t)(s->batch * s->channels * s->d_state) * sizeof(double));
    /* input tensor i (in scan_grad order) and its element count */
    float *in[SCAN_NGRADS] = {(float *)p.t.u, (float *)p.t.delta, (float *)p.t.delta_bias,
                              (float *)p.t.A, (float *)p.t.Bm, (float *)p.t.Cm,
                              (float *)p.t.Dskip, (float *)p.t.z, (float *)p.t.h0};
    int64_t n[SCAN_NGRADS];
    scan_grad_sizes(s, n);
    char line[512];
    int off = snprintf(line, sizeof line, "%-22s", name);
    for (int i = 0; i < SCAN_NGRADS; i++) {
        CHECK((n[i] == 0) == (in[i] == NULL) && (n[i] == 0) == (r.g[i] == NULL),
              "%s: %s present iff its input is", name, scan_grad_names[i]);
        if (!n[i] || !in[i] || !r.g[i]) continue;
        double e = fd_check(s, &p.t, in[i], n[i], r.g[i], gb.g.dy, gb.g.dh_last, y, hl);
        CHECK(e <= FD_TOLERANCE, "%s: %s vs finite differences: %.3g", name, scan_grad_names[i], e);
        off += snprintf(line + off, sizeof line - (size_t)off, " %s %.1e", scan_grad_names[i], e);
    }
    printf("%s\n", line);

    /* the check can fail: a gradient off by 1% in one element is caught */
    if (n[SCAN_G_DA]) {
        r.g[SCAN_G_DA][0] *= 1.01;
        double e = fd_check(s, &p.t, in[SCAN_G_DA], n[SCAN_G_DA], r.g[SCAN_G_DA], gb.g.dy, gb.g.dh_last, y, hl);
        CHECK(e > FD_TOLERANCE, "%s: a 1%% error in dA[0] must fail (%.3g)", name, e);
    }
    free(y);
    free(hl);
    scan_grads_f64_free(&r);
    scan_grad_bufs_free(&gb);
    scan_problem_free(&p);
}

int main(void)
{
    const scan_shape base = {.batch = 2, .seqlen = 5, .channels = 4, .d_state = 3, .heads = 4,
                             .groups = 1, .a_kind = SCAN_A_DIAG};
    scan_shape s = base;
    run_case("diag bare", &s, 1e-2, 3e-1);
    s.softplus = s.has_bias = s.has_dskip = s.has_z = s.has_h0 = s.want_h_last = true;
    run_case("diag all", &s, 1e-2, 3e-1);
    s.groups = 2;
    run_case("diag all G=2", &s, 1e-2, 3e-1);
    run_case("diag all G=2 large dt", &s, 0.5, 3.0);
    s.a_kind = SCAN_A_HEAD;
    s.heads = 2;
    run_case("head all H=2 G=2", &s, 1e-2, 3e-1);
    s.groups = 1;
    s.has_z = s.has_h0 = false;
    run_case("head no z/h0 G=1", &s, 1e-2, 3e-1);
    s = base;
    s.a_kind = SCAN_A_HEAD, s.heads = 1, s.has_dskip = true, s.want_h_last = true;
    run_case("head H=1 D+h_last", &s, 1e-2, 3e-1);
    return check_report("test_oracle_backward");
}

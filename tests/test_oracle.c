/* tests/test_oracle.c: the fp64 oracle against closed forms and a case worked by hand. */
#include <math.h>
#include <stdlib.h>

#include "check.h"
#include "kernels/scan.h"

static void fill(float *x, int64_t n, float v)
{
    for (int64_t i = 0; i < n; i++) x[i] = v;
}

int main(void)
{
    mb_err err;
    /* 1. N = 1, constant inputs: h_t = r h_{t-1} + q with r = exp(dt a), q = dt b u, so
     *    h_t = r^t h0 + q (1 - r^t) / (1 - r) and y_t = c h_t + Dskip u. */
    {
        scan_shape s = {.batch = 1, .seqlen = 50, .channels = 1, .d_state = 1, .heads = 1,
                        .groups = 1, .a_kind = SCAN_A_DIAG, .has_dskip = true, .has_h0 = true,
                        .want_h_last = true};
        scan_problem p;
        CHECK(scan_problem_init(&p, &s, &SCAN_FILL_DEFAULT(1), &err) == 0, "%s", err.msg);
        const double dt = 0.25, a = -0.5, b = 1.5, u = 2.0, c = -0.75, h0 = 3.0, dsk = 0.5;
        fill((float *)p.t.delta, 50, (float)dt);
        fill((float *)p.t.A, 1, (float)a);
        fill((float *)p.t.Bm, 50, (float)b);
        fill((float *)p.t.Cm, 50, (float)c);
        fill((float *)p.t.u, 50, (float)u);
        fill((float *)p.t.h0, 1, (float)h0);
        fill((float *)p.t.Dskip, 1, (float)dsk);
        double y[50], hl;
        CHECK(scan_reference(&s, &p.t, y, &hl, &err) == 0, "%s", err.msg);
        const double r = exp(dt * a), q = dt * b * u;
        for (int t = 1; t <= 50; t++) {
            double h = pow(r, t) * h0 + q * (1 - pow(r, t)) / (1 - r);
            CHECK_NEAR(y[t - 1], c * h + dsk * u, 1e-12, "geometric series y_t");
        }
        CHECK_NEAR(hl, pow(r, 50) * h0 + q * (1 - pow(r, 50)) / (1 - r), 1e-12, "h_last");
        scan_problem_free(&p);
    }
    /* 2. dt -> 0 (delta = 0, no softplus): the state stays h0, y = C.h0 + D u. */
    {
        scan_shape s = {.batch = 2, .seqlen = 9, .channels = 3, .d_state = 4, .heads = 3,
                        .groups = 1, .a_kind = SCAN_A_DIAG, .has_dskip = true, .has_h0 = true,
                        .want_h_last = true};
        scan_problem p;
        CHECK(scan_problem_init(&p, &s, &SCAN_FILL_DEFAULT(2), &err) == 0, "%s", err.msg);
        fill((float *)p.t.delta, 2 * 9 * 3, 0.0f);
        double y[2 * 9 * 3], hl[2 * 3 * 4];
        CHECK(scan_reference(&s, &p.t, y, hl, &err) == 0, "%s", err.msg);
        for (int b = 0; b < 2; b++)
            for (int l = 0; l < 9; l++)
                for (int d = 0; d < 3; d++) {
                    double want = p.t.Dskip[d] * (double)p.t.u[(b * 9 + l) * 3 + d];
                    for (int n = 0; n < 4; n++)
                        want += (double)p.t.Cm[(b * 9 + l) * 4 + n] * p.t.h0[(b * 3 + d) * 4 + n];
                    CHECK_NEAR(y[(b * 9 + l) * 3 + d], want, 1e-12, "dt=0 keeps h0");
                }
        for (int i = 0; i < 2 * 3 * 4; i++) CHECK_NEAR(hl[i], p.t.h0[i], 0, "dt=0 h_last == h0");
        scan_problem_free(&p);
    }
    /* 3. By hand: L = 2, D = 1, N = 2, head A = -ln 2 (so exp(dt A) = 1/2 at dt = 1),
     *    softplus off, delta = 1, u = (1, 2), B = ((1, 0), (0, 1)), C = ((1, 1), (2, -1)),
     *    gate z = (0, big): silu(0) = 0, silu(40) ~ 40.
     *    t=0: h = (0.5*0 + 1*1*1, 0.5*0 + 0) = (1, 0);      y0 = 1 + 0 = 1; * silu(0) = 0
     *    t=1: h = (0.5*1 + 0, 0.5*0 + 1*1*2) = (0.5, 2);     y1 = 2*0.5 - 2 = -1; * silu(40) */
    {
        scan_shape s = {.batch = 1, .seqlen = 2, .channels = 1, .d_state = 2, .heads = 1,
                        .groups = 1, .a_kind = SCAN_A_HEAD, .has_z = true, .want_h_last = true};
        scan_problem p;
        CHECK(scan_problem_init(&p, &s, &SCAN_FILL_DEFAULT(3), &err) == 0, "%s", err.msg);
        float *delta = (float *)p.t.delta, *A = (float *)p.t.A, *u = (float *)p.t.u,
              *Bm = (float *)p.t.Bm, *Cm = (float *)p.t.Cm, *z = (float *)p.t.z;
        delta[0] = delta[1] = 1;
        A[0] = (float)-log(2.0);
        u[0] = 1, u[1] = 2;
        Bm[0] = 1, Bm[1] = 0, Bm[2] = 0, Bm[3] = 1;
        Cm[0] = 1, Cm[1] = 1, Cm[2] = 2, Cm[3] = -1;
        z[0] = 0, z[1] = 40;
        double y[2], hl[2];
        CHECK(scan_reference(&s, &p.t, y, hl, &err) == 0, "%s", err.msg);
        double half = exp(1.0 * (double)A[0]); /* 0.5 up to A's fp32 rounding */
        CHECK_NEAR(half, 0.5, 1e-7, "exp(-ln 2)");
        CHECK_NEAR(y[0], 0.0, 1e-15, "hand y0");
        CHECK_NEAR(y[1], (2 * half - 2) * (40 / (1 + exp(-40.0))), 1e-12, "hand y1");
        CHECK_NEAR(y[1], -40.0, 1e-5, "hand y1 ~ -40");
        CHECK_NEAR(hl[0], half, 1e-12, "hand h0");
        CHECK_NEAR(hl[1], 2.0, 1e-12, "hand h1");
        scan_problem_free(&p);
    }
    /* 4. softplus: dt = log(1 + e^x); x = 0 -> ln 2 */
    CHECK_NEAR(scan_softplus_d(0.0), log(2.0), 1e-15, "softplus(0)");
    CHECK_NEAR(scan_softplus_d(30.0), 30.0, 1e-12, "softplus(30)");
    return check_report("test_oracle");
}

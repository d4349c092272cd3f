/* tests/test_kernels.c: every kernel of the table against the fp64 oracle on the grid
 * of the foundation issue. It loops over the table, so a new kernel is covered by
 * adding it there. Tolerance: SCAN_TOLERANCE (kernels/scan.h says why). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "common/mem.h"
#include "kernels/scan.h"
#include "variant.h"

static const variant variants[] = {
    {"bare", false, false, false, false, false, false, 1e-3, 1e-1},
    {"all", true, true, true, true, true, true, 1e-3, 1e-1},
    {"softplus+bias", true, true, false, false, false, true, 1e-3, 1e-1},
    {"z+D+h0", false, false, true, true, true, false, 1e-3, 1e-1},
    {"large-dt", true, true, true, true, true, true, 1.0, 10.0},
};

static int run_case(const scan_kernel *k, const scan_shape *s, const variant *v, int threads,
                    int *skipped)
{
    char desc[160];
    scan_shape_describe(s, desc, sizeof desc);
    scan_opts o = {.threads = threads};
    const char *why = k->unsupported(s, &o);
    if (why) {
        (*skipped)++;
        return 0;
    }
    mb_err err;
    scan_problem p;
    scan_fill f = {.seed = 1234, .dt_min = v->dt_min, .dt_max = v->dt_max};
    if (scan_problem_init(&p, s, &f, &err)) {
        CHECK(0, "problem init %s: %s", desc, err.msg);
        return 1;
    }
    scan_sizes n;
    scan_shape_sizes(s, &n);
    double *ry = malloc((size_t)n.y * sizeof(double));
    double *rh = n.h_last ? malloc((size_t)n.h_last * sizeof(double)) : NULL;
    size_t wsb = k->workspace_bytes(s, &o);
    void *ws = wsb ? mb_alloc(wsb) : NULL;
    int rc = scan_reference(s, &p.t, ry, rh, &err);
    CHECK(rc == 0, "oracle %s: %s", desc, err.msg);
    rc = k->forward(s, &p.t, &o, ws, &err);
    CHECK(rc == 0, "%s forward %s: %s", k->name, desc, err.msg);
    scan_errors e = scan_compare(p.t.y, ry, n.y);
    CHECK(e.max_rel_err <= SCAN_TOLERANCE, "%s %s [%s] threads=%d: y max_rel_err %.3g (abs %.3g)",
          k->name, desc, v->name, threads, e.max_rel_err, e.max_abs_err);
    if (rh) {
        scan_errors eh = scan_compare(p.t.h_last, rh, n.h_last);
        CHECK(eh.max_rel_err <= SCAN_TOLERANCE, "%s %s [%s]: h_last max_rel_err %.3g", k->name,
              desc, v->name, eh.max_rel_err);
    }
    free(ry);
    free(rh);
    mb_free(ws);
    scan_problem_free(&p);
    return 0;
}

int main(void)
{
    const int64_t Ls[] = {1, 2, 7, 64, 257};
    const int64_t Ns[] = {1, 16, 64};
    for (int ki = 0; ki < scan_kernel_count; ki++) {
        const scan_kernel *k = scan_kernels[ki];
        if (k->oracle) continue;
        int before = check_failures, skipped = 0, cases = 0;
        for (int a = 0; a < 2; a++)
            for (int gi = 0; gi < 2; gi++)
                for (size_t li = 0; li < sizeof Ls / sizeof *Ls; li++)
                    for (size_t ni = 0; ni < sizeof Ns / sizeof *Ns; ni++)
                        for (size_t vi = 0; vi < sizeof variants / sizeof *variants; vi++) {
                            const variant *v = &variants[vi];
                            scan_shape s = variant_shape(a, gi, Ls[li], Ns[ni], v);
                            /* alternate 1 and 2 threads so both paths are covered */
                            run_case(k, &s, v, 1 + (int)(cases % 2), &skipped);
                            cases++;
                        }
        /* a wider, odd shape with more channels than threads * vector width */
        scan_shape big = {.batch = 1, .seqlen = 127, .channels = 8 * 67, .d_state = 16,
                          .heads = 8, .groups = 2, .a_kind = SCAN_A_HEAD, .softplus = true,
                          .has_bias = true, .has_dskip = true, .has_z = true, .want_h_last = true};
        run_case(k, &big, &variants[1], 2, &skipped);
        big.a_kind = SCAN_A_DIAG;
        big.heads = big.channels;
        run_case(k, &big, &variants[1], 2, &skipped);
        cases += 2;
        printf("%-12s %d cases, %d skipped (unsupported), %d failed\n", k->name, cases, skipped,
               check_failures - before);
    }

    /* The tolerance must be able to fail: a one-element perturbation of 1e-3 of the
     * output's scale, and a NaN, are both caught. */
    float y[4] = {1, -2, 3, 0.5f};
    double r[4] = {1, -2, 3, 0.5};
    y[2] += 3e-3f;
    CHECK(scan_compare(y, r, 4).max_rel_err > SCAN_TOLERANCE, "a 1e-3 perturbation must fail");
    y[2] = NAN;
    CHECK(!(scan_compare(y, r, 4).max_rel_err <= SCAN_TOLERANCE), "a NaN must fail");
    return check_report("test_kernels");
}

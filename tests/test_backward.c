/* tests/test_backward.c: every kernel of the table that has a backward, against the fp64
 * oracle's backward (itself checked against finite differences in test_oracle_backward),
 * on a grid like test_kernels': diag and head, groups 1 and 3, L from 1 to 131, N 1, 16,
 * 64, every optional tensor, 1 and 2 threads, checkpoint intervals (fused) and chunk
 * lengths (ssd) that do and do not divide L, and for ssd chunks of 1, 2, 3 and longer
 * than L on prime L. Every gradient is compared (SCAN_GRAD_TOLERANCE, normwise), and y from
 * forward_save against the oracle's forward (SCAN_TOLERANCE).
 *
 * Gradient buffers start as NaN and each step runs twice on the same buffers, so a
 * backward that accumulates into its outputs, leaves one unwritten, or depends on stale
 * workspace fails. */
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
    {"z+D+h0", false, false, true, true, true, false, 1e-3, 1e-1},
    {"large-dt", true, true, true, true, true, true, 1.0, 10.0},
};

static double worst[64][SCAN_NGRADS];

static void fill_nan(const scan_shape *s, const scan_grads *g)
{
    int64_t n[SCAN_NGRADS];
    scan_grad_sizes(s, n);
    for (int i = 0; i < SCAN_NGRADS; i++) {
        float *x = scan_grads_get(g, i);
        for (int64_t j = 0; x && j < n[i]; j++) x[j] = NAN;
    }
}

static int run_case(int ki, const scan_kernel *k, const scan_shape *s, const variant *v, int threads,
                    int checkpoint, int chunk, int *skipped)
{
    char desc[160];
    scan_shape_describe(s, desc, sizeof desc);
    scan_opts o = {.threads = threads, .checkpoint = checkpoint, .chunk = chunk};
    if (scan_backward_unsupported(k, s, &o)) {
        (*skipped)++;
        return 0;
    }
    mb_err err;
    scan_problem p;
    scan_grad_bufs gb;
    scan_grads_f64 r;
    scan_fill f = {.seed = 99, .dt_min = v->dt_min, .dt_max = v->dt_max};
    if (scan_problem_init(&p, s, &f, &err) || scan_grad_bufs_init(&gb, s, 7, &err) ||
        scan_grads_f64_init(&r, s, &err)) {
        CHECK(0, "init %s: %s", desc, err.msg);
        return 1;
    }
    scan_sizes n;
    scan_shape_sizes(s, &n);
    double *ry = malloc((size_t)n.y * sizeof(double));
    CHECK(scan_reference(s, &p.t, ry, NULL, &err) == 0, "oracle %s: %s", desc, err.msg);
    CHECK(scan_reference_backward(s, &p.t, gb.g.dy, gb.g.dh_last, &r, &err) == 0, "oracle bwd: %s", err.msg);
    size_t sb = k->saved_bytes(s, &o), wb = k->backward_workspace_bytes(s, &o);
    void *saved = sb ? mb_alloc(sb) : NULL, *ws = wb ? mb_alloc(wb) : NULL;
    fill_nan(s, &gb.g);
    for (int rep = 0; rep < 2; rep++) {
        int rc = k->forward_save(s, &p.t, &o, saved, ws, &err);
        CHECK(rc == 0, "%s forward_save %s: %s", k->name, desc, err.msg);
        rc = k->backward(s, &p.t, &gb.g, &o, saved, ws, &err);
        CHECK(rc == 0, "%s backward %s: %s", k->name, desc, err.msg);
    }
    scan_errors ey = scan_compare(p.t.y, ry, n.y);
    CHECK(ey.max_rel_err <= SCAN_TOLERANCE, "%s %s [%s]: forward_save y max_rel_err %.3g", k->name, desc,
          v->name, ey.max_rel_err);
    scan_errors e[SCAN_NGRADS];
    scan_grads_compare(s, &gb.g, &r, e);
    for (int i = 0; i < SCAN_NGRADS; i++) {
        CHECK(e[i].max_rel_err <= SCAN_GRAD_TOLERANCE,
              "%s %s [%s] threads=%d K=%d chunk=%d: %s max_rel_err %.3g (abs %.3g)", k->name, desc, v->name,
              threads, checkpoint, chunk, scan_grad_names[i], e[i].max_rel_err, e[i].max_abs_err);
        if (!(e[i].max_rel_err <= worst[ki][i])) worst[ki][i] = e[i].max_rel_err;
    }
    free(ry);
    mb_free(saved);
    mb_free(ws);
    scan_grads_f64_free(&r);
    scan_grad_bufs_free(&gb);
    scan_problem_free(&p);
    return 0;
}

int main(void)
{
    const int64_t Ls[] = {1, 7, 64, 131};
    const int64_t Ns[] = {1, 16, 64};
    const int Ks[] = {0, 5, 64}; /* checkpoint intervals and chunk lengths: default (64), not
                                    dividing L, dividing (L = 64) */
    for (int ki = 0; ki < scan_kernel_count && ki < 64; ki++) {
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
                            run_case(ki, k, &s, v, 1 + (int)(cases % 2), Ks[cases % 3], Ks[cases % 3],
                                     &skipped);
                            cases++;
                        }
        /* a wider shape with more channels than threads x vector width */
        scan_shape big = {.batch = 1, .seqlen = 200, .channels = 8 * 67, .d_state = 16,
                          .heads = 8, .groups = 2, .a_kind = SCAN_A_HEAD, .softplus = true,
                          .has_bias = true, .has_dskip = true, .has_z = true, .has_h0 = true,
                          .want_h_last = true};
        run_case(ki, k, &big, &variants[1], 2, 16, 16, &skipped);
        big.a_kind = SCAN_A_DIAG;
        big.heads = big.channels;
        run_case(ki, k, &big, &variants[1], 2, 0, 0, &skipped);
        cases += 2;
        /* chunked kernels: chunks of 1, 2, 3 and longer than L on a prime L, head problems
         * with 4 heads in 2 groups (so a chunk's group spans two heads), every variant */
        const int chunks[] = {1, 2, 3, 200};
        for (size_t ci = 0; ci < sizeof chunks / sizeof *chunks; ci++)
            for (size_t vi = 0; vi < sizeof variants / sizeof *variants; vi++) {
                const variant *v = &variants[vi];
                scan_shape s = {.batch = 2, .seqlen = 37, .channels = 4 * 5, .d_state = 8, .heads = 4,
                                .groups = 2, .a_kind = SCAN_A_HEAD};
                variant_apply(&s, v);
                run_case(ki, k, &s, v, 1 + (int)(ci % 2), 0, chunks[ci], &skipped);
                cases++;
            }
        printf("%-12s %d cases, %d skipped (unsupported or no backward), %d failed; worst:", k->name,
               cases, skipped, check_failures - before);
        for (int i = 0; i < SCAN_NGRADS; i++) printf(" %s %.1e", scan_grad_names[i], worst[ki][i]);
        printf("\n");
    }

    /* fused training past its forward's time chunks (256 steps, head): checkpoint
     * intervals that do not divide 256 or L, one longer than the 64-step least segment
     * buffer and not a multiple of 16 (100), heads of 40 channels (a masked last tile),
     * batch 2 with several heads per forward unit, shares that cut batch elements */
    for (int ki = 0; ki < scan_kernel_count && ki < 64; ki++) {
        const scan_kernel *k = scan_kernels[ki];
        if (strcmp(k->name, "fused") != 0) continue;
        int skipped = 0;
        const int cks[] = {48, 100, 0};
        for (int a = 0; a < 2; a++)
            for (size_t ci = 0; ci < sizeof cks / sizeof *cks; ci++) {
                scan_shape s = {.batch = 2, .seqlen = 531, .channels = 6 * 40, .d_state = 16, .heads = a ? 6 : 240,
                                .groups = 2, .a_kind = a ? SCAN_A_HEAD : SCAN_A_DIAG};
                variant_apply(&s, &variants[1]);
                run_case(ki, k, &s, &variants[1], 1 + (int)ci, cks[ci], 0, &skipped);
            }
        scan_shape one = {.batch = 2, .seqlen = 1, .channels = 40, .d_state = 5, .heads = 2, .groups = 1,
                          .a_kind = SCAN_A_HEAD};
        variant_apply(&one, &variants[1]);
        run_case(ki, k, &one, &variants[1], 3, 100, 0, &skipped);
        CHECK(skipped == 0, "fused must train these shapes");
    }

    /* the tolerance can fail: a gradient 1% off in one element, and a NaN */
    {
        scan_shape s = {.batch = 1, .seqlen = 3, .channels = 2, .d_state = 2, .heads = 2, .groups = 1};
        scan_grad_bufs gb;
        scan_grads_f64 r;
        mb_err err;
        CHECK(scan_grad_bufs_init(&gb, &s, 1, &err) == 0 && scan_grads_f64_init(&r, &s, &err) == 0, "%s", err.msg);
        int64_t n[SCAN_NGRADS];
        scan_grad_sizes(&s, n);
        for (int i = 0; i < SCAN_NGRADS; i++)
            for (int64_t j = 0; j < n[i]; j++) r.g[i][j] = scan_grads_get(&gb.g, i)[j] = (float)(j + 1);
        scan_errors e[SCAN_NGRADS];
        CHECK(scan_grads_compare(&s, &gb.g, &r, e) == 0, "equal gradients compare equal");
        gb.g.dBm[1] *= 1.01f;
        CHECK(scan_grads_compare(&s, &gb.g, &r, e) > SCAN_GRAD_TOLERANCE, "a 1%% error must fail");
        gb.g.dA[0] = NAN;
        CHECK(!(scan_grads_compare(&s, &gb.g, &r, e) <= SCAN_GRAD_TOLERANCE), "a NaN must fail");
        scan_grads_f64_free(&r);
        scan_grad_bufs_free(&gb);
    }
    return check_report("test_backward");
}

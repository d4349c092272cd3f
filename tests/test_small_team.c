/* tests/test_small_team.c: kernels asked for 3 threads but given a smaller OpenMP team (a
 * kernel called inside a parallel region with one active level allowed; OMP_THREAD_LIMIT
 * and OMP_DYNAMIC do the same) must still compute everything: forward (y, h_last) and,
 * where there is one, forward_save + backward (every gradient) against the fp64 oracle.
 * A kernel that splits work or sums per-thread accumulators by the number of threads it
 * asked for, not the team it got, leaves work undone or sums unzeroed memory.
 * fused's head forward shares its units out by the team and caps a thread's run of units
 * at the states its scratch holds; L 300 passes one of its 256-step time chunks. */
#include <math.h>
#include <omp.h>
#include <stdlib.h>

#include "check.h"
#include "common/mem.h"
#include "kernels/scan.h"

static void run(const scan_kernel *k, const scan_shape *s)
{
    char desc[160];
    scan_shape_describe(s, desc, sizeof desc);
    const scan_opts o = {.threads = 3};
    if (k->unsupported(s, &o)) return;
    mb_err err;
    scan_problem p;
    scan_fill f = SCAN_FILL_DEFAULT(5);
    if (scan_problem_init(&p, s, &f, &err)) {
        CHECK(0, "init %s: %s", desc, err.msg);
        return;
    }
    scan_sizes n;
    scan_shape_sizes(s, &n);
    double *ry = malloc((size_t)n.y * sizeof(double)), *rh = malloc((size_t)n.h_last * sizeof(double)); /* [B][L][D], [B][D][N] */
    CHECK(scan_reference(s, &p.t, ry, rh, &err) == 0, "oracle: %s", err.msg);
    const size_t wsb = k->workspace_bytes(s, &o);
    void *ws = wsb ? mb_alloc(wsb) : NULL;
    int rc = 0, team = 0;
#pragma omp parallel num_threads(2)
    if (omp_get_thread_num() == 0) { /* an inner region here gets a team of 1 */
#pragma omp parallel num_threads(3)
        team = omp_get_num_threads();
        rc = k->forward(s, &p.t, &o, ws, &err);
    }
    CHECK(team == 1, "the inner team has %d threads, expected 1", team);
    CHECK(rc == 0, "%s forward %s: %s", k->name, desc, err.msg);
    scan_errors e = scan_compare(p.t.y, ry, n.y), eh = scan_compare(p.t.h_last, rh, n.h_last);
    CHECK(e.max_rel_err <= SCAN_TOLERANCE, "%s %s, team 1 of 3: y err %.3g", k->name, desc, e.max_rel_err);
    CHECK(eh.max_rel_err <= SCAN_TOLERANCE, "%s %s, team 1 of 3: h_last err %.3g", k->name, desc, eh.max_rel_err);
    mb_free(ws);
    if (!scan_backward_unsupported(k, s, &o)) {
        scan_grad_bufs gb;
        scan_grads_f64 r;
        if (scan_grad_bufs_init(&gb, s, 7, &err) || scan_grads_f64_init(&r, s, &err)) {
            CHECK(0, "grad init %s: %s", desc, err.msg);
        } else {
            CHECK(scan_reference_backward(s, &p.t, gb.g.dy, gb.g.dh_last, &r, &err) == 0, "oracle bwd: %s", err.msg);
            const size_t sb = k->saved_bytes(s, &o), wb = k->backward_workspace_bytes(s, &o);
            void *saved = sb ? mb_alloc(sb) : NULL, *bws = wb ? mb_alloc(wb) : NULL;
            /* NaN in the accumulators a missing thread would have zeroed */
            for (size_t i = 0; i < wb / sizeof(float); i++) ((float *)bws)[i] = NAN;
#pragma omp parallel num_threads(2)
            if (omp_get_thread_num() == 0) {
                rc = k->forward_save(s, &p.t, &o, saved, bws, &err);
                if (!rc) rc = k->backward(s, &p.t, &gb.g, &o, saved, bws, &err);
            }
            CHECK(rc == 0, "%s training %s: %s", k->name, desc, err.msg);
            scan_errors eg[SCAN_NGRADS];
            scan_grads_compare(s, &gb.g, &r, eg);
            for (int i = 0; i < SCAN_NGRADS; i++)
                CHECK(eg[i].max_rel_err <= SCAN_GRAD_TOLERANCE, "%s %s, team 1 of 3: %s err %.3g", k->name, desc,
                      scan_grad_names[i], eg[i].max_rel_err);
            mb_free(saved);
            mb_free(bws);
        }
        scan_grads_f64_free(&r);
        scan_grad_bufs_free(&gb);
    }
    free(ry);
    free(rh);
    scan_problem_free(&p);
}

int main(void)
{
    omp_set_max_active_levels(1); /* the default of most runtimes, made sure */
    static const char *const kernels[] = {"sequential", "pscan", "ssd", "fused"};
    for (size_t ki = 0; ki < sizeof kernels / sizeof *kernels; ki++) {
        const scan_kernel *k = scan_kernel_find(kernels[ki]);
        CHECK(k != NULL, "kernel %s", kernels[ki]);
        if (!k) continue;
        for (int a = 0; a < 2; a++) {
            /* batch 2, 4 heads of 16 (or 64 channels), 2 groups, every optional tensor */
            const scan_shape s = {.batch = 2, .seqlen = 300, .channels = 64, .d_state = 16, .heads = a ? 4 : 64,
                                  .groups = 2, .a_kind = a ? SCAN_A_HEAD : SCAN_A_DIAG, .softplus = true,
                                  .has_bias = true, .has_dskip = true, .has_z = true, .has_h0 = true,
                                  .want_h_last = true};
            run(k, &s);
        }
        /* batch 1, 12 heads of 16: asked for 3 threads, fused cuts 3 units of 4 heads and
         * keeps one state per thread (live 1), so a team of 1 must take them in runs of
         * one (the cap on a run; the shape above has live = units per batch element) */
        const scan_shape w = {.batch = 1, .seqlen = 300, .channels = 192, .d_state = 16, .heads = 12,
                              .groups = 2, .a_kind = SCAN_A_HEAD, .softplus = true, .has_bias = true,
                              .has_dskip = true, .has_z = true, .has_h0 = true, .want_h_last = true};
        run(k, &w);
    }
    return check_report("test_small_team");
}

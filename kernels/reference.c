/* kernels/reference.c: the fp64 oracle. The plainest loops of DESIGN section 1,
 * every quantity in double, one thread. Every test compares against this.
 *
 * It is also a row of the kernel table ("reference", marked oracle) so that
 * `mbench run reference` can time it; that row rounds the double result to fp32. */
#include <math.h>
#include <string.h>

#include "../common/mem.h"
#include "scan.h"

int scan_reference(const scan_shape *s, const scan_tensors *t, double *y, double *h_last, mb_err *err)
{
    if (scan_shape_check(s, err)) return -1;
    const int64_t B = s->batch, L = s->seqlen, D = s->channels, N = s->d_state, G = s->groups;
    const int64_t K = scan_shape_k(s);
    const int64_t per_k = D / K;     /* channels per dt entry: 1 (diag) or headdim (head) */
    const int64_t per_group = D / G; /* channels per group */
    double *h = mb_alloc((size_t)N * sizeof(double));
    if (!h) return mb_fail(err, "out of memory (oracle state)");

    for (int64_t b = 0; b < B; b++) {
        for (int64_t d = 0; d < D; d++) {
            const int64_t k = d / per_k, g = d / per_group;
            for (int64_t n = 0; n < N; n++) h[n] = t->h0 ? t->h0[(b * D + d) * N + n] : 0.0;
            for (int64_t l = 0; l < L; l++) {
                const int64_t bl = b * L + l;
                /* dt = softplus(delta + bias) */
                double dt = (double)t->delta[bl * K + k] + (t->delta_bias ? t->delta_bias[k] : 0.0);
                if (s->softplus) dt = dt > 20.0 ? dt : log1p(exp(dt));
                const double u = t->u[bl * D + d];
                const float *Bm = t->Bm + (bl * G + g) * N, *Cm = t->Cm + (bl * G + g) * N;
                double acc = 0;
                for (int64_t n = 0; n < N; n++) {
                    /* h[n] = exp(dt * A[d,n]) * h[n] + dt * B[n] * u */
                    double a = s->a_kind == SCAN_A_HEAD ? t->A[k] : t->A[d * N + n];
                    h[n] = exp(dt * a) * h[n] + dt * (double)Bm[n] * u;
                    /* y = sum_n C[n] h[n] */
                    acc += (double)Cm[n] * h[n];
                }
                /* + D u, then the gate y *= silu(z) */
                if (t->Dskip) acc += (double)t->Dskip[k] * u;
                if (t->z) {
                    double zz = t->z[bl * D + d];
                    acc *= zz / (1.0 + exp(-zz));
                }
                y[bl * D + d] = acc;
            }
            if (h_last)
                for (int64_t n = 0; n < N; n++) h_last[(b * D + d) * N + n] = h[n];
        }
    }
    mb_free(h);
    return 0;
}

// ---------------------------------------------------------------- as a table row

static const char *ref_unsupported(const scan_shape *s, const scan_opts *o)
{
    (void)s, (void)o;
    return NULL;
}

static size_t ref_workspace(const scan_shape *s, const scan_opts *o)
{
    (void)o;
    size_t n = (size_t)(s->batch * s->seqlen * s->channels);
    if (s->want_h_last) n += (size_t)(s->batch * s->channels * s->d_state);
    return n * sizeof(double);
}

static int ref_forward(const scan_shape *s, const scan_tensors *t, const scan_opts *o, void *ws, mb_err *err)
{
    (void)o;
    double *y = ws;
    int64_t ny = s->batch * s->seqlen * s->channels;
    double *hl = s->want_h_last ? y + ny : NULL;
    if (scan_reference(s, t, y, hl, err)) return -1;
    for (int64_t i = 0; i < ny; i++) t->y[i] = (float)y[i];
    if (hl)
        for (int64_t i = 0; i < s->batch * s->channels * s->d_state; i++) t->h_last[i] = (float)hl[i];
    return 0;
}

static void ref_cost(const scan_shape *s, const scan_opts *o, scan_cost *c)
{
    const double upd = scan_shape_updates(s);
    const double BLD = (double)s->batch * s->seqlen * s->channels;
    /* per update: dt*A, exp, *h, dt*B*u (2), +, C*h (2, as FMA) = 7 flops, one exp */
    c->flops = 7.0 * upd + BLD * ((s->has_dskip ? 2 : 0) + (s->has_z ? 4 : 0));
    c->exps = upd + BLD * (s->softplus ? 1 : 0) + BLD * (s->has_z ? 1 : 0);
    c->workspace = (double)ref_workspace(s, o);
    c->bytes = (double)scan_shape_tensor_bytes(s) + 2.0 * c->workspace;
}

// ---------------------------------------------------------------- training (as a table row)

static size_t ref_saved(const scan_shape *s, const scan_opts *o)
{
    (void)s, (void)o;
    return 0; /* the oracle backward recomputes the states from the inputs */
}

/* the forward's doubles, or the backward's doubles (every gradient), whichever is larger */
static size_t ref_bwd_workspace(const scan_shape *s, const scan_opts *o)
{
    int64_t n[SCAN_NGRADS], total = 0;
    scan_grad_sizes(s, n);
    for (int i = 0; i < SCAN_NGRADS; i++) total += n[i];
    size_t fw = ref_workspace(s, o), bw = (size_t)total * sizeof(double);
    return fw > bw ? fw : bw;
}

static int ref_forward_save(const scan_shape *s, const scan_tensors *t, const scan_opts *o, void *saved,
                            void *ws, mb_err *err)
{
    (void)saved;
    return ref_forward(s, t, o, ws, err);
}

static int ref_backward(const scan_shape *s, const scan_tensors *t, const scan_grads *g, const scan_opts *o,
                        const void *saved, void *ws, mb_err *err)
{
    (void)o, (void)saved;
    int64_t n[SCAN_NGRADS];
    scan_grad_sizes(s, n);
    scan_grads_f64 r = {0};
    double *p = ws;
    for (int i = 0; i < SCAN_NGRADS; i++) {
        r.g[i] = n[i] ? p : NULL;
        p += n[i];
    }
    if (scan_reference_backward(s, t, g->dy, g->dh_last, &r, err)) return -1;
    for (int i = 0; i < SCAN_NGRADS; i++) {
        float *out = scan_grads_get(g, i);
        if (out && r.g[i])
            for (int64_t j = 0; j < n[i]; j++) out[j] = (float)r.g[i][j];
    }
    return 0;
}

static void ref_backward_cost(const scan_shape *s, const scan_opts *o, scan_cost *c)
{
    const double upd = scan_shape_updates(s);
    const double BLD = (double)s->batch * s->seqlen * s->channels;
    /* recompute (3 flops, 1 exp per update), then per update: acc C.h (2), dC (2), gh += (2),
     * ddt (5), dA (3), dB (2), du (2), gh *= e (1) = 19 flops and one exp */
    c->flops = 22.0 * upd + BLD * (8 + (s->has_z ? 8 : 0));
    c->exps = 2.0 * upd + BLD * (s->softplus ? 3 : 0) + BLD * (s->has_z ? 1 : 0);
    c->workspace = (double)ref_bwd_workspace(s, o);
    c->bytes = (double)scan_shape_tensor_bytes(s) + (double)scan_grad_bytes(s) + 2.0 * c->workspace;
}

const scan_kernel scan_kernel_reference = {
    .name = "reference",
    .exp_routine = "glibc_expf",
    .summary = "fp64 oracle: plainest loops, accumulates in double, one thread",
    .supports = "diag and head, every optional tensor",
    .oracle = true,
    .unsupported = ref_unsupported,
    .workspace_bytes = ref_workspace,
    .forward = ref_forward,
    .cost = ref_cost,
    .saved_bytes = ref_saved,
    .forward_save = ref_forward_save,
    .backward_workspace_bytes = ref_bwd_workspace,
    .backward = ref_backward,
    .backward_cost = ref_backward_cost,
};

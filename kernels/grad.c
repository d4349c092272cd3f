/* kernels/grad.c: the bookkeeping of backward passes: gradient names and sizes, buffers
 * for dy and the gradients (seeded), the oracle's double buffers, and the comparison of
 * a kernel's gradients with the oracle's. */
#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>
#include <math.h>
#include <string.h>

#include "../common/mem.h"
#include "scan.h"

const char *const scan_grad_names[SCAN_NGRADS] = {"du", "ddelta", "ddelta_bias", "dA", "dBm",
                                                  "dCm", "dDskip", "dz", "dh0"};

const char *scan_backward_unsupported(const scan_kernel *k, const scan_shape *s, const scan_opts *o)
{
    const char *why = k->unsupported(s, o); /* the forward's own reason comes first */
    if (why) return why;
    if (!k->backward || !k->backward_workspace_bytes || !k->saved_bytes || !k->forward_save)
        return "no backward pass";
    return NULL;
}

int64_t scan_train_extra_bytes(const scan_kernel *k, const scan_shape *s, const scan_opts *o)
{
    return (int64_t)k->saved_bytes(s, o) + (int64_t)k->backward_workspace_bytes(s, o) + scan_grad_bytes(s);
}

void scan_forward_save_cost(const scan_kernel *k, const scan_shape *s, const scan_opts *o, scan_cost *c)
{
    k->cost(s, o, c);
    c->bytes += k->save_extra_bytes ? k->save_extra_bytes(s, o) : (double)k->saved_bytes(s, o);
    c->workspace = (double)k->backward_workspace_bytes(s, o);
}

int scan_opts_checkpoint(const scan_opts *o) { return o->checkpoint > 0 ? o->checkpoint : 64; }

void scan_grad_sizes(const scan_shape *s, int64_t n[SCAN_NGRADS])
{
    scan_sizes z;
    scan_shape_sizes(s, &z);
    n[SCAN_G_DU] = z.u;
    n[SCAN_G_DDELTA] = z.delta;
    n[SCAN_G_DBIAS] = z.bias;
    n[SCAN_G_DA] = z.A;
    n[SCAN_G_DB] = z.Bm;
    n[SCAN_G_DC] = z.Cm;
    n[SCAN_G_DDSKIP] = z.Dskip;
    n[SCAN_G_DZ] = z.z;
    n[SCAN_G_DH0] = z.h0;
}

float *scan_grads_get(const scan_grads *g, int i)
{
    float *p[SCAN_NGRADS] = {g->du, g->ddelta, g->ddelta_bias, g->dA, g->dBm, g->dCm, g->dDskip, g->dz, g->dh0};
    return i >= 0 && i < SCAN_NGRADS ? p[i] : NULL;
}

int64_t scan_grad_bytes(const scan_shape *s)
{
    int64_t n[SCAN_NGRADS], e = s->batch * s->seqlen * s->channels; /* dy */
    scan_grad_sizes(s, n);
    if (s->want_h_last) e += s->batch * s->channels * s->d_state;
    for (int i = 0; i < SCAN_NGRADS; i++) e += n[i];
    return e * (int64_t)sizeof(float);
}

// ---------------------------------------------------------------- fp32 buffers

int scan_grad_bufs_init(scan_grad_bufs *gb, const scan_shape *s, uint64_t seed, mb_err *err)
{
    memset(gb, 0, sizeof *gb);
    if (scan_shape_check(s, err)) return -1;
    int64_t n[SCAN_NGRADS];
    scan_grad_sizes(s, n);
    const int64_t ny = s->batch * s->seqlen * s->channels;
    const int64_t nh = s->want_h_last ? s->batch * s->channels * s->d_state : 0;
    for (int i = 0; i < SCAN_NGRADS; i++)
        if (n[i] && !(gb->mem[i] = mb_alloc((size_t)n[i] * sizeof(float)))) goto oom;
    if (!(gb->mem[SCAN_NGRADS] = mb_alloc((size_t)ny * sizeof(float)))) goto oom;
    if (nh && !(gb->mem[SCAN_NGRADS + 1] = mb_alloc((size_t)nh * sizeof(float)))) goto oom;
    for (int i = 0; i < SCAN_NGRADS; i++)
        if (n[i]) memset(gb->mem[i], 0, (size_t)n[i] * sizeof(float));

    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    if (!r) goto oom;
    gsl_rng_set(r, (unsigned long)(seed ^ 0x9e3779b97f4a7c15ull));
    float *dy = gb->mem[SCAN_NGRADS], *dhl = gb->mem[SCAN_NGRADS + 1];
    for (int64_t i = 0; i < ny; i++) dy[i] = (float)gsl_ran_gaussian_ziggurat(r, 1.0);
    for (int64_t i = 0; i < nh; i++) dhl[i] = (float)gsl_ran_gaussian_ziggurat(r, 1.0);
    gsl_rng_free(r);

    float **m = gb->mem;
    gb->g = (scan_grads){.dy = dy, .dh_last = dhl, .du = m[SCAN_G_DU], .ddelta = m[SCAN_G_DDELTA],
                         .ddelta_bias = m[SCAN_G_DBIAS], .dA = m[SCAN_G_DA], .dBm = m[SCAN_G_DB],
                         .dCm = m[SCAN_G_DC], .dDskip = m[SCAN_G_DDSKIP], .dz = m[SCAN_G_DZ],
                         .dh0 = m[SCAN_G_DH0]};
    return 0;
oom:
    scan_grad_bufs_free(gb);
    return mb_fail(err, "out of memory allocating gradient buffers");
}

void scan_grad_bufs_free(scan_grad_bufs *gb)
{
    for (int i = 0; i < SCAN_NGRADS + 2; i++) mb_free(gb->mem[i]);
    memset(gb, 0, sizeof *gb);
}

// ---------------------------------------------------------------- fp64 buffers (oracle)

int scan_grads_f64_init(scan_grads_f64 *r, const scan_shape *s, mb_err *err)
{
    memset(r, 0, sizeof *r);
    if (scan_shape_check(s, err)) return -1;
    int64_t n[SCAN_NGRADS], total = 0;
    scan_grad_sizes(s, n);
    for (int i = 0; i < SCAN_NGRADS; i++) total += n[i];
    if (!(r->mem = mb_alloc((size_t)total * sizeof(double))))
        return mb_fail(err, "out of memory allocating the oracle's gradients (%lld doubles)", (long long)total);
    double *p = r->mem;
    for (int i = 0; i < SCAN_NGRADS; i++) {
        r->g[i] = n[i] ? p : NULL;
        p += n[i];
    }
    return 0;
}

void scan_grads_f64_free(scan_grads_f64 *r)
{
    mb_free(r->mem);
    memset(r, 0, sizeof *r);
}

// ---------------------------------------------------------------- comparison

double scan_grads_compare(const scan_shape *s, const scan_grads *g, const scan_grads_f64 *r,
                          scan_errors e[SCAN_NGRADS])
{
    int64_t n[SCAN_NGRADS];
    scan_grad_sizes(s, n);
    double worst = 0;
    for (int i = 0; i < SCAN_NGRADS; i++) {
        const float *x = scan_grads_get(g, i);
        e[i] = (scan_errors){0, 0};
        if (!n[i]) continue;
        if (!x || !r->g[i]) {
            e[i] = (scan_errors){INFINITY, INFINITY}; /* a gradient that should exist is missing */
        } else {
            e[i] = scan_compare(x, r->g[i], n[i]);
        }
        if (!(e[i].max_rel_err <= worst)) worst = e[i].max_rel_err;
    }
    return worst;
}

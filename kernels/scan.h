/* kernels/scan.h: the selective-scan problem every kernel solves, and the kernel table.
 *
 * Per batch b, channel d, state n, time t (DESIGN.md section 1):
 *
 *     dt   = softplus(delta[t, k(d)] + bias[k(d)])        (softplus optional)
 *     h[n] = exp(dt * A[d, n]) * h[n] + dt * Bm[t, g(d), n] * u[t, d]
 *     y    = sum_n Cm[t, g(d), n] * h[n] + Dskip[k(d)] * u[t, d];   y *= silu(z[t, d]) if z
 *
 * where for a "diag" problem (Mamba-1) k(d) = d and A is [D][N], and for a "head"
 * problem (Mamba-2) k(d) = head(d) = d / (D/H) and A is one scalar per head.
 * g(d) = d / (D/G) is the group of channel d. All tensors are fp32, row-major, last
 * dimension contiguous, 64-byte aligned.
 *
 * A kernel is a row of the table (scan_kernel): it says whether it can run a problem
 * (and if not, why), how much workspace it needs, what it costs (flops, exps, bytes),
 * and it runs the forward pass into caller-owned output and workspace, so that no
 * allocation or first touch happens inside a timed call. */
#ifndef MB_SCAN_H
#define MB_SCAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../common/err.h"

typedef enum { SCAN_A_DIAG = 0, SCAN_A_HEAD = 1 } scan_a_kind;

/* The shape of a problem and which optional tensors take part. */
typedef struct {
    int64_t batch;    /* B */
    int64_t seqlen;   /* L */
    int64_t channels; /* D = d_inner (Mamba-1) = heads * headdim (Mamba-2) */
    int64_t d_state;  /* N */
    int64_t heads;    /* H: divides D; "head" problems have one A and one dt per head.
                         For "diag" problems H is unused by the math (set it to D). */
    int64_t groups;   /* G: divides H (head) or D (diag); Bm, Cm are per group */
    scan_a_kind a_kind;
    bool softplus;    /* dt = softplus(delta + bias) rather than delta + bias */
    bool has_bias;    /* delta_bias present */
    bool has_dskip;   /* Dskip present */
    bool has_z;       /* gate z present */
    bool has_h0;      /* initial state present (else zero) */
    bool want_h_last; /* final state written */
} scan_shape;

/* The tensors. Shapes are given with D = channels, K = D (diag) or H (head). */
typedef struct {
    const float *u;          /* [B][L][D] */
    const float *delta;      /* [B][L][K] */
    const float *delta_bias; /* [K] or NULL */
    const float *A;          /* [D][N] (diag) or [H] (head); negative */
    const float *Bm;         /* [B][L][G][N] */
    const float *Cm;         /* [B][L][G][N] */
    const float *Dskip;      /* [K] or NULL */
    const float *z;          /* [B][L][D] or NULL */
    const float *h0;         /* [B][D][N] or NULL */
    float *y;                /* [B][L][D] out */
    float *h_last;           /* [B][D][N] out, or NULL */
} scan_tensors;

/* Run options a kernel may read. */
typedef struct {
    int threads; /* OpenMP threads the kernel may use (>= 1); the harness has pinned them */
    int chunk;   /* chunk length for chunked kernels (0: the kernel's default) */
    int checkpoint; /* training: steps between the state checkpoints a recomputing backward
                       saves in the forward (fused; 0: the kernel's default, 64) */
} scan_opts;

/* Gradients of one backward pass (training). In: dy, and dh_last when the final state
 * is an output of the forward (want_h_last; NULL reads as zero). Out: the gradient of
 * the loss with respect to every input tensor, NULL exactly where the input is absent
 * (has_bias, has_dskip, has_z, has_h0). A backward overwrites every output it is given
 * (it does not accumulate into it). Shapes as in scan_tensors. */
typedef struct {
    const float *dy;      /* [B][L][D] in */
    const float *dh_last; /* [B][D][N] in, or NULL */
    float *du;            /* [B][L][D] */
    float *ddelta;        /* [B][L][K] */
    float *ddelta_bias;   /* [K] or NULL */
    float *dA;            /* [D][N] (diag) or [H] (head) */
    float *dBm;           /* [B][L][G][N] */
    float *dCm;           /* [B][L][G][N] */
    float *dDskip;        /* [K] or NULL */
    float *dz;            /* [B][L][D] or NULL */
    float *dh0;           /* [B][D][N] or NULL */
} scan_grads;

/* What one call costs, counted from the algorithm (not measured). */
typedef struct {
    double flops;     /* floating-point operations (an FMA counts 2) */
    double exps;      /* exponentials (softplus and silu count one each) */
    double bytes;     /* bytes the algorithm must move to and from memory: inputs read
                         once, outputs written once, plus any workspace written and read */
    double workspace; /* workspace bytes (== the kernel's workspace_bytes) */
} scan_cost;

typedef struct scan_kernel {
    const char *name;
    const char *summary;  /* one line */
    const char *supports; /* one line: which problems it runs */
    bool oracle;          /* the fp64 reference: not timed by default, never threaded */
    const char *exp_routine; /* the row of scan_exp_routines its exps cost (ceilings) */
    /* NULL if the kernel can run this problem, else a static reason. */
    const char *(*unsupported)(const scan_shape *s, const scan_opts *o);
    /* Bytes of workspace the forward needs (0 for none). */
    size_t (*workspace_bytes)(const scan_shape *s, const scan_opts *o);
    /* The forward pass. ws is 64-byte aligned, workspace_bytes long. 0 on success. */
    int (*forward)(const scan_shape *s, const scan_tensors *t, const scan_opts *o, void *ws,
                   mb_err *err);
    void (*cost)(const scan_shape *s, const scan_opts *o, scan_cost *c);

    /* ---- training (optional: a kernel without a backward leaves these NULL, and
     * scan_backward_unsupported() says "no backward pass") ----
     * A training step is forward_save (the forward that also keeps, in a caller-owned
     * "saved" buffer of saved_bytes, what the backward needs: materialised states,
     * state checkpoints every opts.checkpoint steps, chunk states ...), then backward,
     * which reads the inputs, the saved buffer and dy (dh_last) and writes scan_grads.
     * forward_save writes y and h_last exactly like forward. forward_save and backward
     * share one scratch workspace of backward_workspace_bytes (they never run at once;
     * nothing in it survives from one to the other: what must, goes in saved), so the
     * memory of a training step is tensors + gradients + saved + that workspace. saved
     * and the workspace are 64-byte aligned; NULL when their size is 0. A kernel with a
     * backward sets all four of saved_bytes, forward_save, backward_workspace_bytes and
     * backward. */
    size_t (*saved_bytes)(const scan_shape *s, const scan_opts *o);
    int (*forward_save)(const scan_shape *s, const scan_tensors *t, const scan_opts *o, void *saved,
                        void *ws, mb_err *err);
    size_t (*backward_workspace_bytes)(const scan_shape *s, const scan_opts *o);
    int (*backward)(const scan_shape *s, const scan_tensors *t, const scan_grads *g,
                    const scan_opts *o, const void *saved, void *ws, mb_err *err);
    /* backward-only cost (flops, exps, bytes, workspace = backward workspace); NULL: none stated */
    void (*backward_cost)(const scan_shape *s, const scan_opts *o, scan_cost *c);
    /* Bytes forward_save moves beyond what forward does (scan_forward_save_cost); NULL: the
     * saved buffer, written once (a kernel that writes it in place of traffic the forward
     * has anyway, or writes more, states its own). */
    double (*save_extra_bytes)(const scan_shape *s, const scan_opts *o);
} scan_kernel;

/* ---- the table (kernels/table.c) ---- */
extern const scan_kernel *const scan_kernels[];
extern const int scan_kernel_count;
const scan_kernel *scan_kernel_find(const char *name);

/* NULL if the kernel can run this problem's backward, else a static reason (the forward's
 * own reason first, else "no backward pass"). kernels/grad.c. */
const char *scan_backward_unsupported(const scan_kernel *k, const scan_shape *s, const scan_opts *o);
/* Bytes of one training step's memory besides the tensors: saved + workspace + gradients
 * (dy, dh_last and every gradient). Call only when scan_backward_unsupported is NULL. */
int64_t scan_train_extra_bytes(const scan_kernel *k, const scan_shape *s, const scan_opts *o);
/* What one forward_save costs: the forward's cost (k->cost: it computes the same; saving
 * is stores) with bytes + k->save_extra_bytes (NULL: + saved_bytes, the saved buffer
 * written once) and workspace = backward_workspace_bytes (the scratch it runs in). Call
 * only when scan_backward_unsupported is NULL. */
void scan_forward_save_cost(const scan_kernel *k, const scan_shape *s, const scan_opts *o, scan_cost *c);
/* The checkpoint interval opts ask for (opts.checkpoint, or the default 64). */
int scan_opts_checkpoint(const scan_opts *o);

/* The fused forward (kernels/fused.c) that also writes the state every `every` steps:
 * ckpt [B][ceil(L/every)][D][N], slot j = the state after step j*every - 1 (j >= 1; slot 0
 * is the caller's to fill). ws as the forward's. For forward_save, in one pass. */
int scan_fused_forward_ckpt(const scan_shape *s, const scan_tensors *t, const scan_opts *o, void *ws, float *ckpt,
                            int64_t every, mb_err *err);

/* The fused kernel's training entry points (kernels/fused_backward.c), for its table row:
 * checkpoints every opts.checkpoint steps, a backward that recomputes from them. */
size_t scan_fused_saved_bytes(const scan_shape *s, const scan_opts *o);
int scan_fused_forward_save(const scan_shape *s, const scan_tensors *t, const scan_opts *o, void *saved, void *ws,
                            mb_err *err);
size_t scan_fused_backward_workspace(const scan_shape *s, const scan_opts *o);
int scan_fused_backward(const scan_shape *s, const scan_tensors *t, const scan_grads *g, const scan_opts *o,
                        const void *saved, void *ws, mb_err *err);
void scan_fused_backward_cost(const scan_shape *s, const scan_opts *o, scan_cost *c);

/* The pscan kernel's training entry points (kernels/pscan_backward.c): deltaA and the
 * states kept, the adjoint's recurrence run by the same sweeps backwards in time. */
size_t scan_pscan_saved_bytes(const scan_shape *s, const scan_opts *o);
int scan_pscan_forward_save(const scan_shape *s, const scan_tensors *t, const scan_opts *o, void *saved, void *ws,
                            mb_err *err);
size_t scan_pscan_backward_workspace(const scan_shape *s, const scan_opts *o);
int scan_pscan_backward(const scan_shape *s, const scan_tensors *t, const scan_grads *g, const scan_opts *o,
                        const void *saved, void *ws, mb_err *err);
void scan_pscan_backward_cost(const scan_shape *s, const scan_opts *o, scan_cost *c);

/* The ssd kernel's training entry points (kernels/ssd_backward.c): forward_save is the ssd
 * forward and keeps nothing; the backward differentiates the chunked form with sgemm,
 * recomputing the chunk states. Head problems only, like the forward. */
size_t scan_ssd_saved_bytes(const scan_shape *s, const scan_opts *o);
int scan_ssd_forward_save(const scan_shape *s, const scan_tensors *t, const scan_opts *o, void *saved, void *ws,
                          mb_err *err);
size_t scan_ssd_backward_workspace(const scan_shape *s, const scan_opts *o);
int scan_ssd_backward(const scan_shape *s, const scan_tensors *t, const scan_grads *g, const scan_opts *o,
                      const void *saved, void *ws, mb_err *err);
void scan_ssd_backward_cost(const scan_shape *s, const scan_opts *o, scan_cost *c);

/* ---- the problem (kernels/problem.c) ---- */

/* Checks sizes, divisibility and overflow; 0 or -1 with a message naming the field. */
int scan_shape_check(const scan_shape *s, mb_err *err);

/* K: number of dt / bias / Dskip entries per time step (D for diag, H for head). */
int64_t scan_shape_k(const scan_shape *s);
/* B*L*D*N state updates of one call. */
double scan_shape_updates(const scan_shape *s);
/* Bytes of all input and output tensors of the problem. */
int64_t scan_shape_tensor_bytes(const scan_shape *s);
/* A one-line human description, e.g. "B=1 L=2048 D=1536 N=16 G=1 diag". */
void scan_shape_describe(const scan_shape *s, char *buf, size_t len);

/* Element counts of each tensor (0 if absent). */
typedef struct {
    int64_t u, delta, bias, A, Bm, Cm, Dskip, z, h0, y, h_last;
} scan_sizes;
void scan_shape_sizes(const scan_shape *s, scan_sizes *n);

/* How inputs are drawn: like a trained Mamba's (DESIGN section 3). */
typedef struct {
    uint64_t seed;
    double dt_min, dt_max; /* dt after softplus is log-uniform in [dt_min, dt_max] */
} scan_fill;
#define SCAN_FILL_DEFAULT(seed_) ((scan_fill){.seed = (seed_), .dt_min = 1e-3, .dt_max = 1e-1})

/* Owns the buffers of one problem instance. */
typedef struct {
    scan_shape shape;
    scan_tensors t;
    float *mem[11]; /* every allocation, for scan_problem_free */
} scan_problem;

/* Allocates every tensor of the shape (64-byte aligned) and fills the inputs; outputs
 * are zeroed. 0 or -1 (with a message; nothing stays allocated). */
int scan_problem_init(scan_problem *p, const scan_shape *s, const scan_fill *f, mb_err *err);
void scan_problem_free(scan_problem *p);

/* The fp64 oracle (kernels/reference.c): y and h_last in double, [B][L][D] and [B][D][N]
 * (h_last may be NULL). Plain loops, one thread. */
int scan_reference(const scan_shape *s, const scan_tensors *t, double *y, double *h_last,
                   mb_err *err);

/* Compares a kernel's fp32 output with the oracle's: max |y - r| and that divided by
 * max |r| (the normwise relative error, which does not blow up where y crosses zero). */
typedef struct {
    double max_abs_err, max_rel_err;
} scan_errors;
scan_errors scan_compare(const float *y, const double *ref, int64_t n);

/* ---- training: gradients (kernels/grad.c, kernels/reference_backward.c) ---- */

/* The gradient tensors in a fixed order, for loops, reports and JSON keys. */
enum {
    SCAN_G_DU, SCAN_G_DDELTA, SCAN_G_DBIAS, SCAN_G_DA, SCAN_G_DB, SCAN_G_DC, SCAN_G_DDSKIP,
    SCAN_G_DZ, SCAN_G_DH0, SCAN_NGRADS
};
extern const char *const scan_grad_names[SCAN_NGRADS]; /* "du", "ddelta", "ddelta_bias", ... */
/* Element count of each gradient (0 where the input is absent). */
void scan_grad_sizes(const scan_shape *s, int64_t n[SCAN_NGRADS]);
/* The output pointer of gradient i (NULL if absent). */
float *scan_grads_get(const scan_grads *g, int i);

/* Owns dy, dh_last (seeded N(0, 1)) and every gradient buffer of one shape. */
typedef struct {
    scan_grads g;
    float *mem[SCAN_NGRADS + 2];
} scan_grad_bufs;
int scan_grad_bufs_init(scan_grad_bufs *gb, const scan_shape *s, uint64_t seed, mb_err *err);
void scan_grad_bufs_free(scan_grad_bufs *gb);
/* Bytes of dy, dh_last and every gradient. */
int64_t scan_grad_bytes(const scan_shape *s);

/* The oracle's gradients, in double; same shapes and NULLs as scan_grads. */
typedef struct {
    double *g[SCAN_NGRADS];
    double *mem;
} scan_grads_f64;
int scan_grads_f64_init(scan_grads_f64 *r, const scan_shape *s, mb_err *err);
void scan_grads_f64_free(scan_grads_f64 *r);

/* The fp64 oracle backward (kernels/reference_backward.c): the gradients of
 * loss = sum(dy * y) + sum(dh_last * h_last), by the plainest reverse loops in double,
 * recomputing the forward states per (batch, channel). One thread. */
int scan_reference_backward(const scan_shape *s, const scan_tensors *t, const float *dy,
                            const float *dh_last, scan_grads_f64 *r, mb_err *err);

/* Each gradient against the oracle's (normwise: max |g - r| / max |r|, as scan_compare);
 * absent gradients get zeros. Returns the worst relative error. */
double scan_grads_compare(const scan_shape *s, const scan_grads *g, const scan_grads_f64 *r,
                          scan_errors e[SCAN_NGRADS]);

/* Tolerance of every fp32 backward against the oracle, per gradient, normwise as
 * SCAN_TOLERANCE. The parameter gradients (dA, ddelta_bias, dDskip, and dBm, dCm summed
 * over the channels of a group) are sums of B*L*D(*N) fp32 terms of both signs, so their
 * rounding grows like sqrt(terms) ulps and cancellation raises the ratio to the result's
 * scale; correct kernels reach <= 2e-5 on the test grid (tests/test_backward.c prints
 * the worst per gradient), and a wrong term misses by orders of magnitude. */
#define SCAN_GRAD_TOLERANCE 1e-3

/* ---- exp routines the kernels use (kernels/exp.c); `mbench calibrate` measures each ---- */
typedef struct {
    const char *name;
    const char *summary;
    /* y[i] = exp(x[i]) for i < n (n any size; x in the scan's range [-80, 0]) */
    void (*apply)(const float *x, float *y, int64_t n);
    double max_rel_err; /* stated accuracy on [-80, 0] against double exp (tested) */
} scan_exp_routine;
extern const scan_exp_routine *const scan_exp_routines[];
extern const int scan_exp_routine_count;
const scan_exp_routine *scan_exp_routine_find(const char *name);

/* Tolerance of every fp32 kernel against the oracle: normwise relative error of y
 * (max |y - r| / max |r|). fp32 has unit roundoff 6e-8; the recurrence decays (|exp(dt A)|
 * <= 1) so errors do not grow with L, and the dot product over N adds ~sqrt(N) ulps; a
 * few-ulp exp adds a few more. 1e-4 leaves over 100x headroom above what correct fp32
 * kernels reach (~1e-6) while a wrong index, a missing term or a half-precision slip
 * fails it by orders of magnitude (tests/test_kernels.c checks that it can fail). */
#define SCAN_TOLERANCE 1e-4

/* ---- small math shared by kernels ---- */
static inline double scan_softplus_d(double x) { return x > 20.0 ? x : __builtin_log1p(__builtin_exp(x)); }

#endif

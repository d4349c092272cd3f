/* tests/test_cost.c: the cost models of pscan, ssd and fused (flops, exps, bytes,
 * workspace) against counts worked by hand on small shapes (the arithmetic is in the
 * comments), so a change to a kernel that forgets its cost model fails here. */
#include <math.h>

#include "check.h"
#include "kernels/scan.h"

/* B=1 L=4 D=2 N=2 G=1, softplus, bias, Dskip, z on, no h0 / h_last.
 * updates = 16; B*L*D = 8.
 * tensor floats, diag: u 8 + delta 8 + bias 2 + A 4 + Bm 8 + Cm 8 + Dskip 2 + z 8 + y 8 = 56
 *               head (H=1): u 8 + delta 4 + bias 1 + A 1 + Bm 8 + Cm 8 + Dskip 1 + z 8 + y 8 = 47 */
static scan_shape small(scan_a_kind a)
{
    return (scan_shape){.batch = 1, .seqlen = 4, .channels = 2, .d_state = 2,
                        .heads = a == SCAN_A_HEAD ? 1 : 2, .groups = 1, .a_kind = a,
                        .softplus = true, .has_bias = true, .has_dskip = true, .has_z = true};
}

static scan_cost cost_of(const char *name, const scan_shape *s, int chunk)
{
    const scan_kernel *k = scan_kernel_find(name);
    scan_cost c = {0};
    CHECK(k != NULL, "kernel %s in the table", name);
    if (!k) return c;
    scan_opts o = {.threads = 1, .chunk = chunk};
    k->cost(s, &o, &c);
    CHECK(c.workspace == (double)k->workspace_bytes(s, &o), "%s: cost.workspace == workspace_bytes", name);
    return c;
}

#define EXPECT(c, f, e, b)                                                                  \
    do {                                                                                    \
        CHECK_NEAR((c).flops, f, 0, "flops");                                               \
        CHECK_NEAR((c).exps, e, 0, "exps");                                                 \
        CHECK_NEAR((c).bytes, b, 0, "bytes");                                               \
    } while (0)

int main(void)
{
    const scan_shape sd = small(SCAN_A_DIAG), sh = small(SCAN_A_HEAD);

    // ---- pscan. L=4: up-sweep s=1 pairs i=1,3 (2), s=2 i=3 (1); down-sweep s=2 none,
    // s=1 i=2 (1): 4 applications per (d, n), x 4 (d, n) = 16. Workspace 2 x 16 floats = 128 B.
    // flops diag: 4/update (dt*A, dt*u*B, C*h: 2) x 16 = 64, 3 x 16 applications = 48,
    //   per (t, d) 1 + 2 + 4 = 7 x 8 = 56: 168.  head: 3 x 16 + 48 + 56 = 152.
    // exps diag: 16 + softplus 8 + silu 8 = 32; head: 4 (t, head) + 4 + 8 = 16.
    // bytes: tensors + workspace written + 6 floats x 16 applications + h read (16 floats):
    //   diag 224 + 128 + 384 + 64 = 800; head 188 + 128 + 384 + 64 = 764.
    scan_cost c = cost_of("pscan", &sd, 0);
    EXPECT(c, 168, 32, 800);
    CHECK_NEAR(c.workspace, 128, 0, "pscan workspace");
    c = cost_of("pscan", &sh, 0);
    EXPECT(c, 152, 16, 764);
    /* L=5: up s=1 i=1,3; s=2 i=3; down s=1 i=2,4: 5 applications (2L - 2 - floor(log2 L)) */
    scan_shape s5 = sd;
    s5.seqlen = 5;
    c = cost_of("pscan", &s5, 0);
    /* 4 x 20 + 3 x 5 x 4 + 7 x 10 = 80 + 60 + 70 */
    CHECK_NEAR(c.flops, 210, 0, "pscan L=5 flops");

    // ---- fused. diag: 6/update x 16 = 96 + 7 x 8 = 152; exps 16 + 8 + 8 = 32.
    // head, AVX-512 (scaled state): 4/update x 16 = 64 + one restart step per 32-step
    //   block (L=4: one) x D x N = 4 + per (t, channel) 7 + 2 = 9 x 8 = 72 + per (t, head)
    //   3 x 4 = 12: 152.  portable: 5/update x 16 = 80 + dt*A per (t, head) 4 + 56 = 140.
    // exps 4 + 4 + 8 = 16. bytes: tensors + the scratch written and read once.
    c = cost_of("fused", &sd, 0);
    EXPECT(c, 152, 32, 224 + 2 * c.workspace);
    c = cost_of("fused", &sh, 0);
#if defined(__AVX512F__)
    EXPECT(c, 152, 16, 188 + 2 * c.workspace);
    /* one thread, one unit of one 16-lane tile: A2 + state 2 x N x 16 = 64, dt, dt*u, y
     * 3 x 32 x 16 = 1536 floats: 6400 B; head: no A2, plus dt, decay, P, 1/P and restart
     * flags 5 x 32: 32 + 1536 + 160 floats */
    CHECK_NEAR(cost_of("fused", &sd, 0).workspace, 6400, 0, "fused workspace diag");
    CHECK_NEAR(cost_of("fused", &sh, 0).workspace, (32 + 1536 + 160) * 4, 0, "fused workspace head");
#else
    EXPECT(c, 140, 16, 188 + 2 * c.workspace);
#endif

    // ---- ssd (head only), chunk 3: chunks of q = 3 and q = 1. H=1, P=2, N=2, G=1.
    // C B^T per chunk 2 q^2 N: 36 + 4 = 40
    // per head, q=3: mask q(q+1) 12, triangle P q(q+1) 24, cumsum + weights 3q 9,
    //     dt u and weighting 2qP 12: 57; no entering state (first chunk, no h0), and
    //     its state (2 N q P = 24) is computed since a chunk follows: 81
    // q=1: 2 + 4 + 3 + 4 = 13; state output 2 q N P 8 + scale-add 2 q P 4 = 12; no state
    //     after the last chunk (no h_last): 25
    // per (t, d) D*u 2 + gate 4 = 6 x 8 = 48
    // flops = 40 + 81 + 25 + 48 = 194
    // exps: mask 6 + 1, weights 3 + 1, exp(S) 3 + 1 = 15; softplus 4; silu 8: 27
    // bytes: tensors 188; C B^T (9 + 1) floats written and read: 80: 268
    c = cost_of("ssd", &sh, 3);
    EXPECT(c, 194, 27, 268);
    /* workspace: C B^T 2 chunks x 3 x 3 = 18 + scratch max(Bt N Q = 6, Hin 4 + Xd, Xw 12
     * + M 9 + dt, E, w, S 12 = 37) rounded up to 48 floats: 66 floats */
    CHECK_NEAR(c.workspace, 66 * 4, 0, "ssd workspace");
    /* with h0 and h_last: the first chunk has an entering state (+ 2 q N P + 2 q P = 24 + 12,
     * and its decay 2 N P = 8), the last computes its state (+ 2 N q P 8 + decay 8): 194 + 60 */
    scan_shape sh2 = sh;
    sh2.has_h0 = sh2.want_h_last = true;
    scan_cost c2 = cost_of("ssd", &sh2, 3);
    CHECK_NEAR(c2.flops, 254, 0, "ssd flops with h0 and h_last");
    /* chunk > L is clamped to L: one chunk of 4 */
    scan_cost c4 = cost_of("ssd", &sh, 100), c4b = cost_of("ssd", &sh, 4);
    CHECK_NEAR(c4.flops, c4b.flops, 0, "ssd chunk > L == chunk L");
    /* ssd refuses diag, with a reason */
    const scan_kernel *ssd = scan_kernel_find("ssd");
    scan_opts o1 = {.threads = 1};
    CHECK(ssd && ssd->unsupported(&sd, &o1) != NULL, "ssd refuses diag problems");
    return check_report("test_cost");
}

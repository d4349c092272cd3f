/* tests/test_cost.c: the cost models of sequential, pscan, ssd and fused (flops, exps,
 * bytes, workspace), of every kernel's backward (flops, exps, bytes, saved bytes, backward
 * workspace, a training step's extra memory) and of its forward_save (the forward's cost and
 * the bytes of what it saves), against counts worked by hand on small
 * shapes (the arithmetic is in the comments), so a change to a kernel that forgets its cost
 * model fails here. */
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

// ---------------------------------------------------------------- backward

/* A kernel's backward cost, saved bytes and backward workspace on one thread (chunk and
 * checkpoint interval as given); checks that cost.workspace is the backward workspace and
 * that a training step's extra memory is saved + workspace + gradients. */
static scan_cost bwd_cost_of(const char *name, const scan_shape *s, int chunk, int checkpoint, double *saved)
{
    const scan_kernel *k = scan_kernel_find(name);
    scan_cost c = {0};
    CHECK(k && k->backward_cost && k->saved_bytes && k->backward_workspace_bytes, "%s has a backward cost", name);
    if (!k || !k->backward_cost) return c;
    scan_opts o = {.threads = 1, .chunk = chunk, .checkpoint = checkpoint};
    k->backward_cost(s, &o, &c);
    *saved = (double)k->saved_bytes(s, &o);
    CHECK(c.workspace == (double)k->backward_workspace_bytes(s, &o), "%s: backward cost.workspace", name);
    CHECK(scan_train_extra_bytes(k, s, &o) == (int64_t)(*saved + c.workspace) + scan_grad_bytes(s),
          "%s: training extra bytes", name);
    return c;
}

/* Conventions (those of the forward models): a float or double add, multiply, divide or
 * negation is a flop, an FMA 2; dt itself (delta + bias, softplus) counts as exps only;
 * sigmoid(x) = 1 / (1 + exp(-x)) is 3 flops and an exp; softplus and each sigmoid count one
 * exp; an exp's own scaling of its argument by log2 e is part of the exp; a reciprocal
 * estimate (rcp14) is 1 flop and its Newton step 2 FMAs; the lanes of a 16-lane vector
 * beyond the problem's channels (or steps) are not counted; a product is 2 m n k, a lower
 * triangular one q(q+1) n.
 * The shapes are main's: B=1 L=4 D=2 N=2 G=1, softplus, bias, Dskip, z, no h0 / h_last,
 * one thread; updates 16, B*L*D = 8, B*D*N = 4; tensors 224 B (diag) / 188 B (head), and
 * the gradients as many (dy instead of y): 224 / 188 B. */
static void backward(scan_shape sd, scan_shape sh)
{
    double saved;

    // ---- sequential. saved: deltaA and h, 2 x 16 floats = 128 B. workspace: the gh (or h)
    // rows of the B*D = 2 channels and a zero row, 3 x 16 floats, + per thread the
    // accumulators dB, dC 2 x 8 + dA 4 (head 1) + dbias, dD 2 x 2 (head 2 x 1) = 24 (head
    // 19), rounded up to 32: 80 floats = 320 B.
    // exps: softplus and its sigmoid per (t, dt entry), sigmoid(z) per (t, channel):
    //   diag 2 x 8 + 8 = 24, head (K = H = 1: a head's two channels share dt) 2 x 4 + 8 = 16.
    // bytes: saved once, tensors and gradients once, the dB, dC accumulators written and
    //   read: 128 + 224 + 224 + 2 x 2 x 8 x 4 = 704 (head 128 + 188 + 188 + 128 = 632).
    // flops, from seq_backward's loops (t outer, dt entries, then their channels inner):
    //   per update dC += gy h 2, g1 = gh + gy C 2, geh = g1 a h_{t-1} 2, ddt += A geh 2,
    //     dA += dt geh 2, gB += g1 B 2, dB += g1 dtu 2, gh = g1 a 1 = 15
    //     (head: geh += g1 a h_{t-1} 3 and no per-update ddt, dA: 12);
    //   per (t, channel) dD += gy u 2, dtu 1, ddt += gB u 2 (head: ddt = A geh + gB u 3,
    //     dA += dt geh 2), du = gy D + dt gB 3, dd += ddt 1 = 9 (head 12);
    //     the gate D u 1 + C.h 2N = 4 + sigmoid 3 + dz 6 + gy 2 = 16;
    //   per (t, k) dd *= softplus' 1, dbias += dd 1, softplus' = sigmoid 3 = 5
    //     (diag K = D = 2: 8 of them, head K = H = 1: 4);
    //   the accumulators summed (one thread): dB, dC 2 x 8 + dA 4 + dbias, dD 2 x 2 = 24
    //     (head 16 + 1 + 2 = 19):
    //   diag 15 x 16 + (9 + 16) x 8 + 5 x 8 + 24 = 240 + 200 + 40 + 24 = 504,
    //   head 12 x 16 + (12 + 16) x 8 + 5 x 4 + 19 = 192 + 224 + 20 + 19 = 455.
    scan_cost c = bwd_cost_of("sequential", &sd, 0, 0, &saved);
    EXPECT(c, 504, 24, 704);
    CHECK_NEAR(saved, 128, 0, "sequential saved");
    CHECK_NEAR(c.workspace, 320, 0, "sequential backward workspace");
    c = bwd_cost_of("sequential", &sh, 0, 0, &saved);
    EXPECT(c, 455, 16, 632);
    CHECK_NEAR(c.workspace, 320, 0, "sequential backward workspace, head");
    /* no softplus, bias, Dskip or z: no exps, no softplus' sigmoid or gate flops; dD, du,
     * dd, dd *= softplus' and dbias are computed all the same (with D = 0, softplus' = 1):
     * diag 240 + 9 x 8 + 2 x 8 + 24 = 352, head 192 + 12 x 8 + 2 x 4 + 19 = 315 */
    scan_shape sd0 = sd, sh0 = sh;
    sd0.softplus = sd0.has_bias = sd0.has_dskip = sd0.has_z = false;
    sh0.softplus = sh0.has_bias = sh0.has_dskip = sh0.has_z = false;
    c = bwd_cost_of("sequential", &sd0, 0, 0, &saved);
    CHECK_NEAR(c.flops, 352, 0, "sequential backward flops, no optional tensors");
    CHECK_NEAR(c.exps, 0, 0, "sequential backward exps, no optional tensors");
    c = bwd_cost_of("sequential", &sh0, 0, 0, &saved);
    CHECK_NEAR(c.flops, 315, 0, "sequential backward flops, head, no optional tensors");
    CHECK_NEAR(c.exps, 0, 0, "sequential backward exps, head, no optional tensors");

    // ---- pscan. saved: deltaA and h, 128 B. workspace: coefficients and adjoint 2 x 16
    // floats, accumulators dA 4 + dbias, dD 4 (head 1 + 2) rounded up to 16: 48 floats = 192 B.
    // flops: per update gy C 1, dC 2, dB 2, gB 2 = 7, and geh 2, ddt 2, dA 2 where there is
    //   an h_{t-1} (t >= 1: 12 of the 16 updates): 16 x 7 + 12 x 6 = 184; the sweeps 3 x 16
    //   applications (as the forward) = 48; per (t, channel) dDskip 2, dt u 1, gB u 2, du 3,
    //   ddelta 2, dbias 2, softplus' 3, the gate D u 1 + C.h 4 + sigmoid 3 + dz 6 + gy 2 and
    //   gy again 5: 36 x 8 = 288; the accumulators 4 + 2 + 2 (head 1 + 1 + 1):
    //   diag 184 + 48 + 288 + 8 = 528, head 523.
    // exps per (t, channel): softplus, its sigmoid, sigmoid(z) twice: 4 x 8 = 32.
    // bytes: saved read twice 256, workspace written and read 384, 24 B per application
    //   384, tensors and gradients 448 (head 376): 1472 (head 1400).
    c = bwd_cost_of("pscan", &sd, 0, 0, &saved);
    EXPECT(c, 528, 32, 1472);
    CHECK_NEAR(saved, 128, 0, "pscan saved");
    CHECK_NEAR(c.workspace, 192, 0, "pscan backward workspace");
    c = bwd_cost_of("pscan", &sh, 0, 0, &saved);
    EXPECT(c, 523, 32, 1400);
    /* with h0 and h_last: the 4 updates at t = 0 get their geh, ddt, dA (+24), dh_last is
     * added (+4) and dh0 = deltaA G written (+4): 560 */
    scan_shape sd2 = sd;
    sd2.has_h0 = sd2.want_h_last = true;
    c = bwd_cost_of("pscan", &sd2, 0, 0, &saved);
    CHECK_NEAR(c.flops, 560, 0, "pscan backward flops with h0 and h_last");
    /* no softplus, no gate: no exps at all */
    scan_shape sd3 = sd;
    sd3.softplus = sd3.has_z = false;
    CHECK_NEAR(bwd_cost_of("pscan", &sd3, 0, 0, &saved).exps, 0, 0, "pscan backward exps without softplus, z");

    // ---- ssd (head), chunk 3: chunks of q = 3 and q = 1; H=1, P=2, N=2, G=1 (Dg 2).
    // pass A, per chunk: the two N x P x q products 2 x 8q; the cumsum 2q, the weights'
    //   differences 2 x q, w dt q; w dt u and E gy 2 x qP; the decay 4, copy-dot-decay
    //   3 x 4, the dot's sum 2 and scale 1 = 19; gy 5 x qP:
    //   q=3: 48 + 15 + 12 + 19 + 30 = 124;  q=1: 16 + 5 + 4 + 19 + 10 = 54
    // pass B, per chunk and group: C B^T 2 q^2 N, dCB B q(q+1) N, dCB^T C 2 q^2 N; per
    //   channel and step dt u, E gy 2 + w X 1 + gy 5 + dz 9 = 17:
    //   q=3: 36 + 24 + 36 + 17 x 6 = 198;  q=1: 4 + 4 + 4 + 17 x 2 = 46
    // pass B, per chunk and head: differences q; four N x P x q products 4 x 4q; gy.Y 2qP
    //   and dS 2q; acc = E Y + D u 3qP; X.U, w U 3qP; w dw into dS 4 (q-1) + 2; the mask
    //   q(q+1); gy X^T, M^T gy 2 x 2 q^2 P; M X q(q+1) P; below the diagonal 5 each
    //   (q(q-1)/2 entries), on it 3 each; the reverse cumsum q-1; per step u.dX, gy.u, du
    //   7P + ddt 3 + softplus' 3 + dA, dbias, dDskip 4 = 24:
    //   q=3: 3 + 96 + 12 + 6 + 18 + 18 + 10 + 12 + 72 + 24 + 15 + 9 + 2 + 72 = 369
    //   q=1: 1 + 32 + 4 + 2 + 6 + 6 + 2 + 2 + 8 + 4 + 0 + 3 + 0 + 24 = 94
    // the partials: 3 per chunk = 6.  flops = 124 + 54 + 198 + 46 + 369 + 94 + 6 = 891
    // exps: the weights 3 x 2q and the masks q(q+1)/2: 18 + 6 + 6 + 1 = 31; softplus and
    //   sigmoid per step 8; silu three times per (t, channel) 24: 63
    // bytes: tensors twice 376, gradients 188, the states and adjoints (2 chunks x N x D = 8
    //   floats each) written by pass A, the states read by its walk back, both read by
    //   pass B: 5 x 8 x 4 = 160: 724
    // saved: nothing. workspace: Hs, dHs 2 x 16 (8 rounded up), dt 16 + S in double 2 x 16
    //   (6), rec + 3 partials 4 x 16 (2), and a thread's scratch: pass B's 5 q^2 45 + 3 N Q 18
    //   + 7 Q Dg 42 + 2 Hg Q 6 = 111 -> 112, its dS 2 x 3 doubles = 118, + 64 = 182 -> 192:
    //   336 floats = 1344 B (more than the forward's 264).
    c = bwd_cost_of("ssd", &sh, 3, 0, &saved);
    EXPECT(c, 891, 63, 724);
    CHECK_NEAR(saved, 0, 0, "ssd saved");
    CHECK_NEAR(c.workspace, 1344, 0, "ssd backward workspace");

    // ---- fused, checkpoint 64 (> L: one segment of 4). saved: the checkpoints, 1 segment
    // x D x N = 4 floats = 16 B, AVX-512 1 segment x 1 tile x N x 16 lanes = 32 floats =
    // 128 B (the state as the kernel holds it); checkpoint 2: 2 segments, 32 B (256 B).
    // bytes: the inputs read twice 448, the checkpoints once 16 (128), the gradients 224:
    // 688 (800).
    // AVX-512 (fused_backward.c's fb_* loops; one unit of one tile, 2 of its 16 lanes used):
    // flops per update: the recompute, diag e = exp2(dt A log2 e) 1, h = e h + dtu B 3
    //   (head: e per (t, head), 3), y += C h 2 for the gate; the reverse walk g1 2, gy h 1,
    //   gh = g1 e 1, geh = gh h_{t-1} 1, ddt += A geh 2, dA += dt geh 2 (head: ddt += geh
    //   1), gB 2, g1 dtu 1 = 12 (head 9); the trees of dC and dB 1 each (a tile's m
    //   channels: m - 1 adds and the accumulate): diag 4 + 2 + 12 + 2 = 20, head 16.
    // per (t, channel): phase 1 dtu 1 and (diag) softplus' = exp(x - softplus) 1; the gate
    //   y = D u + C.h 2 (N <= 16: no further block), exp(-|z|) 0 (the sign is in the
    //   scaling by log2 e), 1 + e 1, rcp14 1, Newton 4, sigmoid 1, silu' = sg (z (1 - sg)
    //   + 1) 4, dz 2, gy 2 = 17; dD 2; ddt, gB summed
    //   per block of 8 states 2; du 3; diag ddelta (ddt + gB u) softplus' 3 and dbias 1,
    //   head the reductions of ddt and gB u into per-step sums 1 + 2:
    //   diag 1 + 1 + 17 + 2 + 2 + 3 + 4 = 30, head 1 + 17 + 2 + 2 + 3 + 3 = 28.
    // per (t, head): softplus' 1, dt A 1, ddelta 3, dbias 1, dA 2 = 8 (x 4 = 32).
    // per unit: diag dA 4 and dbias, dD 2 x 2 into the accumulators 8; head dD's lanes 2,
    //   dA and dbias 2: 4. The accumulators summed 24 (head 19), as sequential's.
    //   diag 20 x 16 + 30 x 8 + 8 + 24 = 320 + 240 + 32 = 592,
    //   head 16 x 16 + 28 x 8 + 32 + 4 + 19 = 256 + 224 + 55 = 535.
    // exps: diag the recompute's per update 16, softplus and softplus' per (t, channel) 16,
    //   sigmoid(z) per (t, channel) 8: 40; head softplus, softplus', exp(dt A) per (t, head)
    //   12, sigmoid(z) 8: 20.
    // Portable build (fb_backward_run in C, one channel at a time): per update the
    //   recompute dt A 1, h 3, the reverse walk as sequential's diag 15 (head too): 19;
    //   per (t, channel) dtu twice 2, softplus' = sigmoid 3, the gate 12 + 2N = 16, dD 2,
    //   ddt += gB u 2, du 3, ddelta and dbias from ddt softplus' 4 = 32; the sums 24 (head
    //   19): diag 304 + 256 + 24 = 584, head 579. exps: per update 16, per (t, channel)
    //   softplus twice, its sigmoid, sigmoid(z) 32: 48.
    c = bwd_cost_of("fused", &sd, 0, 0, &saved);
#if defined(__AVX512F__)
    CHECK_NEAR(saved, 128, 0, "fused saved");
    EXPECT(c, 592, 40, 800);
    c = bwd_cost_of("fused", &sh, 0, 0, &saved);
    EXPECT(c, 535, 20, 2 * 188 + 128 + 188);
    /* no softplus, bias, Dskip or z: diag per update 4 + 12 + 2 = 18, per (t, channel)
     * dtu 1, dD 2, ddt and gB 2, du 3, ddelta 3 (softplus' = 1), dbias 1 = 12, per unit 8,
     * the sums 24: 288 + 96 + 8 + 24 = 416, exps 16 (the recompute's); head per update
     * 3 + 9 + 2 = 14, per (t, channel) 1 + 2 + 2 + 3 + 3 = 11, per (t, head) dt A 1 +
     * ddelta 3 + dbias 1 + dA 2 = 7, per unit 4, the sums 19: 224 + 88 + 28 + 4 + 19 = 363,
     * exps exp(dt A) per (t, head) 4 */
    c = bwd_cost_of("fused", &sd0, 0, 0, &saved);
    CHECK_NEAR(c.flops, 416, 0, "fused backward flops, no optional tensors");
    CHECK_NEAR(c.exps, 16, 0, "fused backward exps, no optional tensors");
    c = bwd_cost_of("fused", &sh0, 0, 0, &saved);
    CHECK_NEAR(c.flops, 363, 0, "fused backward flops, head, no optional tensors");
    CHECK_NEAR(c.exps, 4, 0, "fused backward exps, head, no optional tensors");
    /* N = 20 (diag, all tensors): two blocks of 16 states (the recompute's C.h adds one
     * block into the other: + 1 per (t, channel)), three blocks of 8 (ddt, gB: 6): updates
     * 160 x 20 = 3200, per (t, channel) 30 + 1 + 4 = 35 x 8 = 280, per unit dA 40 +
     * dbias, dD 4 = 44, the sums dB, dC 2 x 80 + dA 40 + 4 = 204: 3728 */
    scan_shape sd20 = sd;
    sd20.d_state = 20;
    CHECK_NEAR(bwd_cost_of("fused", &sd20, 0, 0, &saved).flops, 3728, 0, "fused backward flops, N 20");
#else
    CHECK_NEAR(saved, 16, 0, "fused saved");
    EXPECT(c, 584, 48, 688);
    c = bwd_cost_of("fused", &sh, 0, 0, &saved);
    EXPECT(c, 579, 48, 2 * 188 + 16 + 188);
    /* no softplus, bias, Dskip or z: per (t, channel) 2 + 2 + 2 + 3 + 4 = 13: diag
     * 304 + 104 + 24 = 432, head 304 + 104 + 19 = 427; exps the recompute's 16 */
    c = bwd_cost_of("fused", &sd0, 0, 0, &saved);
    CHECK_NEAR(c.flops, 432, 0, "fused backward flops, no optional tensors");
    CHECK_NEAR(c.exps, 16, 0, "fused backward exps, no optional tensors");
    c = bwd_cost_of("fused", &sh0, 0, 0, &saved);
    CHECK_NEAR(c.flops, 427, 0, "fused backward flops, head, no optional tensors");
    CHECK_NEAR(c.exps, 16, 0, "fused backward exps, head, no optional tensors");
#endif
    bwd_cost_of("fused", &sd, 0, 2, &saved);
#if defined(__AVX512F__)
    CHECK_NEAR(saved, 256, 0, "fused saved, checkpoint 2");
    /* workspace, AVX-512: one unit of one 16-lane tile, segment buffers of T = 64 steps:
     * accumulators dB, dC 16 + dA 4 + dbias, dD 4 = 24 -> 32 (head 16 + 1 + 2 -> 32);
     * states and decays 2 x 64 x 2 x 16 = 4096, gh, A, A2, dA 4 x 32 = 128, six rows,
     * each padded by 16 per tile and 16 more, 6 x (64 x 16 + 32) = 6336, ddt, gB, accy 3 x
     * 1024 = 3072, five head rows 320, dbias, dD 32: 13984 + 64 = 14048 (the segment's
     * start is read in place from the checkpoint); 14080 floats = 56320 B (more than the
     * forward's) */
    c = bwd_cost_of("fused", &sd, 0, 0, &saved);
    CHECK_NEAR(c.workspace, 56320, 0, "fused backward workspace");
    c = bwd_cost_of("fused", &sh, 0, 0, &saved);
    CHECK_NEAR(c.workspace, 56320, 0, "fused backward workspace, head");
#else
    CHECK_NEAR(saved, 32, 0, "fused saved, checkpoint 2");
#endif
}

// ---------------------------------------------------------------- forward_save

/* forward_save's cost: the forward's flops and exps, its bytes plus what saving moves
 * beyond the forward, the training workspace. */
static scan_cost save_cost_of(const char *name, const scan_shape *s, int chunk)
{
    const scan_kernel *k = scan_kernel_find(name);
    scan_cost c = {0};
    CHECK(k && k->forward_save, "%s has a forward_save", name);
    if (!k || !k->forward_save) return c;
    scan_opts o = {.threads = 1, .chunk = chunk};
    scan_forward_save_cost(k, s, &o, &c);
    CHECK(c.workspace == (double)k->backward_workspace_bytes(s, &o), "%s: forward_save cost.workspace", name);
    return c;
}

/* The forwards' counts are main's; what saving adds on the shapes of main (16 updates):
 * sequential writes each state h_t over deltaB_u: + 16 floats = 64 B (diag 736 + 64,
 * head 700 + 64); pscan writes the copy of deltaA its sweeps consume: + 64 B (800 + 64,
 * 764 + 64); ssd saves nothing (268); fused streams its checkpoints, written once: the
 * saved 128 B (AVX-512; 16 B portable) over 224 (188) + 2 x its forward workspace. */
static void forward_save(scan_shape sd, scan_shape sh)
{
    scan_cost c = save_cost_of("sequential", &sd, 0);
    EXPECT(c, 152, 32, 736 + 64);
    c = save_cost_of("sequential", &sh, 0);
    EXPECT(c, 152, 24, 700 + 64);
    c = save_cost_of("pscan", &sd, 0);
    EXPECT(c, 168, 32, 800 + 64);
    c = save_cost_of("pscan", &sh, 0);
    EXPECT(c, 152, 16, 764 + 64);
    c = save_cost_of("ssd", &sh, 3);
    EXPECT(c, 194, 27, 268);
#if defined(__AVX512F__)
    const double ck = 128, fd = 144, fh = 144;
#else
    const double ck = 16, fd = 152, fh = 140;
#endif
    c = save_cost_of("fused", &sd, 0);
    EXPECT(c, fd, 32, 224 + 2 * cost_of("fused", &sd, 0).workspace + ck);
    c = save_cost_of("fused", &sh, 0);
    EXPECT(c, fh, 16, 188 + 2 * cost_of("fused", &sh, 0).workspace + ck);
}

int main(void)
{
    const scan_shape sd = small(SCAN_A_DIAG), sh = small(SCAN_A_HEAD);

    // ---- sequential. flops: per update dt*A, dt*u*B (dt*u hoisted), a*h+x 2, C*h 2 = 6
    //   x 16 = 96, per (t, channel) dt*u 1 + D*u 2 + gate 4 = 7 x 8 = 56: 152 (head too).
    // exps: diag one per update 16, head one per (t, channel) 8 (seq_run takes exp(dt A)
    //   per channel); softplus and silu per (t, channel) 8 + 8: diag 32, head 24.
    // workspace: deltaA, deltaB_u 2 x 16 floats + the states B*D = 2 rows of 16: 64
    //   floats = 256 B, written once and read once: bytes diag 224 + 512 = 736, head 700.
    scan_cost c = cost_of("sequential", &sd, 0);
    EXPECT(c, 152, 32, 736);
    CHECK_NEAR(c.workspace, 256, 0, "sequential workspace");
    c = cost_of("sequential", &sh, 0);
    EXPECT(c, 152, 24, 700);

    // ---- pscan. L=4: up-sweep s=1 pairs i=1,3 (2), s=2 i=3 (1); down-sweep s=2 none,
    // s=1 i=2 (1): 4 applications per (d, n), x 4 (d, n) = 16. Workspace 2 x 16 floats = 128 B.
    // flops diag: 4/update (dt*A, dt*u*B, C*h: 2) x 16 = 64, 3 x 16 applications = 48,
    //   per (t, d) 1 + 2 + 4 = 7 x 8 = 56: 168.  head: 3 x 16 + 48 + 56 = 152.
    // exps diag: 16 + softplus 8 + silu 8 = 32; head: 4 (t, head) + 4 + 8 = 16.
    // bytes: tensors + workspace written + 6 floats x 16 applications + h read (16 floats):
    //   diag 224 + 128 + 384 + 64 = 800; head 188 + 128 + 384 + 64 = 764.
    c = cost_of("pscan", &sd, 0);
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

    // ---- fused. per (t, channel): dt u 1, + D u 2, the gate: AVX-512 y z / (1 + e) 3
    //   (1 + e, the divide, y times; the exp scales its own argument), portable y silu(z)
    //   with silu = z e / (1 + e) 4 (the negation -|z| too): 6 (portable 7).
    // diag: 6/update x 16 = 96 + 6 x 8 = 144 (portable 7 x 8: 152); exps 16 + 8 + 8 = 32.
    // head, AVX-512 (scaled state): 4/update x 16 = 64 + one restart step per 32-step
    //   block (L=4: one) x D x N = 4 + per (t, channel) 6 + 2 = 8 x 8 = 64 + per (t, head)
    //   3 x 4 = 12: 144.  portable: 5/update x 16 = 80 + dt*A per (t, head) 4 + 56 = 140.
    // exps 4 + 4 + 8 = 16. bytes: tensors + the scratch written and read once.
    c = cost_of("fused", &sd, 0);
#if defined(__AVX512F__)
    EXPECT(c, 144, 32, 224 + 2 * c.workspace);
#else
    EXPECT(c, 152, 32, 224 + 2 * c.workspace);
#endif
    c = cost_of("fused", &sh, 0);
#if defined(__AVX512F__)
    EXPECT(c, 144, 16, 188 + 2 * c.workspace);
    /* one thread, one unit of one 16-lane tile: A2 + state 2 x N x 16 = 64, dt, dt*u, y
     * for two jobs at once and the z rows 7 x 32 x 16 = 3584 floats: 14592 B; head: no A2,
     * dt, dt*u, y 3 x 32 x 16 = 1536 floats, plus dt, decay, P, 1/P and restart flags 5 x
     * 32: 32 + 1536 + 160 floats */
    CHECK_NEAR(cost_of("fused", &sd, 0).workspace, 14592, 0, "fused workspace diag");
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
    backward(sd, sh);
    forward_save(sd, sh);
    return check_report("test_cost");
}

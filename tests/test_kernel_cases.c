/* tests/test_kernel_cases.c: cases particular to pscan, ssd and fused that the common grid
 * of tests/test_kernels.c does not reach: pscan on lengths that are not powers of two with
 * more threads than levels have pairs; ssd with L not a multiple of the chunk, chunk 1,
 * chunk > L, groups, and its refusal of diag problems; fused with state counts that are
 * not multiples of its 16-state register block, heads whose width is a multiple of the
 * vector width, more threads than work units, an initial state, and head units taking
 * turns over time chunks; sequential with
 * thread shares that cut batch elements and rows larger than the last-level cache. Each against the
 * fp64 oracle within SCAN_TOLERANCE, y and the final state. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "common/mem.h"
#include "kernels/scan.h"

static void run(const char *kname, scan_shape s, int threads, int chunk)
{
    const scan_kernel *k = scan_kernel_find(kname);
    CHECK(k != NULL, "kernel %s", kname);
    if (!k) return;
    char desc[160];
    scan_shape_describe(&s, desc, sizeof desc);
    scan_opts o = {.threads = threads, .chunk = chunk};
    const char *why = k->unsupported(&s, &o);
    CHECK(why == NULL, "%s refused %s: %s", kname, desc, why ? why : "");
    if (why) return;
    mb_err err;
    scan_problem p;
    scan_fill f = SCAN_FILL_DEFAULT(77);
    if (scan_problem_init(&p, &s, &f, &err)) {
        CHECK(0, "init %s: %s", desc, err.msg);
        return;
    }
    scan_sizes n;
    scan_shape_sizes(&s, &n);
    /* no h_last wanted: no buffer, so the oracle writes none (malloc(0) would be written past) */
    double *ry = malloc((size_t)n.y * sizeof(double)), *rh = n.h_last ? malloc((size_t)n.h_last * sizeof(double)) : NULL;
    size_t wsb = k->workspace_bytes(&s, &o);
    void *ws = wsb ? mb_alloc(wsb) : NULL;
    CHECK(scan_reference(&s, &p.t, ry, rh, &err) == 0, "oracle: %s", err.msg);
    int rc = k->forward(&s, &p.t, &o, ws, &err);
    CHECK(rc == 0, "%s %s: %s", kname, desc, err.msg);
    scan_errors e = scan_compare(p.t.y, ry, n.y), eh = scan_compare(p.t.h_last, rh, n.h_last);
    CHECK(e.max_rel_err <= SCAN_TOLERANCE, "%s %s threads=%d chunk=%d: y err %.3g", kname, desc,
          threads, chunk, e.max_rel_err);
    CHECK(eh.max_rel_err <= SCAN_TOLERANCE, "%s %s threads=%d chunk=%d: h_last err %.3g", kname,
          desc, threads, chunk, eh.max_rel_err);
    free(ry);
    free(rh);
    mb_free(ws);
    scan_problem_free(&p);
}

static scan_shape shape(int64_t L, int64_t D, int64_t N, int64_t H, int64_t G, scan_a_kind a)
{
    return (scan_shape){.batch = 1, .seqlen = L, .channels = D, .d_state = N, .heads = a == SCAN_A_HEAD ? H : D,
                        .groups = G, .a_kind = a, .softplus = true, .has_bias = true,
                        .has_dskip = true, .has_z = true, .has_h0 = true, .want_h_last = true};
}

int main(void)
{
    // ---- pscan: odd lengths, up to 5 threads (more than the pairs of the top levels)
    const int64_t Ls[] = {3, 5, 31, 33, 100, 1000, 1025};
    for (size_t i = 0; i < sizeof Ls / sizeof *Ls; i++)
        for (int th = 1; th <= 5; th += 2) {
            run("pscan", shape(Ls[i], 1, 16, 1, 1, SCAN_A_DIAG), th, 0);
            run("pscan", shape(Ls[i], 4, 3, 2, 1, SCAN_A_HEAD), th, 0);
        }
    scan_shape wide = shape(77, 5000, 2, 1, 1, SCAN_A_DIAG); /* D*N row over one slice */
    run("pscan", wide, 2, 0);

    // ---- ssd: chunk 1, L not a multiple of the chunk, chunk == L, chunk > L, groups
    const int chunks[] = {1, 7, 16, 50, 64, 1000};
    for (size_t i = 0; i < sizeof chunks / sizeof *chunks; i++) {
        run("ssd", shape(50, 24, 16, 4, 1, SCAN_A_HEAD), 2, chunks[i]);
        run("ssd", shape(50, 24, 5, 6, 3, SCAN_A_HEAD), 3, chunks[i]);
    }
    scan_shape b2 = shape(130, 128, 32, 2, 2, SCAN_A_HEAD);
    b2.batch = 2;
    run("ssd", b2, 2, 0);
    run("ssd", b2, 5, 32);
    const scan_kernel *ssd = scan_kernel_find("ssd");
    scan_opts o = {.threads = 1};
    scan_shape dg = shape(8, 4, 2, 1, 1, SCAN_A_DIAG);
    const char *why = ssd ? ssd->unsupported(&dg, &o) : NULL;
    CHECK(why && strstr(why, "head"), "ssd must refuse diag with a reason naming head problems");

    // ---- fused: N around the 16-state block, head width a multiple of 16, threads > units
    const int64_t Ns[] = {15, 17, 33};
    for (size_t i = 0; i < sizeof Ns / sizeof *Ns; i++) {
        run("fused", shape(70, 48, Ns[i], 48, 1, SCAN_A_DIAG), 2, 0);
        run("fused", shape(70, 64, Ns[i], 2, 2, SCAN_A_HEAD), 2, 0);
    }
    run("fused", shape(40, 16, 16, 1, 1, SCAN_A_HEAD), 4, 0);  /* one head, four threads */
    run("fused", shape(40, 100, 16, 100, 4, SCAN_A_DIAG), 3, 0); /* groups of 25 channels */
    scan_shape fb = shape(100, 96, 16, 3, 1, SCAN_A_HEAD);
    fb.batch = 3;
    run("fused", fb, 2, 0);
    /* diag with full, 64-byte aligned rows (D 64: y goes out by the streaming store), two
     * tiles per group, batch 2 and a short last block (L 70 = 2 x 32 + 6) */
    scan_shape fa = shape(70, 64, 16, 64, 2, SCAN_A_DIAG);
    fa.batch = 2;
    for (int th = 1; th <= 3; th++) run("fused", fa, th, 0);
    /* head, time chunks: several units per thread (12 heads of 64, N 64: units of 4
     * heads) taking turns over chunks of 256 steps with a short last one (L 600), batch 2
     * with thread shares that cut a batch element (4 threads: units 2, 2, 1, 1) */
    scan_shape fc = shape(600, 12 * 64, 64, 12, 1, SCAN_A_HEAD);
    fc.batch = 2;
    for (int th = 1; th <= 4; th += 3) run("fused", fc, th, 0);
    /* head, time chunks with masked lanes: 12 heads of 40 (a last tile of 8 lanes), units
     * of several heads, batch 2, L 1, 255, 257, 531 (not multiples of the chunk or the
     * block), shares cutting batch elements, more threads than units; without h0 and z */
    const int64_t Lc[] = {1, 255, 257, 531};
    for (size_t i = 0; i < sizeof Lc / sizeof *Lc; i++) {
        scan_shape fm = shape(Lc[i], 12 * 40, 16, 12, 3, SCAN_A_HEAD);
        fm.batch = 2;
        for (int th = 1; th <= 5; th += 2) run("fused", fm, th, 0);
        fm.has_h0 = false, fm.has_z = false;
        run("fused", fm, 2, 0);
    }
    // ---- sequential: thread shares that start and end inside a batch element (diag and
    // head, groups), and a workspace past the last-level cache (the non-temporal stores)
    scan_shape sb = shape(33, 10, 16, 10, 2, SCAN_A_DIAG), sh = shape(33, 12, 7, 3, 3, SCAN_A_HEAD);
    sb.batch = sh.batch = 3;
    for (int th = 1; th <= 5; th += 2) {
        run("sequential", sb, th, 0);
        run("sequential", sh, th, 0);
    }
    run("sequential", shape(4096, 128, 16, 128, 1, SCAN_A_DIAG), 2, 0); /* 64 MiB of rows: streamed */
    return check_report("test_kernel_cases");
}

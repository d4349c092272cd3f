/* tests/test_bench_time.c: bench_time_calls, the timed section of every point (harness/
 * bench.c), on a call that only counts: warm-up calls untimed, min_reps met even past the
 * default cap of 100000 and past a smaller max_reps, max_reps honoured when min_time asks
 * for more, and a failing call reported as 1 with its message. Also a point that never ran
 * (bench_result_start, as a skipped point leaves it) as report_json writes it: its
 * updates exact, and no cost, sizes, first touch or verdict (null, not 0). And the --check
 * gate (bench_check) failing a kernel whose y is right but whose h_last is not. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "harness/bench.h"
#include "harness/report.h"

/* A call that counts itself and fails at call number fail_at (0: never). */
typedef struct {
    int64_t calls, fail_at;
} counter;

static int count_call(void *arg, mb_err *err)
{
    counter *c = arg;
    if (++c->calls == c->fail_at) return mb_fail(err, "call %lld failed", (long long)c->calls);
    return 0;
}

/* sequential, with its final state off by 1% in one element (y untouched) */
static const scan_kernel *seq_kernel;
static int bad_h_last_forward(const scan_shape *s, const scan_tensors *t, const scan_opts *o, void *ws, mb_err *err)
{
    if (seq_kernel->forward(s, t, o, ws, err)) return -1;
    if (t->h_last) t->h_last[0] *= 1.01f;
    return 0;
}

/* reps of one timed section under the given settings; calls counts every call */
static int time_section(int min_reps, int max_reps, double min_time, int warmup, counter *c, bench_result *r,
                        mb_err *kerr)
{
    static const float out[3] = {1, 2, 3}; /* [3]: what the call "writes" */
    bench_settings set = {.threads = 1, .min_reps = min_reps, .max_reps = max_reps, .min_time = min_time,
                          .warmup = warmup};
    interfere_mark im = {.threads = 1, .cal = NULL};
    *r = (bench_result){0};
    mb_err err;
    int rc = bench_time_calls(&set, &im, count_call, c, out, 3, r, kerr, &err);
    CHECK(rc >= 0, "bench_time_calls: %s", err.msg);
    return rc;
}

int main(void)
{
    bench_result r;
    mb_err kerr;
    /* more than the default cap of 100000, and past 271k reps, where reps * 7919 leaves int */
    counter c = {0, 0};
    CHECK(time_section(300000, 0, 0, 2, &c, &r, &kerr) == 0, "300000 reps: %s", kerr.msg);
    CHECK(r.reps == 300000, "min_reps 300000, max_reps 0: %d reps", r.reps);
    CHECK(c.calls == 300002, "min_reps 300000, warm-up 2: %lld calls", (long long)c.calls);
    free(r.samples);
    /* max_reps below min_reps: min_reps wins */
    c = (counter){0, 0};
    CHECK(time_section(10, 5, 0, 0, &c, &r, &kerr) == 0, "min_reps 10: %s", kerr.msg);
    CHECK(r.reps == 10, "min_reps 10, max_reps 5: %d reps", r.reps);
    CHECK(c.calls == 11, "warm-up 0 is one call: %lld calls", (long long)c.calls);
    free(r.samples);
    /* min_time not reachable: max_reps stops it */
    c = (counter){0, 0};
    CHECK(time_section(3, 7, 1e9, 1, &c, &r, &kerr) == 0, "max_reps 7: %s", kerr.msg);
    CHECK(r.reps == 7, "min_reps 3, max_reps 7, min_time 1e9: %d reps", r.reps);
    for (int i = 0; i < r.reps; i++) CHECK(r.samples[i] >= 0, "sample %d: %g s", i, r.samples[i]);
    free(r.samples);
    /* a call that fails while timed */
    c = (counter){0, 5};
    CHECK(time_section(10, 0, 0, 1, &c, &r, &kerr) == 1, "a failing call gives 1");
    CHECK(c.calls == 5 && r.reps == 3, "stopped at the failing call: %lld calls, %d reps", (long long)c.calls, r.reps);
    free(r.samples);

    // ---- a point that never ran: B 8, L 2048, D 1536, N 128 = 3221225472 updates (10 digits)
    const scan_shape big = {.batch = 8, .seqlen = 2048, .channels = 1536, .d_state = 128, .heads = 24,
                            .groups = 1, .a_kind = SCAN_A_HEAD};
    bench_settings set;
    bench_settings_default(&set);
    bench_result_start(&r, scan_kernel_find("fused"), &big, &set);
    json_t *o = report_json(&r);
    json_t *u = json_object_get(o, "updates");
    CHECK(json_is_integer(u) && json_integer_value(u) == 3221225472LL, "updates %s",
          json_is_integer(u) ? "integer, but wrong" : "not an integer");
    const char *unset[] = {"flops", "exps", "bytes", "workspace_bytes", "memory_bytes", "first_touch_s",
                           "disturbed", "median_s", "updates_per_s"};
    for (size_t i = 0; i < sizeof unset / sizeof *unset; i++)
        CHECK(json_is_null(json_object_get(o, unset[i])), "%s of a point that never ran is not null", unset[i]);
    json_decref(o);

    // ---- the check gate covers h_last (it compared y alone)
    seq_kernel = scan_kernel_find("sequential");
    scan_kernel bad = *seq_kernel;
    bad.forward = bad_h_last_forward;
    scan_shape hs = {.batch = 2, .seqlen = 20, .channels = 8, .d_state = 4, .heads = 8, .groups = 1,
                     .a_kind = SCAN_A_DIAG, .softplus = true, .has_bias = true, .has_z = true, .want_h_last = true};
    set.check = true;
    mb_err err;
    bench_result_start(&r, seq_kernel, &hs, &set);
    CHECK(bench_check(seq_kernel, &hs, &set, &r, &err) == 0, "check: %s", err.msg);
    CHECK(r.check_ok && r.h_last_max_rel_err < 1e-5, "sequential with h_last: ok %d, h_last err %g", r.check_ok,
          r.h_last_max_rel_err);
    bench_result_start(&r, &bad, &hs, &set);
    CHECK(bench_check(&bad, &hs, &set, &r, &err) == 0, "check: %s", err.msg);
    CHECK(!r.check_ok && r.status == BENCH_FAILED && strstr(r.reason, "h_last max_rel_err"),
          "a wrong h_last passed the check: ok %d, reason '%s'", r.check_ok, r.reason);
    CHECK(r.max_rel_err < 1e-5, "y of the wrong-h_last kernel is right: %g", r.max_rel_err);
    hs.want_h_last = false; /* without h_last: nothing to compare, NaN */
    bench_result_start(&r, &bad, &hs, &set);
    CHECK(bench_check(&bad, &hs, &set, &r, &err) == 0 && r.check_ok && isnan(r.h_last_max_rel_err),
          "no h_last: ok %d, h_last err %g", r.check_ok, r.h_last_max_rel_err);
    return check_report("test_bench_time");
}

/* harness/report.c: text and JSON reporters of bench results (see report.h). */
#include "report.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static json_t *num(double v) { return isfinite(v) ? json_real(v) : json_null(); }

/* 100 v with fmt (a percentage), or the words `none` where v was not measured (NaN) */
static void pct_or(char *buf, size_t len, double v, const char *fmt, const char *none)
{
    if (isfinite(v)) snprintf(buf, len, fmt, 100 * v);
    else snprintf(buf, len, "%s", none);
}

json_t *report_json(const bench_result *r)
{
    const scan_shape *s = &r->shape;
    json_t *o = json_object();
    json_object_set_new(o, "kernel", json_string(r->kernel->name));
    json_object_set_new(o, "status", json_string(bench_status_name(r->status)));
    if (r->status != BENCH_OK) json_object_set_new(o, "reason", json_string(r->reason));
    json_object_set_new(o, "batch", json_integer(s->batch));
    json_object_set_new(o, "seqlen", json_integer(s->seqlen));
    json_object_set_new(o, "channels", json_integer(s->channels));
    json_object_set_new(o, "d_state", json_integer(s->d_state));
    json_object_set_new(o, "heads", json_integer(s->heads));
    json_object_set_new(o, "groups", json_integer(s->groups));
    json_object_set_new(o, "a", json_string(s->a_kind == SCAN_A_HEAD ? "head" : "diag"));
    json_object_set_new(o, "softplus", json_boolean(s->softplus));
    json_object_set_new(o, "delta_bias", json_boolean(s->has_bias));
    json_object_set_new(o, "dskip", json_boolean(s->has_dskip));
    json_object_set_new(o, "z", json_boolean(s->has_z));
    json_object_set_new(o, "h0", json_boolean(s->has_h0));
    json_object_set_new(o, "h_last", json_boolean(s->want_h_last));
    json_object_set_new(o, "direction", json_string(bench_direction_name(r->set.direction)));
    json_object_set_new(o, "level", json_string(r->block_level ? "block" : "scan"));
    if (r->block_level) {
        const block_shape *bs = &r->block;
        json_object_set_new(o, "block", json_string(bs->kind == BLOCK_MAMBA1 ? "mamba1" : "mamba2"));
        json_object_set_new(o, "d_model", json_integer(bs->d_model));
        json_object_set_new(o, "d_inner", json_integer(bs->d_inner));
        json_object_set_new(o, "d_conv", json_integer(bs->d_conv));
        if (bs->kind == BLOCK_MAMBA1) json_object_set_new(o, "dt_rank", json_integer(bs->dt_rank));
        else json_object_set_new(o, "headdim", json_integer(bs->headdim));
    }
    json_object_set_new(o, "threads", json_integer(r->set.threads));
    json_object_set_new(o, "bind", json_string(pin_mode_name(r->set.bind)));
    json_object_set_new(o, "binding", json_string(r->binding));
    json_object_set_new(o, "seed", json_integer((json_int_t)r->set.seed));
    json_object_set_new(o, "reps", json_integer(r->reps));
    json_object_set_new(o, "median_s", num(r->reps ? r->st.median : NAN));
    json_object_set_new(o, "ci_low_s", num(r->reps ? r->st.ci_low : NAN));
    json_object_set_new(o, "ci_high_s", num(r->reps ? r->st.ci_high : NAN));
    json_object_set_new(o, "min_s", num(r->reps ? r->st.min : NAN));
    json_object_set_new(o, "max_s", num(r->reps ? r->st.max : NAN));
    json_object_set_new(o, "mean_s", num(r->reps ? r->st.mean : NAN));
    json_object_set_new(o, "sd_s", num(r->reps ? r->st.sd : NAN));
    json_object_set_new(o, "cv", num(r->reps ? r->st.cv : NAN));
    json_object_set_new(o, "wait_share", num(r->reps ? r->wait_share : NAN));
    json_object_set_new(o, "cpu_speed", num(r->reps ? r->cpu_speed : NAN));
    json_object_set_new(o, "mem_speed", num(r->reps ? r->mem_speed : NAN));
    json_object_set_new(o, "disturbed", r->reps ? json_boolean(r->disturbed) : json_null());
    /* a count: exact as an integer (B*L*D*N*16 fits int64: scan_shape_check) */
    json_object_set_new(o, "updates", json_integer((json_int_t)r->updates));
    json_object_set_new(o, "updates_per_s", num(r->reps ? r->updates_per_s : NAN));
    json_object_set_new(o, "gflops", num(r->reps ? r->gflops : NAN));
    json_object_set_new(o, "gbps", num(r->reps ? r->gbps : NAN));
    json_object_set_new(o, "exps_per_s", num(r->reps ? r->exps_per_s : NAN));
    json_object_set_new(o, "flops", num(r->cost.flops));
    json_object_set_new(o, "exps", num(r->cost.exps));
    json_object_set_new(o, "bytes", num(r->cost.bytes));
    json_object_set_new(o, "bound", r->bound ? json_string(r->bound) : json_null());
    json_object_set_new(o, "bound_s", num(r->bound_s));
    json_object_set_new(o, "ceiling_fraction", num(r->ceiling_fraction));
    /* sizes: null where the point was not sized (a kernel that cannot run it) */
    const bool sized = r->memory_bytes >= 0;
    json_object_set_new(o, "workspace_bytes", sized ? json_integer((json_int_t)r->workspace_bytes) : json_null());
    json_object_set_new(o, "first_touch_s", num(r->first_touch_s));
    json_object_set_new(o, "memory_bytes", sized ? json_integer((json_int_t)r->memory_bytes) : json_null());
    json_object_set_new(o, "peak_rss_bytes",
                        r->peak_rss_bytes >= 0 ? json_integer((json_int_t)r->peak_rss_bytes) : json_null());
    if (r->set.direction != BENCH_FORWARD) {
        json_object_set_new(o, "saved_bytes", sized ? json_integer((json_int_t)r->saved_bytes) : json_null());
        json_object_set_new(o, "checkpoint", json_integer(r->set.checkpoint > 0 ? r->set.checkpoint : 64));
    }
    if (r->checked) {
        json_object_set_new(o, "max_abs_err", num(r->max_abs_err));
        json_object_set_new(o, "max_rel_err", num(r->max_rel_err));
        json_object_set_new(o, "check", json_string(r->check_ok ? "ok" : "fail"));
        json_object_set_new(o, "check_shape", json_string(r->check_shape));
        json_object_set_new(o, "h_last_max_rel_err", num(r->h_last_max_rel_err)); /* null without --h-last */
        json_object_set_new(o, "tolerance", json_real(SCAN_TOLERANCE));
    }
    if (r->counters.set && r->status == BENCH_OK)
        json_object_set_new(o, "counters", cnt_values_json(&r->counters, r->updates));
    if (r->grad_checked) {
        /* per gradient: <name>_max_abs_err, <name>_max_rel_err (null where the input is absent) */
        int64_t n[SCAN_NGRADS];
        scan_grad_sizes(&r->shape, n); /* sizes of the point's shape: absent stays absent */
        for (int i = 0; i < SCAN_NGRADS; i++) {
            char key[64];
            snprintf(key, sizeof key, "%s_max_abs_err", scan_grad_names[i]);
            json_object_set_new(o, key, n[i] ? num(r->grad_err[i].max_abs_err) : json_null());
            snprintf(key, sizeof key, "%s_max_rel_err", scan_grad_names[i]);
            json_object_set_new(o, key, n[i] ? num(r->grad_err[i].max_rel_err) : json_null());
        }
        json_object_set_new(o, "grad_max_rel_err", num(r->grad_max_rel_err));
        json_object_set_new(o, "grad_tolerance", json_real(SCAN_GRAD_TOLERANCE));
    }
    return o;
}

void report_json_dump(FILE *f, json_t *o)
{
    char *s = o ? json_dumps(o, JSON_INDENT(2) | JSON_REAL_PRECISION(10)) : NULL;
    if (s) fprintf(f, "%s\n", s);
    free(s);
    json_decref(o);
}

/* One result as JSON, or several as {"runs": [...]}, on f. */
void report_json_print(FILE *f, const bench_result *r, int n)
{
    json_t *o = n == 1 ? report_json(&r[0]) : json_object();
    if (n > 1) {
        json_t *arr = json_array();
        for (int i = 0; i < n; i++) json_array_append_new(arr, report_json(&r[i]));
        json_object_set_new(o, "runs", arr);
    }
    report_json_dump(f, o);
}

/* Why a point has no ceiling fraction (derive in bench.c, which bench_block does not call). */
static const char *no_ceiling_why(const bench_result *r, const calib *cal)
{
    if (r->block_level) return "block level: its cost model counts FLOPs only";
    if (!cal || !cal->valid) return "no calibration";
    const calib_row *row = calib_row_for(cal, r->set.threads);
    if (!row) return "no calibration row for this thread count or fewer";
    if (r->cost.exps > 0 && !(calib_exp_rate(cal, row, r->kernel->exp_routine) > 0))
        return "the calibration has no rate for the kernel's exp routine: rerun mbench calibrate";
    return "the cost model states no work";
}

/* Seconds with a unit that keeps 3-4 significant digits readable ("-" when not measured). */
static const char *fmt_time(double s, char *buf, size_t len)
{
    if (!isfinite(s)) snprintf(buf, len, "-");
    else if (s < 1e-3) snprintf(buf, len, "%.2f us", s * 1e6);
    else if (s < 1) snprintf(buf, len, "%.3f ms", s * 1e3);
    else snprintf(buf, len, "%.3f s", s);
    return buf;
}

void report_text(FILE *f, const bench_result *r, const calib *cal)
{
    char desc[160], a[32], b[32], c[32];
    scan_shape_describe(&r->shape, desc, sizeof desc);
    if (r->block_level) block_shape_describe(&r->block, desc, sizeof desc);
    fprintf(f, "%s  %s  threads=%d bind=%s%s%s\n", r->kernel->name, desc, r->set.threads,
            pin_mode_name(r->set.bind), r->set.direction != BENCH_FORWARD ? "  direction=" : "",
            r->set.direction != BENCH_FORWARD ? bench_direction_name(r->set.direction) : "");
    if (r->checked) {
        char hl[64] = "";
        if (isfinite(r->h_last_max_rel_err)) snprintf(hl, sizeof hl, ", h_last max_rel_err %.3g", r->h_last_max_rel_err);
        fprintf(f, "  check       %s: max_abs_err %.3g, max_rel_err %.3g%s (tolerance %.0e) on %s\n",
                r->check_ok ? "ok" : "FAIL", r->max_abs_err, r->max_rel_err, hl, SCAN_TOLERANCE, r->check_shape);
    }
    if (r->grad_checked) {
        int64_t n[SCAN_NGRADS];
        scan_grad_sizes(&r->shape, n);
        fprintf(f, "  gradients   max_rel_err (tolerance %.0e):", SCAN_GRAD_TOLERANCE);
        for (int i = 0; i < SCAN_NGRADS; i++)
            if (n[i]) fprintf(f, " %s %.2g", scan_grad_names[i], r->grad_err[i].max_rel_err);
        fprintf(f, "\n              max_abs_err:");
        for (int i = 0; i < SCAN_NGRADS; i++)
            if (n[i]) fprintf(f, " %s %.2g", scan_grad_names[i], r->grad_err[i].max_abs_err);
        fprintf(f, "\n");
    }
    if (r->status != BENCH_OK) {
        fprintf(f, "  %s: %s\n", bench_status_name(r->status), r->reason);
        return;
    }
    fprintf(f, "  binding     %s\n", r->binding);
    fprintf(f, "  median      %s   95%% CI [%s, %s]%s   (%d reps)\n", fmt_time(r->st.median, a, sizeof a),
            fmt_time(r->st.ci_low, b, sizeof b), fmt_time(r->st.ci_high, c, sizeof c),
            r->st.ci_valid ? "" : " (n < 6: no CI)", r->reps);
    fprintf(f, "  min/mean    %s / %s   sd %s   CV %.1f%%%s\n", fmt_time(r->st.min, a, sizeof a),
            fmt_time(r->st.mean, b, sizeof b), fmt_time(r->st.sd, c, sizeof c), 100 * r->st.cv,
            r->st.cv > 0.05 ? "  (noisy)" : "");
    if (r->block_level)
        fprintf(f, "  rate        %.2f GFLOP/s (the block's counted FLOPs: projections, conv, pointwise, scan)\n",
                r->gflops);
    else
        fprintf(f, "  rate        %.3f G updates/s   %.2f GFLOP/s   %.2f GB/s   %.3f G exps/s%s\n",
                r->updates_per_s * 1e-9, r->gflops, r->gbps, r->exps_per_s * 1e-9,
                r->set.direction == BENCH_BOTH       ? "\n              (updates: the problem's B*L*D*N per training step, "
                                                       "forward_save + backward)"
                : r->set.direction == BENCH_BACKWARD ? "\n              (updates: the problem's B*L*D*N per backward)"
                                                     : "");
    if (r->bound)
        fprintf(f, "  ceiling     %s-bound: %.1f%% of this machine's %s ceiling (%s at the ceiling; %s)\n",
                r->bound, 100 * r->ceiling_fraction, r->bound, fmt_time(r->bound_s, a, sizeof a),
                cal && cal->path[0] ? cal->path : "calibration");
    else
        fprintf(f, "  ceiling     not reported (%s)\n", no_ceiling_why(r, cal));
    fprintf(f, "  memory      workspace %.1f MiB; allocation + first touch %s (untimed)\n",
            r->workspace_bytes / 1048576.0, fmt_time(r->first_touch_s, a, sizeof a));
    if (r->set.direction != BENCH_FORWARD)
        fprintf(f, "  training    saved for the backward %.1f MiB; tensors + dy + gradients + saved + workspace %.1f MiB\n",
                r->saved_bytes / 1048576.0, r->memory_bytes / 1048576.0);
    if (r->peak_rss_bytes >= 0)
        fprintf(f, "  peak RSS    %.1f MiB while the point ran (process-wide; needs %.1f MiB by count)\n",
                r->peak_rss_bytes / 1048576.0, r->memory_bytes / 1048576.0);
    if (r->timer_warning) fprintf(f, "  warning     shortest sample is under 10x the timer resolution\n");
    char ws[32], cs[64], ms[96];
    pct_or(ws, sizeof ws, r->wait_share, "%.1f%%", "(not readable)");
    pct_or(cs, sizeof cs, r->cpu_speed, "%.0f%%", "(not measured: no calibration for this thread count)");
    pct_or(ms, sizeof ms, r->mem_speed, "%.0f%%", "(not measured: no triad probe in the calibration; rerun mbench calibrate)");
    fprintf(f, "  machine     threads waited for a CPU %s of the timed time; in probes before and after:\n"
               "              slowest thread at %s of the calibrated FMA rate, memory at %s of the calibrated triad\n",
            ws, cs, ms);
    if (r->disturbed)
        fprintf(f, "  warning     DISTURBED: the machine did not give this point its CPUs (other tasks, or a slow\n"
                   "              virtual CPU): the time is not the kernel's alone (docs/measurement.md)\n");
    if (r->counters.set) cnt_values_text(f, &r->counters, r->updates);
}

void report_speedups(FILE *f, const bench_result *r, int n)
{
    if (n < 2 || r[0].status != BENCH_OK) return;
    char a[32];
    fmt_time(r[0].st.median, a, sizeof a);
    fprintf(f, "speedup over %d thread%s (median %s):\n", r[0].set.threads, r[0].set.threads > 1 ? "s" : "", a);
    for (int i = 0; i < n; i++) {
        if (r[i].status != BENCH_OK) continue;
        double sp = r[0].st.median / r[i].st.median;
        fprintf(f, "  threads %-4d %6.2fx   parallel efficiency %5.1f%%\n", r[i].set.threads, sp,
                100.0 * sp * r[0].set.threads / r[i].set.threads);
    }
}

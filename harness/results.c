/* harness/results.c: the files of a sweep directory (see results.h, docs/results.md). */
#include "results.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "harness/cachesim.h"
#include "harness/report.h"

/* Columns named as report_json's keys, plus the sweep's own (point, order, d_model,
 * expand, headdim, chunk, noisy, timer_warning, started_utc, wall_s). */
const char *const results_point_cols[] = {
    "point", "kernel", "status", "reason", "order",
    "d_model", "expand", "headdim", "batch", "seqlen", "channels", "d_state", "heads", "groups", "a",
    "softplus", "delta_bias", "dskip", "z", "h0", "h_last", "direction",
    "threads", "bind", "binding", "chunk", "seed",
    "reps", "median_s", "ci_low_s", "ci_high_s", "min_s", "max_s", "mean_s", "sd_s", "cv", "noisy",
    "wait_share", "cpu_speed", "mem_speed", "disturbed",
    "updates", "updates_per_s", "gflops", "gbps", "exps_per_s", "flops", "exps", "bytes",
    "bound", "bound_s", "ceiling_fraction", "workspace_bytes", "first_touch_s",
    "memory_bytes", "peak_rss_bytes", "saved_bytes", "checkpoint",
    "check", "max_abs_err", "max_rel_err", "tolerance", "check_shape", "h_last_max_rel_err",
    "grad_max_rel_err", "grad_tolerance", "timer_warning",
    "du_max_abs_err", "du_max_rel_err", "ddelta_max_abs_err", "ddelta_max_rel_err", "ddelta_bias_max_abs_err",
    "ddelta_bias_max_rel_err", "dA_max_abs_err", "dA_max_rel_err", "dBm_max_abs_err", "dBm_max_rel_err",
    "dCm_max_abs_err", "dCm_max_rel_err", "dDskip_max_abs_err", "dDskip_max_rel_err", "dz_max_abs_err",
    "dz_max_rel_err", "dh0_max_abs_err", "dh0_max_rel_err",
    "level", "block", "d_inner", "d_conv", "dt_rank",
    "counters", "counters_unavailable", "cnt_papi_tot_cyc", "cnt_papi_tot_ins", "cnt_papi_l1_dcm",
    "cnt_papi_l2_tcm", "cnt_papi_l3_tcm", "cnt_task_clock", "cnt_page_faults", "cnt_context_switches",
    "cnt_cpu_migrations", "cnt_other", "ipc", "llc_misses_per_update", "counter_bytes_per_update",
    "sim", "sim_ll", "sim_cold", "sim_instructions", "sim_d1_read_misses", "sim_d1_write_misses",
    "sim_ll_read_misses", "sim_ll_write_misses", "sim_ll_writebacks", "sim_instructions_per_update",
    "sim_d1_misses_per_update", "sim_ll_misses_per_update", "sim_bytes_per_update", "sim_s",
    "started_utc", "wall_s", "host", "machine_type",
};
const int results_point_ncols = (int)(sizeof results_point_cols / sizeof results_point_cols[0]);
const char *const results_sample_cols[] = {"point", "kernel", "threads", "rep", "seconds"};
const int results_sample_ncols = (int)(sizeof results_sample_cols / sizeof results_sample_cols[0]);

char *results_read_text(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f) return NULL;
    char *buf = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&buf, &len);
    char chunk[4096];
    size_t n;
    while (m && (n = fread(chunk, 1, sizeof chunk, f)) > 0) fwrite(chunk, 1, n, m);
    fclose(f);
    if (m) fclose(m);
    return buf;
}

void results_utc_now(char *buf, size_t len, bool compact)
{
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, len, compact ? "%Y%m%dT%H%M%SZ" : "%Y-%m-%dT%H:%M:%SZ", &tm);
}

// ---------------------------------------------------------------- directories

static int mkdirs(const char *dir, mb_err *err)
{
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s", dir);
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/') continue;
        *p = 0;
        if (mkdir(tmp, 0777) && errno != EEXIST) return mb_fail(err, "cannot create %s: %s", tmp, strerror(errno));
        *p = '/';
    }
    if (mkdir(tmp, 0777) && errno != EEXIST) return mb_fail(err, "cannot create %s: %s", tmp, strerror(errno));
    return 0;
}

static int tables_init(results_run *rr, mb_err *err)
{
    csv_table_init(&rr->points);
    csv_table_init(&rr->samples);
    if (csv_table_set_head(&rr->points, results_point_cols, results_point_ncols, err) ||
        csv_table_set_head(&rr->samples, results_sample_cols, results_sample_ncols, err))
        return -1;
    return 0;
}

int results_create(results_run *rr, const char *dir, mb_err *err)
{
    memset(rr, 0, sizeof *rr);
    snprintf(rr->dir, sizeof rr->dir, "%s", dir);
    char path[4200];
    snprintf(path, sizeof path, "%s/points.csv", dir);
    struct stat st;
    if (!stat(path, &st))
        return mb_fail(err, "%s already holds a sweep (points.csv): use --resume %s, or another --out", dir, dir);
    if (mkdirs(dir, err)) return -1;
    return tables_init(rr, err);
}

void results_free(results_run *rr)
{
    csv_table_free(&rr->points);
    csv_table_free(&rr->samples);
}

bool results_done(const results_run *rr, int point, const char *kernel)
{
    const int pc = csv_col(&rr->points, "point"), kc = csv_col(&rr->points, "kernel");
    for (int r = 0; r < rr->points.nrows; r++)
        if (atoi(rr->points.rows[r][pc]) == point && !strcmp(rr->points.rows[r][kc], kernel)) return true;
    return false;
}

int results_open(results_run *rr, const char *dir, mb_err *err)
{
    memset(rr, 0, sizeof *rr);
    snprintf(rr->dir, sizeof rr->dir, "%s", dir);
    if (tables_init(rr, err)) return -1;
    char path[4200];
    csv_table old;
    snprintf(path, sizeof path, "%s/points.csv", dir);
    if (csv_read(&old, path, err)) {
        results_free(rr);
        return mb_wrap(err, "cannot resume");
    }
    /* rows are re-keyed by this build's columns, so a file from an older build still loads */
    int rc = 0;
    const char *cells[256];
    if (csv_col(&old, "point") < 0 || csv_col(&old, "kernel") < 0) {
        rc = mb_fail(err, "%s: not a points.csv of mbench (no point/kernel columns)", path);
        goto done;
    }
    for (int r = 0; r < old.nrows && !rc; r++) {
        if (results_done(rr, atoi(csv_get(&old, r, "point")), csv_get(&old, r, "kernel"))) continue;
        for (int c = 0; c < results_point_ncols; c++) cells[c] = csv_get(&old, r, results_point_cols[c]);
        rc = csv_table_add(&rr->points, cells, err);
    }
    csv_table_free(&old);
    snprintf(path, sizeof path, "%s/samples.csv", dir);
    if (!rc && !csv_read(&old, path, err)) {
        for (int r = 0; r < old.nrows && !rc; r++) {
            if (!results_done(rr, atoi(csv_get(&old, r, "point")), csv_get(&old, r, "kernel"))) continue;
            for (int c = 0; c < results_sample_ncols; c++) cells[c] = csv_get(&old, r, results_sample_cols[c]);
            rc = csv_table_add(&rr->samples, cells, err);
        }
    }
    /* a missing samples.csv is fine: the sweep was killed before its first point */
done:
    csv_table_free(&old);
    if (rc) results_free(rr);
    return rc;
}

// ---------------------------------------------------------------- rows

static void json_cell(json_t *v, char *buf, size_t len)
{
    buf[0] = 0;
    if (!v || json_is_null(v)) return;
    if (json_is_integer(v)) snprintf(buf, len, "%lld", (long long)json_integer_value(v));
    else if (json_is_real(v)) snprintf(buf, len, "%.9g", json_real_value(v));
    else if (json_is_true(v)) snprintf(buf, len, "true");
    else if (json_is_false(v)) snprintf(buf, len, "false");
    else if (json_is_string(v)) snprintf(buf, len, "%s", json_string_value(v));
}

static int add_row(results_run *rr, json_t *o, mb_err *err)
{
    static const int W = 600;
    char *buf = malloc((size_t)results_point_ncols * W);
    const char *cells[256];
    if (!buf) return mb_fail(err, "out of memory (row)");
    for (int c = 0; c < results_point_ncols; c++) {
        json_cell(json_object_get(o, results_point_cols[c]), buf + c * W, W);
        cells[c] = buf + c * W;
    }
    int rc = csv_table_add(&rr->points, cells, err);
    free(buf);
    return rc;
}

/* The sweep's own columns. */
static void add_extras(json_t *o, const results_run *rr, const scen_point *p, int order, const char *started)
{
    if (rr->host[0]) json_object_set_new(o, "host", json_string(rr->host));
    if (rr->machine_type[0]) json_object_set_new(o, "machine_type", json_string(rr->machine_type));
    json_object_set_new(o, "point", json_integer(p->index));
    json_object_set_new(o, "order", json_integer(order));
    if (p->d_model) json_object_set_new(o, "d_model", json_integer(p->d_model));
    if (p->expand) json_object_set_new(o, "expand", json_integer(p->expand));
    if (p->headdim) json_object_set_new(o, "headdim", json_integer(p->headdim));
    json_object_set_new(o, "chunk", json_integer(p->chunk));
    json_object_set_new(o, "started_utc", json_string(started));
}

int results_add(results_run *rr, const scen_point *p, const bench_result *r, int order, const char *started,
                double wall_s, mb_err *err)
{
    json_t *o = report_json(r);
    add_extras(o, rr, p, order, started);
    if (r->status == BENCH_OK) {
        json_object_set_new(o, "noisy", json_boolean(r->st.cv > RESULTS_NOISY_CV));
        json_object_set_new(o, "timer_warning", json_boolean(r->timer_warning));
        if (r->counters.set) cnt_values_flat(o, &r->counters, r->updates);
    }
    if (r->sim_status[0]) json_object_set_new(o, "sim", json_string(r->sim_status));
    if (r->sim) cachesim_flat(o, r->sim);
    json_object_set_new(o, "wall_s", json_real(wall_s));
    int rc = add_row(rr, o, err);
    json_decref(o);
    if (rc) return -1;
    char a[32], b[32], c[32], d[32];
    const char *cells[5] = {a, r->kernel->name, b, c, d};
    snprintf(a, sizeof a, "%d", p->index);
    snprintf(b, sizeof b, "%d", r->set.threads);
    for (int i = 0; i < r->reps; i++) {
        snprintf(c, sizeof c, "%d", i);
        snprintf(d, sizeof d, "%.9g", r->samples[i]);
        if (csv_table_add(&rr->samples, cells, err)) return -1;
    }
    return 0;
}

int results_add_failure(results_run *rr, const scen_point *p, const scan_kernel *k, const bench_settings *set,
                        int order, const char *started, const char *reason, mb_err *err)
{
    bench_result r;
    bench_result_start(&r, k, &p->shape, set); /* nothing measured, counted or sized */
    r.status = BENCH_FAILED;
    snprintf(r.reason, sizeof r.reason, "%s", reason);
    json_t *o = report_json(&r);
    add_extras(o, rr, p, order, started);
    int rc = add_row(rr, o, err);
    json_decref(o);
    return rc;
}

// ---------------------------------------------------------------- files

int results_save(const results_run *rr, mb_err *err)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/samples.csv", rr->dir);
    if (csv_write_file(path, &rr->samples, err)) return -1;
    snprintf(path, sizeof path, "%s/points.csv", rr->dir);
    return csv_write_file(path, &rr->points, err);
}

static void write_json(FILE *f, const void *arg)
{
    json_dumpf((json_t *)arg, f, JSON_INDENT(2) | JSON_REAL_PRECISION(10));
    fputc('\n', f);
}

int results_write_json(const char *dir, const char *name, json_t *v, mb_err *err)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return csv_atomic_write(path, write_json, v, err);
}

/* harness/calib.c: measuring and storing this machine's ceilings (see calib.h).
 *
 * stream: triad a[i] = b[i] + s*c[i] over three arrays far larger than the caches,
 *   first-touched by the pinned threads; bytes = 3 * n * 4 (STREAM's convention, no
 *   write-allocate); the best of the repetitions is the ceiling.
 * fma: 12 independent vector FMA chains per thread (enough to cover 4-cycle latency
 *   on 2 pipes), fp32, counted as 2 flops per lane.
 * exp: each routine of scan_exp_routines over an L1-resident buffer of x in [-80, 0],
 *   repeated; exps/s summed over threads. */
#include "calib.h"

#include <jansson.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#if defined(__AVX512F__) || defined(__AVX2__)
#include <immintrin.h>
#endif

#include "common/file.h"
#include "common/mem.h"
#include "harness/bench.h"
#include "harness/interfere.h"
#include "harness/machine.h"
#include "kernels/scan.h"

// ---------------------------------------------------------------- measurements

static double measure_stream(int threads, double scale, mb_err *err)
{
    int64_t n = (int64_t)((1 << 25) * (scale < 1 ? 0.25 : 1.0)); /* 128 MiB per array */
    float *a = mb_alloc((size_t)n * 4), *b = mb_alloc((size_t)n * 4), *c = mb_alloc((size_t)n * 4);
    double best = 0;
    if (!a || !b || !c) {
        mb_fail(err, "out of memory for the stream arrays");
        goto done;
    }
#pragma omp parallel for schedule(static) num_threads(threads)
    for (int64_t i = 0; i < n; i++) a[i] = 0, b[i] = 1, c[i] = 2;
    const int reps = scale < 1 ? 4 : 8;
    for (int r = 0; r < reps; r++) {
        const float s = 0.5f + (float)r;
        double t0 = bench_now();
#pragma omp parallel for schedule(static) num_threads(threads)
        for (int64_t i = 0; i < n; i++) a[i] = b[i] + s * c[i];
        double t = bench_now() - t0;
        double gbps = 3.0 * (double)n * 4.0 / t * 1e-9;
        if (gbps > best) best = gbps;
    }
    volatile float sink = a[n / 2];
    (void)sink;
done:
    mb_free(a);
    mb_free(b);
    mb_free(c);
    return best;
}

#define FMA_CHAINS 12
double calib_fma_flops(int64_t iters)
{
#if defined(__AVX512F__)
    __m512 acc[FMA_CHAINS];
    const __m512 m = _mm512_set1_ps(0.9999999f), add = _mm512_set1_ps(1e-7f);
    for (int j = 0; j < FMA_CHAINS; j++) acc[j] = _mm512_set1_ps((float)j);
    for (int64_t i = 0; i < iters; i++)
        for (int j = 0; j < FMA_CHAINS; j++) acc[j] = _mm512_fmadd_ps(acc[j], m, add);
    float s = 0;
    for (int j = 0; j < FMA_CHAINS; j++) s += _mm512_reduce_add_ps(acc[j]);
    volatile float sink = s;
    (void)sink;
    return 2.0 * 16 * FMA_CHAINS * (double)iters;
#elif defined(__AVX2__)
    __m256 acc[FMA_CHAINS];
    const __m256 m = _mm256_set1_ps(0.9999999f), add = _mm256_set1_ps(1e-7f);
    for (int j = 0; j < FMA_CHAINS; j++) acc[j] = _mm256_set1_ps((float)j);
    for (int64_t i = 0; i < iters; i++)
        for (int j = 0; j < FMA_CHAINS; j++) acc[j] = _mm256_fmadd_ps(acc[j], m, add);
    float lanes[8], s = 0;
    for (int j = 0; j < FMA_CHAINS; j++) {
        _mm256_storeu_ps(lanes, acc[j]);
        for (int l = 0; l < 8; l++) s += lanes[l];
    }
    volatile float sink = s;
    (void)sink;
    return 2.0 * 8 * FMA_CHAINS * (double)iters;
#else
    float acc[FMA_CHAINS];
    for (int j = 0; j < FMA_CHAINS; j++) acc[j] = (float)j;
    for (int64_t i = 0; i < iters; i++)
        for (int j = 0; j < FMA_CHAINS; j++) acc[j] = fmaf(acc[j], 0.9999999f, 1e-7f);
    float s = 0;
    for (int j = 0; j < FMA_CHAINS; j++) s += acc[j];
    volatile float sink = s;
    (void)sink;
    return 2.0 * FMA_CHAINS * (double)iters;
#endif
}

static double measure_fma(int threads, double scale)
{
    const int64_t iters = (int64_t)(4e7 * scale);
    double best = 0;
    for (int r = 0; r < 3; r++) {
        double flops = 0, t0 = bench_now();
#pragma omp parallel num_threads(threads) reduction(+ : flops)
        flops += calib_fma_flops(iters);
        double g = flops / (bench_now() - t0) * 1e-9;
        if (g > best) best = g;
    }
    return best;
}

static double measure_exp(const scan_exp_routine *e, int threads, double scale)
{
    enum { N = 4096 };
    const int reps = (int)(20000 * scale) + 1;
    double best = 0;
    for (int r = 0; r < 3; r++) {
        double count = 0, t0 = bench_now();
#pragma omp parallel num_threads(threads) reduction(+ : count)
        {
            float *x = mb_alloc(N * sizeof(float)), *y = mb_alloc(N * sizeof(float));
            if (x && y) {
                for (int i = 0; i < N; i++) x[i] = -80.0f * (float)((i * 2654435761u) % N) / N;
                float s = 0;
                for (int k = 0; k < reps; k++) {
                    e->apply(x, y, N);
                    s += y[k % N];
                }
                volatile float sink = s;
                (void)sink;
                count += (double)N * reps;
            }
            mb_free(x);
            mb_free(y);
        }
        double rate = count / (bench_now() - t0);
        if (rate > best) best = rate;
    }
    return best;
}

int calib_measure(calib *c, pin_topo *topo, const calib_settings *s, mb_err *err)
{
    memset(c, 0, sizeof *c);
    int maxt = s->max_threads > 0 ? s->max_threads : topo->pus;
    if (maxt > CALIB_MAX_THREADS) maxt = CALIB_MAX_THREADS;
    time_t now = time(NULL);
    strftime(c->date, sizeof c->date, "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
    machine_cpu_model(c->cpu, sizeof c->cpu);
    c->nexp = scan_exp_routine_count < CALIB_MAX_EXP ? scan_exp_routine_count : CALIB_MAX_EXP;
    for (int i = 0; i < c->nexp; i++)
        snprintf(c->exp_names[i], sizeof c->exp_names[i], "%s", scan_exp_routines[i]->name);
    for (int t = 1; t <= maxt; t++) {
        calib_row *row = &c->rows[c->nrows];
        row->threads = t;
        if (pin_threads(topo, t, s->bind, NULL, 0, err)) return -1;
        if (s->progress) fprintf(stderr, "calibrate: %d thread%s: stream", t, t > 1 ? "s" : "");
        row->stream_gbps = measure_stream(t, s->scale, err);
        if (row->stream_gbps <= 0) return -1;
        if (s->progress) fprintf(stderr, ", fma");
        row->fma_gflops = measure_fma(t, s->scale);
        if (s->progress) fprintf(stderr, ", probe");
        row->probe_gbps = interfere_triad_gbps(t);
        for (int i = 0; i < c->nexp; i++) {
            if (s->progress) fprintf(stderr, ", %s", c->exp_names[i]);
            row->exp_rate[i] = measure_exp(scan_exp_routines[i], t, s->scale);
        }
        if (s->progress) fprintf(stderr, "\n");
        c->nrows++;
    }
    c->valid = true;
    return 0;
}

// ---------------------------------------------------------------- storage

void calib_default_path(char *buf, size_t len)
{
    const char *dir = getenv("MBENCH_RESULTS");
    snprintf(buf, len, "%s/calibration.json", dir && *dir ? dir : MB_SOURCE_DIR "/results");
}

int calib_save(const calib *c, const char *path, mb_err *err)
{
    json_t *root = json_object(), *rows = json_array(), *names = json_array();
    json_object_set_new(root, "date", json_string(c->date));
    json_object_set_new(root, "cpu", json_string(c->cpu));
    json_object_set_new(root, "units", json_string("stream_gbps: 1e9 B/s; fma_gflops: 1e9 flop/s; exp: exps/s"));
    for (int i = 0; i < c->nexp; i++) json_array_append_new(names, json_string(c->exp_names[i]));
    json_object_set_new(root, "exp_routines", names);
    for (int r = 0; r < c->nrows; r++) {
        const calib_row *row = &c->rows[r];
        json_t *o = json_object(), *e = json_object();
        json_object_set_new(o, "threads", json_integer(row->threads));
        json_object_set_new(o, "stream_gbps", json_real(row->stream_gbps));
        json_object_set_new(o, "fma_gflops", json_real(row->fma_gflops));
        json_object_set_new(o, "probe_gbps", json_real(row->probe_gbps));
        for (int i = 0; i < c->nexp; i++) json_object_set_new(e, c->exp_names[i], json_real(row->exp_rate[i]));
        json_object_set_new(o, "exp_per_s", e);
        json_array_append_new(rows, o);
    }
    json_object_set_new(root, "rows", rows);
    mb_atomic a;
    if (mb_atomic_open(&a, path, err)) {
        json_decref(root);
        return -1;
    }
    int rc = json_dumpf(root, a.f, JSON_INDENT(2));
    json_decref(root);
    if (rc) {
        mb_atomic_abort(&a);
        return mb_fail(err, "cannot write %s", path);
    }
    return mb_atomic_commit(&a, err);
}

int calib_load(calib *c, const char *path, mb_err *err)
{
    memset(c, 0, sizeof *c);
    json_error_t je;
    json_t *root = json_load_file(path, 0, &je);
    if (!root) return mb_fail(err, "%s: %s (line %d)", path, je.text, je.line);
    json_t *rows = json_object_get(root, "rows"), *names = json_object_get(root, "exp_routines");
    int rc = 0;
    if (!json_is_array(rows) || !json_is_array(names)) {
        rc = mb_fail(err, "%s: expected arrays \"rows\" and \"exp_routines\"", path);
        goto done;
    }
    snprintf(c->path, sizeof c->path, "%s", path);
    snprintf(c->date, sizeof c->date, "%s", json_string_value(json_object_get(root, "date")) ?: "");
    snprintf(c->cpu, sizeof c->cpu, "%s", json_string_value(json_object_get(root, "cpu")) ?: "");
    size_t i;
    json_t *v;
    json_array_foreach(names, i, v)
    {
        if (c->nexp == CALIB_MAX_EXP || !json_is_string(v)) break;
        snprintf(c->exp_names[c->nexp++], sizeof c->exp_names[0], "%s", json_string_value(v));
    }
    json_array_foreach(rows, i, v)
    {
        if (c->nrows == CALIB_MAX_THREADS) break;
        calib_row *row = &c->rows[c->nrows];
        row->threads = (int)json_integer_value(json_object_get(v, "threads"));
        row->stream_gbps = json_number_value(json_object_get(v, "stream_gbps"));
        row->fma_gflops = json_number_value(json_object_get(v, "fma_gflops"));
        row->probe_gbps = json_number_value(json_object_get(v, "probe_gbps")); /* 0 if absent */
        json_t *e = json_object_get(v, "exp_per_s");
        for (int k = 0; k < c->nexp; k++)
            row->exp_rate[k] = json_number_value(json_object_get(e, c->exp_names[k]));
        if (row->threads < 1 || row->stream_gbps <= 0 || row->fma_gflops <= 0) {
            rc = mb_fail(err, "%s: row %zu is malformed", path, i);
            goto done;
        }
        c->nrows++;
    }
    if (c->nrows == 0) rc = mb_fail(err, "%s: no rows", path);
    c->valid = rc == 0;
done:
    json_decref(root);
    return rc;
}

const calib_row *calib_row_for(const calib *c, int threads)
{
    const calib_row *best = NULL;
    for (int i = 0; i < c->nrows; i++)
        if (c->rows[i].threads <= threads && (!best || c->rows[i].threads > best->threads))
            best = &c->rows[i];
    return best;
}

double calib_exp_rate(const calib *c, const calib_row *r, const char *routine)
{
    if (!routine) return 0;
    for (int i = 0; i < c->nexp; i++)
        if (!strcmp(c->exp_names[i], routine)) return r->exp_rate[i];
    return 0;
}

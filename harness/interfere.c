/* harness/interfere.c: run-queue waits and a CPU speed probe around a timed point (see
 * interfere.h). */
#include "interfere.h"

#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>

#include "harness/bench.h"

// ---------------------------------------------------------------- run-queue delay

/* This thread's run-queue delay in seconds (the second field of
 * /proc/thread-self/schedstat, ns), or -1. */
static double thread_wait(void)
{
    FILE *f = fopen("/proc/thread-self/schedstat", "r");
    if (!f) return -1;
    unsigned long long run, wait;
    int n = fscanf(f, "%llu %llu", &run, &wait);
    fclose(f);
    return n == 2 ? 1e-9 * (double)wait : -1;
}

/* Each team thread's delay into w[threads]; false if one could not read it. */
static bool team_waits(int threads, double *w)
{
    int bad = 0;
#pragma omp parallel num_threads(threads) reduction(+ : bad)
    {
        const int me = omp_get_thread_num();
        w[me] = thread_wait();
        bad += w[me] < 0 || omp_get_num_threads() != threads;
    }
    return bad == 0;
}

void interfere_begin(interfere_mark *m)
{
    m->ok = team_waits(m->threads, m->wait);
    m->wall = bench_now();
}

/* The wait share since interfere_begin (NaN where schedstat cannot be read). */
static double wait_share(const interfere_mark *m)
{
    const double wall = bench_now() - m->wall;
    double now[INTERFERE_MAX_THREADS];
    if (!m->ok || !team_waits(m->threads, now) || wall <= 0) return NAN;
    double waited = 0;
    for (int i = 0; i < m->threads; i++) waited += now[i] - m->wait[i];
    return waited / (wall * m->threads);
}

// ---------------------------------------------------------------- speed probe

/* The calibration's FMA loop on every team thread at once, 2^19 iterations of 12 16-lane
 * FMAs (0.2 GFLOP, ~1 ms at this machine's one-core rate), three times; the slowest
 * thread's rate in GFLOP/s, the best of the three (so a blip of a millisecond does not
 * count: a slowness that lasts does). */
static double probe_gflops(int threads)
{
    enum { ITERS = 1 << 19, TRIES = 3 };
    double best = 0;
    for (int k = 0; k < TRIES; k++) {
        double slowest = INFINITY;
#pragma omp parallel num_threads(threads) reduction(min : slowest)
        {
            const double t0 = bench_now(), flops = calib_fma_flops(ITERS), t = bench_now() - t0;
            slowest = t > 0 ? flops / t * 1e-9 : INFINITY;
        }
        if (slowest > best) best = slowest;
    }
    return best;
}

/* Against the calibrated rate per thread at the same thread count (not the one-thread
 * rate: with SMT siblings or a lower all-core clock a quiet thread of a team is slower
 * than a lone one, and that is the machine, not a disturbance). */
static double cpu_speed(int threads, const calib *cal)
{
    const calib_row *row = cal && cal->valid ? calib_row_for(cal, threads) : NULL;
    if (!row || row->threads != threads || !(row->fma_gflops > 0)) return NAN;
    return probe_gflops(threads) / (row->fma_gflops / threads);
}

/* One probe array of bytes (a multiple of 2 MiB), on 2 MiB pages where the kernel gives
 * them (first touch of 4 KiB pages runs at 0.3-0.7 GB/s on this VM, of 2 MiB pages 1-2
 * GB/s: docs/measurement.md), or NULL. */
static float *probe_array(size_t bytes)
{
    void *p = aligned_alloc((size_t)2 << 20, bytes);
#ifdef MADV_HUGEPAGE
    if (p) madvise(p, bytes, MADV_HUGEPAGE);
#endif
    return p;
}

/* The calibration's triad a = b + s c on three arrays of 32 MiB (96 MiB, past the L3),
 * first-touched by the team, best of three passes, in GB/s; 0 if out of memory. */
double interfere_triad_gbps(int threads)
{
    const int64_t n = (int64_t)1 << 23;
    float *a = probe_array((size_t)n * 4), *b = probe_array((size_t)n * 4), *c = probe_array((size_t)n * 4);
    double best = 0;
    if (!a || !b || !c) goto done;
#pragma omp parallel for schedule(static) num_threads(threads)
    for (int64_t i = 0; i < n; i++) a[i] = 0, b[i] = 1, c[i] = 2;
    for (int r = 0; r < 3; r++) {
        const float s = 0.5f + (float)r;
        const double t0 = bench_now();
#pragma omp parallel for schedule(static) num_threads(threads)
        for (int64_t i = 0; i < n; i++) a[i] = b[i] + s * c[i];
        const double gbps = 3.0 * (double)n * 4.0 / (bench_now() - t0) * 1e-9;
        if (gbps > best) best = gbps;
    }
    volatile float sink = a[n / 2];
    (void)sink;
done:
    free(a), free(b), free(c);
    return best;
}

/* The probe's triad rate over its calibrated one for that many threads (NaN without a
 * calibration row for exactly `threads` that has probe_gbps). */
static double mem_speed(int threads, const calib *cal)
{
    const calib_row *row = cal && cal->valid ? calib_row_for(cal, threads) : NULL;
    if (!row || row->threads != threads || !(row->probe_gbps > 0)) return NAN;
    const double g = interfere_triad_gbps(threads);
    return g > 0 ? g / row->probe_gbps : NAN;
}

// ---------------------------------------------------------------- a point

void interfere_before(interfere_mark *m, int threads, const calib *cal)
{
    m->threads = threads < INTERFERE_MAX_THREADS ? threads : INTERFERE_MAX_THREADS;
    m->cal = cal;
    m->cpu0 = cpu_speed(m->threads, cal);
    m->mem0 = mem_speed(m->threads, cal);
    m->ok = false;
}

interfere_figures interfere_end(const interfere_mark *m)
{
    interfere_figures f;
    f.wait_share = wait_share(m);
    f.cpu_speed = fmin(m->cpu0, cpu_speed(m->threads, m->cal)); /* NaN only if both are */
    f.mem_speed = fmin(m->mem0, mem_speed(m->threads, m->cal));
    /* NaN measures do not count (comparisons with NaN are false) */
    f.disturbed = f.wait_share > INTERFERE_MAX_WAIT || f.cpu_speed < INTERFERE_MIN_SPEED;
    return f;
}

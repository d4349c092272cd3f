/* harness/interfere.c: run-queue waits and a CPU speed probe around a timed point (see
 * interfere.h). */
#include "interfere.h"

#include <math.h>
#include <omp.h>
#include <stdio.h>

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

void interfere_begin(interfere_mark *m, int threads)
{
    m->threads = threads < INTERFERE_MAX_THREADS ? threads : INTERFERE_MAX_THREADS;
    m->ok = team_waits(m->threads, m->wait);
    m->wall = bench_now();
}

double interfere_wait_share(const interfere_mark *m)
{
    const double wall = bench_now() - m->wall;
    double now[INTERFERE_MAX_THREADS];
    if (!m->ok || !team_waits(m->threads, now) || wall <= 0) return NAN;
    double waited = 0;
    for (int i = 0; i < m->threads; i++) waited += now[i] - m->wait[i];
    return waited / (wall * m->threads);
}

// ---------------------------------------------------------------- speed probe

/* The calibration's FMA loop on every team thread at once, 2^20 iterations of 12 16-lane
 * FMAs (0.4 GFLOP, ~2 ms at this machine's one-core rate); the slowest thread's rate in
 * GFLOP/s. */
static double probe_gflops(int threads)
{
    enum { ITERS = 1 << 20 };
    double slowest = INFINITY;
#pragma omp parallel num_threads(threads) reduction(min : slowest)
    {
        const double t0 = bench_now(), flops = calib_fma_flops(ITERS), t = bench_now() - t0;
        slowest = t > 0 ? flops / t * 1e-9 : INFINITY;
    }
    return slowest;
}

double interfere_cpu_speed(int threads, const calib *cal)
{
    const calib_row *one = cal && cal->valid ? calib_row_for(cal, 1) : NULL;
    if (!one || one->threads != 1 || !(one->fma_gflops > 0)) return NAN;
    return probe_gflops(threads) / one->fma_gflops;
}

bool interfere_disturbed(double wait_share, double cpu_speed)
{
    return wait_share > INTERFERE_MAX_WAIT || cpu_speed < INTERFERE_MIN_SPEED;
}

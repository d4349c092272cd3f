/* harness/interfere.h: did the machine give a point's threads their CPUs while it was
 * timed? Two measures that need no hardware counters, recorded with every point:
 *
 *   wait_share  the time the point's pinned threads spent runnable but waiting for a CPU
 *               (the run-queue delay of /proc/thread-self/schedstat), over threads x the
 *               wall time of the timed repetitions: other tasks of this (guest) system
 *               took the CPUs. 0 on a quiet system.
 *   cpu_speed   the FMA rate each pinned thread reaches in a short probe (best of three
 *               of ~1 ms) just before the warm-up and just after the timed repetitions,
 *               the slowest thread, the lower of the two probes, over the calibrated
 *               FMA rate per thread at the same thread count: below 1 when the CPU itself delivers less than at
 *               calibration (on a VM: a host that gives the virtual CPU less of a
 *               physical core, an SMT sibling busy, a lower clock). The guest does not
 *               see that as waiting, only as slowness.
 *   mem_speed   a stream triad on 96 MiB (past the L3; 2 MiB pages, so that the probe's
 *               own first touch stays short), best of three, before and after, the
 *               lower, over the same probe's rate at calibration (probe_gbps of the row
 *               for the team's thread count; NaN in calibrations that predate it):
 *               below 1 when the memory system delivers less (on a shared host: other
 *               tenants' traffic), which no CPU probe sees. Reported, not part of the
 *               verdict: on normal-speed points it read 0.67-1.47, too wide for a
 *               threshold.
 *
 * A point is "disturbed" when wait_share > INTERFERE_MAX_WAIT or cpu_speed <
 * INTERFERE_MIN_SPEED (docs/measurement.md has the figures that set them). */
#ifndef MB_INTERFERE_H
#define MB_INTERFERE_H

#include <stdbool.h>

#include "harness/calib.h"

#define INTERFERE_MAX_WAIT 0.05
#define INTERFERE_MIN_SPEED 0.8
#define INTERFERE_MAX_THREADS 256

/* A point's probes before its warm-up and the state at the start of its timed section. */
typedef struct {
    int threads;
    const calib *cal;                     /* the ceilings the speeds are relative to, or NULL */
    double cpu0, mem0;                    /* cpu_speed, mem_speed of the probes before */
    bool ok;                              /* schedstat readable by every thread */
    double wall;                          /* seconds, CLOCK_MONOTONIC */
    double wait[INTERFERE_MAX_THREADS];   /* each team thread's run-queue delay so far, s */
} interfere_mark;

/* A point's figures (NaN where not measured). */
typedef struct {
    double wait_share, cpu_speed, mem_speed;
    bool disturbed;
} interfere_figures;

/* The probes before a point (call before its allocation and warm-up): the CPU and memory
 * speed of a team of `threads` threads (OpenMP regions: the pinned team the kernel runs on). */
void interfere_before(interfere_mark *m, int threads, const calib *cal);

/* Every team thread's run-queue delay so far: call just before the timed section. */
void interfere_begin(interfere_mark *m);

/* Just after the timed section: the wait share since interfere_begin, the probes again
 * (the lower of before and after counts), and the verdict. */
interfere_figures interfere_end(const interfere_mark *m);

/* The probe's triad on `threads` threads, GB/s (0 if out of memory). Allocates and
 * touches 96 MiB, then frees it. `mbench calibrate` stores it as probe_gbps. */
double interfere_triad_gbps(int threads);

#endif

/* harness/calib.h: this machine's ceilings (stream bandwidth, fp32 FMA rate, the rate
 * of every exp routine), measured by `mbench calibrate` for 1..all threads and kept as
 * JSON (results/calibration.json) so every run can put itself against them. */
#ifndef MB_CALIB_H
#define MB_CALIB_H

#include <stdbool.h>
#include <stdint.h>

#include "common/err.h"
#include "harness/pin.h"

#define CALIB_MAX_THREADS 256
#define CALIB_MAX_EXP 16

typedef struct {
    int threads;
    double stream_gbps; /* triad a = b + s*c, best of the repetitions, 10^9 B/s */
    double fma_gflops;  /* fp32, 10^9 flop/s (an FMA is 2) */
    double probe_gbps;  /* the interference probe's triad (harness/interfere.c: 96 MiB on
                           2 MiB pages), 10^9 B/s; 0 if the file predates it */
    double exp_rate[CALIB_MAX_EXP]; /* exps/s per routine, same order as exp_names */
} calib_row;

typedef struct {
    bool valid;
    char path[512];
    char date[32];
    char cpu[128];
    int nexp;
    char exp_names[CALIB_MAX_EXP][32];
    int nrows;
    calib_row rows[CALIB_MAX_THREADS];
} calib;

typedef struct {
    int max_threads;     /* measure 1..max_threads */
    pin_mode bind;
    double scale;        /* 1 for a full calibration, < 1 for a quick one */
    bool progress;       /* lines on stderr */
} calib_settings;

int calib_measure(calib *c, pin_topo *topo, const calib_settings *s, mb_err *err);
int calib_save(const calib *c, const char *path, mb_err *err);
/* 0 on success; -1 if the file is missing or malformed (err says which). */
int calib_load(calib *c, const char *path, mb_err *err);
/* The default path: $MBENCH_RESULTS or <source>/results, + /calibration.json */
void calib_default_path(char *buf, size_t len);

/* The row for `threads` (the largest measured row not above it), or NULL. */
const calib_row *calib_row_for(const calib *c, int threads);
/* The rate of an exp routine in a row, or 0 if not measured. */
double calib_exp_rate(const calib *c, const calib_row *r, const char *routine);

/* The FMA loop the calibration times (12 independent vector chains), run for iters
 * iterations on the calling thread; returns the flops it did. */
double calib_fma_flops(int64_t iters);

#endif

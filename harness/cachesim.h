/* harness/cachesim.h: cache-miss analysis without hardware counters: one kernel call under
 * valgrind's cache simulation (callgrind --cache-sim=yes), with this machine's cache
 * geometry from hwloc.
 *
 * How: `mbench counters KERNEL --sim` starts valgrind on mbench-vg (mbench built without
 * AVX-512, which valgrind cannot decode) in an internal mode (--sim-child) that sets the
 * problem up with instrumentation off, then turns it on (the simulated caches start empty),
 * runs one warm-up call (skipped with cold), dumps, runs the measured call and dumps again
 * (client requests). Only the measured call's dump is read: every instruction of every
 * thread in that call (the kernel, libm's exp, libgomp's barriers) and nothing else.
 * valgrind runs the threads one at a time on one simulated cache hierarchy: the misses are
 * those of a single core running all the work. */
#ifndef MB_CACHESIM_H
#define MB_CACHESIM_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "common/err.h"
#include "harness/pin.h"
#include "kernels/scan.h"

typedef struct {
    long long size; /* bytes */
    int ways;
    int line;       /* bytes */
} cachesim_cache;

/* What valgrind simulates: I1, D1 and one last level (LL). */
typedef struct {
    cachesim_cache i1, d1, ll;
    int ll_level;    /* the hwloc level LL stands for (2 or 3), 0 if given by hand */
    char notes[512]; /* what had to be adjusted for valgrind (associativity, set count) */
} cachesim_geom;

/* The geometry of this machine: L1i, L1d and, as LL, hwloc's level ll_level (0: the last
 * level hwloc reports). valgrind needs a power-of-two number of sets: where hwloc does not
 * know the associativity (or it gives another set count) the smallest associativity >= 8
 * giving a power-of-two set count is used, else the size is rounded down; notes says so. */
int cachesim_geom_from_topo(const pin_topo *t, int ll_level, cachesim_geom *g, mb_err *err);

/* Parses an LL spec: "l2", "l3" (hwloc levels) or "SIZE,WAYS[,LINE]" with SIZE in bytes or
 * with a K/M/G suffix (binary), into g->ll (the other levels are kept). */
int cachesim_geom_set_ll(const pin_topo *t, const char *spec, cachesim_geom *g, mb_err *err);

/* "I1 32768 B 8-way 64 B lines, D1 ..., LL ..." */
void cachesim_geom_describe(const cachesim_geom *g, char *buf, size_t len);

/* callgrind's events for one dump. LL write-backs (dirty evictions) come from
 * --simulate-wb=yes. */
typedef struct {
    double ir;               /* instructions executed */
    double dr, dw;           /* data reads, writes */
    double i1mr, d1mr, d1mw; /* L1 misses: instruction reads, data reads, data writes */
    double ilmr, dlmr, dlmw; /* LL misses */
    double ildmr, dldmr, dldmw; /* LL misses that evicted a dirty line (write-backs) */
} cachesim_counts;

/* Reads the totals of the callgrind dump in path whose trigger mentions `trigger`. */
int cachesim_parse(const char *path, cachesim_counts *c, char *trigger, size_t trigger_len, mb_err *err);

typedef struct {
    const scan_kernel *kernel;
    scan_shape shape;
    int threads;
    uint64_t seed;
    int chunk;
    bool cold;           /* no warm-up call: the simulated caches start empty */
    cachesim_geom geom;
} cachesim_request;

typedef struct cachesim_result {
    cachesim_request rq;
    cachesim_counts c;
    double updates;      /* B*L*D*N */
    double bytes_ll;     /* (LL misses + LL write-backs) x line: traffic to memory */
    double seconds;      /* wall time of the whole valgrind run */
    char binary[512];    /* the mbench-vg that ran */
} cachesim_result;

/* Path of mbench-vg: $MBENCH_VG, else next to the running executable, else where the build
 * put it. 0 or -1 with a message saying how to build it. */
int cachesim_vg_binary(char *buf, size_t len, mb_err *err);

/* Runs one simulated call (see the top of this file); -1 with valgrind's last lines in err
 * if it fails. */
int cachesim_run(const cachesim_request *rq, cachesim_result *res, mb_err *err);

/* The child side (inside valgrind): sets up, runs warm-up and measured calls between
 * callgrind client requests. Unpinned; returns 0 or -1. */
int cachesim_child(const cachesim_request *rq, mb_err *err);

/* Stable JSON keys: instructions, d1_read_misses, d1_write_misses, ll_read_misses,
 * ll_write_misses, ll_writebacks, each as {"total", "per_update"}, plus geometry, cold,
 * threads, serialised, bytes_per_update. */
json_t *cachesim_json(const cachesim_result *r);
void cachesim_text(FILE *f, const cachesim_result *r);

/* Flat keys for points.csv: sim_ll, sim_instructions, sim_d1_read_misses, sim_d1_write_misses,
 * sim_ll_read_misses, sim_ll_write_misses, sim_ll_writebacks (per call), and per state
 * update sim_instructions_per_update, sim_d1_misses_per_update, sim_ll_misses_per_update,
 * sim_bytes_per_update; sim_cold, sim_s. */
void cachesim_flat(json_t *o, const cachesim_result *r);

#endif

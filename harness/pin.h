/* harness/pin.h: the machine's topology (hwloc) and pinning of OpenMP threads to PUs. */
#ifndef MB_PIN_H
#define MB_PIN_H

#include <hwloc.h>
#include <limits.h>
#include <stdbool.h>

#include "common/err.h"

typedef enum { PIN_COMPACT = 0, PIN_SCATTER = 1, PIN_NONE = 2 } pin_mode;

typedef struct {
    hwloc_topology_t topo;
    int packages, cores, pus, numa_nodes;
    long long cache_bytes[4];  /* L1d, L2, L3 per instance (0 if absent) */
    int cache_line;            /* bytes (64 if hwloc does not say) */
    int cache_ways[4];         /* associativity (0 if unknown) */
} pin_topo;

int pin_topo_init(pin_topo *t, mb_err *err);
void pin_topo_free(pin_topo *t);

const char *pin_mode_name(pin_mode m);
int pin_mode_parse(const char *s, pin_mode *m); /* 0, or -1 for an unknown name */

/* Binds the `threads` OpenMP threads of the next parallel regions of that size:
 * compact fills the PUs in hwloc's logical order, scatter spreads threads across
 * packages and cores (hwloc_distrib), none lets every thread run anywhere. Each
 * thread's binding is then read back; `readback` receives a description such as
 * "0:P#0 1:P#1". Returns 0 or -1. */
int pin_threads(pin_topo *t, int threads, pin_mode mode, char *readback, size_t len, mb_err *err);

/* Re-reads the binding of the `threads` OpenMP threads (after a run) into readback. */
void pin_readback(pin_topo *t, int threads, char *readback, size_t len);

#endif

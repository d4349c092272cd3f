/* harness/counters.h: event counters around kernel calls, in repetitions separate from the
 * timed ones. Two sources:
 *
 *   - PAPI (hardware events: presets such as PAPI_TOT_CYC, PAPI_L3_TCM, and native names
 *     such as perf::CYCLES): one event set per pinned OpenMP thread, multiplexed when more
 *     events are asked than the CPU component has counters, values summed over threads.
 *     Where PAPI's CPU component is disabled (VMs without a PMU), every PAPI event is
 *     recorded as unavailable with PAPI's own reason; nothing fails.
 *   - Linux perf_event software events (task-clock, page-faults, context-switches,
 *     cpu-migrations, minor-faults, major-faults), opened directly with perf_event_open,
 *     one counter per thread; these work on VMs too.
 *
 * Usage: cnt_system_init once (PAPI library and thread support, what works here), then
 * cnt_set_init with the user's list, then cnt_measure around calls. */
#ifndef MB_COUNTERS_H
#define MB_COUNTERS_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "common/err.h"

#define CNT_MAX_EVENTS 16
#define CNT_NAME_LEN 128

typedef enum { CNT_SRC_PAPI = 0, CNT_SRC_PERF_SW = 1 } cnt_source;

/* The software events perf_event_open provides (index into cnt_sw_events). */
typedef struct {
    const char *name;  /* perf's name: "task-clock" */
    uint64_t config;   /* PERF_COUNT_SW_* */
    const char *unit;  /* "ns" or "" */
    const char *summary;
} cnt_sw_event;
extern const cnt_sw_event cnt_sw_events[];
extern const int cnt_sw_event_count;

/* What this machine offers (probed once). */
typedef struct {
    bool papi_init;          /* PAPI_library_init succeeded */
    char papi_version[32];
    int cpu_cidx;            /* PAPI component of the CPU's counters ("perf_event"), -1 if none */
    char cpu_component[64];  /* its name */
    bool papi_cpu_active;    /* that component is enabled */
    int papi_counters;       /* its hardware counters (0 if disabled) */
    char papi_reason[1200];  /* why PAPI events cannot be counted ("" if they can) */
    bool sw_ok[8];           /* [cnt_sw_event_count] perf_event_open works for the event */
    char sw_reason[8][128];  /* why not */
} cnt_system;

/* Probes PAPI (library init, thread support keyed by the kernel thread id, multiplexing)
 * and the software events. Never fails for an unavailable PMU: that is recorded in sys.
 * Returns -1 only if PAPI's library itself is unusable (version mismatch). */
int cnt_system_init(cnt_system *sys, mb_err *err);

/* One requested event. */
typedef struct {
    char name[CNT_NAME_LEN];  /* as the user wrote it */
    cnt_source src;
    int papi_code;            /* PAPI event code (CNT_SRC_PAPI) */
    int sw;                   /* index into cnt_sw_events (CNT_SRC_PERF_SW) */
    bool available;
    char reason[1300];        /* why not available ("" if available) */
    char descr[160];          /* PAPI's short description, or the software event's */
    const char *unit;
} cnt_event;

typedef struct {
    cnt_system sys;
    int n;
    cnt_event ev[CNT_MAX_EVENTS];
    int n_papi_avail;  /* available PAPI events */
    bool multiplex;    /* more PAPI events than counters: PAPI multiplexes (values are estimates) */
    int llc_level;     /* the last cache level (2 or 3), for bytes per update */
    int line_bytes;    /* cache line, for bytes per update */
} cnt_set;

/* Parses a comma-separated list of event names ("default" expands to the usual hardware
 * set plus the software events). Unknown names are errors (-1, naming the event);
 * known events this machine cannot count are kept, marked unavailable with the reason.
 * llc_level and line_bytes come from the topology (bytes per update = LLC misses x line). */
int cnt_set_init(cnt_set *s, const cnt_system *sys, const char *list, int llc_level, int line_bytes,
                 mb_err *err);

/* Names the unavailable events and PAPI's reason in one line (for a warning); 0 if all
 * events are available. */
int cnt_set_unavailable(const cnt_set *s, char *buf, size_t len);

/* Counter values of one point: per call (the mean of `reps` counted calls), summed over
 * the threads. */
typedef struct {
    const cnt_set *set;              /* the events (NULL: no counters asked) */
    int reps;                        /* counted calls */
    int threads;
    double value[CNT_MAX_EVENTS];    /* per call; NAN if unavailable */
    bool multiplexed;
    char error[512];                 /* a failure while counting ("" if none) */
} cnt_values;

/* Runs call(arg) `reps` times with every available event of s counting on each of the
 * `threads` OpenMP threads (which the caller has pinned; the kernel must use the same
 * number of threads so that libgomp reuses them). Counting starts and stops in parallel
 * regions of that size, around the calls. A counter that cannot be started is reported
 * in out->error (the values it would have given are NAN), not as a failure; -1 only if
 * call fails (its error in err). */
int cnt_measure(const cnt_set *s, int threads, int reps, int (*call)(void *arg, mb_err *err), void *arg,
                cnt_values *out, mb_err *err);

// ---- figures derived from the values (counters_report.c)

typedef struct {
    double ipc;                /* PAPI_TOT_INS / PAPI_TOT_CYC (NAN without both) */
    double llc_misses;         /* per call (NAN without an LLC miss event) */
    double llc_misses_per_update;
    double bytes_per_update;   /* LLC misses x line size / updates */
    const char *llc_event;     /* the event used, or NULL */
} cnt_derived;
void cnt_derive(const cnt_values *v, double updates, cnt_derived *d);

/* JSON object with stable keys: {"reps", "threads", "multiplexed", "papi": {...},
 * "events": [{"name", "source", "available", "reason"?, "total", "per_update", "unit"}],
 * "derived": {"ipc", "llc_event", "llc_misses_per_update", "bytes_per_update"}, "error"?} */
json_t *cnt_values_json(const cnt_values *v, double updates);
/* Text lines (indented like report_text). */
void cnt_values_text(FILE *f, const cnt_values *v, double updates);

/* Flat keys for points.csv: counters (the list), counters_unavailable (names: reason),
 * cnt_<event> for the default events (per call, summed over threads; event names
 * lowercased, '-' and ':' as '_'), cnt_other ("name=value;..." for any other event), ipc,
 * llc_misses_per_update, counter_bytes_per_update. */
void cnt_values_flat(json_t *o, const cnt_values *v, double updates);

/* JSON of what this machine can count (mbench info, meta.json). */
json_t *cnt_system_json(const cnt_system *sys);

#endif

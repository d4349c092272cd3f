/* harness/counters.c: PAPI and perf_event software counters around kernel calls (see
 * counters.h). The PAPI path is complete for machines with a PMU (event sets per thread,
 * multiplexing, every error with PAPI_strerror); on a VM without one, PAPI's CPU component
 * is disabled and every PAPI event is recorded as unavailable with PAPI's reason. */
#define _GNU_SOURCE
#include "counters.h"

#include <errno.h>
#include <linux/perf_event.h>
#include <math.h>
#include <omp.h>
#include <papi.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

const cnt_sw_event cnt_sw_events[] = {
    {"task-clock", PERF_COUNT_SW_TASK_CLOCK, "ns", "CPU time of the counted threads"},
    {"page-faults", PERF_COUNT_SW_PAGE_FAULTS, "", "page faults (minor + major)"},
    {"context-switches", PERF_COUNT_SW_CONTEXT_SWITCHES, "", "context switches"},
    {"cpu-migrations", PERF_COUNT_SW_CPU_MIGRATIONS, "", "moves of a thread to another CPU"},
    {"minor-faults", PERF_COUNT_SW_PAGE_FAULTS_MIN, "", "page faults served without I/O"},
    {"major-faults", PERF_COUNT_SW_PAGE_FAULTS_MAJ, "", "page faults that needed I/O"},
};
const int cnt_sw_event_count = (int)(sizeof cnt_sw_events / sizeof cnt_sw_events[0]);

/* The usual hardware set plus the software events. */
static const char cnt_default_list[] =
    "PAPI_TOT_CYC,PAPI_TOT_INS,PAPI_L1_DCM,PAPI_L2_TCM,PAPI_L3_TCM,task-clock,page-faults,"
    "context-switches,cpu-migrations";

/* The components PAPI uses for the CPU's own counters, most specific first. */
static const char *const cnt_cpu_components[] = {"perf_event", "perfctr", "perfmon2"};

// ---------------------------------------------------------------- perf_event_open

static long perf_open(uint64_t config, bool exclude_kernel)
{
    struct perf_event_attr a;
    memset(&a, 0, sizeof a);
    a.size = sizeof a;
    a.type = PERF_TYPE_SOFTWARE;
    a.config = config;
    a.disabled = 1;
    a.exclude_hv = 1;
    a.exclude_kernel = exclude_kernel;
    /* pid 0, cpu -1: the calling thread, wherever it runs */
    return syscall(SYS_perf_event_open, &a, 0, -1, -1, 0);
}

/* Opens a software counter for the calling thread; kernel-side counting first (page
 * faults happen in the kernel), user-only if perf_event_paranoid refuses that. */
static int perf_open_sw(uint64_t config)
{
    long fd = perf_open(config, false);
    if (fd < 0 && (errno == EACCES || errno == EPERM)) fd = perf_open(config, true);
    return (int)fd;
}

static int perf_read(int fd, double *v)
{
    uint64_t x = 0;
    if (read(fd, &x, sizeof x) != (ssize_t)sizeof x) return -1;
    *v = (double)x;
    return 0;
}

// ---------------------------------------------------------------- the system

/* PAPI needs a unique id per OS thread: the kernel's thread id. (omp_get_thread_num is
 * unique only within one team; it indexes our per-thread event sets instead.) */
static unsigned long cnt_thread_id(void) { return (unsigned long)syscall(SYS_gettid); }

int cnt_system_init(cnt_system *sys, mb_err *err)
{
    memset(sys, 0, sizeof *sys);
    sys->cpu_cidx = -1;
    for (int i = 0; i < cnt_sw_event_count; i++) {
        int fd = perf_open_sw(cnt_sw_events[i].config);
        if (fd >= 0) {
            sys->sw_ok[i] = true;
            close(fd);
        } else {
            snprintf(sys->sw_reason[i], sizeof sys->sw_reason[i], "perf_event_open: %s", strerror(errno));
        }
    }
    int ver = PAPI_library_init(PAPI_VER_CURRENT);
    if (ver != PAPI_VER_CURRENT) {
        if (ver > 0)
            return mb_fail(err, "PAPI library version %d.%d does not match the headers mbench was built with",
                           PAPI_VERSION_MAJOR(ver), PAPI_VERSION_MINOR(ver));
        snprintf(sys->papi_reason, sizeof sys->papi_reason, "PAPI_library_init failed: %s", PAPI_strerror(ver));
        return 0;
    }
    sys->papi_init = true;
    snprintf(sys->papi_version, sizeof sys->papi_version, "%d.%d.%d", PAPI_VERSION_MAJOR(ver),
             PAPI_VERSION_MINOR(ver), PAPI_VERSION_REVISION(ver));
    int rc = PAPI_thread_init(cnt_thread_id);
    if (rc != PAPI_OK) {
        snprintf(sys->papi_reason, sizeof sys->papi_reason, "PAPI_thread_init failed: %s", PAPI_strerror(rc));
        return 0;
    }
    for (size_t i = 0; i < sizeof cnt_cpu_components / sizeof *cnt_cpu_components && sys->cpu_cidx < 0; i++) {
        int c = PAPI_get_component_index(cnt_cpu_components[i]);
        if (c >= 0) sys->cpu_cidx = c;
    }
    if (sys->cpu_cidx < 0) {
        snprintf(sys->papi_reason, sizeof sys->papi_reason,
                 "PAPI was built without a CPU counter component (perf_event)");
        return 0;
    }
    const PAPI_component_info_t *ci = PAPI_get_component_info(sys->cpu_cidx);
    if (!ci) {
        snprintf(sys->papi_reason, sizeof sys->papi_reason, "PAPI_get_component_info failed");
        return 0;
    }
    snprintf(sys->cpu_component, sizeof sys->cpu_component, "%s", ci->name);
    if (ci->disabled) {
        snprintf(sys->papi_reason, sizeof sys->papi_reason, "PAPI component %s is disabled: %s", ci->name,
                 ci->disabled_reason);
        return 0;
    }
    sys->papi_cpu_active = true;
    sys->papi_counters = ci->num_cntrs;
    rc = PAPI_multiplex_init();
    if (rc != PAPI_OK)
        snprintf(sys->papi_reason, sizeof sys->papi_reason, "PAPI_multiplex_init failed: %s (no multiplexing)",
                 PAPI_strerror(rc));
    return 0;
}

json_t *cnt_system_json(const cnt_system *sys)
{
    json_t *o = json_object();
    json_t *p = json_object();
    json_object_set_new(p, "initialised", json_boolean(sys->papi_init));
    if (sys->papi_version[0]) json_object_set_new(p, "version", json_string(sys->papi_version));
    if (sys->cpu_component[0]) json_object_set_new(p, "cpu_component", json_string(sys->cpu_component));
    json_object_set_new(p, "available", json_boolean(sys->papi_cpu_active));
    if (sys->papi_cpu_active) json_object_set_new(p, "counters", json_integer(sys->papi_counters));
    if (sys->papi_reason[0]) json_object_set_new(p, "reason", json_string(sys->papi_reason));
    json_t *presets = json_array();
    if (sys->papi_cpu_active) {
        int code = PAPI_PRESET_MASK;
        if (PAPI_enum_event(&code, PAPI_ENUM_FIRST) == PAPI_OK) do {
                PAPI_event_info_t info;
                if (PAPI_query_event(code) == PAPI_OK && PAPI_get_event_info(code, &info) == PAPI_OK)
                    json_array_append_new(presets, json_string(info.symbol));
            } while (PAPI_enum_event(&code, PAPI_PRESET_ENUM_AVAIL) == PAPI_OK);
    }
    json_object_set_new(p, "presets_available", presets);
    json_object_set_new(o, "papi", p);
    json_t *sw = json_array();
    for (int i = 0; i < cnt_sw_event_count; i++) {
        json_t *e = json_object();
        json_object_set_new(e, "name", json_string(cnt_sw_events[i].name));
        json_object_set_new(e, "available", json_boolean(sys->sw_ok[i]));
        if (!sys->sw_ok[i]) json_object_set_new(e, "reason", json_string(sys->sw_reason[i]));
        json_array_append_new(sw, e);
    }
    json_object_set_new(o, "perf_software", sw);
    return o;
}

// ---------------------------------------------------------------- event names

/* A software event name: perf's ("page-faults"), with an optional "perf::" prefix, or the
 * kernel's PERF_COUNT_SW_PAGE_FAULTS; case-insensitive, '_' and '-' alike. -1 if none. */
static int sw_lookup(const char *name)
{
    const char *n = name;
    if (!strncasecmp(n, "perf::", 6)) n += 6;
    if (!strncasecmp(n, "PERF_COUNT_SW_", 14)) n += 14;
    char norm[CNT_NAME_LEN];
    size_t i = 0;
    for (; n[i] && i < sizeof norm - 1; i++) norm[i] = n[i] == '_' ? '-' : n[i];
    norm[i] = 0;
    if (!strcasecmp(norm, "faults")) return 1;
    if (!strcasecmp(norm, "cs")) return 2;
    if (!strcasecmp(norm, "migrations")) return 3;
    for (int k = 0; k < cnt_sw_event_count; k++)
        if (!strcasecmp(norm, cnt_sw_events[k].name)) return k;
    return -1;
}

static int resolve(cnt_set *s, const char *name, mb_err *err)
{
    if (s->n == CNT_MAX_EVENTS) return mb_fail(err, "--counters: at most %d events", CNT_MAX_EVENTS);
    for (int i = 0; i < s->n; i++)
        if (!strcasecmp(s->ev[i].name, name)) return 0; /* listed twice: count once */
    cnt_event *e = &s->ev[s->n];
    memset(e, 0, sizeof *e);
    if (strlen(name) >= sizeof e->name) return mb_fail(err, "--counters: event name too long: \"%.40s...\"", name);
    snprintf(e->name, sizeof e->name, "%s", name);
    e->unit = "";
    int sw = sw_lookup(name);
    if (sw >= 0) {
        e->src = CNT_SRC_PERF_SW;
        e->sw = sw;
        e->unit = cnt_sw_events[sw].unit;
        snprintf(e->descr, sizeof e->descr, "%s (perf_event software)", cnt_sw_events[sw].summary);
        e->available = s->sys.sw_ok[sw];
        if (!e->available) memcpy(e->reason, s->sys.sw_reason[sw], sizeof s->sys.sw_reason[sw]);
        s->n++;
        return 0;
    }
    e->src = CNT_SRC_PAPI;
    if (!s->sys.papi_init) {
        /* cannot even check the name: keep it, unavailable */
        snprintf(e->reason, sizeof e->reason, "%s", s->sys.papi_reason);
        s->n++;
        return 0;
    }
    int code = 0, rc = PAPI_event_name_to_code(name, &code);
    bool preset_name = !strncmp(name, "PAPI_", 5);
    if (rc != PAPI_OK) {
        /* Presets are named by PAPI whatever the hardware: an unknown PAPI_ name is a typo.
         * Native names can only be checked where the CPU component is active. */
        if (preset_name || s->sys.papi_cpu_active)
            return mb_fail(err, "--counters: unknown event \"%s\" (PAPI: %s)%s", name, PAPI_strerror(rc),
                           preset_name ? "" : "; software events: task-clock, page-faults, context-switches, "
                                              "cpu-migrations, minor-faults, major-faults");
        snprintf(e->reason, sizeof e->reason, "not resolvable here (an unknown name, or a native event of a disabled component): %s",
                 s->sys.papi_reason);
        s->n++;
        return 0;
    }
    e->papi_code = code;
    PAPI_event_info_t info;
    if (PAPI_get_event_info(code, &info) == PAPI_OK) snprintf(e->descr, sizeof e->descr, "%s", info.short_descr);
    if (!s->sys.papi_cpu_active) {
        snprintf(e->reason, sizeof e->reason, "%s", s->sys.papi_reason);
    } else if ((rc = PAPI_query_event(code)) != PAPI_OK) {
        snprintf(e->reason, sizeof e->reason, "PAPI: %s on this CPU (%s)", PAPI_strerror(rc), name);
    } else {
        e->available = true;
        s->n_papi_avail++;
    }
    s->n++;
    return 0;
}

int cnt_set_init(cnt_set *s, const cnt_system *sys, const char *list, int llc_level, int line_bytes,
                 mb_err *err)
{
    memset(s, 0, sizeof *s);
    s->sys = *sys;
    s->llc_level = llc_level;
    s->line_bytes = line_bytes > 0 ? line_bytes : 64;
    char tmp[1024];
    if (strlen(list) >= sizeof tmp) return mb_fail(err, "--counters: list too long");
    snprintf(tmp, sizeof tmp, "%s", list);
    char *save = NULL;
    for (char *tok = strtok_r(tmp, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        while (*tok == ' ') tok++;
        size_t len = strlen(tok);
        while (len && tok[len - 1] == ' ') tok[--len] = 0;
        if (!len) continue;
        if (!strcasecmp(tok, "default")) {
            char d[sizeof cnt_default_list], *save2 = NULL;
            snprintf(d, sizeof d, "%s", cnt_default_list);
            for (char *t2 = strtok_r(d, ",", &save2); t2; t2 = strtok_r(NULL, ",", &save2))
                if (resolve(s, t2, err)) return -1;
        } else if (resolve(s, tok, err)) {
            return -1;
        }
    }
    if (s->n == 0) return mb_fail(err, "--counters: expected a comma-separated list of events, got \"%s\"", list);
    s->multiplex = s->n_papi_avail > s->sys.papi_counters;
    return 0;
}

int cnt_set_unavailable(const cnt_set *s, char *buf, size_t len)
{
    int n = 0;
    size_t off = 0;
    buf[0] = 0;
    const char *reason = NULL;
    bool same = true;
    for (int i = 0; i < s->n; i++) {
        if (s->ev[i].available) continue;
        off += (size_t)snprintf(buf + off, off < len ? len - off : 0, "%s%s", n ? ", " : "", s->ev[i].name);
        if (reason && strcmp(reason, s->ev[i].reason)) same = false;
        reason = s->ev[i].reason;
        n++;
    }
    if (n && off < len) {
        if (same) snprintf(buf + off, len - off, " unavailable: %s", reason);
        else snprintf(buf + off, len - off, " unavailable (see the reason of each in --json)");
    }
    return n;
}

// ---------------------------------------------------------------- counting

/* Per-thread state of one measurement: [threads] event sets, [threads][n] perf fds. */
typedef struct {
    int threads, n;
    int *es;     /* [threads] PAPI event sets (PAPI_NULL if none) */
    int *fd;     /* [threads][n] (-1 if none) */
    double *val; /* [threads][n] */
    bool *ok;    /* [threads][n] value read */
    char *error; /* first error (shared; written under a critical section) */
    size_t error_len;
    bool multiplexed;
} cnt_run;

static void run_error(cnt_run *r, const char *fmt, int tid, const char *what, const char *why)
{
#pragma omp critical(cnt_error)
    if (!r->error[0]) snprintf(r->error, r->error_len, fmt, tid, what, why);
}

/* In thread tid: builds and starts the PAPI event set (multiplexed if asked or if the
 * events conflict) and opens and enables the software counters. */
static void thread_start(const cnt_set *s, cnt_run *r, int tid)
{
    int *fd = r->fd + (size_t)tid * r->n;
    for (int i = 0; i < s->n; i++) {
        const cnt_event *e = &s->ev[i];
        if (e->src != CNT_SRC_PERF_SW || !e->available) continue;
        fd[i] = perf_open_sw(cnt_sw_events[e->sw].config);
        if (fd[i] < 0) {
            run_error(r, "thread %d: perf_event_open(%s): %s", tid, e->name, strerror(errno));
            continue;
        }
        ioctl(fd[i], PERF_EVENT_IOC_RESET, 0);
    }
    if (s->n_papi_avail > 0) {
        int rc = PAPI_register_thread();
        if (rc != PAPI_OK) {
            run_error(r, "thread %d: %s: %s", tid, "PAPI_register_thread", PAPI_strerror(rc));
            goto sw;
        }
        bool mpx = s->multiplex;
        for (int attempt = 0; attempt < 2; attempt++) {
            int es = PAPI_NULL;
            if ((rc = PAPI_create_eventset(&es)) != PAPI_OK) {
                run_error(r, "thread %d: %s: %s", tid, "PAPI_create_eventset", PAPI_strerror(rc));
                goto sw;
            }
            /* a multiplexed set must be bound to its component before PAPI_set_multiplex */
            if ((rc = PAPI_assign_eventset_component(es, s->sys.cpu_cidx)) != PAPI_OK ||
                (mpx && (rc = PAPI_set_multiplex(es)) != PAPI_OK)) {
                run_error(r, "thread %d: %s: %s", tid, mpx ? "PAPI_set_multiplex" : "PAPI_assign_eventset_component",
                          PAPI_strerror(rc));
                PAPI_destroy_eventset(&es);
                goto sw;
            }
            bool conflict = false, failed = false;
            for (int i = 0; i < s->n && !conflict && !failed; i++) {
                const cnt_event *e = &s->ev[i];
                if (e->src != CNT_SRC_PAPI || !e->available) continue;
                rc = PAPI_add_event(es, e->papi_code);
                if (rc == PAPI_ECNFLCT && !mpx) conflict = true;
                else if (rc != PAPI_OK) {
                    /* all or nothing: PAPI_stop returns values in the order of the adds */
                    run_error(r, "thread %d: PAPI_add_event(%s): %s", tid, e->name, PAPI_strerror(rc));
                    failed = true;
                }
            }
            if (conflict || failed) {
                PAPI_cleanup_eventset(es);
                PAPI_destroy_eventset(&es);
                if (failed) goto sw;
                mpx = true; /* the events do not fit the counters together: multiplex */
                continue;
            }
            r->es[tid] = es;
            break;
        }
        if (mpx) r->multiplexed = true;
    }
sw:
    if (r->es[tid] != PAPI_NULL) {
        int rc = PAPI_start(r->es[tid]);
        if (rc != PAPI_OK) {
            run_error(r, "thread %d: %s: %s", tid, "PAPI_start", PAPI_strerror(rc));
            PAPI_cleanup_eventset(r->es[tid]);
            PAPI_destroy_eventset(&r->es[tid]);
            r->es[tid] = PAPI_NULL;
        }
    }
    for (int i = 0; i < s->n; i++)
        if (fd[i] >= 0) ioctl(fd[i], PERF_EVENT_IOC_ENABLE, 0);
}

/* In thread tid: stops and reads everything thread_start set up, then releases it. */
static void thread_stop(const cnt_set *s, cnt_run *r, int tid)
{
    int *fd = r->fd + (size_t)tid * r->n;
    double *val = r->val + (size_t)tid * r->n;
    bool *ok = r->ok + (size_t)tid * r->n;
    for (int i = 0; i < s->n; i++) {
        if (fd[i] < 0) continue;
        ioctl(fd[i], PERF_EVENT_IOC_DISABLE, 0);
        if (perf_read(fd[i], &val[i])) run_error(r, "thread %d: reading %s: %s", tid, s->ev[i].name, strerror(errno));
        else ok[i] = true;
        close(fd[i]);
        fd[i] = -1;
    }
    if (r->es[tid] == PAPI_NULL) return;
    long long v[CNT_MAX_EVENTS] = {0};
    int rc = PAPI_stop(r->es[tid], v);
    if (rc != PAPI_OK) {
        run_error(r, "thread %d: %s: %s", tid, "PAPI_stop", PAPI_strerror(rc));
    } else {
        /* PAPI returns the values in the order the events were added */
        int k = 0;
        for (int i = 0; i < s->n; i++)
            if (s->ev[i].src == CNT_SRC_PAPI && s->ev[i].available) {
                val[i] = (double)v[k++];
                ok[i] = true;
            }
    }
    PAPI_cleanup_eventset(r->es[tid]);
    PAPI_destroy_eventset(&r->es[tid]);
    r->es[tid] = PAPI_NULL;
    /* the thread stays registered: libgomp keeps it for the next measurement */
}

int cnt_measure(const cnt_set *s, int threads, int reps, int (*call)(void *arg, mb_err *err), void *arg,
                cnt_values *out, mb_err *err)
{
    memset(out, 0, sizeof *out);
    out->set = s;
    out->threads = threads;
    for (int i = 0; i < CNT_MAX_EVENTS; i++) out->value[i] = NAN;
    if (threads < 1 || reps < 1) return mb_fail(err, "counters: threads and reps must be >= 1");
    cnt_run r = {.threads = threads, .n = s->n, .error = out->error, .error_len = sizeof out->error};
    int rc = 0;
    r.es = malloc((size_t)threads * sizeof *r.es);
    r.fd = malloc((size_t)threads * (size_t)s->n * sizeof *r.fd);
    r.val = calloc((size_t)threads * (size_t)s->n, sizeof *r.val);
    r.ok = calloc((size_t)threads * (size_t)s->n, sizeof *r.ok);
    if (!r.es || !r.fd || !r.val || !r.ok) {
        rc = mb_fail(err, "out of memory (counters)");
        goto done;
    }
    for (int t = 0; t < threads; t++) r.es[t] = PAPI_NULL;
    for (int i = 0; i < threads * s->n; i++) r.fd[i] = -1;

#pragma omp parallel num_threads(threads)
    thread_start(s, &r, omp_get_thread_num());
    int called = 0;
    for (; called < reps; called++)
        if (call(arg, err)) {
            rc = -1;
            break;
        }
#pragma omp parallel num_threads(threads)
    thread_stop(s, &r, omp_get_thread_num());
    if (rc) goto done;

    out->reps = reps;
    out->multiplexed = r.multiplexed;
    for (int i = 0; i < s->n; i++) {
        if (!s->ev[i].available) continue;
        double sum = 0;
        bool all = true; /* an event that failed on some thread has no value */
        for (int t = 0; t < threads; t++) {
            sum += r.val[(size_t)t * s->n + i];
            all = all && r.ok[(size_t)t * s->n + i];
        }
        out->value[i] = all ? sum / reps : NAN;
    }
done:
    free(r.es);
    free(r.fd);
    free(r.val);
    free(r.ok);
    return rc;
}

/* tests/test_counters.c: counter event names, the unavailable path (a machine without a
 * PMU must say which component is disabled and why, and keep going), software events
 * that count something real (page faults of a fresh allocation), and the derived figures. */
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "check.h"
#include "harness/counters.h"

static int find(const cnt_set *s, const char *name)
{
    for (int i = 0; i < s->n; i++)
        if (!strcmp(s->ev[i].name, name)) return i;
    return -1;
}

// ---------------------------------------------------------------- a call that faults

typedef struct {
    size_t bytes;
    int threads;
} fresh_arg;

/* Maps fresh anonymous memory, writes one byte per page from `threads` threads (static
 * split), unmaps it: at least bytes / page size page faults, on every thread. */
static int fresh_touch(void *arg, mb_err *err)
{
    fresh_arg *a = arg;
    unsigned char *p = mmap(NULL, a->bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return mb_fail(err, "mmap failed");
    const long page = sysconf(_SC_PAGESIZE);
    const long pages = (long)(a->bytes / (size_t)page);
#pragma omp parallel for schedule(static) num_threads(a->threads)
    for (long i = 0; i < pages; i++) p[i * page] = (unsigned char)i;
    munmap(p, a->bytes);
    return 0;
}

static int failing_call(void *arg, mb_err *err)
{
    (void)arg;
    return mb_fail(err, "the call failed on purpose");
}

int main(void)
{
    mb_err err;
    cnt_system sys;
    CHECK(cnt_system_init(&sys, &err) == 0, "%s", err.msg);
    cnt_set s;

    // ---- names: software events in perf's, PAPI's and the kernel's spellings
    CHECK(cnt_set_init(&s, &sys, "task-clock,perf::PAGE_FAULTS,PERF_COUNT_SW_CONTEXT_SWITCHES,migrations,cs", 3, 64,
                       &err) == 0, "%s", err.msg);
    CHECK(s.n == 5, "5 events, got %d", s.n);
    const char *want[] = {"task-clock", "page-faults", "context-switches", "cpu-migrations", "context-switches"};
    for (int i = 0; i < s.n && i < 5; i++) {
        CHECK(s.ev[i].src == CNT_SRC_PERF_SW, "%s is a software event", s.ev[i].name);
        CHECK(!strcmp(cnt_sw_events[s.ev[i].sw].name, want[i]), "%s -> %s", s.ev[i].name, cnt_sw_events[s.ev[i].sw].name);
    }
    CHECK(cnt_set_init(&s, &sys, "task-clock, task-clock ,TASK-CLOCK", 3, 64, &err) == 0, "%s", err.msg);
    CHECK(s.n == 1, "a repeated event is counted once (n = %d)", s.n);

    // ---- names: PAPI presets resolve by name whatever the hardware; typos are errors
    CHECK(cnt_set_init(&s, &sys, "PAPI_BOGUS_EVENT", 3, 64, &err) == -1, "PAPI_BOGUS_EVENT must be refused");
    CHECK(strstr(err.msg, "unknown event \"PAPI_BOGUS_EVENT\"") != NULL, "message: %s", err.msg);
    CHECK(cnt_set_init(&s, &sys, "", 3, 64, &err) == -1, "an empty list must be refused");
    CHECK(cnt_set_init(&s, &sys, "task-clock,PAPI_L1_DCM,PAPI_TOT_CYC", 3, 64, &err) == 0, "%s", err.msg);
    int l1 = find(&s, "PAPI_L1_DCM");
    CHECK(l1 >= 0 && s.ev[l1].src == CNT_SRC_PAPI, "PAPI_L1_DCM is a PAPI event");
    if (sys.papi_init) CHECK(l1 >= 0 && s.ev[l1].papi_code != 0, "PAPI_L1_DCM has a code");
    CHECK(cnt_set_init(&s, &sys, "default", 3, 64, &err) == 0, "%s", err.msg);
    CHECK(s.n == 9 && find(&s, "PAPI_L3_TCM") >= 0 && find(&s, "page-faults") >= 0, "default: %d events", s.n);
    char many[1024] = "";
    for (int i = 0; i < CNT_MAX_EVENTS + 1; i++)
        snprintf(many + strlen(many), sizeof many - strlen(many), "%sperf::X%d", i ? "," : "", i);
    CHECK(cnt_set_init(&s, &sys, many, 3, 64, &err) == -1 && strstr(err.msg, "at most"), "too many events: %s",
          err.msg);

    // ---- the unavailable path: which component, PAPI's own reason, and counting goes on
    CHECK(cnt_set_init(&s, &sys, "PAPI_TOT_CYC,page-faults", 3, 64, &err) == 0, "%s", err.msg);
    char why[2048];
    int nun = cnt_set_unavailable(&s, why, sizeof why);
    if (!sys.papi_cpu_active) {
        printf("PAPI unavailable here: %s\n", sys.papi_reason);
        CHECK(sys.papi_reason[0] != 0, "a disabled PAPI must carry a reason");
        CHECK(!sys.papi_init || sys.cpu_cidx < 0 || strstr(sys.papi_reason, sys.cpu_component),
              "the reason names the component: %s", sys.papi_reason);
        CHECK(nun == 1 && strstr(why, "PAPI_TOT_CYC") && strstr(why, sys.papi_reason), "unavailable: %s", why);
        CHECK(!s.ev[0].available && strstr(s.ev[0].reason, sys.papi_reason), "event reason: %s", s.ev[0].reason);
    } else {
        CHECK(nun == 0, "PAPI active: PAPI_TOT_CYC is available here (%s)", why);
    }

    // ---- software events count something real: faults of fresh memory, on every thread
    int psw = find(&s, "page-faults");
    if (psw >= 0 && s.ev[psw].available) {
        for (int threads = 1; threads <= 2; threads++) {
            fresh_arg a = {.bytes = 16u << 20, .threads = threads};
            cnt_values v;
            CHECK(cnt_measure(&s, threads, 2, fresh_touch, &a, &v, &err) == 0, "%s", err.msg);
            const double pages = (double)a.bytes / (double)sysconf(_SC_PAGESIZE);
            /* transparent huge pages could fault 2 MiB at once: then count only what THP allows */
            double floor = pages;
            FILE *f = fopen("/sys/kernel/mm/transparent_hugepage/enabled", "r");
            char thp[128] = "";
            if (f) {
                if (!fgets(thp, sizeof thp, f)) thp[0] = 0;
                fclose(f);
            }
            if (strstr(thp, "[always]")) floor = (double)a.bytes / (2 << 20);
            printf("threads %d: %.0f page faults per call of %zu fresh bytes (>= %.0f expected; THP: %s)\n", threads,
                   v.value[psw], a.bytes, floor, thp[0] ? strtok(thp, "\n") : "?");
            CHECK(v.value[psw] >= floor, "page faults %.0f < %.0f", v.value[psw], floor);
            CHECK(v.value[psw] < 4 * pages + 1000, "page faults %.0f implausibly many", v.value[psw]);
            CHECK(isnan(v.value[0]) == !s.ev[0].available, "an unavailable event has no value");
            CHECK(v.reps == 2 && v.threads == threads, "reps %d threads %d", v.reps, v.threads);
            CHECK(v.error[0] == 0, "counting error: %s", v.error);
        }
    } else {
        printf("page-faults cannot be counted here: %s\n", psw >= 0 ? s.ev[psw].reason : "?");
    }

    // ---- task-clock: CPU time, summed over threads, close to the wall time of a busy call
    CHECK(cnt_set_init(&s, &sys, "task-clock", 3, 64, &err) == 0, "%s", err.msg);
    if (s.ev[0].available) {
        fresh_arg a = {.bytes = 8u << 20, .threads = 1};
        cnt_values v;
        CHECK(cnt_measure(&s, 1, 3, fresh_touch, &a, &v, &err) == 0, "%s", err.msg);
        CHECK(v.value[0] > 0 && v.value[0] < 10e9, "task-clock %.0f ns per call", v.value[0]);
    }
    // a failing call is an error of the measurement (not a silent zero)
    CHECK(cnt_measure(&s, 1, 2, failing_call, NULL, &(cnt_values){0}, &err) == -1 &&
          strstr(err.msg, "on purpose"), "failing call: %s", err.msg);

    // ---- derived figures from values worked by hand
    CHECK(cnt_set_init(&s, &sys, "PAPI_TOT_CYC,PAPI_TOT_INS,PAPI_L3_TCM,PAPI_L2_TCM", 3, 64, &err) == 0, "%s", err.msg);
    cnt_values v = {.set = &s, .reps = 1, .threads = 1};
    for (int i = 0; i < CNT_MAX_EVENTS; i++) v.value[i] = NAN;
    v.value[0] = 2000, v.value[1] = 5000, v.value[2] = 100, v.value[3] = 400;
    cnt_derived d;
    cnt_derive(&v, 1000, &d);
    CHECK_NEAR(d.ipc, 2.5, 1e-12, "IPC = 5000 / 2000");
    CHECK(d.llc_event && !strcmp(d.llc_event, "PAPI_L3_TCM"), "LLC event of a 3-level machine");
    CHECK_NEAR(d.llc_misses_per_update, 0.1, 1e-12, "100 misses / 1000 updates");
    CHECK_NEAR(d.bytes_per_update, 6.4, 1e-12, "x 64-byte lines");
    s.llc_level = 2;
    cnt_derive(&v, 1000, &d);
    CHECK(d.llc_event && !strcmp(d.llc_event, "PAPI_L2_TCM") && fabs(d.bytes_per_update - 25.6) < 1e-12,
          "2-level machine uses L2 misses");
    v.value[0] = NAN;
    cnt_derive(&v, 1000, &d);
    CHECK(isnan(d.ipc), "no IPC without cycles");
    json_t *j = cnt_values_json(&v, 1000);
    CHECK(json_is_array(json_object_get(j, "events")) && json_array_size(json_object_get(j, "events")) == 4,
          "json events");
    CHECK(json_is_null(json_object_get(json_object_get(j, "derived"), "ipc")), "json ipc null");
    json_decref(j);
    return check_report("test_counters");
}

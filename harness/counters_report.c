/* harness/counters_report.c: figures derived from counter values (IPC, LLC misses and
 * bytes per state update) and their text and JSON forms (see counters.h). */
#include <ctype.h>
#include <math.h>
#include <string.h>
#include <strings.h>

#include "harness/counters.h"

static json_t *num(double v) { return isfinite(v) ? json_real(v) : json_null(); }

/* Index of the first event among names that has a value, or -1. */
static int find_value(const cnt_values *v, const char *const *names, int n)
{
    for (int k = 0; k < n; k++)
        for (int i = 0; i < v->set->n; i++)
            if (!strcasecmp(v->set->ev[i].name, names[k]) && isfinite(v->value[i])) return i;
    return -1;
}

void cnt_derive(const cnt_values *v, double updates, cnt_derived *d)
{
    *d = (cnt_derived){.ipc = NAN, .llc_misses = NAN, .llc_misses_per_update = NAN, .bytes_per_update = NAN};
    if (!v->set) return;
    const char *cyc[] = {"PAPI_TOT_CYC", "perf::CYCLES", "perf::CPU-CYCLES"};
    const char *ins[] = {"PAPI_TOT_INS", "perf::INSTRUCTIONS"};
    int ic = find_value(v, cyc, 3), ii = find_value(v, ins, 2);
    if (ic >= 0 && ii >= 0 && v->value[ic] > 0) d->ipc = v->value[ii] / v->value[ic];
    /* the last level's misses: total (data + instructions) first, then data, then loads */
    const char *l3[] = {"PAPI_L3_TCM", "PAPI_L3_DCM", "PAPI_L3_LDM", "perf::LLC-LOAD-MISSES", "perf::CACHE-MISSES"};
    const char *l2[] = {"PAPI_L2_TCM", "PAPI_L2_DCM", "PAPI_L2_LDM", "perf::LLC-LOAD-MISSES", "perf::CACHE-MISSES"};
    int il = find_value(v, v->set->llc_level >= 3 ? l3 : l2, 5);
    if (il < 0) return;
    d->llc_event = v->set->ev[il].name;
    d->llc_misses = v->value[il];
    if (updates > 0) {
        d->llc_misses_per_update = d->llc_misses / updates;
        d->bytes_per_update = d->llc_misses * v->set->line_bytes / updates;
    }
}

json_t *cnt_values_json(const cnt_values *v, double updates)
{
    json_t *o = json_object();
    const cnt_set *s = v->set;
    json_object_set_new(o, "reps", json_integer(v->reps));
    json_object_set_new(o, "threads", json_integer(v->threads));
    json_object_set_new(o, "multiplexed", json_boolean(v->multiplexed));
    json_t *p = json_object();
    json_object_set_new(p, "available", json_boolean(s->sys.papi_cpu_active));
    if (s->sys.cpu_component[0]) json_object_set_new(p, "component", json_string(s->sys.cpu_component));
    if (s->sys.papi_reason[0]) json_object_set_new(p, "reason", json_string(s->sys.papi_reason));
    json_object_set_new(o, "papi", p);
    json_t *evs = json_array();
    for (int i = 0; i < s->n; i++) {
        const cnt_event *e = &s->ev[i];
        json_t *j = json_object();
        json_object_set_new(j, "name", json_string(e->name));
        json_object_set_new(j, "source", json_string(e->src == CNT_SRC_PAPI ? "papi" : "perf_software"));
        json_object_set_new(j, "available", json_boolean(e->available));
        if (!e->available) json_object_set_new(j, "reason", json_string(e->reason));
        json_object_set_new(j, "unit", json_string(e->unit ? e->unit : ""));
        json_object_set_new(j, "total", num(v->value[i]));
        json_object_set_new(j, "per_update", num(updates > 0 ? v->value[i] / updates : NAN));
        json_array_append_new(evs, j);
    }
    json_object_set_new(o, "events", evs);
    cnt_derived d;
    cnt_derive(v, updates, &d);
    json_t *dj = json_object();
    json_object_set_new(dj, "ipc", num(d.ipc));
    json_object_set_new(dj, "llc_event", d.llc_event ? json_string(d.llc_event) : json_null());
    json_object_set_new(dj, "llc_misses_per_update", num(d.llc_misses_per_update));
    json_object_set_new(dj, "bytes_per_update", num(d.bytes_per_update));
    json_object_set_new(dj, "line_bytes", json_integer(s->line_bytes));
    json_object_set_new(o, "derived", dj);
    if (v->error[0]) json_object_set_new(o, "error", json_string(v->error));
    return o;
}

void cnt_values_text(FILE *f, const cnt_values *v, double updates)
{
    const cnt_set *s = v->set;
    fprintf(f, "  counters    per call, summed over %d thread%s (mean of %d counted calls, separate from the timed ones)%s\n",
            v->threads, v->threads > 1 ? "s" : "", v->reps, v->multiplexed ? "; multiplexed: estimates" : "");
    for (int i = 0; i < s->n; i++) {
        const cnt_event *e = &s->ev[i];
        if (!e->available) {
            fprintf(f, "    %-22s unavailable: %s\n", e->name, e->reason);
        } else if (!isfinite(v->value[i])) {
            fprintf(f, "    %-22s not counted (see the error below)\n", e->name);
        } else {
            fprintf(f, "    %-22s %14.6g %-2s  %12.4g %s%sper state update\n", e->name, v->value[i], e->unit,
                    updates > 0 ? v->value[i] / updates : NAN, e->unit[0] ? e->unit : "", e->unit[0] ? " " : "");
        }
    }
    cnt_derived d;
    cnt_derive(v, updates, &d);
    if (isfinite(d.ipc)) fprintf(f, "    IPC                    %.3f\n", d.ipc);
    if (d.llc_event)
        fprintf(f, "    LLC (%s)     %.4g misses per update, %.4g bytes per update (x %d-byte lines)\n", d.llc_event,
                d.llc_misses_per_update, d.bytes_per_update, s->line_bytes);
    if (v->error[0]) fprintf(f, "    error: %s\n", v->error);
}

void cnt_values_flat(json_t *o, const cnt_values *v, double updates)
{
    const cnt_set *s = v->set;
    char list[1024] = "", unav[2048] = "", other[2048] = "";
    size_t ol = 0, ou = 0, oo = 0;
    for (int i = 0; i < s->n; i++) {
        const cnt_event *e = &s->ev[i];
        ol += (size_t)snprintf(list + ol, ol < sizeof list ? sizeof list - ol : 0, "%s%s", i ? "," : "", e->name);
        if (!e->available) continue; /* listed with the reason below */
        /* the default events have their own column; any other goes to cnt_other */
        char key[CNT_NAME_LEN + 8] = "cnt_";
        size_t k = 4;
        const char *n = e->src == CNT_SRC_PERF_SW ? cnt_sw_events[e->sw].name : e->name;
        for (; *n && k < sizeof key - 1; n++) key[k++] = (*n == '-' || *n == ':') ? '_' : (char)tolower(*n);
        key[k] = 0;
        static const char *const cols[] = {"cnt_papi_tot_cyc", "cnt_papi_tot_ins", "cnt_papi_l1_dcm", "cnt_papi_l2_tcm",
                                           "cnt_papi_l3_tcm", "cnt_task_clock", "cnt_page_faults",
                                           "cnt_context_switches", "cnt_cpu_migrations"};
        bool own = false;
        for (size_t c = 0; c < sizeof cols / sizeof *cols; c++)
            if (!strcmp(key, cols[c])) own = true;
        if (own) json_object_set_new(o, key, num(v->value[i]));
        else
            oo += (size_t)snprintf(other + oo, oo < sizeof other ? sizeof other - oo : 0, "%s%s=%.9g", oo ? ";" : "",
                                   e->name, v->value[i]);
    }
    json_object_set_new(o, "counters", json_string(list));
    (void)ou;
    if (cnt_set_unavailable(s, unav, sizeof unav)) json_object_set_new(o, "counters_unavailable", json_string(unav));
    if (other[0]) json_object_set_new(o, "cnt_other", json_string(other));
    cnt_derived d;
    cnt_derive(v, updates, &d);
    json_object_set_new(o, "ipc", num(d.ipc));
    json_object_set_new(o, "llc_misses_per_update", num(d.llc_misses_per_update));
    json_object_set_new(o, "counter_bytes_per_update", num(d.bytes_per_update));
}

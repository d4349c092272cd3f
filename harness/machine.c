/* harness/machine.c: the machine and build description (see machine.h). */
#include "machine.h"

#include "mb_version.h"
#include "harness/counters.h"
#include "harness/shard.h"

#include <cblas.h>
#include <papi.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>

void machine_cpu_model(char *buf, size_t len)
{
    snprintf(buf, len, "unknown");
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f) return;
    char line[512];
    while (fgets(line, sizeof line, f)) {
        if (!strncmp(line, "model name", 10)) {
            char *c = strchr(line, ':');
            if (c) {
                c++;
                while (*c == ' ') c++;
                c[strcspn(c, "\n")] = 0;
                snprintf(buf, len, "%s", c);
            }
            break;
        }
    }
    fclose(f);
}

/* First line of a sysfs/procfs file, or "unreadable (path)". */
static json_t *read_fact(const char *path)
{
    FILE *f = fopen(path, "r");
    char line[256] = "";
    if (!f || !fgets(line, sizeof line, f)) {
        if (f) fclose(f);
        char msg[300];
        snprintf(msg, sizeof msg, "unreadable (%s)", path);
        return json_string(msg);
    }
    fclose(f);
    line[strcspn(line, "\n")] = 0;
    return json_string(line);
}

static json_t *cpu_flags(void)
{
    json_t *a = json_array();
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f) return a;
    char line[8192];
    const char *want[] = {"avx2", "fma", "avx512f", "avx512bw", "avx512vl", "avx512_bf16", "avx512vnni"};
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "flags", 5)) continue;
        for (size_t i = 0; i < sizeof want / sizeof *want; i++) {
            char pat[32];
            snprintf(pat, sizeof pat, " %s ", want[i]);
            if (strstr(line, pat)) json_array_append_new(a, json_string(want[i]));
        }
        break;
    }
    fclose(f);
    return a;
}

static json_t *papi_describe(void)
{
    json_t *o = json_object();
    int ver = PAPI_library_init(PAPI_VER_CURRENT);
    if (ver != PAPI_VER_CURRENT) {
        json_object_set_new(o, "status", json_string(ver > 0 ? "version mismatch" : PAPI_strerror(ver)));
        return o;
    }
    char v[32];
    snprintf(v, sizeof v, "%d.%d.%d", PAPI_VERSION_MAJOR(ver), PAPI_VERSION_MINOR(ver),
             PAPI_VERSION_REVISION(ver));
    json_object_set_new(o, "version", json_string(v));
    json_t *comps = json_array();
    int n = PAPI_num_components();
    for (int i = 0; i < n; i++) {
        const PAPI_component_info_t *ci = PAPI_get_component_info(i);
        if (!ci) continue;
        json_t *c = json_object();
        json_object_set_new(c, "name", json_string(ci->name));
        json_object_set_new(c, "active", json_boolean(!ci->disabled));
        if (ci->disabled) json_object_set_new(c, "disabled_reason", json_string(ci->disabled_reason));
        else json_object_set_new(c, "counters", json_integer(ci->num_cntrs));
        json_array_append_new(comps, c);
    }
    json_object_set_new(o, "components", comps);
    return o;
}

json_t *machine_describe(pin_topo *t)
{
    json_t *m = json_object();
    char buf[256];
    machine_cpu_model(buf, sizeof buf);
    json_object_set_new(m, "cpu", json_string(buf));
    json_object_set_new(m, "cpu_flags", cpu_flags());
    struct utsname u;
    if (!uname(&u)) {
        json_object_set_new(m, "hostname", json_string(u.nodename));
        snprintf(buf, sizeof buf, "%s %s %s", u.sysname, u.release, u.machine);
        json_object_set_new(m, "kernel", json_string(buf));
    }
    json_t *topo = json_object();
    json_object_set_new(topo, "packages", json_integer(t->packages));
    json_object_set_new(topo, "numa_nodes", json_integer(t->numa_nodes));
    json_object_set_new(topo, "cores", json_integer(t->cores));
    json_object_set_new(topo, "pus", json_integer(t->pus));
    json_object_set_new(topo, "smt", json_boolean(t->pus > t->cores));
    const char *names[4] = {"l1d_bytes", "l2_bytes", "l3_bytes", "l4_bytes"};
    for (int i = 0; i < 4; i++)
        if (t->cache_bytes[i]) json_object_set_new(topo, names[i], json_integer(t->cache_bytes[i]));
    json_object_set_new(topo, "cache_line", json_integer(t->cache_line));
    json_object_set_new(m, "topology", topo);
    json_object_set_new(m, "governor", read_fact("/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor"));
    json_object_set_new(m, "boost", read_fact("/sys/devices/system/cpu/cpufreq/boost"));
    json_object_set_new(m, "max_khz", read_fact("/sys/devices/system/cpu/cpu0/cpufreq/cpuinfo_max_freq"));
    json_object_set_new(m, "compiler", json_string(MB_COMPILER));
    json_object_set_new(m, "flags", json_string(MB_BUILD_FLAGS));
    json_object_set_new(m, "git_commit", json_string(MB_GIT_COMMIT));
    json_t *blas = json_object();
    json_object_set_new(blas, "config", json_string(openblas_get_config()));
    json_object_set_new(blas, "core", json_string(openblas_get_corename()));
    json_object_set_new(blas, "threads", json_integer(openblas_get_num_threads()));
    json_object_set_new(m, "openblas", blas);
    json_object_set_new(m, "papi", papi_describe());
    cnt_system cs;
    mb_err err;
    if (cnt_system_init(&cs, &err) == 0) json_object_set_new(m, "counters", cnt_system_json(&cs));
    else json_object_set_new(m, "counters", json_pack("{s:s}", "error", err.msg));
    struct timespec res;
    clock_getres(CLOCK_MONOTONIC, &res);
    json_object_set_new(m, "timer_resolution_s", json_real((double)res.tv_sec + 1e-9 * (double)res.tv_nsec));
    return m;
}

int machine_warnings(json_t *desc, char *buf, size_t len)
{
    int n = 0;
    size_t off = 0;
    buf[0] = 0;
    const char *gov = json_string_value(json_object_get(desc, "governor"));
    if (gov && strcmp(gov, "performance")) {
        off += (size_t)snprintf(buf + off, len - off,
                                "frequency policy is not fixed (governor: %s): clock changes are noise\n", gov);
        n++;
    }
    const char *boost = json_string_value(json_object_get(desc, "boost"));
    if (off < len && boost && !strcmp(boost, "1")) {
        off += (size_t)snprintf(buf + off, len - off, "turbo boost is on: the clock depends on load and temperature\n");
        n++;
    }
    return n;
}

// ---------------------------------------------------------------- machine types

/* What makes two hosts measure alike: the parts of machine_type_id's hash (keyed by
 * `key`, openblas_core being the description's openblas.core), grouped by what a user
 * changes to match them (machine_type_diff). */
static const struct {
    const char *key, *name;
    int part;
    bool show; /* short enough to quote both values */
} machine_facts[] = {{"cpu", "cpu", MACHINE_DIFF_MACHINE, true},
                     {"cpu_flags", "cpu flags", MACHINE_DIFF_MACHINE, false},
                     {"topology", "topology", MACHINE_DIFF_MACHINE, false},
                     {"openblas_core", "OpenBLAS core", MACHINE_DIFF_MACHINE, true},
                     {"git_commit", "", MACHINE_DIFF_COMMIT, true},
                     {"compiler", "compiler", MACHINE_DIFF_BUILD, true},
                     {"flags", "flags", MACHINE_DIFF_BUILD, true}};
#define MACHINE_NFACTS (sizeof machine_facts / sizeof *machine_facts)

/* One part of a description (NULL when absent). */
static json_t *fact_get(json_t *desc, const char *key)
{
    if (!strcmp(key, "openblas_core")) return json_object_get(json_object_get(desc, "openblas"), "core");
    return json_object_get(desc, key);
}

void machine_type_id(json_t *desc, char *hex, size_t len)
{
    json_t *o = json_object();
    for (size_t i = 0; i < MACHINE_NFACTS; i++) {
        json_t *v = fact_get(desc, machine_facts[i].key);
        json_object_set(o, machine_facts[i].key, v ? v : json_null());
    }
    char *text = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
    uint64_t h = shard_fnv1a(text ? text : "", text ? strlen(text) : 0, SHARD_FNV_BASIS);
    free(text);
    json_decref(o);
    snprintf(hex, len, "%016llx", (unsigned long long)h);
}

/* One part of a description: its value as short text ("" when absent). */
static void fact_text(json_t *desc, const char *key, char *buf, size_t len)
{
    json_t *v = fact_get(desc, key);
    if (json_is_string(v)) snprintf(buf, len, "%s", json_string_value(v));
    else if (v) {
        char *t = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
        snprintf(buf, len, "%s", t ? t : "");
        free(t);
    } else buf[0] = 0;
}

int machine_type_diff(json_t *a, json_t *b, char *buf, size_t len)
{
    static const struct {
        int part;
        const char *name;
    } parts[] = {{MACHINE_DIFF_MACHINE, "the machine"}, {MACHINE_DIFF_COMMIT, "the commit"},
                 {MACHINE_DIFF_BUILD, "the build flags"}};
    int mask = 0;
    size_t off = 0;
    buf[0] = 0;
    for (size_t p = 0; p < sizeof parts / sizeof *parts; p++) {
        int n = 0;
        for (size_t i = 0; i < MACHINE_NFACTS; i++) {
            if (machine_facts[i].part != parts[p].part) continue;
            char va[512], vb[512];
            fact_text(a, machine_facts[i].key, va, sizeof va);
            fact_text(b, machine_facts[i].key, vb, sizeof vb);
            if (!strcmp(va, vb)) continue;
            mask |= parts[p].part;
            const char *sep = n++ ? "; " : (off ? ", " : "");
            if (off < len && n == 1) off += (size_t)snprintf(buf + off, len - off, "%s%s (", sep, parts[p].name);
            else if (off < len) off += (size_t)snprintf(buf + off, len - off, "%s", sep);
            if (off >= len) break;
            if (machine_facts[i].part == MACHINE_DIFF_COMMIT)
                off += (size_t)snprintf(buf + off, len - off, "%.40s vs %.40s", va, vb);
            else if (machine_facts[i].show)
                off += (size_t)snprintf(buf + off, len - off, "%s \"%.80s\" vs \"%.80s\"", machine_facts[i].name,
                                        va, vb);
            else off += (size_t)snprintf(buf + off, len - off, "%s", machine_facts[i].name);
        }
        if (n && off < len) off += (size_t)snprintf(buf + off, len - off, ")");
    }
    return mask;
}

void machine_type_label(json_t *desc, char *buf, size_t len)
{
    const char *cpu = json_string_value(json_object_get(desc, "cpu"));
    json_int_t pus = json_integer_value(json_object_get(json_object_get(desc, "topology"), "pus"));
    const char *git = json_string_value(json_object_get(desc, "git_commit"));
    snprintf(buf, len, "%s (%lld PUs, mbench %.12s)", cpu ? cpu : "unknown CPU", (long long)pus, git ? git : "?");
}

/* harness/cachesim.c: one kernel call under valgrind's cache simulation (see cachesim.h). */
#define _GNU_SOURCE
#include "cachesim.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/mem.h"

#if __has_include(<valgrind/callgrind.h>)
#include <valgrind/callgrind.h>
#define CACHESIM_HAVE_CALLGRIND 1
#else
#define CACHESIM_HAVE_CALLGRIND 0
#endif

extern char **environ;

/* callgrind's dump names of the two calls the child makes */
#define CACHESIM_WARM "mbench warm-up"
#define CACHESIM_MEASURED "mbench forward"

// ---------------------------------------------------------------- geometry

static bool pow2(long long x) { return x > 0 && (x & (x - 1)) == 0; }

/* Makes c something valgrind accepts: a power-of-two line and set count. */
static void fit(cachesim_cache *c, const char *name, char *notes, size_t len)
{
    size_t off = strlen(notes);
    if (!pow2(c->line)) c->line = 64;
    if (c->ways > 0 && c->size % ((long long)c->line * c->ways) == 0 && pow2(c->size / ((long long)c->line * c->ways)))
        return;
    const int was = c->ways;
    for (int w = 8; w <= 1024; w++) {
        long long set_bytes = (long long)c->line * w;
        if (c->size % set_bytes == 0 && pow2(c->size / set_bytes)) {
            c->ways = w;
            snprintf(notes + off, len - off, "%s%s associativity %s: %d ways give a power-of-two set count", off ? "; " : "",
                     name, was > 0 ? "adjusted" : "unknown to hwloc", w);
            return;
        }
    }
    /* no associativity works: keep 16 ways and round the size down to a power-of-two set count */
    long long sets = c->size / ((long long)c->line * 16), p = 1;
    while (p * 2 <= sets) p *= 2;
    long long was_size = c->size;
    c->ways = 16;
    c->size = p * c->line * 16;
    snprintf(notes + off, len - off, "%s%s size %lld B rounded down to %lld B (16 ways, power-of-two sets)", off ? "; " : "",
             name, was_size, c->size);
}

static int hw_cache(const pin_topo *t, hwloc_obj_type_t type, cachesim_cache *c)
{
    hwloc_obj_t o = hwloc_get_obj_by_type(t->topo, type, 0);
    if (!o || !o->attr || !o->attr->cache.size) return -1;
    c->size = (long long)o->attr->cache.size;
    c->ways = o->attr->cache.associativity; /* 0 unknown, -1 fully associative */
    c->line = o->attr->cache.linesize ? (int)o->attr->cache.linesize : t->cache_line;
    return 0;
}

static int level_cache(const pin_topo *t, int level, cachesim_cache *c, mb_err *err)
{
    const hwloc_obj_type_t types[] = {HWLOC_OBJ_L1CACHE, HWLOC_OBJ_L2CACHE, HWLOC_OBJ_L3CACHE, HWLOC_OBJ_L4CACHE};
    if (level < 1 || level > 4) return mb_fail(err, "cache level %d: expected 1 to 4", level);
    if (hw_cache(t, types[level - 1], c)) return mb_fail(err, "hwloc reports no L%d cache on this machine", level);
    return 0;
}

int cachesim_geom_from_topo(const pin_topo *t, int ll_level, cachesim_geom *g, mb_err *err)
{
    memset(g, 0, sizeof *g);
    if (hw_cache(t, HWLOC_OBJ_L1ICACHE, &g->i1)) g->i1 = (cachesim_cache){32768, 8, t->cache_line};
    if (level_cache(t, 1, &g->d1, err)) return -1;
    if (ll_level == 0)
        for (int l = 4; l >= 2 && !ll_level; l--)
            if (t->cache_bytes[l - 1]) ll_level = l;
    if (!ll_level) ll_level = 2;
    if (level_cache(t, ll_level, &g->ll, err)) return -1;
    g->ll_level = ll_level;
    fit(&g->i1, "I1", g->notes, sizeof g->notes);
    fit(&g->d1, "D1", g->notes, sizeof g->notes);
    char name[8];
    snprintf(name, sizeof name, "L%d", ll_level);
    fit(&g->ll, name, g->notes, sizeof g->notes);
    return 0;
}

static int parse_bytes(const char *s, long long *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (end == s || errno || v <= 0) return -1;
    if (*end == 'K' || *end == 'k') v <<= 10, end++;
    else if (*end == 'M' || *end == 'm') v <<= 20, end++;
    else if (*end == 'G' || *end == 'g') v <<= 30, end++;
    if (*end == 'i' && end[1] == 'B') end += 2;
    else if (*end == 'B') end++;
    if (*end) return -1;
    *out = v;
    return 0;
}

int cachesim_geom_set_ll(const pin_topo *t, const char *spec, cachesim_geom *g, mb_err *err)
{
    if ((spec[0] == 'l' || spec[0] == 'L') && spec[1] >= '2' && spec[1] <= '4' && !spec[2]) {
        cachesim_geom ng;
        if (cachesim_geom_from_topo(t, spec[1] - '0', &ng, err)) return mb_wrap(err, "--ll %s", spec);
        *g = ng;
        return 0;
    }
    char tmp[128];
    snprintf(tmp, sizeof tmp, "%s", spec);
    char *save = NULL, *size = strtok_r(tmp, ",", &save), *ways = strtok_r(NULL, ",", &save),
         *line = strtok_r(NULL, ",", &save);
    cachesim_cache c = {0, 0, 64};
    long long v;
    if (!size || parse_bytes(size, &c.size) || !ways || parse_bytes(ways, &v) || v > 4096 ||
        (line && parse_bytes(line, &v)) || strtok_r(NULL, ",", &save))
        return mb_fail(err, "--ll: expected l2, l3 or SIZE,WAYS[,LINE] (e.g. 32M,16,64), got \"%s\"", spec);
    parse_bytes(ways, &v);
    c.ways = (int)v;
    if (line) {
        parse_bytes(line, &v);
        if (!pow2(v) || v < 16 || v > 4096) return mb_fail(err, "--ll: line %lld must be a power of two in [16, 4096]", v);
        c.line = (int)v;
    }
    if (c.size % ((long long)c.line * c.ways) || !pow2(c.size / ((long long)c.line * c.ways)))
        return mb_fail(err, "--ll: %lld B / (%d ways x %d B) is not a power-of-two number of sets (valgrind needs one)",
                       c.size, c.ways, c.line);
    g->ll = c;
    g->ll_level = 0;
    return 0;
}

static void cache_describe(const cachesim_cache *c, char *buf, size_t len)
{
    if (c->size >= (1 << 20) && c->size % (1 << 20) == 0) snprintf(buf, len, "%lld MiB", c->size >> 20);
    else if (c->size >= 1024 && c->size % 1024 == 0) snprintf(buf, len, "%lld KiB", c->size >> 10);
    else snprintf(buf, len, "%lld B", c->size);
    size_t off = strlen(buf);
    snprintf(buf + off, len - off, " %d-way %d B lines", c->ways, c->line);
}

void cachesim_geom_describe(const cachesim_geom *g, char *buf, size_t len)
{
    char a[64], b[64], c[64], lv[32] = "given";
    cache_describe(&g->i1, a, sizeof a);
    cache_describe(&g->d1, b, sizeof b);
    cache_describe(&g->ll, c, sizeof c);
    if (g->ll_level) snprintf(lv, sizeof lv, "hwloc L%d", g->ll_level);
    snprintf(buf, len, "I1 %s; D1 %s; LL (%s) %s", a, b, lv, c);
}

// ---------------------------------------------------------------- callgrind output

int cachesim_parse(const char *path, cachesim_counts *c, char *trigger, size_t trigger_len, mb_err *err)
{
    FILE *f = fopen(path, "r");
    if (!f) return mb_fail(err, "%s: %s", path, strerror(errno));
    memset(c, 0, sizeof *c);
    if (trigger_len) trigger[0] = 0;
    char line[4096], events[1024] = "", summary[1024] = "", totals[1024] = "";
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = 0;
        if (!strncmp(line, "events:", 7)) snprintf(events, sizeof events, "%s", line + 7);
        else if (!strncmp(line, "summary:", 8)) snprintf(summary, sizeof summary, "%s", line + 8);
        else if (!strncmp(line, "totals:", 7)) snprintf(totals, sizeof totals, "%s", line + 7);
        else if (!strncmp(line, "desc: Trigger:", 14) && trigger_len) snprintf(trigger, trigger_len, "%s", line + 15);
    }
    fclose(f);
    const char *vals = summary[0] ? summary : totals;
    if (!events[0] || !vals[0]) return mb_fail(err, "%s: no events/summary lines (not a callgrind dump?)", path);
    struct {
        const char *name;
        double *dst;
    } map[] = {{"Ir", &c->ir},     {"Dr", &c->dr},     {"Dw", &c->dw},       {"I1mr", &c->i1mr},
               {"D1mr", &c->d1mr}, {"D1mw", &c->d1mw}, {"ILmr", &c->ilmr},   {"DLmr", &c->dlmr},
               {"DLmw", &c->dlmw}, {"ILdmr", &c->ildmr}, {"DLdmr", &c->dldmr}, {"DLdmw", &c->dldmw}};
    char ev[1024], vv[1024], *s1 = NULL, *s2 = NULL;
    snprintf(ev, sizeof ev, "%s", events);
    snprintf(vv, sizeof vv, "%s", vals);
    int found = 0;
    char *e = strtok_r(ev, " ", &s1), *v = strtok_r(vv, " ", &s2);
    for (; e; e = strtok_r(NULL, " ", &s1), v = v ? strtok_r(NULL, " ", &s2) : NULL) {
        /* absent trailing values are zero in callgrind's format */
        double x = v ? strtod(v, NULL) : 0;
        if (x > 1e19) return mb_fail(err, "%s: implausible value %s for %s", path, v, e);
        for (size_t i = 0; i < sizeof map / sizeof *map; i++)
            if (!strcmp(e, map[i].name)) *map[i].dst = x, found++;
    }
    if (found < 9)
        return mb_fail(err, "%s: events \"%s\" lack the cache simulation's (run with --cache-sim=yes)", path, events);
    return 0;
}

// ---------------------------------------------------------------- running valgrind

int cachesim_vg_binary(char *buf, size_t len, mb_err *err)
{
    const char *env = getenv("MBENCH_VG");
    if (env && *env) {
        if (access(env, X_OK)) return mb_fail(err, "MBENCH_VG=%s: not an executable", env);
        snprintf(buf, len, "%s", env);
        return 0;
    }
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n > 0) {
        self[n] = 0;
        char *slash = strrchr(self, '/');
        if (slash) {
            *slash = 0;
            snprintf(buf, len, "%s/mbench-vg", self);
            if (!access(buf, X_OK)) return 0;
            snprintf(buf, len, "%s/../mbench-vg", self); /* from build/tests */
            if (!access(buf, X_OK)) return 0;
        }
    }
#ifdef MB_VG_BINARY
    snprintf(buf, len, "%s", MB_VG_BINARY);
    if (!access(buf, X_OK)) return 0;
#endif
    return mb_fail(err, "mbench-vg (mbench without AVX-512, for valgrind) was not found next to mbench: "
                        "build it (cmake --build build --target mbench-vg; it needs valgrind installed at configure time)");
}

static const char *valgrind_path(void)
{
    static const char configured[] = MB_VALGRIND;
    return configured[0] ? configured : "valgrind";
}

/* Appends the last lines of a file to err's message. */
static void tail_into(const char *path, mb_err *err)
{
    FILE *f = fopen(path, "r");
    if (!f) return;
    char lines[6][256] = {{0}}, l[256];
    int n = 0;
    while (fgets(l, sizeof l, f)) {
        l[strcspn(l, "\n")] = 0;
        if (l[0]) snprintf(lines[n++ % 6], sizeof lines[0], "%s", l);
    }
    fclose(f);
    size_t off = strlen(err->msg);
    for (int i = n > 6 ? n - 6 : 0; i < n && off < sizeof err->msg; i++)
        off += (size_t)snprintf(err->msg + off, sizeof err->msg - off, " | %s", lines[i % 6]);
}

static void remove_dir(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *e;
    char p[1024];
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
            snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
            unlink(p);
        }
    closedir(d);
    rmdir(dir);
}

#define ARGV_MAX 64

int cachesim_run(const cachesim_request *rq, cachesim_result *res, mb_err *err)
{
    memset(res, 0, sizeof *res);
    res->rq = *rq;
    res->updates = scan_shape_updates(&rq->shape);
    if (cachesim_vg_binary(res->binary, sizeof res->binary, err)) return -1;
    const scan_shape *s = &rq->shape;
    char dir[] = "/tmp/mbench-sim-XXXXXX";
    if (!mkdtemp(dir)) return mb_fail(err, "mkdtemp: %s", strerror(errno));
    int rc = -1;
    char **envp = NULL;

    // ---- valgrind's command line, then the child's (the shape as flags)
    char a[ARGV_MAX][160];
    int n = 0;
#define ARG(...) snprintf(a[n++], sizeof a[0], __VA_ARGS__)
    ARG("%s", valgrind_path());
    ARG("--tool=callgrind");
    ARG("--cache-sim=yes");
    ARG("--simulate-wb=yes");
    ARG("--instr-atstart=no");
    ARG("--I1=%lld,%d,%d", rq->geom.i1.size, rq->geom.i1.ways, rq->geom.i1.line);
    ARG("--D1=%lld,%d,%d", rq->geom.d1.size, rq->geom.d1.ways, rq->geom.d1.line);
    ARG("--LL=%lld,%d,%d", rq->geom.ll.size, rq->geom.ll.ways, rq->geom.ll.line);
    ARG("--callgrind-out-file=%s/cg.out", dir);
    ARG("--log-file=%s/valgrind.log", dir);
    ARG("%s", res->binary);
    ARG("counters");
    ARG("%s", rq->kernel->name);
    ARG("--batch=%lld", (long long)s->batch);
    ARG("--seqlen=%lld", (long long)s->seqlen);
    ARG("--channels=%lld", (long long)s->channels);
    ARG("--d-state=%lld", (long long)s->d_state);
    ARG("--groups=%lld", (long long)s->groups);
    ARG("--a=%s", s->a_kind == SCAN_A_HEAD ? "head" : "diag");
    if (s->a_kind == SCAN_A_HEAD) ARG("--heads=%lld", (long long)s->heads);
    if (!s->softplus) ARG("--no-softplus");
    if (!s->has_bias) ARG("--no-bias");
    if (!s->has_dskip) ARG("--no-dskip");
    if (!s->has_z) ARG("--no-z");
    if (s->has_h0) ARG("--h0");
    if (s->want_h_last) ARG("--h-last");
    ARG("--threads=%d", rq->threads > 0 ? rq->threads : 1);
    ARG("--seed=%llu", (unsigned long long)rq->seed);
    if (rq->chunk > 0) ARG("--chunk=%d", rq->chunk);
    if (rq->cold) ARG("--cold");
    ARG("--sim-child");
#undef ARG
    char *argv[ARGV_MAX + 1];
    for (int i = 0; i < n; i++) argv[i] = a[i];
    argv[n] = NULL;

    // ---- environment: libgomp's idle threads sleep instead of spinning (valgrind runs one
    // thread at a time, so spinning only burns simulated instructions)
    int ne = 0;
    while (environ[ne]) ne++;
    envp = calloc((size_t)ne + 2, sizeof *envp);
    if (!envp) {
        mb_fail(err, "out of memory");
        goto done;
    }
    int k = 0;
    for (int i = 0; i < ne; i++)
        if (strncmp(environ[i], "OMP_WAIT_POLICY=", 16)) envp[k++] = environ[i];
    envp[k++] = "OMP_WAIT_POLICY=passive";
    envp[k] = NULL;

    char log[sizeof dir + 32];
    snprintf(log, sizeof log, "%s/valgrind.log", dir);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
    char child_err[sizeof dir + 32];
    snprintf(child_err, sizeof child_err, "%s/stderr.log", dir);
    posix_spawn_file_actions_addopen(&fa, STDERR_FILENO, child_err, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    pid_t pid;
    int sp = posix_spawnp(&pid, argv[0], &fa, NULL, argv, envp);
    posix_spawn_file_actions_destroy(&fa);
    if (sp) {
        mb_fail(err, "cannot run %s: %s (is valgrind installed?)", argv[0], strerror(sp));
        goto done;
    }
    int status = 0;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR) {
            mb_fail(err, "waitpid: %s", strerror(errno));
            goto done;
        }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    res->seconds = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
    if (!WIFEXITED(status) || WEXITSTATUS(status)) {
        if (WIFEXITED(status)) mb_fail(err, "valgrind run of %s failed (exit status %d):", rq->kernel->name, WEXITSTATUS(status));
        else mb_fail(err, "valgrind run of %s killed by signal %d:", rq->kernel->name, WTERMSIG(status));
        tail_into(child_err, err);
        tail_into(log, err);
        goto done;
    }

    // ---- the measured call's dump
    bool found = false;
    for (int i = 1; i <= 8 && !found; i++) {
        char path[sizeof dir + 32], trig[256];
        snprintf(path, sizeof path, "%s/cg.out.%d", dir, i);
        if (access(path, R_OK)) break;
        if (cachesim_parse(path, &res->c, trig, sizeof trig, err)) goto done;
        found = strstr(trig, CACHESIM_MEASURED) != NULL;
    }
    if (!found) {
        mb_fail(err, "valgrind ran but left no dump of the measured call in %s:", dir);
        tail_into(log, err);
        goto done;
    }
    const double misses = res->c.ilmr + res->c.dlmr + res->c.dlmw;
    const double wb = res->c.ildmr + res->c.dldmr + res->c.dldmw;
    res->bytes_ll = (misses + wb) * rq->geom.ll.line;
    rc = 0;
done:
    free(envp);
    remove_dir(dir);
    return rc;
}

// ---------------------------------------------------------------- the child (inside valgrind)

int cachesim_child(const cachesim_request *rq, mb_err *err)
{
#if !CACHESIM_HAVE_CALLGRIND
    return mb_fail(err, "built without valgrind/callgrind.h: no cache simulation");
#else
    const scan_kernel *k = rq->kernel;
    scan_opts o = {.threads = rq->threads > 0 ? rq->threads : 1, .chunk = rq->chunk};
    const char *why = k->unsupported(&rq->shape, &o);
    if (why) return mb_fail(err, "%s cannot run this problem: %s", k->name, why);
    scan_problem p;
    scan_fill f = SCAN_FILL_DEFAULT(rq->seed);
    if (scan_problem_init(&p, &rq->shape, &f, err)) return -1;
    size_t wsb = k->workspace_bytes(&rq->shape, &o);
    void *ws = wsb ? mb_alloc(wsb) : NULL; /* [workspace_bytes] */
    int rc = 0;
    if (wsb && !ws) {
        rc = mb_fail(err, "out of memory: workspace of %zu bytes", wsb);
        goto done;
    }
    if (ws) memset(ws, 0, wsb); /* first touch outside the simulation */
    CALLGRIND_START_INSTRUMENTATION; /* the simulated caches start empty here */
    if (!rq->cold) {
        if (k->forward(&rq->shape, &p.t, &o, ws, err)) {
            rc = -1;
            goto stop;
        }
        CALLGRIND_DUMP_STATS_AT(CACHESIM_WARM);
    }
    if (k->forward(&rq->shape, &p.t, &o, ws, err)) rc = -1;
    CALLGRIND_DUMP_STATS_AT(CACHESIM_MEASURED);
stop:
    CALLGRIND_STOP_INSTRUMENTATION;
done:
    mb_free(ws);
    scan_problem_free(&p);
    return rc;
#endif
}

// ---------------------------------------------------------------- reporting

static json_t *pair(double total, double updates)
{
    json_t *o = json_object();
    json_object_set_new(o, "total", json_real(total));
    json_object_set_new(o, "per_update", updates > 0 ? json_real(total / updates) : json_null());
    return o;
}

static json_t *cache_json(const cachesim_cache *c)
{
    return json_pack("{s:I,s:i,s:i}", "bytes", (json_int_t)c->size, "ways", c->ways, "line", c->line);
}

json_t *cachesim_json(const cachesim_result *r)
{
    const cachesim_counts *c = &r->c;
    const double u = r->updates;
    json_t *o = json_object();
    json_object_set_new(o, "tool", json_string("valgrind callgrind --cache-sim=yes --simulate-wb=yes"));
    json_object_set_new(o, "binary", json_string(r->binary));
    json_object_set_new(o, "threads", json_integer(r->rq.threads));
    json_object_set_new(o, "serialised", json_true());
    json_object_set_new(o, "cold", json_boolean(r->rq.cold));
    json_t *g = json_object();
    json_object_set_new(g, "I1", cache_json(&r->rq.geom.i1));
    json_object_set_new(g, "D1", cache_json(&r->rq.geom.d1));
    json_object_set_new(g, "LL", cache_json(&r->rq.geom.ll));
    json_object_set_new(g, "ll_level", r->rq.geom.ll_level ? json_integer(r->rq.geom.ll_level) : json_null());
    if (r->rq.geom.notes[0]) json_object_set_new(g, "notes", json_string(r->rq.geom.notes));
    json_object_set_new(o, "geometry", g);
    json_object_set_new(o, "updates", json_real(u));
    json_object_set_new(o, "instructions", pair(c->ir, u));
    json_object_set_new(o, "data_reads", pair(c->dr, u));
    json_object_set_new(o, "data_writes", pair(c->dw, u));
    json_object_set_new(o, "i1_misses", pair(c->i1mr, u));
    json_object_set_new(o, "d1_read_misses", pair(c->d1mr, u));
    json_object_set_new(o, "d1_write_misses", pair(c->d1mw, u));
    json_object_set_new(o, "ll_instr_misses", pair(c->ilmr, u));
    json_object_set_new(o, "ll_read_misses", pair(c->dlmr, u));
    json_object_set_new(o, "ll_write_misses", pair(c->dlmw, u));
    json_object_set_new(o, "ll_misses", pair(c->ilmr + c->dlmr + c->dlmw, u));
    json_object_set_new(o, "ll_writebacks", pair(c->ildmr + c->dldmr + c->dldmw, u));
    json_object_set_new(o, "bytes_per_update", u > 0 ? json_real(r->bytes_ll / u) : json_null());
    json_object_set_new(o, "seconds", json_real(r->seconds));
    return o;
}

void cachesim_text(FILE *f, const cachesim_result *r)
{
    const cachesim_counts *c = &r->c;
    const double u = r->updates;
    char geo[256];
    cachesim_geom_describe(&r->rq.geom, geo, sizeof geo);
    fprintf(f, "  simulated   %s\n", geo);
    if (r->rq.geom.notes[0]) fprintf(f, "              (%s)\n", r->rq.geom.notes);
    fprintf(f, "  call        one %s call (%s); %d thread%s run one at a time by valgrind on one cache hierarchy\n",
            r->rq.cold ? "cold" : "warm", r->rq.cold ? "caches empty at the start" : "after one warm-up call",
            r->rq.threads, r->rq.threads > 1 ? "s" : "");
    fprintf(f, "  %-26s %16s %14s\n", "", "total", "per update");
    struct {
        const char *name;
        double v;
    } rows[] = {{"instructions", c->ir},
                {"data reads", c->dr},
                {"data writes", c->dw},
                {"D1 read misses", c->d1mr},
                {"D1 write misses", c->d1mw},
                {"LL read misses", c->dlmr},
                {"LL write misses", c->dlmw},
                {"LL instruction misses", c->ilmr},
                {"LL write-backs", c->ildmr + c->dldmr + c->dldmw}};
    for (size_t i = 0; i < sizeof rows / sizeof *rows; i++)
        fprintf(f, "  %-26s %16.0f %14.5g\n", rows[i].name, rows[i].v, u > 0 ? rows[i].v / u : NAN);
    fprintf(f, "  memory traffic (LL misses + write-backs) x %d B = %.4g bytes per update (%.1f MiB per call)\n",
            r->rq.geom.ll.line, u > 0 ? r->bytes_ll / u : NAN, r->bytes_ll / 1048576.0);
    fprintf(f, "  valgrind    %.1f s with %s\n", r->seconds, r->binary);
}

void cachesim_flat(json_t *o, const cachesim_result *r)
{
    const cachesim_counts *c = &r->c;
    const double u = r->updates > 0 ? r->updates : NAN;
    char ll[64];
    cache_describe(&r->rq.geom.ll, ll, sizeof ll);
    json_object_set_new(o, "sim_ll", json_string(ll));
    json_object_set_new(o, "sim_cold", json_boolean(r->rq.cold));
    json_object_set_new(o, "sim_instructions", json_real(c->ir));
    json_object_set_new(o, "sim_d1_read_misses", json_real(c->d1mr));
    json_object_set_new(o, "sim_d1_write_misses", json_real(c->d1mw));
    json_object_set_new(o, "sim_ll_read_misses", json_real(c->dlmr));
    json_object_set_new(o, "sim_ll_write_misses", json_real(c->dlmw));
    json_object_set_new(o, "sim_ll_writebacks", json_real(c->ildmr + c->dldmr + c->dldmw));
    json_object_set_new(o, "sim_instructions_per_update", json_real(c->ir / u));
    json_object_set_new(o, "sim_d1_misses_per_update", json_real((c->d1mr + c->d1mw) / u));
    json_object_set_new(o, "sim_ll_misses_per_update", json_real((c->ilmr + c->dlmr + c->dlmw) / u));
    json_object_set_new(o, "sim_bytes_per_update", json_real(r->bytes_ll / u));
    json_object_set_new(o, "sim_s", json_real(r->seconds));
}

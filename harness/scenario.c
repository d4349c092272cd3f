/* harness/scenario.c: scenario files (see scenario.h and scenarios/README.md).
 *
 * Three steps: inih reads the file into entries (each with its file:line, through a
 * reader that counts lines); the overrides (--quick's [quick] section, --set, --kernels)
 * replace entries by key; the entries are then interpreted against one key table, and
 * the combinations checked, so that every error names where the bad value came from. */
#include "scenario.h"

#include "harness/counters.h"

#include <ctype.h>
#include <errno.h>
#include <ini.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/mem.h"
#include "harness/cli.h"

// ---------------------------------------------------------------- the key table

typedef enum { K_STR, K_KERNELS, K_INTS, K_BOOL, K_A, K_BIND, K_DIR, K_INT, K_DOUBLE, K_LEVEL } key_type;

typedef struct {
    const char *section, *key;
    key_type type;
    int64_t min, max;
    int ix; /* scen_int for K_INTS */
    const char *help;
} key_def;

#define BIG ((int64_t)1 << 40)

static const key_def keys[] = {
    {"scenario", "name", K_STR, 0, 0, 0, "a name for the results directory (letters, digits, - _)"},
    {"scenario", "description", K_STR, 0, 0, 0, "one line of text"},
    {"scenario", "kernels", K_KERNELS, 0, 0, 0, "\"all\" or a comma list of kernel names"},
    {"shape", "batch", K_INTS, 1, BIG, SCEN_BATCH, "integers >= 1"},
    {"shape", "seqlen", K_INTS, 1, BIG, SCEN_SEQLEN, "integers >= 1"},
    {"shape", "channels", K_INTS, 1, BIG, SCEN_CHANNELS, "integers >= 1"},
    {"shape", "d_model", K_INTS, 1, BIG, SCEN_D_MODEL, "integers >= 1"},
    {"shape", "expand", K_INTS, 1, 64, SCEN_EXPAND, "integers in [1, 64]"},
    {"shape", "d_state", K_INTS, 1, 1 << 16, SCEN_D_STATE, "integers in [1, 65536]"},
    {"shape", "heads", K_INTS, 1, BIG, SCEN_HEADS, "integers >= 1"},
    {"shape", "headdim", K_INTS, 1, BIG, SCEN_HEADDIM, "integers >= 1"},
    {"shape", "groups", K_INTS, 1, BIG, SCEN_GROUPS, "integers >= 1"},
    {"shape", "a", K_A, 0, 0, 0, "diag or head"},
    {"shape", "softplus", K_BOOL, 0, 0, 0, "true or false"},
    {"shape", "delta_bias", K_BOOL, 0, 0, 0, "true or false"},
    {"shape", "dskip", K_BOOL, 0, 0, 0, "true or false"},
    {"shape", "z", K_BOOL, 0, 0, 0, "true or false"},
    {"shape", "h0", K_BOOL, 0, 0, 0, "true or false"},
    {"shape", "h_last", K_BOOL, 0, 0, 0, "true or false"},
    {"run", "threads", K_INTS, 1, CLI_MAX_THREADS, SCEN_THREADS, "integers in [1, 1024], `all` or `1..all`"},
    {"run", "chunk", K_INTS, 1, 1 << 20, SCEN_CHUNK, "integers in [1, 1048576]"},
    {"run", "bind", K_BIND, 0, 0, 0, "compact, scatter or none"},
    {"run", "direction", K_DIR, 0, 0, 0, "forward, backward or both"},
    {"run", "checkpoint", K_INT, 1, 1 << 20, 0, "an integer in [1, 1048576]"},
    {"run", "level", K_LEVEL, 0, 0, 0, "scan or block (a whole Mamba block around the scan)"},
    {"run", "min_reps", K_INT, 1, 1000000, 0, "an integer in [1, 1000000]"},
    {"run", "max_reps", K_INT, 0, 10000000, 0, "an integer in [0, 10000000] (0: 100000)"},
    {"run", "min_time", K_DOUBLE, 0, 86400, 0, "seconds in [0, 86400]"},
    {"run", "warmup", K_INT, 0, 1000, 0, "an integer in [0, 1000]"},
    {"run", "seed", K_INT, 0, INT64_MAX, 0, "an integer >= 0"},
    {"run", "check", K_BOOL, 0, 0, 0, "true or false"},
    {"run", "counters", K_STR, 0, 0, 0, "a comma list of events (PAPI_TOT_CYC, perf::..., task-clock, page-faults, ...) or default"},
    {"run", "counter_reps", K_INT, 1, 100000, 0, "an integer in [1, 100000]"},
    {"run", "sim", K_BOOL, 0, 0, 0, "true or false"},
    {"run", "sim_cold", K_BOOL, 0, 0, 0, "true or false"},
    {"run", "sim_ll", K_STR, 0, 0, 0, "l2, l3 or SIZE,WAYS[,LINE] (e.g. 1M,8,64)"},
    {"run", "sim_max_updates", K_INT, 1, BIG, 0, "an integer >= 1"},
};
#define NKEYS ((int)(sizeof keys / sizeof keys[0]))

static const char *const int_names[SCEN_NINT] = {"batch", "seqlen", "channels", "d_model", "expand", "d_state",
                                                 "heads", "headdim", "groups", "threads", "chunk"};

const char *scen_int_name(scen_int k) { return k >= 0 && k < SCEN_NINT ? int_names[k] : "?"; }

static const key_def *find_key(const char *key)
{
    for (int i = 0; i < NKEYS; i++)
        if (!strcmp(keys[i].key, key)) return &keys[i];
    return NULL;
}

/* "batch, seqlen, ..." of a section, for "expected one of" messages. */
static void keys_of(const char *section, char *buf, size_t len)
{
    size_t off = 0;
    buf[0] = 0;
    for (int i = 0; i < NKEYS && off < len; i++) {
        if (strcmp(keys[i].section, section) && !(section[0] == 'q' && strcmp(keys[i].section, "scenario")))
            continue;
        off += (size_t)snprintf(buf + off, len - off, "%s%s", off ? ", " : "", keys[i].key);
    }
}

// ---------------------------------------------------------------- reading the file

typedef struct {
    FILE *f;
    int line;
    bool long_line;
    int long_line_at;
} line_reader;

/* fgets-style reader for inih that counts lines, so the handler knows its line. */
static char *read_line(char *str, int num, void *stream)
{
    line_reader *r = stream;
    char *s = fgets(str, num, r->f);
    if (!s) return NULL;
    size_t n = strlen(s);
    if (n && s[n - 1] == '\n') r->line++;
    else if (!feof(r->f) && !r->long_line) r->long_line = true, r->long_line_at = r->line + 1;
    else if (feof(r->f)) r->line++;
    return s;
}

typedef struct {
    scenario *s;
    line_reader *rd;
    mb_err *err;
    int failed;
} parse_ctx;

static const char *const sections[] = {"scenario", "shape", "run", "quick"};

static int on_entry(void *user, const char *section, const char *name, const char *value)
{
    parse_ctx *c = user;
    if (c->failed) return 1;
    scenario *s = c->s;
    const int line = c->rd->line;
    bool known_section = false;
    for (size_t i = 0; i < sizeof sections / sizeof *sections; i++)
        if (!strcmp(section, sections[i])) known_section = true;
    if (!known_section) {
        c->failed = 1;
        if (!section[0])
            return mb_fail(c->err, "%s:%d: \"%s\" is outside any section: expected [scenario], [shape], [run] or [quick] first",
                           s->path, line, name),
                   1;
        return mb_fail(c->err, "%s:%d: unknown section [%s]: expected [scenario], [shape], [run] or [quick]", s->path,
                       line, section),
               1;
    }
    const key_def *k = find_key(name);
    bool ok = k && (!strcmp(k->section, section) || (!strcmp(section, "quick") && strcmp(k->section, "scenario")));
    if (!ok) {
        char list[600];
        keys_of(section, list, sizeof list);
        c->failed = 1;
        if (k)
            mb_fail(c->err, "%s:%d: %s belongs in [%s], not [%s]", s->path, line, name, k->section, section);
        else
            mb_fail(c->err, "%s:%d: unknown key \"%s\" in [%s]: expected one of %s", s->path, line, name, section, list);
        return 1;
    }
    for (int i = 0; i < s->nentries; i++)
        if (!strcmp(s->entries[i].section, section) && !strcmp(s->entries[i].key, name)) {
            c->failed = 1;
            mb_fail(c->err, "%s:%d: %s is given twice in [%s] (first at %s)", s->path, line, name, section,
                    s->entries[i].where);
            return 1;
        }
    if (s->nentries == SCEN_MAX_ENTRIES) {
        c->failed = 1;
        mb_fail(c->err, "%s:%d: too many entries (at most %d)", s->path, line, SCEN_MAX_ENTRIES);
        return 1;
    }
    if (strlen(value) >= sizeof s->entries[0].value) {
        c->failed = 1;
        mb_fail(c->err, "%s:%d: the value of %s is too long", s->path, line, name);
        return 1;
    }
    scen_entry *e = &s->entries[s->nentries++];
    snprintf(e->section, sizeof e->section, "%s", section);
    snprintf(e->key, sizeof e->key, "%s", name);
    snprintf(e->value, sizeof e->value, "%s", value);
    char where[sizeof e->where]; /* (formatted aside: GCC cannot tell s->path from e->where) */
    snprintf(where, sizeof where, "%s:%d", s->path, line);
    memcpy(e->where, where, sizeof where);
    return 1;
}

// ---------------------------------------------------------------- values

static void trim(char *s)
{
    char *a = s;
    while (isspace((unsigned char)*a)) a++;
    memmove(s, a, strlen(a) + 1);
    size_t n = strlen(s);
    while (n && isspace((unsigned char)s[n - 1])) s[--n] = 0;
}

static int parse_int(const char *s, int64_t *v)
{
    char *end;
    errno = 0;
    long long x = strtoll(s, &end, 10);
    if (!*s || *end || errno) return -1;
    *v = x;
    return 0;
}

/* One integer or `all` (threads only). */
static int parse_int_tok(const scen_entry *e, const key_def *k, const char *tok, int max_pus, int64_t *v, mb_err *err)
{
    if (k->ix == SCEN_THREADS && !strcmp(tok, "all")) {
        *v = max_pus;
        return 0;
    }
    if (parse_int(tok, v))
        return mb_fail(err, "%s: %s: expected %s, got \"%s\"", e->where, e->key, k->help, tok);
    if (*v < k->min || *v > k->max)
        return mb_fail(err, "%s: %s: %s is out of range: expected %s", e->where, e->key, tok, k->help);
    return 0;
}

/* "1, 2, 4", "1..8" (step 1), "1..256*2" (times 2), "1..all". */
static int parse_ints(const scen_entry *e, const key_def *k, int max_pus, int64_t *out, int *n, mb_err *err)
{
    char tmp[256];
    snprintf(tmp, sizeof tmp, "%s", e->value);
    *n = 0;
    char *save = NULL;
    trim(tmp);
    if (!tmp[0]) return mb_fail(err, "%s: %s: empty list: expected %s", e->where, e->key, k->help);
    if (tmp[strlen(tmp) - 1] == ',' || tmp[0] == ',' || strstr(tmp, ",,"))
        return mb_fail(err, "%s: %s: empty item in the list \"%s\": expected %s", e->where, e->key, e->value, k->help);
    for (char *tok = strtok_r(tmp, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        trim(tok);
        if (!tok[0])
            return mb_fail(err, "%s: %s: empty item in the list \"%s\": expected %s", e->where, e->key, e->value,
                           k->help);
        char *dots = strstr(tok, "..");
        int64_t lo, hi, step = 1;
        bool geometric = false;
        if (dots) {
            *dots = 0;
            char *hs = dots + 2, *star = strchr(hs, '*');
            if (star) {
                *star = 0;
                if (parse_int(star + 1, &step) || step < 2)
                    return mb_fail(err, "%s: %s: a range's factor must be an integer >= 2 (as in 1..256*2)", e->where,
                                   e->key);
                geometric = true;
            }
            trim(tok), trim(hs);
            if (parse_int_tok(e, k, tok, max_pus, &lo, err) || parse_int_tok(e, k, hs, max_pus, &hi, err)) return -1;
            if (hi < lo) return mb_fail(err, "%s: %s: empty range %lld..%lld", e->where, e->key, (long long)lo, (long long)hi);
        } else {
            if (parse_int_tok(e, k, tok, max_pus, &lo, err)) return -1;
            hi = lo;
        }
        for (int64_t v = lo; v <= hi; v = geometric ? v * step : v + step) {
            if (*n == SCEN_MAX_VALUES)
                return mb_fail(err, "%s: %s: at most %d values", e->where, e->key, SCEN_MAX_VALUES);
            for (int j = 0; j < *n; j++)
                if (out[j] == v)
                    return mb_fail(err, "%s: %s: the value %lld appears twice", e->where, e->key, (long long)v);
            out[(*n)++] = v;
            if (geometric && v > hi / step) break;
        }
    }
    return 0;
}

static int parse_bool(const scen_entry *e, bool *b, mb_err *err)
{
    const char *v = e->value;
    if (!strcmp(v, "true") || !strcmp(v, "yes") || !strcmp(v, "on") || !strcmp(v, "1")) *b = true;
    else if (!strcmp(v, "false") || !strcmp(v, "no") || !strcmp(v, "off") || !strcmp(v, "0")) *b = false;
    else return mb_fail(err, "%s: %s: expected true or false, got \"%s\"", e->where, e->key, v);
    return 0;
}

static int parse_kernels(scenario *s, const scen_entry *e, mb_err *err)
{
    char tmp[256], known[512];
    size_t off = 0;
    known[0] = 0;
    for (int i = 0; i < scan_kernel_count && off < sizeof known; i++)
        off += (size_t)snprintf(known + off, sizeof known - off, "%s%s", i ? ", " : "", scan_kernels[i]->name);
    snprintf(tmp, sizeof tmp, "%s", e->value);
    trim(tmp);
    s->nkernels = 0;
    if (!tmp[0]) return mb_fail(err, "%s: kernels: empty list: expected \"all\" or some of %s", e->where, known);
    if (!strcmp(tmp, "all")) {
        for (int i = 0; i < scan_kernel_count; i++)
            if (!scan_kernels[i]->oracle) s->kernels[s->nkernels++] = scan_kernels[i];
        return 0;
    }
    char *save = NULL;
    for (char *tok = strtok_r(tmp, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        trim(tok);
        const scan_kernel *k = scan_kernel_find(tok);
        if (!k) return mb_fail(err, "%s: kernels: unknown kernel \"%s\": expected \"all\" or some of %s", e->where, tok, known);
        for (int j = 0; j < s->nkernels; j++)
            if (s->kernels[j] == k) return mb_fail(err, "%s: kernels: %s appears twice", e->where, tok);
        if (s->nkernels == SCEN_MAX_KERNELS) return mb_fail(err, "%s: kernels: too many", e->where);
        s->kernels[s->nkernels++] = k;
    }
    if (!s->nkernels) return mb_fail(err, "%s: kernels: empty list: expected \"all\" or some of %s", e->where, known);
    return 0;
}

static int interpret(scenario *s, const scen_entry *e, int max_pus, mb_err *err)
{
    const key_def *k = find_key(e->key);
    int64_t v;
    double d;
    char *end;
    switch (k->type) {
    case K_STR:
        if (!strcmp(e->key, "name")) {
            if (!e->value[0] || strlen(e->value) >= sizeof s->name)
                return mb_fail(err, "%s: name: expected %s (up to %zu characters)", e->where, k->help, sizeof s->name - 1);
            for (const char *c = e->value; *c; c++)
                if (!isalnum((unsigned char)*c) && *c != '-' && *c != '_')
                    return mb_fail(err, "%s: name: expected %s, got \"%s\"", e->where, k->help, e->value);
            snprintf(s->name, sizeof s->name, "%s", e->value);
        } else if (!strcmp(e->key, "counters")) {
            /* resolved here so that a bad event name is reported with its file:line */
            cnt_system sys;
            mb_err cerr = {"out of memory"};
            cnt_set *cs = malloc(sizeof *cs);
            int rc = !cs || cnt_system_init(&sys, &cerr) || cnt_set_init(cs, &sys, e->value, 3, 64, &cerr);
            free(cs);
            if (rc) return mb_fail(err, "%s: counters: %s", e->where, cerr.msg);
            snprintf(s->counters, sizeof s->counters, "%s", e->value);
        } else if (!strcmp(e->key, "sim_ll")) {
            if (!e->value[0] || strlen(e->value) >= sizeof s->sim_ll)
                return mb_fail(err, "%s: sim_ll: expected %s", e->where, k->help);
            snprintf(s->sim_ll, sizeof s->sim_ll, "%s", e->value);
        } else snprintf(s->description, sizeof s->description, "%s", e->value);
        return 0;
    case K_KERNELS: return parse_kernels(s, e, err);
    case K_INTS: return parse_ints(e, k, max_pus, s->vals[k->ix], &s->nvals[k->ix], err);
    case K_A:
        if (!strcmp(e->value, "diag")) s->shape.a_kind = SCAN_A_DIAG;
        else if (!strcmp(e->value, "head")) s->shape.a_kind = SCAN_A_HEAD;
        else return mb_fail(err, "%s: a: expected diag or head, got \"%s\"", e->where, e->value);
        return 0;
    case K_BIND:
        if (pin_mode_parse(e->value, &s->set.bind))
            return mb_fail(err, "%s: bind: expected compact, scatter or none, got \"%s\"", e->where, e->value);
        return 0;
    case K_LEVEL:
        if (!strcmp(e->value, "scan")) s->set.block_level = false;
        else if (!strcmp(e->value, "block")) s->set.block_level = true;
        else return mb_fail(err, "%s: level: expected scan or block, got \"%s\"", e->where, e->value);
        return 0;
    case K_DIR:
        if (bench_direction_parse(e->value, &s->set.direction))
            return mb_fail(err, "%s: direction: expected forward, backward or both, got \"%s\"", e->where, e->value);
        return 0;
    case K_BOOL: {
        bool b = false;
        if (parse_bool(e, &b, err)) return -1;
        if (!strcmp(e->key, "softplus")) s->shape.softplus = b;
        else if (!strcmp(e->key, "delta_bias")) s->shape.has_bias = b;
        else if (!strcmp(e->key, "dskip")) s->shape.has_dskip = b;
        else if (!strcmp(e->key, "z")) s->shape.has_z = b;
        else if (!strcmp(e->key, "h0")) s->shape.has_h0 = b;
        else if (!strcmp(e->key, "h_last")) s->shape.want_h_last = b;
        else if (!strcmp(e->key, "sim")) s->sim = b;
        else if (!strcmp(e->key, "sim_cold")) s->sim_cold = b;
        else s->set.check = b;
        return 0;
    }
    case K_INT:
        if (strchr(e->value, ','))
            return mb_fail(err, "%s: %s takes one value (only shape keys, threads and chunk can be swept)", e->where, e->key);
        if (parse_int(e->value, &v)) return mb_fail(err, "%s: %s: expected %s, got \"%s\"", e->where, e->key, k->help, e->value);
        if (v < k->min || v > k->max) return mb_fail(err, "%s: %s: %lld is out of range: expected %s", e->where, e->key, (long long)v, k->help);
        if (!strcmp(e->key, "min_reps")) s->set.min_reps = (int)v;
        else if (!strcmp(e->key, "max_reps")) s->set.max_reps = (int)v;
        else if (!strcmp(e->key, "warmup")) s->set.warmup = (int)v;
        else if (!strcmp(e->key, "checkpoint")) s->set.checkpoint = (int)v;
        else if (!strcmp(e->key, "counter_reps")) s->set.counter_reps = (int)v;
        else if (!strcmp(e->key, "sim_max_updates")) s->sim_max_updates = v;
        else s->set.seed = (uint64_t)v;
        return 0;
    case K_DOUBLE:
        if (strchr(e->value, ','))
            return mb_fail(err, "%s: %s takes one value (only shape keys, threads and chunk can be swept)", e->where, e->key);
        errno = 0;
        d = strtod(e->value, &end);
        if (!e->value[0] || *end || errno || !isfinite(d))
            return mb_fail(err, "%s: %s: expected %s, got \"%s\"", e->where, e->key, k->help, e->value);
        if (d < (double)k->min || d > (double)k->max)
            return mb_fail(err, "%s: %s: %g is out of range: expected %s", e->where, e->key, d, k->help);
        s->set.min_time = d;
        return 0;
    }
    return 0;
}

// ---------------------------------------------------------------- overrides

/* Puts (section, key, value) in the entry list, replacing an entry of the same key. */
static int put_entry(scenario *s, const char *section, const char *key, const char *value, const char *where,
                     mb_err *err)
{
    scen_entry *e = NULL;
    for (int i = 0; i < s->nentries; i++)
        if (!strcmp(s->entries[i].key, key) && strcmp(s->entries[i].section, "quick")) e = &s->entries[i];
    if (!e) {
        if (s->nentries == SCEN_MAX_ENTRIES) return mb_fail(err, "%s: too many entries", where);
        e = &s->entries[s->nentries++];
    }
    if (strlen(value) >= sizeof e->value) return mb_fail(err, "%s: the value of %s is too long", where, key);
    snprintf(e->section, sizeof e->section, "%s", section);
    snprintf(e->key, sizeof e->key, "%s", key);
    snprintf(e->value, sizeof e->value, "%s", value);
    snprintf(e->where, sizeof e->where, "%s", where);
    return 0;
}

static int apply_set(scenario *s, const char *set, mb_err *err)
{
    char where[300], key[64];
    snprintf(where, sizeof where, "--set %s", set);
    const char *eq = strchr(set, '=');
    if (!eq || eq == set || eq - set >= (long)sizeof key)
        return mb_fail(err, "--set: expected key=value, got \"%s\"", set);
    memcpy(key, set, (size_t)(eq - set));
    key[eq - set] = 0;
    trim(key);
    const char *dot = strchr(key, '.');
    const char *name = dot ? dot + 1 : key;
    const key_def *k = find_key(name);
    if (!k || (dot && (strncmp(key, k->section, (size_t)(dot - key)) || strlen(k->section) != (size_t)(dot - key)))) {
        char a[600], b[600], c[300];
        keys_of("scenario", c, sizeof c), keys_of("shape", a, sizeof a), keys_of("run", b, sizeof b);
        return mb_fail(err, "--set: unknown key \"%s\": expected one of %s; %s; %s", key, c, a, b);
    }
    char value[256];
    snprintf(value, sizeof value, "%s", eq + 1);
    trim(value);
    return put_entry(s, k->section, k->key, value, where, err);
}

// ---------------------------------------------------------------- loading

void scenario_resolve(const char *name_or_path, char *path, size_t len)
{
    size_t n = strlen(name_or_path);
    if (strchr(name_or_path, '/') || (n > 4 && !strcmp(name_or_path + n - 4, ".ini")))
        snprintf(path, len, "%s", name_or_path);
    else
        snprintf(path, len, "%s/scenarios/%s.ini", MB_SOURCE_DIR, name_or_path);
}

static const char *entry_where(const scenario *s, const char *key)
{
    for (int i = 0; i < s->nentries; i++)
        if (!strcmp(s->entries[i].key, key) && strcmp(s->entries[i].section, "quick")) return s->entries[i].where;
    return s->path;
}

int scenario_load(scenario *s, const char *path, bool quick, const char *const *sets, int nsets,
                  const char *kernels, int max_pus, mb_err *err)
{
    memset(s, 0, sizeof *s);
    snprintf(s->path, sizeof s->path, "%s", path);
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    snprintf(s->name, sizeof s->name, "%.*s", (int)strcspn(base, "."), base);
    s->quick = quick;

    // ---- read the file
    line_reader rd = {.f = fopen(path, "r")};
    if (!rd.f) return mb_fail(err, "%s: %s", path, strerror(errno));
    parse_ctx c = {.s = s, .rd = &rd, .err = err};
    int rc = ini_parse_stream(read_line, &rd, on_entry, &c);
    fclose(rd.f);
    if (c.failed) return -1;
    if (rd.long_line) return mb_fail(err, "%s:%d: line too long (at most %d characters)", path, rd.long_line_at, 200);
    if (rc > 0)
        return mb_fail(err, "%s:%d: expected `key = value`, a [section] or a ; comment", path, rc);
    if (rc < 0) return mb_fail(err, "%s: cannot be read", path);

    // ---- overrides: [quick], --set, --kernels
    if (quick) {
        bool any = false;
        for (int i = 0; i < s->nentries; i++) {
            scen_entry q = s->entries[i];
            if (strcmp(q.section, "quick")) continue;
            any = true;
            char where[640];
            snprintf(where, sizeof where, "%s ([quick])", q.where);
            if (put_entry(s, find_key(q.key)->section, q.key, q.value, where, err)) return -1;
        }
        if (!any) { /* no [quick] section: fewer and shorter repetitions only */
            if (put_entry(s, "run", "min_reps", "6", "--quick", err) ||
                put_entry(s, "run", "min_time", "0.02", "--quick", err))
                return -1;
        }
    }
    for (int i = 0; i < nsets; i++)
        if (apply_set(s, sets[i], err)) return -1;
    if (kernels && put_entry(s, "scenario", "kernels", kernels, "--kernels", err)) return -1;

    // ---- interpret
    cli_shape cs;
    cli_shape_default(&cs);
    s->shape = cs.shape;
    bench_settings_default(&s->set);
    s->set.check = true;
    s->sim_max_updates = (int64_t)1 << 22;
    for (int i = 0; i < scan_kernel_count; i++)
        if (!scan_kernels[i]->oracle) s->kernels[s->nkernels++] = scan_kernels[i];
    for (int i = 0; i < s->nentries; i++) {
        if (!strcmp(s->entries[i].section, "quick")) continue;
        if (interpret(s, &s->entries[i], max_pus, err)) return -1;
    }

    // ---- conflicts
    bool head = s->shape.a_kind == SCAN_A_HEAD;
    if (s->nvals[SCEN_CHANNELS] && (s->nvals[SCEN_D_MODEL] || s->nvals[SCEN_EXPAND]))
        return mb_fail(err, "%s: channels conflicts with d_model/expand (%s): give channels, or d_model and expand",
                       entry_where(s, "channels"), entry_where(s, s->nvals[SCEN_D_MODEL] ? "d_model" : "expand"));
    if (s->nvals[SCEN_HEADS] && s->nvals[SCEN_HEADDIM])
        return mb_fail(err, "%s: heads conflicts with headdim (%s): give one (the other is channels / it)",
                       entry_where(s, "heads"), entry_where(s, "headdim"));
    if (!head && (s->nvals[SCEN_HEADS] || s->nvals[SCEN_HEADDIM]))
        return mb_fail(err, "%s: %s applies to a = head problems only (this scenario has a = diag)",
                       entry_where(s, s->nvals[SCEN_HEADS] ? "heads" : "headdim"), s->nvals[SCEN_HEADS] ? "heads" : "headdim");
    if (s->set.max_reps && s->set.max_reps < s->set.min_reps)
        return mb_fail(err, "%s: max_reps (%d) is below min_reps (%d)", entry_where(s, "max_reps"), s->set.max_reps,
                       s->set.min_reps);
    /* bench_block_point counts nothing: a block sweep's counter columns would stay empty */
    if (s->counters[0] && s->set.block_level)
        return mb_fail(err, "%s: counters count the scan alone: not with level = block", entry_where(s, "counters"));
    /* the cache simulation runs the scan's forward (cachesim_child): its counts would be
     * reported on rows that timed something else */
    if (s->sim && (s->set.direction != BENCH_FORWARD || s->set.block_level))
        return mb_fail(err, "%s: sim simulates the scan's forward only: it needs direction = forward and level = scan "
                            "(this scenario has direction = %s, level = %s)",
                       entry_where(s, "sim"), bench_direction_name(s->set.direction),
                       s->set.block_level ? "block" : "scan");
    for (int k = 0; k < SCEN_NINT; k++)
        if (s->nvals[k] > 1) s->axes[s->naxes++] = (scen_int)k;
    if (!s->description[0]) snprintf(s->description, sizeof s->description, "%s", s->name);

    // ---- every point must be a valid problem
    scen_point *pts = NULL;
    int n = 0;
    if (scenario_points(s, &pts, &n, err)) return -1;
    free(pts);
    return 0;
}

// ---------------------------------------------------------------- points

void scenario_point_label(const scenario *s, const scen_point *p, char *buf, size_t len)
{
    size_t off = 0;
    buf[0] = 0;
    for (int a = 0; a < s->naxes && off < len; a++)
        off += (size_t)snprintf(buf + off, len - off, "%s%s=%lld", a ? " " : "", int_names[s->axes[a]],
                                (long long)p->axis_val[s->axes[a]]);
}

static int64_t first_or(const scenario *s, scen_int k, int64_t dflt)
{
    return s->nvals[k] ? s->vals[k][0] : dflt;
}

int scenario_points(const scenario *s, scen_point **pts, int *n, mb_err *err)
{
    *pts = NULL;
    *n = 0;
    int64_t total = 1;
    for (int a = 0; a < s->naxes; a++) total *= s->nvals[s->axes[a]];
    if (total > SCEN_MAX_POINTS)
        return mb_fail(err, "%s: the axes make %lld points (at most %d)", s->path, (long long)total, SCEN_MAX_POINTS);
    scen_point *p = calloc((size_t)total, sizeof *p);
    if (!p) return mb_fail(err, "out of memory (points)");
    for (int64_t i = 0; i < total; i++) {
        scen_point *q = &p[i];
        q->index = (int)i;
        for (int k = 0; k < SCEN_NINT; k++) q->axis_val[k] = first_or(s, (scen_int)k, 0);
        int64_t rest = i;
        for (int a = s->naxes - 1; a >= 0; a--) { /* first axis outermost */
            int m = s->nvals[s->axes[a]];
            q->axis_val[s->axes[a]] = s->vals[s->axes[a]][rest % m];
            rest /= m;
        }
        scan_shape sh = s->shape;
        sh.batch = q->axis_val[SCEN_BATCH] ? q->axis_val[SCEN_BATCH] : sh.batch;
        sh.seqlen = q->axis_val[SCEN_SEQLEN] ? q->axis_val[SCEN_SEQLEN] : sh.seqlen;
        sh.d_state = q->axis_val[SCEN_D_STATE] ? q->axis_val[SCEN_D_STATE] : sh.d_state;
        sh.groups = q->axis_val[SCEN_GROUPS] ? q->axis_val[SCEN_GROUPS] : sh.groups;
        if (s->nvals[SCEN_D_MODEL] || s->nvals[SCEN_EXPAND]) {
            q->d_model = q->axis_val[SCEN_D_MODEL] ? q->axis_val[SCEN_D_MODEL] : 768;
            q->expand = q->axis_val[SCEN_EXPAND] ? q->axis_val[SCEN_EXPAND] : 2;
            if (!mb_mul(q->d_model, q->expand, &sh.channels)) {
                free(p);
                return mb_fail(err, "%s: d_model x expand overflows", s->path);
            }
        } else if (s->nvals[SCEN_CHANNELS]) {
            sh.channels = q->axis_val[SCEN_CHANNELS];
        }
        char label[256];
        scenario_point_label(s, q, label, sizeof label);
        if (sh.a_kind == SCAN_A_HEAD) {
            if (q->axis_val[SCEN_HEADS]) sh.heads = q->axis_val[SCEN_HEADS];
            else {
                q->headdim = q->axis_val[SCEN_HEADDIM] ? q->axis_val[SCEN_HEADDIM] : 64;
                if (sh.channels % q->headdim) {
                    const long long hd = (long long)q->headdim;
                    free(p);
                    return mb_fail(err, "%s: at the point %s: headdim %lld does not divide channels %lld", s->path,
                                   label[0] ? label : "(no axes)", hd, (long long)sh.channels);
                }
                sh.heads = sh.channels / q->headdim;
            }
        } else sh.heads = sh.channels;
        mb_err e2;
        if (scan_shape_check(&sh, &e2)) {
            free(p);
            return mb_fail(err, "%s: at the point %s: %s", s->path, label[0] ? label : "(no axes)", e2.msg);
        }
        q->shape = sh;
        q->threads = (int)(q->axis_val[SCEN_THREADS] ? q->axis_val[SCEN_THREADS] : 1);
        q->chunk = (int)q->axis_val[SCEN_CHUNK];
    }
    *pts = p;
    *n = (int)total;
    return 0;
}

// ---------------------------------------------------------------- writing

static bool has_entry(const scenario *s, const char *key)
{
    for (int i = 0; i < s->nentries; i++)
        if (!strcmp(s->entries[i].key, key) && strcmp(s->entries[i].section, "quick")) return true;
    return false;
}

void scenario_write(FILE *f, const scenario *s, const char *comment)
{
    if (comment && *comment) fprintf(f, "; %s\n", comment);
    fprintf(f, "; read from %s%s\n", s->path, s->quick ? " with --quick" : "");
    const char *order[3] = {"scenario", "shape", "run"};
    for (int sec = 0; sec < 3; sec++) {
        fprintf(f, "\n[%s]\n", order[sec]);
        if (sec == 0) fprintf(f, "name = %s\n", s->name);
        for (int i = 0; i < s->nentries; i++) {
            const scen_entry *e = &s->entries[i];
            if (strcmp(e->section, order[sec]) || !strcmp(e->key, "name")) continue;
            const key_def *k = find_key(e->key);
            fprintf(f, "%s = ", e->key);
            if (k->type == K_INTS) /* resolved, so `all` means the same on resume */
                for (int j = 0; j < s->nvals[k->ix]; j++)
                    fprintf(f, "%s%lld", j ? ", " : "", (long long)s->vals[k->ix][j]);
            else if (k->type == K_KERNELS)
                for (int j = 0; j < s->nkernels; j++) fprintf(f, "%s%s", j ? ", " : "", s->kernels[j]->name);
            else fputs(e->value, f);
            fputc('\n', f);
        }
        if (sec == 0 && !has_entry(s, "kernels")) {
            fprintf(f, "kernels = ");
            for (int j = 0; j < s->nkernels; j++) fprintf(f, "%s%s", j ? ", " : "", s->kernels[j]->name);
            fputc('\n', f);
        }
    }
}

/* harness/merge.c: merging sweep directories (see merge.h, docs/cluster.md).
 *
 * Four steps: load every input (meta.json, points.csv, samples.csv) and check they are
 * sweeps of one scenario and partition; sort all rows by (point, kernel) to find runs
 * given twice (identical: kept once; different: refused); check that no plot mixes
 * machine types (unless allowed); then write the merged directory, fits included. */
#include "merge.h"

#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "harness/cli.h"
#include "harness/csv.h"
#include "harness/fits.h"
#include "harness/machine.h"
#include "harness/results.h"
#include "harness/scenario.h"
#include "harness/shard.h"

// ---------------------------------------------------------------- inputs

typedef struct {
    const char *dir;   /* as given */
    char real[PATH_MAX];
    json_t *meta;
    csv_table pts, smp;
    char hash[32], rule[32], type[32], host[256];
    int index, count;
    int *sidx;         /* [smp.nrows] sample rows sorted by (point, kernel, rep) */
} input;

static const csv_table *sort_table; /* qsort has no context argument: set around each sort */

static int cmp_sample(const void *a, const void *b)
{
    const int x = *(const int *)a, y = *(const int *)b;
    const csv_table *t = sort_table;
    double px = csv_num(t, x, "point"), py = csv_num(t, y, "point");
    if (px != py) return px < py ? -1 : 1;
    int c = strcmp(csv_get(t, x, "kernel"), csv_get(t, y, "kernel"));
    if (c) return c;
    double rx = csv_num(t, x, "rep"), ry = csv_num(t, y, "rep");
    return rx < ry ? -1 : rx > ry ? 1 : x - y;
}

/* The samples of (point, kernel) in an input: sidx[*lo .. *hi). */
static void sample_range(const input *in, int point, const char *kernel, int *lo, int *hi)
{
    int a = 0, b = in->smp.nrows;
    while (a < b) { /* first sample not before (point, kernel) */
        int m = (a + b) / 2, r = in->sidx[m];
        double p = csv_num(&in->smp, r, "point");
        int c = p != point ? (p < point ? -1 : 1) : strcmp(csv_get(&in->smp, r, "kernel"), kernel);
        if (c < 0) a = m + 1;
        else b = m;
    }
    *lo = a;
    while (a < in->smp.nrows && csv_num(&in->smp, in->sidx[a], "point") == point &&
           !strcmp(csv_get(&in->smp, in->sidx[a], "kernel"), kernel))
        a++;
    *hi = a;
}

static void input_free(input *in)
{
    json_decref(in->meta);
    csv_table_free(&in->pts);
    csv_table_free(&in->smp);
    free(in->sidx);
}

/* Loads one input; every problem is bad input (MERGE_REFUSED) naming the file. */
static int input_load(input *in, const char *dir, mb_err *err)
{
    memset(in, 0, sizeof *in);
    in->dir = dir;
    char path[PATH_MAX + 64];
    if (!realpath(dir, in->real)) return mb_fail(err, "%s: %s", dir, strerror(errno)), MERGE_REFUSED;
    snprintf(path, sizeof path, "%s/meta.json", dir);
    json_error_t je;
    in->meta = json_load_file(path, 0, &je);
    if (!json_is_object(in->meta))
        return mb_fail(err, "%s: not a sweep directory (%s)", path, in->meta ? "not a JSON object" : je.text),
               MERGE_REFUSED;
    const char *kind = json_string_value(json_object_get(in->meta, "mbench"));
    if (kind && !strcmp(kind, "merge"))
        return mb_fail(err, "%s is itself a merge: merge the directories it came from (its meta.json lists them)", dir),
               MERGE_REFUSED;
    snprintf(path, sizeof path, "%s/points.csv", dir);
    if (csv_read(&in->pts, path, err)) return MERGE_REFUSED;
    if (csv_col(&in->pts, "point") < 0 || csv_col(&in->pts, "kernel") < 0 || csv_col(&in->pts, "status") < 0)
        return mb_fail(err, "%s: not a points.csv of mbench (no point/kernel/status columns)", path), MERGE_REFUSED;
    snprintf(path, sizeof path, "%s/samples.csv", dir);
    struct stat st;
    if (stat(path, &st) == 0) {
        if (csv_read(&in->smp, path, err)) return MERGE_REFUSED;
    } else if (csv_table_set_head(&in->smp, results_sample_cols, results_sample_ncols, err)) return -1;
    in->sidx = malloc((size_t)(in->smp.nrows ? in->smp.nrows : 1) * sizeof *in->sidx); /* [nrows] */
    if (!in->sidx) return mb_fail(err, "out of memory (merge)");
    for (int r = 0; r < in->smp.nrows; r++) in->sidx[r] = r;
    sort_table = &in->smp;
    qsort(in->sidx, (size_t)in->smp.nrows, sizeof *in->sidx, cmp_sample);
    for (int r = 0; r < in->pts.nrows; r++) { /* every ok row has its samples */
        if (strcmp(csv_get(&in->pts, r, "status"), "ok")) continue;
        int lo, hi;
        sample_range(in, (int)csv_num(&in->pts, r, "point"), csv_get(&in->pts, r, "kernel"), &lo, &hi);
        if (hi - lo != (int)csv_num(&in->pts, r, "reps"))
            return mb_fail(err, "%s/samples.csv: point %s %s has %d samples but points.csv says reps = %s", dir,
                           csv_get(&in->pts, r, "point"), csv_get(&in->pts, r, "kernel"), hi - lo,
                           csv_get(&in->pts, r, "reps")),
                   MERGE_REFUSED;
    }

    // ---- the scenario, the partition, the machine
    json_t *sc = json_object_get(in->meta, "scenario");
    const char *h = json_string_value(json_object_get(sc, "hash"));
    const char *asrun = json_string_value(json_object_get(sc, "as_run"));
    if (h) snprintf(in->hash, sizeof in->hash, "%s", h);
    else if (asrun) shard_scenario_hash(asrun, in->hash, sizeof in->hash);
    else return mb_fail(err, "%s/meta.json: no scenario.as_run: cannot tell which scenario it ran", dir), MERGE_REFUSED;
    json_t *part = json_object_get(in->meta, "partition");
    const char *rule = json_string_value(json_object_get(part, "rule"));
    snprintf(in->rule, sizeof in->rule, "%s", rule ? rule : SHARD_RULE); /* no partition: a whole sweep, 0/1 */
    in->index = part ? (int)json_integer_value(json_object_get(part, "index")) : 0;
    in->count = part ? (int)json_integer_value(json_object_get(part, "count")) : 1;
    if (in->count < 1 || in->index < 0 || in->index >= in->count)
        return mb_fail(err, "%s/meta.json: partition: bad shard %d/%d", dir, in->index, in->count), MERGE_REFUSED;
    json_t *mach = json_object_get(in->meta, "machine");
    const char *t = json_string_value(json_object_get(in->meta, "machine_type"));
    if (t) snprintf(in->type, sizeof in->type, "%s", t);
    else machine_type_id(mach, in->type, sizeof in->type);
    const char *hn = json_string_value(json_object_get(mach, "hostname"));
    snprintf(in->host, sizeof in->host, "%s", hn ? hn : "");
    json_t *types = json_object_get(in->meta, "machine_types");
    for (int r = 0; r < in->pts.nrows && types; r++) { /* every row's machine is described */
        const char *rt = csv_get(&in->pts, r, "machine_type");
        if (*rt && !json_object_get(types, rt))
            return mb_fail(err, "%s/points.csv: point %s %s was measured on machine type %s, which %s/meta.json's "
                                "machine_types does not describe", dir, csv_get(&in->pts, r, "point"),
                           csv_get(&in->pts, r, "kernel"), rt, dir),
                   MERGE_REFUSED;
    }
    return 0;
}

/* The machine description of a type, from an input's meta.json. */
static json_t *type_desc(const input *in, const char *type)
{
    json_t *d = json_object_get(json_object_get(in->meta, "machine_types"), type);
    if (!d && !strcmp(type, in->type)) d = json_object_get(in->meta, "machine");
    return d;
}

// ---------------------------------------------------------------- rows

typedef struct {
    int point;
    const char *kernel;
    int in, row;     /* input and its row */
    double order;
    bool keep;
} entry;

static int cmp_entry(const void *a, const void *b)
{
    const entry *x = a, *y = b;
    if (x->point != y->point) return x->point < y->point ? -1 : 1;
    int c = strcmp(x->kernel, y->kernel);
    if (c) return c;
    return x->in != y->in ? x->in - y->in : x->row - y->row;
}

static int cmp_output(const void *a, const void *b) /* the merged rows: in the sweep's run order */
{
    const entry *x = *(const entry *const *)a, *y = *(const entry *const *)b;
    if (x->order != y->order) return x->order < y->order ? -1 : 1;
    return cmp_entry(x, y);
}

/* "point 3 (batch=1 seqlen=16 channels=8 d_state=16 threads=1) kernel fused" */
static void run_label(const csv_table *t, int r, char *buf, size_t len)
{
    static const char *const cols[] = {"batch", "seqlen", "channels", "d_state", "heads", "threads", "chunk"};
    size_t off = (size_t)snprintf(buf, len, "point %s (", csv_get(t, r, "point"));
    for (size_t i = 0; i < sizeof cols / sizeof *cols && off < len; i++)
        off += (size_t)snprintf(buf + off, len - off, "%s%s=%s", i ? " " : "", cols[i], csv_get(t, r, cols[i]));
    if (off < len) snprintf(buf + off, len - off, ") kernel %s", csv_get(t, r, "kernel"));
}

/* NULL if two rows (and their samples) are identical, else the first column that differs. */
static const char *rows_differ(const input *a, int ra, const input *b, int rb)
{
    for (int c = 0; c < results_point_ncols; c++)
        if (strcmp(csv_get(&a->pts, ra, results_point_cols[c]), csv_get(&b->pts, rb, results_point_cols[c])))
            return results_point_cols[c];
    const int p = (int)csv_num(&a->pts, ra, "point");
    const char *k = csv_get(&a->pts, ra, "kernel");
    int alo, ahi, blo, bhi;
    sample_range(a, p, k, &alo, &ahi);
    sample_range(b, p, k, &blo, &bhi);
    if (ahi - alo != bhi - blo) return "samples";
    for (int i = 0; i < ahi - alo; i++)
        for (int c = 0; c < results_sample_ncols; c++)
            if (strcmp(csv_get(&a->smp, a->sidx[alo + i], results_sample_cols[c]),
                       csv_get(&b->smp, b->sidx[blo + i], results_sample_cols[c])))
                return "samples";
    return NULL;
}

/* The row's machine type: its column, else its directory's. */
static const char *row_type(const input *in, int r)
{
    const char *t = csv_get(&in->pts, r, "machine_type");
    return *t ? t : in->type;
}

// ---------------------------------------------------------------- mixed machines

typedef struct {
    char *key;        /* "axis|group" of a plot */
    const char *type;
    int row;          /* in the merged table */
} plot_key;

static int cmp_plot_key(const void *a, const void *b)
{
    const plot_key *x = a, *y = b;
    int c = strcmp(x->key, y->key);
    if (c) return c;
    c = strcmp(x->type, y->type);
    return c ? c : x->row - y->row;
}

/* Refuses ok rows of two machine types in one plot (one axis, one value of the other
 * axes); src[row] is the input of each merged row. */
static int check_mixed(const csv_table *t, const int *src, const input *ins, mb_err *err)
{
    const char *axes[16];
    int naxes = fits_axes(t, axes, 16), nkeys = 0, rc = 0;
    const int per = naxes ? naxes : 1;
    plot_key *k = calloc((size_t)(t->nrows ? t->nrows : 1) * (size_t)per, sizeof *k); /* [nrows * per] */
    if (!k) return mb_fail(err, "out of memory (merge)");
    for (int r = 0; r < t->nrows && !rc; r++) {
        if (strcmp(csv_get(t, r, "status"), "ok")) continue;
        for (int a = 0; a < per; a++) {
            char buf[512];
            size_t off = (size_t)snprintf(buf, sizeof buf, "%s|", naxes ? axes[a] : "");
            for (int b = 0; b < naxes && off < sizeof buf; b++)
                if (b != a) off += (size_t)snprintf(buf + off, sizeof buf - off, " %s=%s", axes[b], csv_get(t, r, axes[b]));
            if (!(k[nkeys].key = strdup(buf))) {
                rc = mb_fail(err, "out of memory (merge)");
                break;
            }
            k[nkeys].type = csv_get(t, r, "machine_type");
            k[nkeys++].row = r;
        }
    }
    if (!rc) qsort(k, (size_t)nkeys, sizeof *k, cmp_plot_key);
    for (int i = 1; i < nkeys && !rc; i++) {
        if (strcmp(k[i].key, k[i - 1].key) || !strcmp(k[i].type, k[i - 1].type)) continue;
        const int ra = k[i - 1].row, rb = k[i].row;
        const input *ia = &ins[src[ra]], *ib = &ins[src[rb]];
        char la[300], lb[300], pa[300], pb[300], diff[1200];
        json_t *da = type_desc(ia, k[i - 1].type), *db = type_desc(ib, k[i].type);
        machine_type_label(da, la, sizeof la);
        machine_type_label(db, lb, sizeof lb);
        run_label(t, ra, pa, sizeof pa);
        run_label(t, rb, pb, sizeof pb);
        /* what differs decides what to do: other hardware stays apart; the same hardware
         * under another build is re-measured with one build */
        const int parts = machine_type_diff(da, db, diff, sizeof diff);
        const char *todo = !parts || (parts & MACHINE_DIFF_MACHINE)
                               ? "merge one machine type's directories, or pass --allow-mixed to keep the types apart"
                               : "the same machine under two mbench builds: rerun one side's shards with the other's "
                                 "build (one commit, one compiler and flags), or pass --allow-mixed to keep them apart";
        mb_fail(err, "two machine types in one plot (%s%s%s): %s was measured in %s on %s [type %s], %s in %s on "
                          "%s [type %s]; they differ in %s; %s",
                     k[i].key[0] == '|' ? "no axis" : "", k[i].key[0] == '|' ? "" : "axis ",
                     k[i].key[0] == '|' ? "" : k[i].key, pa, ia->dir, la, k[i - 1].type, pb, ib->dir, lb, k[i].type,
                     parts ? diff : "nothing this mbench describes (older meta.json?)", todo);
        rc = MERGE_REFUSED;
    }
    for (int i = 0; i < nkeys; i++) free(k[i].key);
    free(k);
    return rc;
}

// ---------------------------------------------------------------- writing

static void write_text(FILE *f, const void *arg) { fputs(arg, f); }

static void write_fits(FILE *f, const void *arg)
{
    const void *const *a = arg;
    fits_write_csv(f, a[0], *(const int *)a[1], a[2]);
}

static void note(merge_report *rep, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void note(merge_report *rep, const char *fmt, ...)
{
    size_t off = strlen(rep->notes);
    if (off + 2 >= sizeof rep->notes) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(rep->notes + off, sizeof rep->notes - off - 1, fmt, ap);
    va_end(ap);
    off = strlen(rep->notes);
    snprintf(rep->notes + off, sizeof rep->notes - off, "\n");
}

/* Runs of the scenario missing from the merge (and rows the scenario does not have). */
static void completeness(const input *first, const entry *e, int ne, merge_report *rep)
{
    char path[PATH_MAX + 64];
    snprintf(path, sizeof path, "%s/scenario.ini", first->dir);
    scenario *sc = calloc(1, sizeof *sc);
    scen_point *pts = NULL;
    int npts = 0;
    mb_err err;
    rep->total_runs = -1;
    if (!sc || scenario_load(sc, path, false, NULL, 0, NULL, CLI_MAX_THREADS, &err) ||
        scenario_points(sc, &pts, &npts, &err)) {
        note(rep, "cannot load %s here (%s): the runs are not checked for completeness", path, sc ? err.msg : "out of memory");
        free(sc);
        return;
    }
    rep->total_runs = npts * sc->nkernels;
    char list[600] = "";
    size_t off = 0;
    for (int p = 0; p < npts; p++)
        for (int k = 0; k < sc->nkernels; k++) {
            entry key = {.point = p, .kernel = sc->kernels[k]->name, .in = -1};
            int a = 0, b = ne; /* first entry not before (p, kernel) */
            while (a < b) {
                int m = (a + b) / 2;
                int c = e[m].point != p ? (e[m].point < p ? -1 : 1) : strcmp(e[m].kernel, key.kernel);
                if (c < 0) a = m + 1;
                else b = m;
            }
            if (a < ne && e[a].point == p && !strcmp(e[a].kernel, key.kernel)) continue;
            if (rep->missing_runs++ < 8 && off < sizeof list)
                off += (size_t)snprintf(list + off, sizeof list - off, "%spoint %d %s", off ? ", " : "", p, key.kernel);
        }
    if (rep->missing_runs)
        note(rep, "%d of the scenario's %d runs are in no input: %s%s", rep->missing_runs, rep->total_runs, list,
             rep->missing_runs > 8 ? ", ..." : "");
    int extra = 0;
    for (int i = 0; i < ne; i++) {
        bool known = e[i].point >= 0 && e[i].point < npts && scan_kernel_find(e[i].kernel);
        extra += e[i].keep && !known;
    }
    if (extra) note(rep, "%d rows are not runs of the scenario in %s (kept)", extra, path);
    free(pts);
    free(sc);
}

// ---------------------------------------------------------------- merge

int merge_dirs(const char *const *dirs, int ndirs, const char *out, const merge_opts *o, merge_report *rep,
               mb_err *err)
{
    memset(rep, 0, sizeof *rep);
    rep->total_runs = -1;
    if (ndirs < 1) return mb_fail(err, "merge: no directories to merge"), MERGE_REFUSED;
    input *ins = calloc((size_t)ndirs, sizeof *ins); /* [ndirs] */
    entry *e = NULL, **outrows = NULL;
    int *src = NULL;
    char *shards = NULL;
    json_t *meta = NULL;
    fits_set *sets = NULL;
    csv_table mt, ms;
    csv_table_init(&mt);
    csv_table_init(&ms);
    int rc = 0, n = 0, ne = 0;
    if (!ins) return mb_fail(err, "out of memory (merge)");

    // ---- load the inputs; the same directory twice counts once
    char outreal[PATH_MAX];
    const bool out_exists = realpath(out, outreal) != NULL;
    for (int i = 0; i < ndirs; i++) {
        if ((rc = input_load(&ins[n], dirs[i], err))) {
            input_free(&ins[n]);
            goto done;
        }
        if (out_exists && !strcmp(ins[n].real, outreal)) {
            input_free(&ins[n]);
            mb_fail(err, "--out %s is one of the inputs: merge into a new directory", out);
            rc = MERGE_REFUSED;
            goto done;
        }
        bool twice = false;
        for (int j = 0; j < n; j++) twice |= !strcmp(ins[j].real, ins[n].real);
        if (twice) {
            note(rep, "%s is given twice: merged once", dirs[i]);
            input_free(&ins[n]);
            continue;
        }
        n++;
    }
    rep->ndirs = n;

    // ---- one scenario, one partition
    for (int i = 1; i < n; i++) {
        if (strcmp(ins[i].hash, ins[0].hash)) {
            mb_fail(err, "%s and %s are sweeps of different scenarios (scenario hash %s vs %s: compare their "
                              "scenario.ini)", ins[0].dir, ins[i].dir, ins[0].hash, ins[i].hash);
            rc = MERGE_REFUSED;
            goto done;
        }
        if (strcmp(ins[i].rule, ins[0].rule) || ins[i].count != ins[0].count) {
            mb_fail(err, "%s is shard %d/%d (rule %s) but %s is shard %d/%d (rule %s): merge the shards of one "
                              "partition", ins[i].dir, ins[i].index, ins[i].count, ins[i].rule, ins[0].dir,
                         ins[0].index, ins[0].count, ins[0].rule);
            rc = MERGE_REFUSED;
            goto done;
        }
    }
    rep->shard_count = ins[0].count;
    shards = calloc((size_t)ins[0].count, 1); /* [count] present? */
    if (!shards) {
        rc = mb_fail(err, "out of memory (merge)");
        goto done;
    }
    for (int i = 0; i < n; i++) {
        rep->nshards += !shards[ins[i].index];
        shards[ins[i].index] = 1;
        const char *status = json_string_value(json_object_get(ins[i].meta, "status"));
        if (!status || strcmp(status, "complete"))
            note(rep, "%s did not complete (status %s): its finished runs are merged; `mbench sweep --resume %s` "
                      "runs the rest", ins[i].dir, status ? status : "unknown", ins[i].dir);
    }
    if (rep->nshards < ins[0].count) {
        char list[400] = "";
        size_t off = 0;
        int missing = 0;
        for (int s = 0; s < ins[0].count; s++)
            if (!shards[s] && missing++ < 16 && off < sizeof list)
                off += (size_t)snprintf(list + off, sizeof list - off, "%s%d", off ? ", " : "", s);
        note(rep, "shards missing: %s%s of %d", list, missing > 16 ? ", ..." : "", ins[0].count);
    }

    // ---- every row; runs given twice: identical kept once, different refused
    for (int i = 0; i < n; i++) ne += ins[i].pts.nrows;
    e = calloc((size_t)(ne ? ne : 1), sizeof *e); /* [ne] */
    if (!e) {
        rc = mb_fail(err, "out of memory (merge)");
        goto done;
    }
    ne = 0;
    for (int i = 0; i < n; i++)
        for (int r = 0; r < ins[i].pts.nrows; r++)
            e[ne++] = (entry){.point = (int)csv_num(&ins[i].pts, r, "point"), .kernel = csv_get(&ins[i].pts, r, "kernel"),
                              .in = i, .row = r, .order = csv_num(&ins[i].pts, r, "order"), .keep = true};
    qsort(e, (size_t)ne, sizeof *e, cmp_entry);
    int nconf = 0;
    char first[900] = "";
    for (int i = 1; i < ne; i++) {
        entry *a = &e[i - 1], *b = &e[i];
        if (a->point != b->point || strcmp(a->kernel, b->kernel)) continue;
        b->keep = false; /* the first input keeps the run */
        const input *ib = &ins[b->in];
        int j = i - 1; /* compare with the kept one of the group */
        while (!e[j].keep) j--;
        const input *ik = &ins[e[j].in];
        const char *col = rows_differ(ik, e[j].row, ib, b->row);
        if (!col) {
            rep->identical++;
            continue;
        }
        if (nconf++ == 0) {
            char label[300];
            run_label(&ik->pts, e[j].row, label, sizeof label);
            snprintf(first, sizeof first, "%s was measured twice with different results: in %s and in %s (%s: \"%.60s\" vs \"%.60s\")",
                     label, ik->dir, ib->dir, col, !strcmp(col, "samples") ? "..." : csv_get(&ik->pts, e[j].row, col),
                     !strcmp(col, "samples") ? "..." : csv_get(&ib->pts, b->row, col));
        }
    }
    if (nconf) {
        mb_fail(err, "%s%s; merge only one of them (e.g. leave one directory out)", first,
                     nconf > 1 ? " (and more runs like it)" : "");
        if (nconf > 1) {
            char more[64];
            snprintf(more, sizeof more, " [%d conflicting runs]", nconf);
            strncat(err->msg, more, sizeof err->msg - strlen(err->msg) - 1);
        }
        rc = MERGE_REFUSED;
        goto done;
    }

    // ---- the merged tables, in the sweep's run order
    outrows = malloc((size_t)(ne ? ne : 1) * sizeof *outrows); /* [kept rows] */
    src = malloc((size_t)(ne ? ne : 1) * sizeof *src);         /* [kept rows] input of each */
    if (!outrows || !src) {
        rc = mb_fail(err, "out of memory (merge)");
        goto done;
    }
    int nk = 0;
    for (int i = 0; i < ne; i++)
        if (e[i].keep) outrows[nk++] = &e[i];
    qsort(outrows, (size_t)nk, sizeof *outrows, cmp_output);
    if (csv_table_set_head(&mt, results_point_cols, results_point_ncols, err) ||
        csv_table_set_head(&ms, results_sample_cols, results_sample_ncols, err)) {
        rc = -1;
        goto done;
    }
    const char *cells[256];
    for (int i = 0; i < nk && !rc; i++) {
        const input *in = &ins[outrows[i]->in];
        const int r = outrows[i]->row;
        for (int c = 0; c < results_point_ncols; c++) cells[c] = csv_get(&in->pts, r, results_point_cols[c]);
        const int hc = csv_col(&mt, "host"), tc = csv_col(&mt, "machine_type");
        if (!*cells[hc]) cells[hc] = in->host; /* rows of an older sweep: the directory's machine */
        cells[tc] = row_type(in, r);
        src[i] = outrows[i]->in;
        rc = csv_table_add(&mt, cells, err);
        int lo, hi;
        sample_range(in, outrows[i]->point, outrows[i]->kernel, &lo, &hi);
        for (int s = lo; s < hi && !rc; s++) {
            for (int c = 0; c < results_sample_ncols; c++) cells[c] = csv_get(&in->smp, in->sidx[s], results_sample_cols[c]);
            rc = csv_table_add(&ms, cells, err);
        }
    }
    if (rc) goto done;
    rep->nrows = mt.nrows;
    rep->nsamples = ms.nrows;

    // ---- machine types: never two in one plot unless allowed
    json_t *types = json_object();
    for (int r = 0; r < mt.nrows; r++) {
        const char *t = csv_get(&mt, r, "machine_type");
        if (json_object_get(types, t)) continue;
        json_t *d = type_desc(&ins[src[r]], t);
        json_object_set(types, t, d ? d : json_null());
    }
    rep->ntypes = (int)json_object_size(types);
    if (rep->ntypes > 1 && !o->allow_mixed && (rc = check_mixed(&mt, src, ins, err))) {
        json_decref(types);
        goto done;
    }
    if (rep->ntypes > 1 && o->allow_mixed)
        note(rep, "%d machine types: their rows are kept apart (fits and plots per machine_type; meta.json "
                  "machine_types describes each)", rep->ntypes);
    completeness(&ins[0], e, ne, rep);

    // ---- meta.json
    meta = json_object();
    json_object_set_new(meta, "mbench", json_string("merge"));
    json_object_set(meta, "machine", json_object_get(ins[0].meta, "machine"));
    json_object_set_new(meta, "machine_type", json_string(ins[0].type));
    json_object_set_new(meta, "machine_types", types);
    json_object_set_new(meta, "mixed_machines", json_boolean(rep->ntypes > 1));
    json_object_set(meta, "calibration", json_object_get(ins[0].meta, "calibration"));
    json_object_set(meta, "scenario", json_object_get(ins[0].meta, "scenario"));
    json_object_set(meta, "order", json_object_get(ins[0].meta, "order"));
    json_t *present = json_array(), *absent = json_array();
    for (int s = 0; s < ins[0].count; s++) json_array_append_new(shards[s] ? present : absent, json_integer(s));
    json_object_set_new(meta, "partition", json_pack("{sssisoso}", "rule", ins[0].rule, "count", ins[0].count,
                                                     "merged", present, "missing", absent));
    json_t *srcs = json_array();
    const char *start = NULL, *end = NULL;
    bool complete = rep->nshards == ins[0].count && rep->missing_runs == 0;
    for (int i = 0; i < n; i++) {
        json_t *m = ins[i].meta, *s = json_object();
        json_object_set_new(s, "dir", json_string(ins[i].dir));
        json_object_set_new(s, "path", json_string(ins[i].real));
        json_object_set_new(s, "rows", json_integer(ins[i].pts.nrows));
        const char *keys[] = {"partition", "status", "start_utc", "end_utc", "machine_type", "machine", "machine_types",
                              "calibration", "warnings", "runs"};
        for (size_t k = 0; k < sizeof keys / sizeof *keys; k++) {
            json_t *v = json_object_get(m, keys[k]);
            if (v) json_object_set(s, keys[k], v);
        }
        json_array_append_new(srcs, s);
        const char *a = json_string_value(json_object_get(m, "start_utc")), *b = json_string_value(json_object_get(m, "end_utc"));
        if (a && (!start || strcmp(a, start) < 0)) start = a;
        if (b && (!end || strcmp(b, end) > 0)) end = b;
        const char *st = json_string_value(json_object_get(m, "status"));
        complete &= st && !strcmp(st, "complete");
    }
    json_object_set_new(meta, "sources", srcs);
    json_object_set_new(meta, "start_utc", start ? json_string(start) : json_null());
    json_object_set_new(meta, "end_utc", end ? json_string(end) : json_null());
    json_object_set_new(meta, "status", json_string(complete ? "complete" : "incomplete"));
    char now[32];
    results_utc_now(now, sizeof now, false);
    json_object_set_new(meta, "merge", json_pack("{sssssisisisisisisb}", "utc", now, "command_line",
                                                 o->command_line ? o->command_line : "", "rows", rep->nrows,
                                                 "samples", rep->nsamples, "identical_duplicates", rep->identical,
                                                 "machine_types", rep->ntypes, "total_runs", rep->total_runs,
                                                 "missing_runs", rep->missing_runs, "allow_mixed", o->allow_mixed));
    json_object_set_new(meta, "runs", json_array());

    // ---- write: the directory, samples, points, scenario, meta, fits
    results_run rr;
    if (results_create(&rr, out, err)) {
        rc = MERGE_REFUSED;
        goto done;
    }
    results_free(&rr);
    char path[PATH_MAX + 64];
    snprintf(path, sizeof path, "%s/samples.csv", out);
    if ((rc = csv_write_file(path, &ms, err))) goto done;
    snprintf(path, sizeof path, "%s/points.csv", out);
    if ((rc = csv_write_file(path, &mt, err))) goto done;
    snprintf(path, sizeof path, "%s/scenario.ini", ins[0].dir);
    char *text = results_read_text(path);
    const char *asrun = json_string_value(json_object_get(json_object_get(ins[0].meta, "scenario"), "as_run"));
    snprintf(path, sizeof path, "%s/scenario.ini", out);
    if (text || asrun) rc = csv_atomic_write(path, write_text, text ? text : asrun, err);
    free(text);
    if (rc || (rc = results_write_json(out, "meta.json", meta, err))) goto done;
    int nsets = 0;
    if ((rc = fits_build(&mt, &sets, &nsets, err))) goto done;
    const void *args[3] = {sets, &nsets, &mt};
    snprintf(path, sizeof path, "%s/fits.csv", out);
    rc = csv_atomic_write(path, write_fits, args, err);
done:
    free(sets);
    json_decref(meta);
    csv_table_free(&mt);
    csv_table_free(&ms);
    free(outrows);
    free(src);
    free(e);
    free(shards);
    for (int i = 0; i < n; i++) input_free(&ins[i]);
    free(ins);
    return rc;
}

/* harness/csv.c: CSV tables, and atomic writes through a writer function (see csv.h). */
#include "csv.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/file.h"

// ---------------------------------------------------------------- tables

void csv_table_init(csv_table *t) { memset(t, 0, sizeof *t); }

void csv_table_free(csv_table *t)
{
    for (int r = 0; r < t->nrows; r++) {
        for (int c = 0; c < t->ncols; c++) free(t->rows[r][c]);
        free(t->rows[r]);
    }
    for (int c = 0; c < t->ncols; c++) free(t->head[c]);
    free(t->rows);
    free(t->head);
    memset(t, 0, sizeof *t);
}

int csv_table_set_head(csv_table *t, const char *const *names, int n, mb_err *err)
{
    t->head = calloc((size_t)n, sizeof *t->head);
    if (!t->head) return mb_fail(err, "out of memory (csv header)");
    t->ncols = n;
    for (int c = 0; c < n; c++)
        if (!(t->head[c] = strdup(names[c]))) return mb_fail(err, "out of memory (csv header)");
    return 0;
}

int csv_table_add(csv_table *t, const char *const *cells, mb_err *err)
{
    if (t->nrows == t->cap) {
        int cap = t->cap ? 2 * t->cap : 64;
        char ***rows = realloc(t->rows, (size_t)cap * sizeof *rows);
        if (!rows) return mb_fail(err, "out of memory (csv rows)");
        t->rows = rows, t->cap = cap;
    }
    char **row = calloc((size_t)t->ncols, sizeof *row);
    if (!row) return mb_fail(err, "out of memory (csv row)");
    for (int c = 0; c < t->ncols; c++) {
        row[c] = strdup(cells[c] ? cells[c] : "");
        if (!row[c]) {
            for (int j = 0; j < c; j++) free(row[j]);
            free(row);
            return mb_fail(err, "out of memory (csv cell)");
        }
    }
    t->rows[t->nrows++] = row;
    return 0;
}

int csv_col(const csv_table *t, const char *name)
{
    for (int c = 0; c < t->ncols; c++)
        if (!strcmp(t->head[c], name)) return c;
    return -1;
}

const char *csv_get(const csv_table *t, int r, const char *name)
{
    int c = csv_col(t, name);
    return c < 0 || r < 0 || r >= t->nrows ? "" : t->rows[r][c];
}

double csv_num(const csv_table *t, int r, const char *name)
{
    const char *s = csv_get(t, r, name);
    char *end;
    double v = strtod(s, &end);
    return *s && !*end ? v : NAN;
}

/* Splits one record starting at *p into fields (unquoting); advances *p past it. */
static int parse_record(const char **p, char ***out, int *n, mb_err *err)
{
    int cap = 16;
    char **f = malloc((size_t)cap * sizeof *f);
    size_t bcap = 256;
    char *buf = malloc(bcap);
    if (!f || !buf) goto oom;
    *n = 0;
    const char *s = *p;
    for (;;) {
        size_t len = 0;
        if (*s == '"') {
            s++;
            for (;;) {
                if (!*s) break; /* unterminated quote: take what there is */
                if (*s == '"' && s[1] == '"') s++;
                else if (*s == '"') {
                    s++;
                    break;
                }
                if (len + 2 > bcap && !(buf = realloc(buf, bcap *= 2))) goto oom;
                buf[len++] = *s++;
            }
        }
        while (*s && *s != ',' && *s != '\n' && *s != '\r') {
            if (len + 2 > bcap && !(buf = realloc(buf, bcap *= 2))) goto oom;
            buf[len++] = *s++;
        }
        buf[len] = 0;
        if (*n == cap && !(f = realloc(f, (size_t)(cap *= 2) * sizeof *f))) goto oom;
        if (!(f[(*n)++] = strdup(buf))) goto oom;
        if (*s == ',') {
            s++;
            continue;
        }
        if (*s == '\r') s++;
        if (*s == '\n') s++;
        break;
    }
    free(buf);
    *p = s;
    *out = f;
    return 0;
oom:
    if (f)
        for (int i = 0; i < *n; i++) free(f[i]);
    free(f);
    free(buf);
    return mb_fail(err, "out of memory (csv)");
}

int csv_read(csv_table *t, const char *path, mb_err *err)
{
    csv_table_init(t);
    FILE *fp = fopen(path, "rb");
    if (!fp) return mb_fail(err, "%s: %s", path, strerror(errno));
    char *text = NULL;
    size_t len = 0, cap = 0;
    char chunk[65536];
    size_t k;
    while ((k = fread(chunk, 1, sizeof chunk, fp)) > 0) {
        if (len + k + 1 > cap) {
            cap = (len + k + 1) * 2;
            char *nt = realloc(text, cap);
            if (!nt) {
                free(text);
                fclose(fp);
                return mb_fail(err, "out of memory reading %s", path);
            }
            text = nt;
        }
        memcpy(text + len, chunk, k);
        len += k;
    }
    fclose(fp);
    if (!text) return mb_fail(err, "%s: empty file (no header)", path);
    text[len] = 0;
    const char *p = text;
    char **fields;
    int n, rc = 0;
    if (parse_record(&p, &fields, &n, err)) {
        free(text);
        return -1;
    }
    t->head = fields, t->ncols = n;
    while (*p) {
        if (*p == '\n' || *p == '\r') { /* blank line */
            p++;
            continue;
        }
        if (parse_record(&p, &fields, &n, err)) {
            rc = -1;
            break;
        }
        const char *cells[512];
        int m = t->ncols < 512 ? t->ncols : 512;
        for (int c = 0; c < m; c++) cells[c] = c < n ? fields[c] : "";
        rc = m == t->ncols ? csv_table_add(t, cells, err) : mb_fail(err, "%s: too many columns", path);
        for (int c = 0; c < n; c++) free(fields[c]);
        free(fields);
        if (rc) break;
    }
    free(text);
    if (rc) csv_table_free(t);
    return rc;
}

static void put_field(FILE *f, const char *s)
{
    if (!strpbrk(s, ",\"\n\r")) {
        fputs(s, f);
        return;
    }
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"') fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

void csv_write(FILE *f, const csv_table *t)
{
    for (int c = 0; c < t->ncols; c++) {
        if (c) fputc(',', f);
        put_field(f, t->head[c]);
    }
    fputc('\n', f);
    for (int r = 0; r < t->nrows; r++) {
        for (int c = 0; c < t->ncols; c++) {
            if (c) fputc(',', f);
            put_field(f, t->rows[r][c]);
        }
        fputc('\n', f);
    }
}

// ---------------------------------------------------------------- atomic files

int csv_atomic_write(const char *path, csv_writer_fn fn, const void *arg, mb_err *err)
{
    mb_atomic a;
    if (mb_atomic_open(&a, path, err)) return -1;
    fn(a.f, arg);
    return mb_atomic_commit(&a, err);
}

static void write_table(FILE *f, const void *arg) { csv_write(f, arg); }

int csv_write_file(const char *path, const csv_table *t, mb_err *err)
{
    return csv_atomic_write(path, write_table, t, err);
}

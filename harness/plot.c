/* harness/plot.c: the plot driver (see plot.h and plots/README.md).
 *
 * For each (axis, group) set of fits.c it writes DIR/plots/<stem>.dat (one gnuplot
 * index block per drawn kernel, columns listed in plots/README.md) and <stem>.vars.gp
 * (titles, legend entries with the fitted exponents, colours, units), then runs
 * `gnuplot <stem>.vars.gp plots/<template>.gp` for each template that applies, and
 * checks gnuplot's exit status and that every image exists and is not empty. */
#include "plot.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <math.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/file.h"
#include "harness/csv.h"

extern char **environ;

const char *plot_gnuplot_path(void)
{
    const char *g = getenv("MBENCH_GNUPLOT");
    if (g && *g) return g;
    return MB_GNUPLOT[0] && strcmp(MB_GNUPLOT, "GNUPLOT-NOTFOUND") ? MB_GNUPLOT : "gnuplot";
}

// ---------------------------------------------------------------- labels

typedef struct {
    const char *axis, *sym, *label;
} axis_info;

static const axis_info axis_infos[] = {
    {"batch", "B", "batch size B"},
    {"seqlen", "L", "sequence length L (steps)"},
    {"channels", "D", "channels D"},
    {"d_model", "d_{model}", "d_{model} (channels D = expand × d_{model})"},
    {"expand", "E", "expand E (D = E × d_{model})"},
    {"d_state", "N", "state size N (d\\\\_state)"},
    {"heads", "H", "heads H"},
    {"headdim", "P", "head dimension P (channels per head)"},
    {"groups", "G", "B/C groups G"},
    {"threads", "T", "threads T (pinned)"},
    {"chunk", "Q", "chunk length Q (steps)"},
};

static const axis_info *axis_of(const char *axis)
{
    for (size_t i = 0; i < sizeof axis_infos / sizeof *axis_infos; i++)
        if (!strcmp(axis_infos[i].axis, axis)) return &axis_infos[i];
    return &axis_infos[0];
}

/* Okabe-Ito colours and filled point types by kernel-table position (hollow = filled - 1). */
static const char *const colours[] = {"#555555", "#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9"};
static const int filled_pt[] = {15, 7, 5, 9, 13, 11, 15};
#define NCOLOURS 7

/* Writes s as a gnuplot double-quoted string; enhanced-text specials escaped unless raw. */
static void gp_str(FILE *f, const char *s, bool raw)
{
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"' || *s == '\\') fputc('\\', f);
        else if (!raw && (*s == '_' || *s == '^' || *s == '~' || *s == '@' || *s == '&' || *s == '{' || *s == '}'))
            fputs("\\\\", f);
        if (*s == '\n') {
            fputs("\\n", f);
            continue;
        }
        fputc(*s, f);
    }
    fputc('"', f);
}

static void fmt_time(double s, char *buf, size_t len)
{
    if (!isfinite(s)) snprintf(buf, len, "-");
    else if (s < 1e-3) snprintf(buf, len, "%.3g µs", s * 1e6);
    else if (s < 1) snprintf(buf, len, "%.3g ms", s * 1e3);
    else snprintf(buf, len, "%.3g s", s);
}

/* The fixed part of the shape, the axis shown as swept, e.g.
 * "B=1  L=512  D=1536 (d_model 768 × 2)  N swept  A diag  1 thread (compact)". */
static void fixed_shape(const csv_table *t, int r, const char *axis, char *buf, size_t len)
{
    size_t off = 0;
#define PUT(...) (off += off < len ? (size_t)snprintf(buf + off, len - off, __VA_ARGS__) : 0)
    const bool head = !strcmp(csv_get(t, r, "a"), "head");
    struct {
        const char *col, *sym;
    } items[] = {{"batch", "B"}, {"seqlen", "L"}, {"channels", "D"}, {"d_state", "N"}};
    for (size_t i = 0; i < sizeof items / sizeof *items; i++) {
        bool swept = !strcmp(axis, items[i].col) ||
                     (!strcmp(items[i].col, "channels") && (!strcmp(axis, "d_model") || !strcmp(axis, "expand")));
        if (swept) PUT("%s%s swept", off ? ",  " : "", items[i].sym);
        else PUT("%s%s=%s", off ? ",  " : "", items[i].sym, csv_get(t, r, items[i].col));
        if (!strcmp(items[i].col, "channels") && !swept && csv_get(t, r, "d_model")[0])
            PUT(" (d_model %s × %s)", csv_get(t, r, "d_model"), csv_get(t, r, "expand"));
    }
    if (head) {
        if (!strcmp(axis, "heads") || !strcmp(axis, "headdim")) PUT(",  H swept");
        else PUT(",  H=%s", csv_get(t, r, "heads"));
    }
    if (strcmp(csv_get(t, r, "groups"), "1") || !strcmp(axis, "groups"))
        PUT(",  G=%s", !strcmp(axis, "groups") ? "swept" : csv_get(t, r, "groups"));
    PUT(",  A %s", head ? "per head (Mamba-2)" : "diag (Mamba-1)");
    if (!strcmp(axis, "threads")) PUT(",  threads swept (%s)", csv_get(t, r, "bind"));
    else PUT(",  %s thread%s (%s)", csv_get(t, r, "threads"), strcmp(csv_get(t, r, "threads"), "1") ? "s" : "",
             csv_get(t, r, "bind"));
    if (!strcmp(axis, "chunk")) PUT(",  chunk swept");
#undef PUT
}

/* The machine of a plot: meta.json's, or the one of the set's machine_type=ID (a merge
 * of several machine types). */
static void machine_line(const char *dir, const char *group, char *buf, size_t len)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/meta.json", dir);
    json_t *m = json_load_file(path, 0, NULL);
    json_t *mach = json_object_get(m, "machine");
    const char *mt = strstr(group, "machine_type=");
    if (mt) {
        char id[64];
        snprintf(id, sizeof id, "%.*s", (int)strcspn(mt + 13, " "), mt + 13);
        json_t *d = json_object_get(json_object_get(m, "machine_types"), id);
        if (d) mach = d;
    }
    const char *cpu = json_string_value(json_object_get(mach, "cpu"));
    json_int_t pus = json_integer_value(json_object_get(json_object_get(mach, "topology"), "pus"));
    const char *git = json_string_value(json_object_get(mach, "git_commit"));
    const char *cc = json_string_value(json_object_get(mach, "compiler"));
    if (cpu) snprintf(buf, len, "%s, %lld PUs; %s; mbench %s", cpu, (long long)pus, cc ? cc : "?", git ? git : "?");
    else snprintf(buf, len, "machine: see meta.json");
    json_decref(m);
}

/* Tics for a log axis over [lo, hi]: 1-2-5 per decade, finer when the range is narrow,
 * decades only when it is wide; "(a, b, ...)" for `set ytics`. */
static void log_tics(double lo, double hi, char *buf, size_t len)
{
    static const double fine[] = {1, 1.5, 2, 3, 4, 5, 6, 7, 8}, mid[] = {1, 2, 5}, coarse[] = {1};
    const double *sets[3] = {fine, mid, coarse};
    const int sizes[3] = {9, 3, 1};
    snprintf(buf, len, "autofreq");
    if (!(lo > 0) || !(hi >= lo) || !isfinite(hi)) return;
    for (int s = 0; s < 3; s++) {
        int n = 0;
        for (int e = (int)floor(log10(lo)) - 1; e <= (int)ceil(log10(hi)) + 1; e++)
            for (int m = 0; m < sizes[s]; m++) {
                double v = sets[s][m] * pow(10, e);
                if (v >= lo && v <= hi) n++;
            }
        if (n < 3 && s == 0) break; /* even the finest gives few tics: let gnuplot choose */
        if (n > 9 && s < 2) continue;
        size_t off = (size_t)snprintf(buf, len, "(");
        int k = 0;
        for (int e = (int)floor(log10(lo)) - 1; e <= (int)ceil(log10(hi)) + 1; e++)
            for (int m = 0; m < sizes[s]; m++) {
                double v = sets[s][m] * pow(10, e);
                if (v >= lo && v <= hi && off < len)
                    off += (size_t)snprintf(buf + off, len - off, "%s%.6g", k++ ? ", " : "", v);
            }
        if (off < len) snprintf(buf + off, len - off, ")");
        return;
    }
}

// ---------------------------------------------------------------- one set

typedef struct {
    const char *dir;
    char plots[4200];
    const csv_table *t;
    const fits_set *set;
    char stem[300];
    int ib;                  /* 1-based block of the sequential baseline, 0 if none */
    int nblocks;
    int block_of[FITS_MAX_KERNELS]; /* series -> block (1-based), 0 if not drawn */
    bool any_ceiling, any_noisy;
    bool any_counters;       /* a cache simulation or an LLC counter has a value */
    bool any_sim, any_hw;    /* ... which of the two */
    double tscale;
    const char *tunit;
} set_ctx;

static const char *const templates[] = {"time", "speedup", "ceiling", "threads", "counters"};

static int write_data(set_ctx *c, mb_err *err)
{
    char path[4600];
    snprintf(path, sizeof path, "%s/%s.dat", c->plots, c->stem);
    mb_atomic a;
    if (mb_atomic_open(&a, path, err)) return -1;
    FILE *f = a.f;
    const fits_set *s = c->set;
    const bool threads_axis = !strcmp(s->axis, "threads");
    const fits_series *base = NULL;
    for (int k = 0; k < s->nseries; k++)
        if (!strcmp(s->series[k].kernel, "sequential") && s->series[k].n) base = &s->series[k];
    fprintf(f, "# %s: one block per kernel; columns: x median_s ci_low_s ci_high_s noisy speedup_vs_sequential "
               "sequential_median_s ceiling_pct fit_s thread_speedup efficiency_pct threads sim_ll_misses_per_update "
               "sim_d1_misses_per_update llc_misses_per_update sim_bytes_per_update\n", c->stem);
    c->nblocks = 0;
    for (int k = 0; k < s->nseries; k++) {
        const fits_series *se = &s->series[k];
        c->block_of[k] = 0;
        if (!se->n) continue;
        c->block_of[k] = ++c->nblocks;
        if (se == base) c->ib = c->nblocks;
        fprintf(f, "%s# kernel %s\n", c->nblocks > 1 ? "\n\n" : "", se->kernel);
        const double t1 = csv_num(c->t, se->rows[0], "median_s"), x1 = se->x[0];
        for (int j = 0; j < se->n; j++) {
            const int r = se->rows[j];
            double m = csv_num(c->t, r, "median_s"), lo = csv_num(c->t, r, "ci_low_s"),
                   hi = csv_num(c->t, r, "ci_high_s"), cf = csv_num(c->t, r, "ceiling_fraction");
            /* drawn hollow: a spread-out point, or one the machine disturbed */
            bool noisy = !strcmp(csv_get(c->t, r, "noisy"), "true") ||
                         !strcmp(csv_get(c->t, r, "disturbed"), "true");
            if (!isfinite(lo) || !isfinite(hi)) lo = hi = m; /* fewer than 6 reps: no CI, no bar */
            double sp = NAN, bm = NAN;
            if (base)
                for (int i = 0; i < base->n; i++)
                    if (base->x[i] == se->x[j]) bm = csv_num(c->t, base->rows[i], "median_s"), sp = bm / m;
            double fit = se->fitted ? exp(se->fit.c) * pow(se->x[j], se->fit.k) : NAN;
            double tsp = threads_axis ? t1 / m : NAN, eff = threads_axis ? 100.0 * tsp * x1 / se->x[j] : NAN;
            if (isfinite(cf)) c->any_ceiling = true;
            if (noisy) c->any_noisy = true;
            fprintf(f, "%g %.9g %.9g %.9g %d %.6g %.9g %.6g %.9g %.6g %.6g %s", se->x[j], m, lo, hi, noisy, sp, bm,
                    100.0 * cf, fit, tsp, eff, csv_get(c->t, r, "threads"));
            /* counters (docs/counters.md): NaN where a sweep has none */
            const double cv[4] = {csv_num(c->t, r, "sim_ll_misses_per_update"), csv_num(c->t, r, "sim_d1_misses_per_update"),
                                  csv_num(c->t, r, "llc_misses_per_update"), csv_num(c->t, r, "sim_bytes_per_update")};
            for (int q = 0; q < 4; q++) {
                fprintf(f, " %.6g", cv[q]);
                if (q < 3 && isfinite(cv[q])) c->any_counters = true;
                if (q < 2 && isfinite(cv[q])) c->any_sim = true;
                if (q == 2 && isfinite(cv[q])) c->any_hw = true;
            }
            fputc('\n', f);
        }
    }
    return mb_atomic_commit(&a, err);
}

static int write_vars(set_ctx *c, const char *machine, mb_err *err)
{
    char path[4600];
    snprintf(path, sizeof path, "%s/%s.vars.gp", c->plots, c->stem);
    mb_atomic a;
    if (mb_atomic_open(&a, path, err)) return -1;
    FILE *f = a.f;
    const fits_set *s = c->set;
    const axis_info *ai = axis_of(s->axis);
    int first = -1;
    for (int k = 0; k < s->nseries && first < 0; k++)
        if (s->series[k].n) first = s->series[k].rows[0];
    char shape[600];
    fixed_shape(c->t, first, s->axis, shape, sizeof shape);
    if (s->group[0]) {
        size_t n = strlen(shape);
        snprintf(shape + n, sizeof shape - n, ",  %s", s->group);
    }
    /* a time unit that puts the medians at 0.1 .. 1000 */
    double lo = INFINITY;
    for (int k = 0; k < s->nseries; k++)
        for (int j = 0; j < s->series[k].n; j++) {
            double m = csv_num(c->t, s->series[k].rows[j], "median_s");
            if (m < lo) lo = m;
        }
    c->tscale = lo < 1e-4 ? 1e6 : lo < 0.1 ? 1e3 : 1;
    c->tunit = lo < 1e-4 ? "µs" : lo < 0.1 ? "ms" : "s";

    fprintf(f, "# %s.vars.gp: written by mbench plot from points.csv; the variables plots/*.gp use\n", c->stem);
    fprintf(f, "datafile = ");
    gp_str(f, c->plots, true), fprintf(f, " . \"/%s.dat\"\n", c->stem);
    fprintf(f, "outbase = ");
    gp_str(f, c->plots, true), fprintf(f, " . \"/%s\"\n", c->stem);
    fprintf(f, "axisname = "), gp_str(f, s->axis, false), fputc('\n', f);
    fprintf(f, "axissym = \"%s\"\n", ai->sym);
    const char *dirn = csv_get(c->t, first, "direction");
    fprintf(f, "direction = \"%s\"\n", !strcmp(dirn, "both") ? "forward + backward" : dirn[0] ? dirn : "forward");
    fprintf(f, "xlabel = \"%s\"\n", ai->label);
    fprintf(f, "shape = "), gp_str(f, shape, false), fputc('\n', f);
    fprintf(f, "machine = "), gp_str(f, machine, false), fputc('\n', f);
    fprintf(f, "tscale = %g\ntunit = \"%s\"\n", c->tscale, c->tunit);
    fprintf(f, "plotsdir = "), gp_str(f, MB_SOURCE_DIR "/plots", true), fputc('\n', f);
    fprintf(f, "nk = %d\nib = %d\nnoisy = %d\n", c->nblocks, c->ib, c->any_noisy);
    fprintf(f, "cntsim = %d\ncnthw = %d\n", c->any_sim, c->any_hw); /* counters.gp: which series exist */
    double xmin = INFINITY;
    for (int k = 0; k < s->nseries; k++)
        if (s->series[k].n && s->series[k].x[0] < xmin) xmin = s->series[k].x[0];
    fprintf(f, "tbase = %g\n", isfinite(xmin) ? xmin : 1.0);
    /* y ranges and tics of the log axes: time (with its CI) and speedup */
    double tlo = INFINITY, thi = 0, slo = INFINITY, shi = 0;
    for (int k = 0; k < s->nseries; k++)
        for (int j = 0; j < s->series[k].n; j++) {
            const int r = s->series[k].rows[j];
            const char *cols[3] = {"median_s", "ci_low_s", "ci_high_s"};
            const fits_series *fs = &s->series[k];
            double fit = fs->fitted ? exp(fs->fit.c) * pow(fs->x[j], fs->fit.k) * c->tscale : NAN;
            if (fit > 0 && fit < tlo) tlo = fit;
            if (fit > thi) thi = fit;
            for (int q = 0; q < 3; q++) {
                double v = csv_num(c->t, r, cols[q]) * c->tscale;
                if (v > 0 && v < tlo) tlo = v;
                if (v > thi) thi = v;
            }
        }
    if (c->ib)
        for (int k = 0; k < s->nseries; k++) {
            const fits_series *se = &s->series[k], *b = NULL;
            for (int q = 0; q < s->nseries; q++)
                if (c->block_of[q] == c->ib) b = &s->series[q];
            for (int j = 0; b && j < se->n; j++)
                for (int i = 0; i < b->n; i++)
                    if (b->x[i] == se->x[j]) {
                        double v = csv_num(c->t, b->rows[i], "median_s") / csv_num(c->t, se->rows[j], "median_s");
                        if (v > 0 && v < slo) slo = v;
                        if (v > shi) shi = v;
                    }
        }
    char tics[512];
    const double pad = 1.3;
    fprintf(f, "tymin = %g\ntymax = %g\n", tlo / pad, thi * pad);
    log_tics(tlo / pad, thi * pad, tics, sizeof tics);
    fprintf(f, "tytics = \"%s\"\n", tics);
    if (!(slo <= shi)) slo = shi = 1;
    fprintf(f, "symin = %g\nsymax = %g\n", fmin(slo, 1) / pad, fmax(shi, 1) * pad);
    log_tics(fmin(slo, 1) / pad, fmax(shi, 1) * pad, tics, sizeof tics);
    fprintf(f, "sytics = \"%s\"\n", tics);
    /* x tics at the measured values when they are few */
    double xs[SCEN_MAX_VALUES];
    int nx = 0;
    for (int k = 0; k < s->nseries; k++)
        for (int j = 0; j < s->series[k].n; j++) {
            bool seen = false;
            for (int i = 0; i < nx; i++) seen |= xs[i] == s->series[k].x[j];
            if (!seen && nx < SCEN_MAX_VALUES) xs[nx++] = s->series[k].x[j];
        }
    fprintf(f, "xtics = \"");
    if (nx <= 12) {
        fputc('(', f);
        for (int i = 0; i < nx; i++) fprintf(f, "%s%g", i ? ", " : "", xs[i]);
        fputc(')', f);
    } else fprintf(f, "autofreq");
    fprintf(f, "\"\n");
    /* per drawn kernel: name, colour, point type, legend entries */
    const char *arrays[] = {"kname", "kcolor", "ktime", "kbound", "kthreads"};
    for (int a = 0; a < 5; a++) {
        fprintf(f, "array %s[%d]\n", arrays[a], c->nblocks > 0 ? c->nblocks : 1);
    }
    fprintf(f, "array kpt[%d]\n", c->nblocks > 0 ? c->nblocks : 1);
    char note[1024] = "";
    size_t noff = 0;
    for (int k = 0; k < s->nseries; k++) {
        const fits_series *se = &s->series[k];
        if (!c->block_of[k]) {
            if (noff < sizeof note)
                noff += (size_t)snprintf(note + noff, sizeof note - noff, "%snot drawn: %s (%.160s)", noff ? "\n" : "",
                                         se->kernel, se->note);
            continue;
        }
        const int b = c->block_of[k], ci = se->table_index < NCOLOURS ? se->table_index : NCOLOURS - 1;
        char buf[400];
        fprintf(f, "kname[%d] = ", b), gp_str(f, se->kernel, false), fputc('\n', f);
        fprintf(f, "kcolor[%d] = \"%s\"\nkpt[%d] = %d\n", b, colours[ci], b, filled_pt[ci]);
        /* time legend: the fitted exponent with its standard error */
        fprintf(f, "ktime[%d] = ", b);
        gp_str(f, se->kernel, false);
        if (se->fitted && isfinite(se->fit.k_se))
            fprintf(f, " . \"   t \\\\~ %s^{%.2f ± %.2f}\"", ai->sym, se->fit.k, se->fit.k_se);
        else if (se->fitted)
            fprintf(f, " . \"   t \\\\~ %s^{%.2f}\"", ai->sym, se->fit.k);
        if (se->fitted_upper) /* the growth over the upper half, where fixed costs matter less */
            fprintf(f, " . \"  (%s ≥ %g: %s^{%.2f})\"", ai->sym, se->upper_from, ai->sym, se->fit_upper.k);
        fputc('\n', f);
        /* ceiling legend: which ceiling binds */
        char bounds[64] = "";
        for (int j = 0; j < se->n; j++) {
            const char *bd = csv_get(c->t, se->rows[j], "bound");
            if (*bd && !strstr(bounds, bd))
                snprintf(bounds + strlen(bounds), sizeof bounds - strlen(bounds), "%s%s", bounds[0] ? "/" : "", bd);
        }
        snprintf(buf, sizeof buf, "%s (%s-bound)", se->kernel, bounds[0] ? bounds : "no");
        fprintf(f, "kbound[%d] = ", b), gp_str(f, buf, false), fputc('\n', f);
        /* threads legend: the baseline of each kernel's speedup */
        char tb[32];
        fmt_time(csv_num(c->t, se->rows[0], "median_s"), tb, sizeof tb);
        const char *th = csv_get(c->t, se->rows[0], "threads");
        snprintf(buf, sizeof buf, "%s (%s thread%s: %s)", se->kernel, th, strcmp(th, "1") ? "s" : "", tb);
        fprintf(f, "kthreads[%d] = ", b), gp_str(f, buf, false), fputc('\n', f);
    }
    fprintf(f, "note = "), gp_str(f, note, false), fputc('\n', f);
    return mb_atomic_commit(&a, err);
}

/* Runs gnuplot on the set's header and a template; stdout and stderr go to the log. */
static int run_gnuplot(set_ctx *c, const char *tmpl, mb_err *err)
{
    char vars[4600], tpath[4200], log[4400];
    snprintf(vars, sizeof vars, "%s/%s.vars.gp", c->plots, c->stem);
    snprintf(tpath, sizeof tpath, "%s/plots/%s.gp", MB_SOURCE_DIR, tmpl);
    snprintf(log, sizeof log, "%s/gnuplot.log", c->plots);
    const char *gp = plot_gnuplot_path();
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, log, O_WRONLY | O_CREAT | O_APPEND, 0644);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    /* images go to a temporary base first (renamed by the caller once gnuplot succeeded) */
    char outbase[4800];
    snprintf(outbase, sizeof outbase, "outbase = \"%s/.tmp.%s\"", c->plots, c->stem);
    char *argv[] = {(char *)gp, vars, "-e", outbase, tpath, NULL};
    pid_t pid;
    int rc = posix_spawnp(&pid, gp, &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc)
        return mb_fail(err, "cannot run gnuplot (%s): %s; install gnuplot-nox (scripts/setup) and run `mbench plot %s`",
                       gp, strerror(rc), c->dir);
    int st;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR) return mb_fail(err, "waiting for gnuplot: %s", strerror(errno));
    if (!WIFEXITED(st) || WEXITSTATUS(st))
        return mb_fail(err, "gnuplot (%s) failed on %s with %s %d; its messages are in %s", gp, tpath,
                       WIFEXITED(st) ? "exit status" : "signal", WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st), log);
    return 0;
}

/* Checks the image gnuplot wrote under tmp, renames it to path and records it. */
static int add_file(plot_report *rep, const char *tmp, const char *path, mb_err *err)
{
    struct stat st;
    if (stat(tmp, &st) || st.st_size == 0)
        return mb_fail(err, "gnuplot exited with status 0 but %s is %s", tmp, errno == ENOENT ? "missing" : "empty");
    if (rename(tmp, path)) return mb_fail(err, "cannot rename %s to %s: %s", tmp, path, strerror(errno));
    char **n = realloc(rep->files, (size_t)(rep->nfiles + 1) * sizeof *n);
    if (!n) return mb_fail(err, "out of memory");
    rep->files = n;
    if (!(rep->files[rep->nfiles] = strdup(path))) return mb_fail(err, "out of memory");
    rep->nfiles++;
    return 0;
}

// ---------------------------------------------------------------- the sweep

static void write_fits(FILE *f, const void *arg)
{
    const void *const *a = arg;
    fits_write_csv(f, a[0], *(const int *)a[1], a[2]);
}

int plot_sweep(const char *dir, plot_report *rep, mb_err *err)
{
    memset(rep, 0, sizeof *rep);
    snprintf(rep->dir, sizeof rep->dir, "%s", dir);
    char path[4200];
    csv_table t;
    snprintf(path, sizeof path, "%s/points.csv", dir);
    if (csv_read(&t, path, err)) return -1;
    int rc = 0;
    if (fits_build(&t, &rep->sets, &rep->nsets, err)) {
        rc = mb_wrap(err, "%s", path);
        goto done;
    }
    snprintf(path, sizeof path, "%s/fits.csv", dir);
    const void *args[3] = {rep->sets, &rep->nsets, &t};
    if (csv_atomic_write(path, write_fits, args, err)) {
        rc = -1;
        goto done;
    }
    if (rep->nsets == 0) {
        snprintf(rep->note, sizeof rep->note, "no swept axis in %s/points.csv: nothing to plot", dir);
        goto done;
    }
    char machine[512];
    set_ctx c = {.dir = dir, .t = &t};
    snprintf(c.plots, sizeof c.plots, "%s/plots", dir);
    if (mkdir(c.plots, 0777) && errno != EEXIST) {
        rc = mb_fail(err, "cannot create %s: %s", c.plots, strerror(errno));
        goto done;
    }
    snprintf(path, sizeof path, "%s/gnuplot.log", c.plots);
    unlink(path);
    for (int i = 0; i < rep->nsets && !rc; i++) {
        const fits_set *s = &rep->sets[i];
        c.set = s;
        c.ib = 0;
        machine_line(dir, s->group, machine, sizeof machine);
        c.any_ceiling = c.any_noisy = c.any_counters = c.any_sim = c.any_hw = false;
        /* file stem: the axis, and the other axes' values when there are several */
        snprintf(c.stem, sizeof c.stem, "%s%s%s", s->axis, s->group[0] ? "-" : "", s->group);
        for (char *p = c.stem; *p; p++)
            if (*p == ' ') *p = '_';
            else if (*p == '=') *p = '-';
        if (write_data(&c, err) || write_vars(&c, machine, err)) {
            rc = -1;
            break;
        }
        if (c.nblocks == 0) continue; /* nothing measured ok on this set */
        bool want[5] = {true, c.ib > 0 && c.nblocks > 1, c.any_ceiling, !strcmp(s->axis, "threads"), c.any_counters};
        for (int k = 0; k < 5 && !rc; k++) {
            if (!want[k]) continue;
            if (run_gnuplot(&c, templates[k], err)) {
                rc = -1;
                break;
            }
            const char *ext[2] = {"png", "svg"};
            for (int e = 0; e < 2 && !rc; e++) {
                char tmp[4300];
                snprintf(tmp, sizeof tmp, "%s/.tmp.%s-%s.%s", c.plots, c.stem, templates[k], ext[e]);
                snprintf(path, sizeof path, "%s/%s-%s.%s", c.plots, c.stem, templates[k], ext[e]);
                rc = add_file(rep, tmp, path, err);
            }
        }
    }
done:
    csv_table_free(&t);
    return rc;
}

void plot_report_free(plot_report *rep)
{
    for (int i = 0; i < rep->nfiles; i++) free(rep->files[i]);
    free(rep->files);
    free(rep->sets);
    memset(rep, 0, sizeof *rep);
}

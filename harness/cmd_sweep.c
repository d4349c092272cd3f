/* harness/cmd_sweep.c: `mbench sweep SCENARIO`: every point x kernel of a scenario in a
 * seeded random order (kernels interleaved, so drift of the machine does not masquerade
 * as a trend), each checked against the oracle before it is timed (bench_point), the
 * results rewritten atomically after every point, then fits and plots (plot.c).
 * SIGINT/SIGTERM finish the point in flight and stop; --resume DIR runs what is missing. */
#include <errno.h>
#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>
#include <jansson.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "harness/bench.h"
#include "harness/cachesim.h"
#include "harness/cli.h"
#include "harness/cmd.h"
#include "harness/machine.h"
#include "harness/results.h"
#include "harness/scenario.h"
#include "harness/shard.h"

/* The one piece of state a signal handler can share: set by SIGINT/SIGTERM, read
 * between points. */
static volatile sig_atomic_t stop_signal;

static void on_stop(int sig) { stop_signal = sig; }

static void help(void)
{
    printf("usage: mbench sweep NAME|PATH [--set key=value ...] [--kernels a,b] [--quick]\n"
           "                    [--out DIR] [--no-plot] [--no-calibrate] [--shard I/N [--plan]]\n"
           "       mbench sweep --resume DIR\n\n"
           "Runs every point x kernel of a scenario (NAME is scenarios/NAME.ini; see\n"
           "scenarios/README.md for the format and `mbench list` for the names) in a seeded\n"
           "random order, each kernel checked against the fp64 oracle before it is timed.\n"
           "Writes DIR = results/<name>-<UTC time>/ (or --out): points.csv, samples.csv,\n"
           "meta.json, scenario.ini (as run), then fits.csv and plots/ (docs/results.md).\n\n"
           "  --set key=value    override a scenario key (repeatable), e.g. --set seqlen=256\n"
           "                     or --set d_state=1,4,16; [section.]key as in the file\n"
           "  --kernels a,b      only these kernels (default: the scenario's, else all)\n"
           "  --quick            the scenario's [quick] settings: fewer repetitions, smaller\n"
           "                     sizes (a sweep in under 30 s)\n"
           "  --out DIR          results directory (must not hold a sweep already)\n"
           "  --resume DIR       run only the points missing from DIR, with the scenario\n"
           "                     stored there (after a kill, Ctrl-C or a crash)\n"
           "  --sim              simulate each point's caches with valgrind too (= --set sim=true;\n"
           "                     points.csv gets sim_* columns; docs/counters.md)\n"
           "  --shard I/N        run only shard I of N (0 <= I < N): a partition of the runs\n"
           "                     (point x kernel) balanced by the kernels' cost models, the same\n"
           "                     on every machine; merge the shards with mbench merge\n"
           "                     (docs/cluster.md; --resume keeps the shard)\n"
           "  --plan             print the runs of the shard (or of the whole sweep) with their\n"
           "                     estimated seconds and the shards' loads; run nothing\n"
           "  --no-plot          skip the plots (mbench plot DIR draws them later)\n"
           "  --no-calibrate     do not measure ceilings if none are stored\n\n"
           "Ctrl-C (SIGINT) or SIGTERM finishes the point in flight and stops with everything\n"
           "on disk; exit status 0 when every point is ok or skipped, 1 when a point failed\n"
           "(or plotting failed; the CSVs are kept), 2 for bad input, 130 when interrupted.\n");
}

static void hms(double s, char *buf, size_t len)
{
    if (!isfinite(s) || s < 0) {
        snprintf(buf, len, "--:--");
        return;
    }
    long t = lround(s);
    if (t >= 3600) snprintf(buf, len, "%ld:%02ld:%02ld", t / 3600, t / 60 % 60, t % 60);
    else snprintf(buf, len, "%ld:%02ld", t / 60, t % 60);
}

static void fmt_time(double s, char *buf, size_t len)
{
    if (!isfinite(s)) snprintf(buf, len, "-");
    else if (s < 1e-3) snprintf(buf, len, "%.3g us", s * 1e6);
    else if (s < 1) snprintf(buf, len, "%.3g ms", s * 1e3);
    else snprintf(buf, len, "%.3g s", s);
}

static void scenario_text(FILE *f, const void *arg)
{
    scenario_write(f, arg, "the scenario as run by mbench sweep (read by --resume)");
}

/* meta.json of a new sweep: machine, build, calibration, scenario, command line. */
static json_t *meta_new(mb_ctx *ctx, const scenario *sc, const calib *cal, int argc, char **argv, const char *start)
{
    json_t *m = json_object();
    json_object_set_new(m, "mbench", json_string("sweep"));
    json_t *mach = machine_describe(&ctx->topo);
    char warn[2048], type[32];
    machine_warnings(mach, warn, sizeof warn);
    machine_type_id(mach, type, sizeof type);
    json_object_set_new(m, "machine", mach);
    json_object_set_new(m, "machine_type", json_string(type));
    json_object_set_new(m, "machine_types", json_pack("{sO}", type, mach));
    json_t *w = json_array();
    for (char *save = NULL, *l = strtok_r(warn, "\n", &save); l; l = strtok_r(NULL, "\n", &save))
        json_array_append_new(w, json_string(l));
    json_object_set_new(m, "warnings", w);
    json_t *c = cal->valid ? json_load_file(cal->path, 0, NULL) : NULL;
    if (c) {
        json_object_set_new(c, "path", json_string(cal->path));
        json_object_set_new(m, "calibration", c);
    } else {
        json_object_set_new(m, "calibration", json_null());
    }
    json_t *s = json_object();
    json_object_set_new(s, "name", json_string(sc->name));
    json_object_set_new(s, "description", json_string(sc->description));
    json_object_set_new(s, "file", json_string(sc->path));
    json_object_set_new(s, "quick", json_boolean(sc->quick));
    char *text = results_read_text(sc->path);
    json_object_set_new(s, "source_text", text ? json_string(text) : json_null());
    free(text);
    char *asrun = NULL;
    size_t len = 0;
    FILE *mf = open_memstream(&asrun, &len);
    if (mf) {
        scenario_text(mf, sc);
        fclose(mf);
    }
    json_object_set_new(s, "as_run", asrun ? json_string(asrun) : json_null());
    char hash[32];
    shard_scenario_hash(asrun, hash, sizeof hash);
    json_object_set_new(s, "hash", json_string(hash));
    free(asrun);
    json_t *axes = json_array();
    for (int a = 0; a < sc->naxes; a++) json_array_append_new(axes, json_string(scen_int_name(sc->axes[a])));
    json_object_set_new(s, "axes", axes);
    json_object_set_new(m, "scenario", s);
    json_object_set_new(m, "order", json_string("seeded random permutation of point x kernel (GSL mt19937, run.seed)"));
    json_object_set_new(m, "start_utc", json_string(start));
    json_object_set_new(m, "end_utc", json_null());
    json_object_set_new(m, "status", json_string("running"));
    json_object_set_new(m, "runs", json_array());
    (void)argc, (void)argv;
    return m;
}

static json_t *command_line(int argc, char **argv, const char *argv0)
{
    json_t *a = json_array();
    json_array_append_new(a, json_string(argv0));
    json_array_append_new(a, json_string("sweep"));
    for (int i = 0; i < argc; i++) json_array_append_new(a, json_string(argv[i]));
    return a;
}

// ---------------------------------------------------------------- shards

/* The partition of the runs into spec.count shards (shard.c), the loads of each shard. */
typedef struct {
    shard_spec spec;
    shard_run *runs;  /* [npts * nkernels] in (point, kernel) order */
    int64_t *loads;   /* [spec.count] estimated microseconds */
    int nmine;        /* runs of shard spec.index */
} sweep_plan;

static void plan_free(sweep_plan *pl)
{
    free(pl->runs);
    free(pl->loads);
    pl->runs = NULL, pl->loads = NULL;
}

static int plan_make(sweep_plan *pl, const scenario *sc, const scen_point *pts, int npts, mb_err *err)
{
    pl->runs = NULL, pl->nmine = 0;
    pl->loads = calloc((size_t)pl->spec.count, sizeof *pl->loads);
    if (!pl->loads) return mb_fail(err, "out of memory (shard plan)");
    if (shard_plan(sc, pts, npts, pl->spec.count, &pl->runs, pl->loads, err)) return -1;
    for (int i = 0; i < npts * sc->nkernels; i++) pl->nmine += pl->runs[i].shard == pl->spec.index;
    return 0;
}

static bool plan_mine(const sweep_plan *pl, const scenario *sc, int point, int kernel)
{
    return pl->runs[point * sc->nkernels + kernel].shard == pl->spec.index;
}

/* meta.json's "partition": the rule, this shard, its runs and estimates. */
static json_t *plan_json(const sweep_plan *pl, int nruns)
{
    int64_t total = 0;
    for (int s = 0; s < pl->spec.count; s++) total += pl->loads[s];
    return json_pack("{sssisisisisfsf}", "rule", SHARD_RULE, "index", pl->spec.index, "count", pl->spec.count,
                     "runs", pl->nmine, "total_runs", nruns, "estimated_s", pl->loads[pl->spec.index] * 1e-6,
                     "total_estimated_s", total * 1e-6);
}

static void plan_print(const sweep_plan *pl, const scenario *sc, const scen_point *pts, int npts)
{
    int64_t total = 0, lo = INT64_MAX, hi = 0, big = 0;
    for (int s = 0; s < pl->spec.count; s++) {
        total += pl->loads[s];
        if (pl->loads[s] < lo) lo = pl->loads[s];
        if (pl->loads[s] > hi) hi = pl->loads[s];
    }
    for (int i = 0; i < npts * sc->nkernels; i++)
        if (pl->runs[i].est_us > big) big = pl->runs[i].est_us;
    printf("plan: %s, shard %d of %d (rule %s): %d of %d runs, estimated %.3g s of %.3g s in all\n", sc->name,
           pl->spec.index, pl->spec.count, SHARD_RULE, pl->nmine, npts * sc->nkernels,
           pl->loads[pl->spec.index] * 1e-6, total * 1e-6);
    printf("shard loads: max %.3g s, min %.3g s (difference <= the largest run, %.3g s)\n", hi * 1e-6, lo * 1e-6,
           big * 1e-6);
    printf("%6s  %-12s %10s  %s\n", "point", "kernel", "est_s", "point's axes");
    for (int i = 0; i < npts * sc->nkernels; i++) {
        const shard_run *r = &pl->runs[i];
        if (r->shard != pl->spec.index) continue;
        char label[256];
        scenario_point_label(sc, &pts[i / sc->nkernels], label, sizeof label);
        printf("%6d  %-12s %10.4f  %s\n", r->point, sc->kernels[r->kernel]->name, r->est_us * 1e-6, label);
    }
}

// ---------------------------------------------------------------- the verb

typedef struct {
    int point, kernel;
} pair;

int cmd_sweep(mb_ctx *ctx, int argc, char **argv)
{
    if (cmd_wants_help(argc, argv)) {
        help();
        return 0;
    }
    const char *name = NULL, *kernels = NULL, *out = NULL, *resume = NULL, *shard = NULL;
    const char *sets[64];
    int nsets = 0, quick = 0, plot = 1, autocal = 1, plan_only = 0;
    mb_err err;
    cli_iter it;
    cli_iter_init(&it, argc, argv, 0);
    while (cli_next(&it)) {
        const char *f = it.flag;
        if (!strcmp(f, "--set") || !strcmp(f, "--kernels") || !strcmp(f, "--out") || !strcmp(f, "--resume") ||
            !strcmp(f, "--shard")) {
            if (cli_value(&it, &err)) return cmd_usage_error(err.msg);
            if (!strcmp(f, "--shard")) shard = it.value;
            else if (!strcmp(f, "--set")) {
                if (nsets == 64) return cmd_usage_error("--set: at most 64 overrides");
                sets[nsets++] = it.value;
            } else if (!strcmp(f, "--kernels")) kernels = it.value;
            else if (!strcmp(f, "--out")) out = it.value;
            else resume = it.value;
        } else if (!strcmp(f, "--quick")) quick = 1;
        else if (!strcmp(f, "--sim")) {
            if (nsets == 64) return cmd_usage_error("--set: at most 64 overrides");
            sets[nsets++] = "sim=true";
        }
        else if (!strcmp(f, "--no-plot")) plot = 0;
        else if (!strcmp(f, "--plan")) plan_only = 1;
        else if (!strcmp(f, "--no-calibrate")) autocal = 0;
        else if (f[0] == '-') {
            fprintf(stderr, "mbench: sweep: unknown flag \"%s\" (see mbench sweep --help)\n", f);
            return 2;
        } else if (name) {
            fprintf(stderr, "mbench: sweep: one scenario at a time (got \"%s\" and \"%s\")\n", name, f);
            return 2;
        } else name = f;
    }
    if (resume && (name || nsets || kernels || quick || out || shard || plan_only))
        return cmd_usage_error("sweep --resume DIR runs the scenario (and the shard) stored in DIR: "
                               "it takes no NAME, --set, --kernels, --quick, --out, --shard or --plan");
    sweep_plan plan = {.spec = {0, 1}};
    if (shard && shard_parse(shard, &plan.spec, &err)) return cmd_usage_error(err.msg);
    if (!resume && !name) return cmd_usage_error("sweep: which scenario? (mbench sweep NAME; see mbench list)");

    // ---- the scenario and its points: every error before anything runs
    scenario *sc = calloc(1, sizeof *sc);
    scen_point *pts = NULL;
    pair *order = NULL;
    json_t *meta = NULL;
    results_run rr;
    memset(&rr, 0, sizeof rr);
    int rc = 0, npts = 0;
    char path[4200];
    cnt_set *cnt = NULL;
    cachesim_geom geom;
    if (!sc) return cmd_usage_error("out of memory");
    if (resume) { /* a merge is not a sweep to continue (checked before anything runs) */
        snprintf(path, sizeof path, "%s/meta.json", resume);
        json_t *m = json_load_file(path, 0, NULL);
        const char *kind = json_string_value(json_object_get(m, "mbench"));
        const bool merged = kind && !strcmp(kind, "merge");
        json_decref(m);
        if (merged) {
            fprintf(stderr, "mbench: %s holds a merge of shards (mbench merge): resume the shards it came from, "
                            "then merge again\n", resume);
            rc = 2;
            goto done;
        }
    }
    if (resume) snprintf(path, sizeof path, "%s/scenario.ini", resume);
    else scenario_resolve(name, path, sizeof path);
    if (scenario_load(sc, path, quick, sets, nsets, kernels, ctx->topo.pus, &err) ||
        scenario_points(sc, &pts, &npts, &err)) {
        rc = cmd_usage_error(err.msg);
        goto done;
    }

    // ---- counters and the cache simulation, if the scenario asks (checked before anything runs)
    if (sc->counters[0]) {
        if (cmd_counter_set(ctx, sc->counters, &cnt)) {
            rc = 2;
            goto done;
        }
        sc->set.counters = cnt;
    }
    if (sc->sim) {
        char vg[512];
        if (cachesim_geom_from_topo(&ctx->topo, 0, &geom, &err) ||
            (sc->sim_ll[0] && cachesim_geom_set_ll(&ctx->topo, sc->sim_ll, &geom, &err)) ||
            cachesim_vg_binary(vg, sizeof vg, &err)) {
            rc = cmd_usage_error(err.msg);
            goto done;
        }
        char geo[256];
        cachesim_geom_describe(&geom, geo, sizeof geo);
        fprintf(stderr, "mbench: sweep: each point with at most %lld state updates is also simulated under valgrind "
                        "(%s%s; threads run one at a time)\n", (long long)sc->sim_max_updates, geo,
                sc->sim_cold ? ", cold caches" : "");
    }
    if (plan_only) {
        if (plan_make(&plan, sc, pts, npts, &err)) rc = cmd_usage_error(err.msg);
        else plan_print(&plan, sc, pts, npts);
        goto done;
    }
    for (int i = 0; i < npts; i++)
        if (pts[i].threads > ctx->topo.pus) {
            fprintf(stderr, "mbench: warning: threads=%d is more than the %d PUs here: threads will share PUs\n",
                    pts[i].threads, ctx->topo.pus);
            break;
        }

    // ---- the results directory
    char start[32], dir[4096];
    results_utc_now(start, sizeof start, false);
    if (resume) {
        snprintf(dir, sizeof dir, "%s", resume);
        if (results_open(&rr, dir, &err)) {
            rc = cmd_usage_error(err.msg);
            goto done;
        }
    } else {
        if (out) snprintf(dir, sizeof dir, "%s", out);
        else {
            char stamp[32];
            const char *base = getenv("MBENCH_RESULTS");
            results_utc_now(stamp, sizeof stamp, true);
            snprintf(dir, sizeof dir, "%s/%s-%s", base && *base ? base : MB_SOURCE_DIR "/results", sc->name, stamp);
        }
        if (results_create(&rr, dir, &err)) {
            rc = cmd_usage_error(err.msg);
            goto done;
        }
    }

    // ---- calibration, meta.json, scenario.ini
    calib cal;
    cmd_calibration(ctx, &cal, autocal);
    if (resume) {
        snprintf(path, sizeof path, "%s/meta.json", dir);
        meta = json_load_file(path, 0, NULL);
    }
    if (!meta) meta = meta_new(ctx, sc, &cal, argc, argv, start);
    if (resume) { /* the shard the sweep was started with */
        json_t *part = json_object_get(meta, "partition");
        const char *rule = json_string_value(json_object_get(part, "rule"));
        if (part && (!rule || strcmp(rule, SHARD_RULE))) {
            fprintf(stderr, "mbench: %s/meta.json: partition rule \"%s\", but this mbench partitions with %s: "
                            "resume it with the mbench that started it\n", dir, rule ? rule : "?", SHARD_RULE);
            rc = 2;
            goto done;
        }
        if (part) plan.spec = (shard_spec){(int)json_integer_value(json_object_get(part, "index")),
                                           (int)json_integer_value(json_object_get(part, "count"))};
        if (plan.spec.count < 1 || plan.spec.index < 0 || plan.spec.index >= plan.spec.count) {
            fprintf(stderr, "mbench: %s/meta.json: partition: bad shard %d/%d\n", dir, plan.spec.index,
                    plan.spec.count);
            rc = 2;
            goto done;
        }
    }
    if (plan_make(&plan, sc, pts, npts, &err)) {
        rc = cmd_usage_error(err.msg);
        goto done;
    }
    if (!resume) json_object_set_new(meta, "partition", plan_json(&plan, npts * sc->nkernels));
    /* rows carry the host and machine type that measured them (a resume may run elsewhere) */
    json_t *mach_now = machine_describe(&ctx->topo);
    machine_type_id(mach_now, rr.machine_type, sizeof rr.machine_type);
    const char *hn = json_string_value(json_object_get(mach_now, "hostname"));
    snprintf(rr.host, sizeof rr.host, "%s", hn ? hn : "");
    json_t *types = json_object_get(meta, "machine_types");
    if (!json_is_object(types)) json_object_set_new(meta, "machine_types", types = json_object());
    if (!json_object_get(types, rr.machine_type)) {
        char was[300], now[300];
        machine_type_label(json_object_get(meta, "machine"), was, sizeof was);
        machine_type_label(mach_now, now, sizeof now);
        fprintf(stderr, "mbench: warning: resumed on another machine type (%s) than the sweep started on (%s): each "
                        "row's machine_type says which measured it\n", now, was);
        json_object_set(types, rr.machine_type, mach_now);
    }
    json_decref(mach_now);
    json_t *run = json_object();
    json_object_set_new(run, "command_line", command_line(argc, argv, ctx->argv0));
    json_object_set_new(run, "start_utc", json_string(start));
    json_object_set_new(run, "host", json_string(rr.host));
    json_object_set_new(run, "machine_type", json_string(rr.machine_type));
    json_object_set_new(run, "points_before", json_integer(rr.points.nrows));
    json_t *runs = json_object_get(meta, "runs");
    if (!json_is_array(runs)) json_object_set_new(meta, "runs", runs = json_array());
    json_array_append_new(runs, run);
    json_object_set_new(meta, "status", json_string("running"));
    if (!resume) {
        snprintf(path, sizeof path, "%s/scenario.ini", dir);
        if (csv_atomic_write(path, scenario_text, sc, &err)) {
            fprintf(stderr, "mbench: sweep: %s\n", err.msg);
            rc = 1;
            goto done;
        }
    }
    if (results_save(&rr, &err) || results_write_json(dir, "meta.json", meta, &err)) {
        fprintf(stderr, "mbench: sweep: %s\n", err.msg);
        rc = 1;
        goto done;
    }
    /* a calibration older than a kernel's exp routine cannot bound that kernel's exps */
    for (int k = 0; cal.valid && k < sc->nkernels; k++) {
        const char *er = sc->kernels[k]->exp_routine;
        const calib_row *row = calib_row_for(&cal, 1);
        if (er && row && calib_exp_rate(&cal, row, er) <= 0)
            fprintf(stderr, "mbench: warning: the calibration (%s) has no rate for %s, the exp routine of %s: its points "
                            "get no ceiling fraction; run `mbench calibrate` again\n", cal.path, er, sc->kernels[k]->name);
    }
    char warn[2048];
    if (machine_warnings(json_object_get(meta, "machine"), warn, sizeof warn))
        for (char *save = NULL, *l = strtok_r(warn, "\n", &save); l; l = strtok_r(NULL, "\n", &save))
            fprintf(stderr, "mbench: warning: %s\n", l);

    // ---- the run order: a seeded permutation of point x kernel
    const int npairs = npts * sc->nkernels;
    order = malloc((size_t)npairs * sizeof *order);
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    if (!order || !rng) {
        gsl_rng_free(rng);
        rc = cmd_usage_error("out of memory");
        goto done;
    }
    for (int i = 0; i < npairs; i++) order[i] = (pair){i / sc->nkernels, i % sc->nkernels};
    gsl_rng_set(rng, (unsigned long)sc->set.seed);
    gsl_ran_shuffle(rng, order, (size_t)npairs, sizeof *order);
    gsl_rng_free(rng);
    int todo = 0;
    for (int i = 0; i < npairs; i++)
        if (plan_mine(&plan, sc, order[i].point, order[i].kernel) &&
            !results_done(&rr, order[i].point, sc->kernels[order[i].kernel]->name))
            todo++;
    fprintf(stderr, "mbench: sweep %s: %d points x %d kernels = %d runs -> %s\n", sc->name, npts, sc->nkernels,
            npairs, dir);
    if (plan.spec.count > 1)
        fprintf(stderr, "mbench: shard %d of %d: %d of the %d runs (estimated %.3g s)\n", plan.spec.index,
                plan.spec.count, plan.nmine, npairs, plan.loads[plan.spec.index] * 1e-6);
    if (resume)
        fprintf(stderr, "mbench: resuming: %d of %d runs are done, %d to do\n", plan.nmine - todo, plan.nmine, todo);

    // ---- the points
    struct sigaction sa = {.sa_handler = on_stop}, old_int, old_term;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
    const bool tty = isatty(2);
    const double t0 = bench_now();
    int done_now = 0, nok = 0, nskip = 0, nfail = 0, ndist = 0;
    char last[160] = "";
    for (int i = 0; i < npairs && !stop_signal; i++) {
        const scen_point *p = &pts[order[i].point];
        const scan_kernel *k = sc->kernels[order[i].kernel];
        if (!plan_mine(&plan, sc, order[i].point, order[i].kernel) || results_done(&rr, p->index, k->name)) continue;
        char desc[200], el[16], eta[16], started[32];
        scan_shape_describe(&p->shape, desc, sizeof desc);
        const double elapsed = bench_now() - t0;
        hms(elapsed, el, sizeof el);
        hms(done_now ? elapsed / done_now * (todo - done_now) : NAN, eta, sizeof eta);
        if (tty) { /* one line, cut to the terminal's width so that \r can redraw it */
            char line[512];
            struct winsize ws;
            int cols = ioctl(2, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 20 ? ws.ws_col : 160;
            snprintf(line, sizeof line, "[%d/%d] elapsed %s ETA %s  %s  %s T=%d%s%s", done_now + 1, todo, el, eta,
                     k->name, desc, p->threads, last[0] ? "  | last: " : "", last);
            if (cols - 1 < (int)sizeof line) line[cols - 1] = 0;
            fprintf(stderr, "\r\033[K%s", line);
        }
        else
            fprintf(stderr, "[%d/%d] elapsed %s ETA %s  %s  %s T=%d\n", done_now + 1, todo, el, eta, k->name, desc,
                    p->threads);
        results_utc_now(started, sizeof started, false);
        bench_settings set = sc->set;
        set.threads = p->threads;
        set.chunk = p->chunk;
        bench_result r;
        const double a = bench_now();
        set.d_model = p->d_model; /* block level: the block's d_model (0: channels / 2) */
        int brc = set.block_level ? bench_block_point(k, &p->shape, &set, &cal, &ctx->topo, &r, &err)
                                  : bench_point(k, &p->shape, &set, &cal, &ctx->topo, &r, &err);
        cachesim_result simres;
        if (!brc && r.status == BENCH_OK && sc->sim) {
            if (r.updates > (double)sc->sim_max_updates)
                snprintf(r.sim_status, sizeof r.sim_status, "not simulated: %.0f state updates > sim_max_updates %lld",
                         r.updates, (long long)sc->sim_max_updates);
            else {
                cachesim_request rq = {.kernel = k, .shape = p->shape, .threads = p->threads, .seed = set.seed,
                                       .chunk = p->chunk, .cold = sc->sim_cold, .geom = geom};
                mb_err serr;
                if (cachesim_run(&rq, &simres, &serr)) {
                    snprintf(r.sim_status, sizeof r.sim_status, "failed: %.230s", serr.msg);
                    fprintf(stderr, "%smbench: sweep: cache simulation of %s failed: %s\n", tty ? "\n" : "", k->name, serr.msg);
                } else {
                    snprintf(r.sim_status, sizeof r.sim_status, "ok");
                    r.sim = &simres;
                }
            }
        }
        const double wall = bench_now() - a;
        int wrc = brc ? results_add_failure(&rr, p, k, &set, i, started, err.msg, &err)
                      : results_add(&rr, p, &r, i, started, wall, &err);
        if (!wrc) wrc = results_save(&rr, &err);
        bench_status st = brc ? BENCH_FAILED : r.status;
        char tm[32];
        fmt_time(brc ? NAN : r.st.median, tm, sizeof tm);
        if (st == BENCH_OK) snprintf(last, sizeof last, "%s %s (CV %.1f%%)", k->name, tm, 100 * r.st.cv), nok++;
        else if (st == BENCH_SKIPPED) snprintf(last, sizeof last, "%s skipped", k->name), nskip++;
        else snprintf(last, sizeof last, "%s FAILED", k->name), nfail++;
        char dist[128] = "";
        if (st == BENCH_OK && r.disturbed)
            snprintf(dist, sizeof dist, "  DISTURBED (waited for a CPU %.0f%%, slowest CPU at %.0f%%, memory at %.0f%%)",
                     100 * r.wait_share, 100 * r.cpu_speed, 100 * r.mem_speed), ndist++;
        if (!tty || st == BENCH_FAILED || dist[0])
            fprintf(stderr, "%s    -> %s%s%s%s\n", tty ? "\n" : "", bench_status_name(st), st == BENCH_OK ? " " : ": ",
                    st == BENCH_OK ? tm : (brc ? err.msg : r.reason), dist);
        if (!brc) bench_result_free(&r);
        done_now++;
        if (wrc) {
            fprintf(stderr, "%smbench: sweep: cannot write the results: %s\n", tty ? "\n" : "", err.msg);
            rc = 1;
            break;
        }
    }
    if (tty) fputc('\n', stderr);
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);

    // ---- meta.json, then fits and plots
    char end[32], el[16];
    results_utc_now(end, sizeof end, false);
    hms(bench_now() - t0, el, sizeof el);
    json_object_set_new(run, "end_utc", json_string(end));
    json_object_set_new(run, "points_run", json_integer(done_now));
    json_object_set_new(run, "seconds", json_real(bench_now() - t0));
    json_object_set_new(meta, "end_utc", json_string(end));
    json_object_set_new(meta, "status", json_string(stop_signal ? "interrupted" : rc ? "failed" : "complete"));
    if (results_write_json(dir, "meta.json", meta, &err)) {
        fprintf(stderr, "mbench: sweep: %s\n", err.msg);
        rc = 1;
    }
    fprintf(stderr, "mbench: %d run in %s: %d ok, %d skipped, %d failed; results in %s\n", done_now, el, nok, nskip,
            nfail, dir);
    if (ndist)
        fprintf(stderr, "mbench: %d of the ok runs DISTURBED (points.csv column disturbed; drawn hollow): other tasks "
                        "or a slow virtual CPU took part of their time (docs/measurement.md)\n", ndist);
    if (stop_signal) {
        fprintf(stderr, "mbench: stopped by %s after %d of %d runs; continue with: mbench sweep --resume %s\n",
                stop_signal == SIGINT ? "SIGINT" : "SIGTERM", plan.nmine - todo + done_now, plan.nmine, dir);
        rc = 130;
        goto done;
    }
    if (rc) goto done;
    if (nfail) rc = 1;
    if (plot && cmd_plot_results("sweep", dir)) rc = 1;
    printf("results: %s\n", dir);
done:
    plan_free(&plan);
    free(cnt);
    json_decref(meta);
    results_free(&rr);
    free(order);
    free(pts);
    free(sc);
    return rc;
}

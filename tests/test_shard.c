/* tests/test_shard.c: the shard partition of `mbench sweep --shard I/N` (harness/shard.c):
 * for every shipped scenario and N = 1..9 (and N larger than the run count) every run is
 * in exactly one shard (disjoint, complete), the partition is the same when computed
 * again and when the points come in another order (it depends on the scenario only), the
 * loads of any two shards differ by at most the largest run's estimate (the stated
 * bound), and skipped runs cost only the fixed overhead; --shard parsing; the scenario
 * hash ignores comments and sees every value. */
#include <dirent.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "harness/shard.h"

/* Checks one scenario at one shard count; returns the number of runs. */
static int check_partition(const char *name, const scenario *sc, const scen_point *pts, int npts, int count)
{
    const int nk = sc->nkernels, n = npts * nk;
    shard_run *a = NULL, *b = NULL, *c = NULL;
    int64_t *la = calloc((size_t)count, sizeof *la), *lc = calloc((size_t)count, sizeof *lc);
    mb_err err;
    CHECK(shard_plan(sc, pts, npts, count, &a, la, &err) == 0, "%s/%d: %s", name, count, err.msg);
    CHECK(shard_plan(sc, pts, npts, count, &b, NULL, &err) == 0, "%s/%d: %s", name, count, err.msg);
    /* the points in reverse order with every third swapped: another input order */
    scen_point *rev = malloc((size_t)npts * sizeof *rev);
    for (int i = 0; i < npts; i++) rev[i] = pts[npts - 1 - i];
    for (int i = 0; i + 2 < npts; i += 3) {
        scen_point t = rev[i];
        rev[i] = rev[i + 2], rev[i + 2] = t;
    }
    CHECK(shard_plan(sc, rev, npts, count, &c, lc, &err) == 0, "%s/%d: %s", name, count, err.msg);
    if (!a || !b || !c) goto done;

    // ---- disjoint and complete: each (point, kernel) once, in one shard in [0, count)
    int *seen = calloc((size_t)n, sizeof *seen);
    int64_t *sum = calloc((size_t)count, sizeof *sum), big = 0;
    for (int i = 0; i < n; i++) {
        const shard_run *r = &a[i];
        CHECK(r->shard >= 0 && r->shard < count, "%s/%d: run %d in shard %d", name, count, i, r->shard);
        CHECK(r->point >= 0 && r->point < npts && r->kernel >= 0 && r->kernel < nk, "%s: run %d out of range", name, i);
        if (r->shard < 0 || r->shard >= count || r->point < 0 || r->point >= npts) continue;
        seen[r->point * nk + r->kernel]++;
        sum[r->shard] += r->est_us;
        if (r->est_us > big) big = r->est_us;
        CHECK(r->est_us >= SHARD_RUN_OVERHEAD_US, "%s: estimate %lld below the overhead", name, (long long)r->est_us);
    }
    for (int i = 0; i < n; i++) CHECK(seen[i] == 1, "%s/%d: run %d appears %d times", name, count, i, seen[i]);

    // ---- loads: as reported, within the bound
    int64_t lo = INT64_MAX, hi = 0;
    for (int s = 0; s < count; s++) {
        CHECK(sum[s] == la[s], "%s/%d: shard %d load %lld, reported %lld", name, count, s, (long long)sum[s],
              (long long)la[s]);
        if (sum[s] < lo) lo = sum[s];
        if (sum[s] > hi) hi = sum[s];
    }
    CHECK(hi - lo <= big, "%s/%d: loads %lld..%lld us differ by more than the largest run (%lld us)", name, count,
          (long long)lo, (long long)hi, (long long)big);
    if (count <= n) CHECK(lo > 0, "%s/%d: an empty shard with %d runs", name, count, n);

    // ---- stable: again, and from another order of the points
    for (int i = 0; i < n; i++) {
        CHECK(a[i].shard == b[i].shard && a[i].est_us == b[i].est_us, "%s/%d: run %d moved between two plans", name,
              count, i);
        const shard_run *r = &c[i];
        const shard_run *o = &a[r->point * nk + r->kernel];
        CHECK(o->shard == r->shard && o->est_us == r->est_us,
              "%s/%d: point %d kernel %d: shard %d, or %d when the points come in another order", name, count,
              r->point, r->kernel, o->shard, r->shard);
    }
    for (int s = 0; s < count; s++) CHECK(la[s] == lc[s], "%s/%d: shard %d load depends on the order", name, count, s);
    free(seen);
    free(sum);
done:
    free(a), free(b), free(c), free(la), free(lc), free(rev);
    return n;
}

static void shipped(void)
{
    char dir[600];
    snprintf(dir, sizeof dir, "%s/scenarios", MB_SOURCE_DIR);
    DIR *d = opendir(dir);
    CHECK(d != NULL, "cannot open %s", dir);
    if (!d) return;
    int files = 0;
    for (struct dirent *e; (e = readdir(d));) {
        size_t len = strlen(e->d_name);
        if (len < 5 || strcmp(e->d_name + len - 4, ".ini")) continue;
        char path[1200];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        scenario *sc = calloc(1, sizeof *sc);
        scen_point *pts = NULL;
        int npts = 0;
        mb_err err;
        /* max_pus fixed, so `threads = all` means the same on every machine running the test */
        if (scenario_load(sc, path, false, NULL, 0, NULL, 4, &err) || scenario_points(sc, &pts, &npts, &err)) {
            CHECK(0, "%s: %s", path, err.msg);
            free(sc);
            continue;
        }
        files++;
        int n = 0;
        for (int count = 1; count <= 9; count++) n = check_partition(e->d_name, sc, pts, npts, count);
        check_partition(e->d_name, sc, pts, npts, n + 3); /* more shards than runs: some empty */
        free(pts);
        free(sc);
    }
    closedir(d);
    CHECK(files >= 5, "only %d scenarios found in %s", files, dir);
}

/* Runs a kernel refuses (ssd on diag problems) cost the overhead only; bigger points more. */
static void estimates(void)
{
    char path[600];
    snprintf(path, sizeof path, "%s/scenarios/smoke.ini", MB_SOURCE_DIR);
    const char *sets[] = {"seqlen=4096", "min_time=0", "min_reps=10"};
    scenario *sc = calloc(1, sizeof *sc);
    scen_point *pts = NULL;
    int npts = 0;
    mb_err err;
    CHECK(scenario_load(sc, path, false, sets, 3, "sequential,ssd", 4, &err) == 0, "smoke: %s", err.msg);
    CHECK(scenario_points(sc, &pts, &npts, &err) == 0 && npts == 4, "smoke points: %d", npts);
    if (npts != 4) return;
    CHECK(shard_estimate(sc, &pts[0], sc->kernels[1]) == 0, "ssd on a diag problem should cost nothing");
    double e0 = shard_estimate(sc, &pts[0], sc->kernels[0]), e3 = shard_estimate(sc, &pts[3], sc->kernels[0]);
    CHECK(e0 > 0 && e3 > 4 * e0, "sequential: d_state 16 (%g s) should cost ~8x d_state 2 (%g s)", e3, e0);
    free(pts);
    free(sc);
}

static void parsing(void)
{
    shard_spec sp;
    mb_err err;
    CHECK(shard_parse("0/1", &sp, &err) == 0 && sp.index == 0 && sp.count == 1, "0/1");
    CHECK(shard_parse("3/4", &sp, &err) == 0 && sp.index == 3 && sp.count == 4, "3/4");
    const char *bad[] = {"4/4", "-1/4", "1/0", "1", "/4", "1/", "a/4", "1/b", "1/4/2", "", "1/100001"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        CHECK(shard_parse(bad[i], &sp, &err) != 0, "--shard %s accepted", bad[i]);
        CHECK(strstr(err.msg, "--shard") != NULL, "--shard %s: message \"%s\" does not name the flag", bad[i], err.msg);
    }
}

static void hashes(void)
{
    char a[32], b[32], c[32];
    shard_scenario_hash("; read from /a/smoke.ini\n\n[shape]\nd_state = 2, 4\n", a, sizeof a);
    shard_scenario_hash("; read from /b/smoke.ini with --quick\n[shape]\nd_state = 2, 4\n", b, sizeof b);
    shard_scenario_hash("; read from /a/smoke.ini\n[shape]\nd_state = 2, 8\n", c, sizeof c);
    CHECK(strlen(a) == 16 && !strcmp(a, b), "comments changed the hash: %s vs %s", a, b);
    CHECK(strcmp(a, c) != 0, "a changed value kept the hash %s", a);
}

int main(void)
{
    parsing();
    hashes();
    estimates();
    shipped();
    return check_report("test_shard");
}

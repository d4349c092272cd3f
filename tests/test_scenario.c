/* tests/test_scenario.c: scenario files: every shipped scenario parses into valid points;
 * range syntax, overrides and --quick do what scenarios/README.md says; the "as run" text
 * loads back to the same points; and each kind of bad file is rejected with file:line
 * and what was expected. */
#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "harness/scenario.h"

static char tmpdir[256];

/* Writes text to tmpdir/name and returns the path (static buffer). */
static const char *write_file(const char *name, const char *text)
{
    static char path[512];
    snprintf(path, sizeof path, "%s/%s", tmpdir, name);
    FILE *f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
    return path;
}

/* Loads text as a scenario and expects an error containing every one of the patterns. */
static void expect_bad(const char *what, const char *text, const char *const *sets, int nsets, const char *p1,
                       const char *p2)
{
    scenario *s = calloc(1, sizeof *s);
    mb_err err = {{0}};
    const char *path = write_file("bad.ini", text);
    int rc = scenario_load(s, path, false, sets, nsets, NULL, 4, &err);
    CHECK(rc != 0, "%s: accepted", what);
    CHECK(strstr(err.msg, p1) != NULL, "%s: message \"%s\" lacks \"%s\"", what, err.msg, p1);
    if (p2) CHECK(strstr(err.msg, p2) != NULL, "%s: message \"%s\" lacks \"%s\"", what, err.msg, p2);
    free(s);
}

static void shipped(void)
{
    DIR *d = opendir(MB_SOURCE_DIR "/scenarios");
    CHECK(d != NULL, "scenarios/ exists");
    if (!d) return;
    struct dirent *e;
    int n = 0;
    scenario *s = calloc(1, sizeof *s);
    while ((e = readdir(d))) {
        size_t len = strlen(e->d_name);
        if (len < 5 || strcmp(e->d_name + len - 4, ".ini")) continue;
        char path[1024];
        snprintf(path, sizeof path, "%s/scenarios/%s", MB_SOURCE_DIR, e->d_name);
        for (int quick = 0; quick < 2; quick++) {
            mb_err err = {{0}};
            scen_point *pts = NULL;
            int np = 0;
            int rc = scenario_load(s, path, quick, NULL, 0, NULL, 2, &err);
            CHECK(rc == 0, "%s%s: %s", e->d_name, quick ? " --quick" : "", err.msg);
            if (rc) continue;
            CHECK(scenario_points(s, &pts, &np, &err) == 0 && np >= 1, "%s: points: %s", e->d_name, err.msg);
            CHECK(s->nkernels >= 1, "%s: kernels", e->d_name);
            CHECK(s->set.min_reps >= 6, "%s: min_reps >= 6 so every median has a CI", e->d_name);
            free(pts);
        }
        n++;
    }
    closedir(d);
    free(s);
    CHECK(n >= 7, "at least 7 shipped scenarios (got %d)", n);
}

static void good(void)
{
    scenario *s = calloc(1, sizeof *s), *t = calloc(1, sizeof *t);
    mb_err err = {{0}};
    scen_point *pts = NULL, *pts2 = NULL;
    int np = 0, np2 = 0;

    // ---- d_state.ini: one axis, 9 values, D = 768 x 2, no oracle among the kernels
    CHECK(scenario_load(s, MB_SOURCE_DIR "/scenarios/d_state.ini", false, NULL, 0, NULL, 2, &err) == 0, "%s", err.msg);
    CHECK(s->naxes == 1 && s->axes[0] == SCEN_D_STATE, "d_state is the one axis");
    CHECK(s->nvals[SCEN_D_STATE] == 9 && s->vals[SCEN_D_STATE][0] == 1 && s->vals[SCEN_D_STATE][8] == 256,
          "1..256*2 is 1, 2, ..., 256 (%d values)", s->nvals[SCEN_D_STATE]);
    CHECK(scenario_points(s, &pts, &np, &err) == 0 && np == 9, "9 points");
    if (np == 9) CHECK(pts[0].shape.channels == 1536 && pts[0].shape.heads == 1536 && pts[8].shape.d_state == 256,
                       "channels %lld", (long long)pts[0].shape.channels);
    for (int k = 0; k < s->nkernels; k++) CHECK(!s->kernels[k]->oracle, "all excludes the oracle");
    free(pts);

    // ---- --quick and --set and --kernels
    const char *sets[] = {"seqlen=100", "run.min_time=0.5", "d_state = 3, 5"};
    CHECK(scenario_load(s, MB_SOURCE_DIR "/scenarios/d_state.ini", true, sets, 3, "sequential", 2, &err) == 0, "%s",
          err.msg);
    CHECK(s->nvals[SCEN_SEQLEN] == 1 && s->vals[SCEN_SEQLEN][0] == 100, "--set beats [quick] (seqlen)");
    CHECK(s->set.min_time == 0.5, "--set run.min_time");
    CHECK(s->nvals[SCEN_D_STATE] == 2 && s->vals[SCEN_D_STATE][1] == 5, "--set a list");
    CHECK(s->nkernels == 1 && !strcmp(s->kernels[0]->name, "sequential"), "--kernels");
    CHECK(s->quick, "quick recorded");

    // ---- the as-run text loads back to the same points
    const char *path = write_file("asrun.ini", "");
    FILE *f = fopen(path, "w");
    scenario_write(f, s, "test");
    fclose(f);
    CHECK(scenario_load(t, path, false, NULL, 0, NULL, 2, &err) == 0, "as-run text loads: %s", err.msg);
    CHECK(scenario_points(s, &pts, &np, &err) == 0 && scenario_points(t, &pts2, &np2, &err) == 0 && np == np2,
          "same point count");
    for (int i = 0; i < np && i < np2; i++)
        CHECK(!memcmp(&pts[i].shape, &pts2[i].shape, sizeof pts[i].shape) && pts[i].threads == pts2[i].threads,
              "point %d differs", i);
    CHECK(t->nkernels == 1 && t->set.min_time == 0.5 && !strcmp(t->name, "d_state"), "settings survive");
    free(pts), free(pts2);

    // ---- a product of two axes, threads `1..all`, a head problem
    path = write_file("two.ini", "[scenario]\nname = two\n[shape]\na = head\nchannels = 128\nheaddim = 32, 64\n"
                                 "d_state = 4\nseqlen = 8\n[run]\nthreads = 1..all\n");
    CHECK(scenario_load(s, path, false, NULL, 0, NULL, 3, &err) == 0, "%s", err.msg);
    CHECK(s->naxes == 2 && s->axes[0] == SCEN_HEADDIM && s->axes[1] == SCEN_THREADS, "two axes");
    CHECK(scenario_points(s, &pts, &np, &err) == 0 && np == 6, "2 x 3 points (%d)", np);
    if (np == 6) {
        CHECK(pts[0].shape.heads == 4 && pts[0].threads == 1 && pts[2].threads == 3, "first axis outermost");
        CHECK(pts[3].shape.heads == 2 && pts[3].headdim == 64, "heads = channels / headdim");
    }
    free(pts);
    free(s), free(t);
}

static void bad(void)
{
    const char *setbad[] = {"d_state=4,x"}, *setunknown[] = {"dstate=4"}, *setnoeq[] = {"d_state"};
    expect_bad("unknown key", "[shape]\nd_state = 4\nd_stat = 4\n", NULL, 0, "bad.ini:3:", "unknown key \"d_stat\"");
    expect_bad("unknown key lists the keys", "[run]\nthread = 2\n", NULL, 0, "bad.ini:2:", "expected one of threads");
    expect_bad("unknown section", "[shapes]\nd_state = 4\n", NULL, 0, "bad.ini:2:", "unknown section [shapes]");
    expect_bad("key outside a section", "d_state = 4\n", NULL, 0, "bad.ini:1:", "outside any section");
    expect_bad("key in the wrong section", "[run]\nd_state = 4\n", NULL, 0, "bad.ini:2:", "belongs in [shape]");
    expect_bad("syntax", "[shape]\n\nd_state 4\n", NULL, 0, "bad.ini:3:", "expected `key = value`");
    expect_bad("bad value", "[shape]\nd_state = 4, x\n", NULL, 0, "bad.ini:2:", "d_state: expected integers");
    expect_bad("out of range", "[shape]\nseqlen = 0\n", NULL, 0, "bad.ini:2:", "out of range");
    expect_bad("empty list", "[shape]\nd_state =\n", NULL, 0, "bad.ini:2:", "empty list");
    expect_bad("empty item", "[shape]\nd_state = 1,,4\n", NULL, 0, "bad.ini:2:", "empty item");
    expect_bad("repeated value", "[shape]\nd_state = 4, 4\n", NULL, 0, "bad.ini:2:", "appears twice");
    expect_bad("bad bool", "[shape]\nz = maybe\n", NULL, 0, "bad.ini:2:", "expected true or false");
    expect_bad("bad a", "[shape]\na = full\n", NULL, 0, "bad.ini:2:", "expected diag or head");
    expect_bad("unknown kernel", "[scenario]\n; comment\nkernels = sequential, warp\n", NULL, 0, "bad.ini:3:",
               "unknown kernel \"warp\"");
    expect_bad("empty kernels", "[scenario]\nkernels = \n", NULL, 0, "bad.ini:2:", "empty list");
    expect_bad("conflict channels/d_model", "[shape]\nchannels = 64\nd_model = 32\n", NULL, 0, "bad.ini:2:",
               "conflicts with d_model");
    expect_bad("conflict heads/headdim", "[shape]\na = head\nheads = 2\nheaddim = 32\n", NULL, 0, "bad.ini:3:",
               "conflicts with headdim");
    expect_bad("heads on diag", "[shape]\nchannels = 64\nheads = 2\n", NULL, 0, "bad.ini:3:", "a = head problems only");
    expect_bad("given twice", "[shape]\nseqlen = 4\nseqlen = 8\n", NULL, 0, "bad.ini:3:", "given twice");
    expect_bad("list for a single key", "[run]\nmin_reps = 6, 8\n", NULL, 0, "bad.ini:2:", "takes one value");
    expect_bad("bad range", "[shape]\nd_state = 8..2\n", NULL, 0, "bad.ini:2:", "empty range");
    expect_bad("invalid point", "[shape]\na = head\nchannels = 96\nheaddim = 64, 32\n", NULL, 0, "at the point",
               "headdim 64 does not divide channels 96");
    expect_bad("groups do not divide", "[shape]\nchannels = 12\ngroups = 5\n", NULL, 0, "groups (5) must divide",
               NULL);
    expect_bad("max below min reps", "[run]\nmin_reps = 10\nmax_reps = 5\n", NULL, 0, "bad.ini:3:", "below min_reps");
    expect_bad("--set bad value", "[shape]\nd_state = 4\n", setbad, 1, "--set d_state=4,x", "expected integers");
    expect_bad("--set unknown key", "[shape]\nd_state = 4\n", setunknown, 1, "--set: unknown key \"dstate\"", NULL);
    expect_bad("--set without =", "[shape]\nd_state = 4\n", setnoeq, 1, "expected key=value", NULL);
    scenario *s = calloc(1, sizeof *s);
    mb_err err = {{0}};
    CHECK(scenario_load(s, "/nonexistent/x.ini", false, NULL, 0, NULL, 2, &err) != 0 && strstr(err.msg, "x.ini"),
          "missing file named: %s", err.msg);
    const char *p = write_file("k.ini", "[scenario]\nkernels = sequential\n");
    CHECK(scenario_load(s, p, false, NULL, 0, "nope", 2, &err) != 0 && strstr(err.msg, "--kernels") &&
              strstr(err.msg, "unknown kernel \"nope\""),
          "--kernels unknown: %s", err.msg);
    free(s);
}

int main(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/mb_test_scenario_XXXXXX");
    if (!mkdtemp(tmpdir)) return 1;
    shipped();
    good();
    bad();
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
    if (system(cmd)) return 1;
    return check_report("test_scenario");
}

/* harness/shard.c: the shard partition of a sweep and the scenario hash (see shard.h). */
#include "shard.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "harness/cli.h"

// ---------------------------------------------------------------- --shard I/N

int shard_parse(const char *s, shard_spec *sp, mb_err *err)
{
    const char *slash = s ? strchr(s, '/') : NULL;
    if (!slash) return mb_fail(err, "--shard: expected I/N (shard I of N, 0 <= I < N), got \"%s\"", s ? s : "");
    char a[32];
    size_t n = (size_t)(slash - s);
    if (n == 0 || n >= sizeof a) return mb_fail(err, "--shard: expected I/N (shard I of N, 0 <= I < N), got \"%s\"", s);
    memcpy(a, s, n);
    a[n] = 0;
    int64_t i, c;
    mb_err e2;
    if (cli_parse_i64("--shard N", slash + 1, 1, 100000, &c, &e2))
        return mb_fail(err, "--shard %s: the shard count N must be an integer in [1, 100000]", s);
    if (cli_parse_i64("--shard I", a, 0, INT64_MAX, &i, &e2))
        return mb_fail(err, "--shard %s: the shard index I must be an integer >= 0", s);
    if (i >= c) return mb_fail(err, "--shard %s: the shard index must be below the count (0..%lld)", s, (long long)c - 1);
    sp->index = (int)i, sp->count = (int)c;
    return 0;
}

// ---------------------------------------------------------------- the estimate

double shard_estimate(const scenario *sc, const scen_point *p, const scan_kernel *k)
{
    const bench_settings *set = &sc->set;
    scan_opts o = {.threads = p->threads, .chunk = p->chunk, .checkpoint = set->checkpoint};
    const bool train = set->direction != BENCH_FORWARD;
    const char *why = train ? scan_backward_unsupported(k, &p->shape, &o) : k->unsupported(&p->shape, &o);
    if (why) return 0; /* skipped: costs only the fixed overhead */
    scan_cost c = {0}, b = {0};
    if (set->direction == BENCH_FORWARD) k->cost(&p->shape, &o, &c);
    else if (set->direction == BENCH_BOTH) scan_forward_save_cost(k, &p->shape, &o, &c);
    if (train && k->backward_cost) k->backward_cost(&p->shape, &o, &b);
    double flops = c.flops + b.flops, exps = c.exps + b.exps, bytes = c.bytes + b.bytes;
    if (set->block_level) { /* in_proj (2D outputs) and out_proj (D) around the scan */
        const double dm = p->d_model ? (double)p->d_model : (double)p->shape.channels / 2;
        flops += 6.0 * (double)p->shape.batch * (double)p->shape.seqlen * dm * (double)p->shape.channels *
                 (set->direction == BENCH_FORWARD ? 1 : 3);
    }
    const double th = p->threads > 0 ? p->threads : 1;
    double t = fmax(fmax(flops / (SHARD_REF_FLOPS * th), exps / (SHARD_REF_EXPS * th)), bytes / SHARD_REF_BYTES);
    if (!(t > 0) || !isfinite(t)) t = scan_shape_updates(&p->shape) * 1e-9; /* no cost stated: 1 ns/update */
    /* repetitions as bench_point takes them: min_reps and min_time, capped by max_reps */
    const double max_reps = set->max_reps > 0 ? set->max_reps : 100000;
    double reps = fmax((double)set->min_reps, ceil(set->min_time / t));
    reps = fmin(reps, max_reps);
    const double warm = set->warmup > 0 ? set->warmup : 1;
    /* allocation and first touch (page faults), once per run */
    double touch = (double)scan_shape_tensor_bytes(&p->shape) +
                   (double)(train ? k->backward_workspace_bytes(&p->shape, &o) + k->saved_bytes(&p->shape, &o)
                                  : k->workspace_bytes(&p->shape, &o));
    if (train) touch *= 2; /* dy and the gradients */
    return (reps + warm + (set->check ? 1 : 0)) * t + touch / SHARD_REF_TOUCH;
}

// ---------------------------------------------------------------- the partition

static int by_estimate(const void *a, const void *b)
{
    const shard_run *x = *(const shard_run *const *)a, *y = *(const shard_run *const *)b;
    if (x->est_us != y->est_us) return x->est_us > y->est_us ? -1 : 1;
    if (x->point != y->point) return x->point < y->point ? -1 : 1;
    return x->kernel < y->kernel ? -1 : x->kernel > y->kernel;
}

/* Shard a comes before shard b: a smaller load, or the same load and a lower index. */
static int before(const int64_t *load, int a, int b) { return load[a] < load[b] || (load[a] == load[b] && a < b); }

int shard_plan(const scenario *sc, const scen_point *pts, int npts, int count, shard_run **runs,
               int64_t *loads_us, mb_err *err)
{
    *runs = NULL;
    if (count < 1) return mb_fail(err, "shard count must be >= 1");
    const int nk = sc->nkernels, n = npts * nk;
    shard_run *r = malloc((size_t)(n ? n : 1) * sizeof *r);       /* [npts][nk] */
    shard_run **by = malloc((size_t)(n ? n : 1) * sizeof *by);     /* [n] sorted */
    int64_t *load = calloc((size_t)count, sizeof *load);           /* [count] */
    if (!r || !by || !load) {
        free(r), free(by), free(load);
        return mb_fail(err, "out of memory (shard plan)");
    }
    for (int i = 0; i < n; i++) {
        const scen_point *p = &pts[i / nk];
        double s = shard_estimate(sc, p, sc->kernels[i % nk]);
        r[i] = (shard_run){.point = p->index, .kernel = i % nk, .shard = -1,
                           .est_us = (int64_t)llround(fmin(s, 1e12) * 1e6) + SHARD_RUN_OVERHEAD_US};
        by[i] = &r[i];
    }
    qsort(by, (size_t)n, sizeof *by, by_estimate);
    /* a min-heap of shards by (load, index): the least-loaded shard, ties to the lowest index */
    int *heap = malloc((size_t)count * sizeof *heap); /* [count] shard indices */
    if (!heap) {
        free(r), free(by), free(load);
        return mb_fail(err, "out of memory (shard plan)");
    }
    for (int s = 0; s < count; s++) heap[s] = s; /* all loads 0: index order is a heap */
    for (int i = 0; i < n; i++) {
        const int best = heap[0];
        by[i]->shard = best;
        load[best] += by[i]->est_us;
        for (int j = 0;;) { /* sift the root down */
            int l = 2 * j + 1, m = j;
            if (l < count && before(load, heap[l], heap[m])) m = l;
            if (l + 1 < count && before(load, heap[l + 1], heap[m])) m = l + 1;
            if (m == j) break;
            int t = heap[j];
            heap[j] = heap[m], heap[m] = t, j = m;
        }
    }
    if (loads_us) memcpy(loads_us, load, (size_t)count * sizeof *load);
    free(heap);
    free(by);
    free(load);
    *runs = r;
    return 0;
}

// ---------------------------------------------------------------- hashes

uint64_t shard_fnv1a(const void *data, size_t n, uint64_t h)
{
    const unsigned char *p = data;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

void shard_scenario_hash(const char *as_run, char *hex, size_t len)
{
    uint64_t h = SHARD_FNV_BASIS;
    const char *p = as_run ? as_run : "";
    while (*p) {
        size_t n = strcspn(p, "\n");
        size_t a = 0;
        while (a < n && (p[a] == ' ' || p[a] == '\t' || p[a] == '\r')) a++;
        if (a < n && p[a] != ';') {
            h = shard_fnv1a(p, n, h);
            h = shard_fnv1a("\n", 1, h);
        }
        p += n;
        if (*p) p++;
    }
    snprintf(hex, len, "%016llx", (unsigned long long)h);
}

/* harness/cli.c: argument parsing shared by the verbs (see cli.h). */
#include "cli.h"

#include "common/mem.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int cli_parse_i64(const char *flag, const char *s, int64_t min, int64_t max, int64_t *out, mb_err *err)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (!*s || *end || errno == ERANGE)
        return mb_fail(err, "%s: expected an integer, got \"%s\"", flag, s);
    if (v < min || v > max)
        return mb_fail(err, "%s: %lld is out of range [%lld, %lld]", flag, v, (long long)min, (long long)max);
    *out = v;
    return 0;
}

int cli_parse_double(const char *flag, const char *s, double min, double max, double *out, mb_err *err)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (!*s || *end || errno == ERANGE || !isfinite(v))
        return mb_fail(err, "%s: expected a number, got \"%s\"", flag, s);
    if (v < min || v > max) return mb_fail(err, "%s: %g is out of range [%g, %g]", flag, v, min, max);
    *out = v;
    return 0;
}

int cli_parse_i64_list(const char *flag, const char *s, int64_t min, int64_t max, int64_t *out,
                       int *n, int cap, mb_err *err)
{
    *n = 0;
    char tmp[512];
    if (strlen(s) >= sizeof tmp) return mb_fail(err, "%s: list too long", flag);
    snprintf(tmp, sizeof tmp, "%s", s);
    char *save = NULL;
    for (char *tok = strtok_r(tmp, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        if (*n == cap) return mb_fail(err, "%s: at most %d values", flag, cap);
        if (cli_parse_i64(flag, tok, min, max, &out[*n], err)) return -1;
        (*n)++;
    }
    if (*n == 0) return mb_fail(err, "%s: expected a comma-separated list, got \"%s\"", flag, s);
    return 0;
}

// ---------------------------------------------------------------- argv walking

void cli_iter_init(cli_iter *it, int argc, char **argv, int first)
{
    memset(it, 0, sizeof *it);
    it->argc = argc, it->argv = argv, it->i = first;
}

const char *cli_next(cli_iter *it)
{
    it->value = NULL;
    if (it->i >= it->argc) return it->flag = NULL;
    const char *a = it->argv[it->i++];
    const char *eq = strncmp(a, "--", 2) == 0 ? strchr(a, '=') : NULL;
    if (eq) {
        size_t n = (size_t)(eq - a) < sizeof it->buf - 1 ? (size_t)(eq - a) : sizeof it->buf - 1;
        memcpy(it->buf, a, n);
        it->buf[n] = 0;
        it->flag = it->buf;
        it->value = eq + 1;
        return it->flag;
    }
    return it->flag = a;
}

int cli_value(cli_iter *it, mb_err *err)
{
    if (it->value) return 0;
    if (it->i >= it->argc) return mb_fail(err, "%s: needs a value", it->flag);
    it->value = it->argv[it->i++];
    return 0;
}

// ---------------------------------------------------------------- shape flags

const char cli_shape_help[] =
    "shape:\n"
    "  --batch B          batch size (1)\n"
    "  --channels D       channels (d_inner); or --d-model M with --expand E (768 x 2)\n"
    "  --d-state N        state size (16)\n"
    "  --seqlen L         sequence length (2048)\n"
    "  --a diag|head      A per channel and state (Mamba-1) or per head (Mamba-2) (diag)\n"
    "  --heads H          heads, head problems (channels / headdim); or --headdim P (64)\n"
    "  --groups G         B/C groups (1)\n"
    "  --no-softplus --no-bias --no-dskip --no-z   drop optional terms (all on by default)\n"
    "  --h0 --h-last      initial state in, final state out\n";

void cli_shape_default(cli_shape *c)
{
    memset(c, 0, sizeof *c);
    c->shape = (scan_shape){.batch = 1, .seqlen = 2048, .channels = 1536, .d_state = 16,
                            .heads = 0, .groups = 1, .a_kind = SCAN_A_DIAG, .softplus = true,
                            .has_bias = true, .has_dskip = true, .has_z = true};
}

#define BIG ((int64_t)1 << 40)

int cli_shape_flag(cli_iter *it, cli_shape *c, mb_err *err)
{
    const char *f = it->flag;
    struct {
        const char *name;
        int64_t *dst;
    } ints[] = {
        {"--batch", &c->shape.batch},   {"--seqlen", &c->shape.seqlen},   {"--channels", &c->shape.channels},
        {"--d-state", &c->shape.d_state}, {"--heads", &c->shape.heads},   {"--groups", &c->shape.groups},
        {"--d-model", &c->d_model},     {"--expand", &c->expand},         {"--headdim", &c->headdim},
    };
    for (size_t i = 0; i < sizeof ints / sizeof *ints; i++) {
        if (strcmp(f, ints[i].name)) continue;
        if (cli_value(it, err) || cli_parse_i64(f, it->value, 1, BIG, ints[i].dst, err)) return -1;
        if (ints[i].dst == &c->shape.channels) c->channels_set = true;
        if (ints[i].dst == &c->shape.heads) c->heads_set = true;
        return 1;
    }
    if (!strcmp(f, "--a")) {
        if (cli_value(it, err)) return -1;
        if (!strcmp(it->value, "diag")) c->shape.a_kind = SCAN_A_DIAG;
        else if (!strcmp(it->value, "head")) c->shape.a_kind = SCAN_A_HEAD;
        else return mb_fail(err, "--a: expected diag or head, got \"%s\"", it->value);
        return 1;
    }
    struct {
        const char *name;
        bool *dst, val;
    } bools[] = {
        {"--no-softplus", &c->shape.softplus, false}, {"--no-bias", &c->shape.has_bias, false},
        {"--no-dskip", &c->shape.has_dskip, false},   {"--no-z", &c->shape.has_z, false},
        {"--h0", &c->shape.has_h0, true},             {"--h-last", &c->shape.want_h_last, true},
    };
    for (size_t i = 0; i < sizeof bools / sizeof *bools; i++)
        if (!strcmp(f, bools[i].name)) {
            if (it->value) return mb_fail(err, "%s takes no value", f);
            *bools[i].dst = bools[i].val;
            return 1;
        }
    return 0;
}

int cli_shape_finish(cli_shape *c, mb_err *err)
{
    scan_shape *s = &c->shape;
    if (c->d_model || c->expand) {
        if (c->channels_set) return mb_fail(err, "--channels conflicts with --d-model/--expand: give one");
        int64_t dm = c->d_model ? c->d_model : 768, ex = c->expand ? c->expand : 2;
        if (!mb_mul(dm, ex, &s->channels)) return mb_fail(err, "--d-model x --expand overflows");
    }
    if (s->a_kind == SCAN_A_HEAD) {
        if (c->heads_set && c->headdim) {
            if (!mb_mul(s->heads, c->headdim, &(int64_t){0}) || s->heads * c->headdim != s->channels)
                return mb_fail(err, "--heads x --headdim (%lld x %lld) must equal channels (%lld)",
                               (long long)s->heads, (long long)c->headdim, (long long)s->channels);
        } else if (!c->heads_set) {
            int64_t p = c->headdim ? c->headdim : 64;
            if (s->channels % p)
                return mb_fail(err, "--headdim %lld must divide channels (%lld)", (long long)p,
                               (long long)s->channels);
            s->heads = s->channels / p;
        }
    } else {
        if (c->heads_set || c->headdim)
            return mb_fail(err, "--heads/--headdim apply to --a head problems only");
        s->heads = s->channels;
    }
    return scan_shape_check(s, err);
}

// ---------------------------------------------------------------- run flags

const char cli_run_help[] =
    "run settings:\n"
    "  --threads T[,T..]  OpenMP threads (1); a list runs each and prints speedups\n"
    "  --bind compact|scatter|none   thread pinning with hwloc (compact)\n"
    "  --seed S           input seed (42)\n"
    "  --min-reps R       at least R timed repetitions (10)\n"
    "  --min-time S       and at least S seconds of them (0.5)\n"
    "  --warmup W         untimed calls first (2)\n"
    "  --chunk Q          chunk length of chunked kernels (kernel default)\n"
    "  --check            compare with the fp64 oracle before timing (and, training,\n"
    "                     every gradient with the oracle's backward)\n"
    "  --direction forward|backward|both   time the forward, the backward (after one\n"
    "                     untimed forward_save), or a training step (both) (forward)\n"
    "  --checkpoint K     steps between state checkpoints of recomputing backwards (64)\n"
    "  --level scan|block time the scan alone, or a whole Mamba block around it (Mamba-1\n"
    "                     for --a diag, Mamba-2 for --a head; d_inner = channels, d_model\n"
    "                     from --d-model or channels / 2; the block sets the scan options)\n"
    "  --counters LIST    count events in calls separate from the timed ones: PAPI presets\n"
    "                     (PAPI_TOT_CYC, PAPI_L3_TCM, ...), PAPI native names (perf::...),\n"
    "                     perf software events (task-clock, page-faults, context-switches,\n"
    "                     cpu-migrations), or \"default\"; see mbench info for what works here\n"
    "  --counter-reps R   counted calls per point (3)\n";

void cli_run_default(cli_run *r)
{
    memset(r, 0, sizeof *r);
    bench_settings_default(&r->set);
    r->threads[0] = 1;
    r->nthreads = 1;
}

int cli_run_flag(cli_iter *it, cli_run *r, mb_err *err)
{
    const char *f = it->flag;
    int64_t v = 0;
    double d = 0;
    if (!strcmp(f, "--threads")) {
        if (cli_value(it, err) ||
            cli_parse_i64_list(f, it->value, 1, CLI_MAX_THREADS, r->threads, &r->nthreads, CLI_MAX_LIST, err))
            return -1;
        r->set.threads = (int)r->threads[0];
        return 1;
    }
    if (!strcmp(f, "--bind")) {
        if (cli_value(it, err)) return -1;
        if (pin_mode_parse(it->value, &r->set.bind))
            return mb_fail(err, "--bind: expected compact, scatter or none, got \"%s\"", it->value);
        return 1;
    }
    if (!strcmp(f, "--seed")) {
        if (cli_value(it, err) || cli_parse_i64(f, it->value, 0, INT64_MAX, &v, err)) return -1;
        r->set.seed = (uint64_t)v;
        return 1;
    }
    if (!strcmp(f, "--min-reps")) {
        if (cli_value(it, err) || cli_parse_i64(f, it->value, 1, 1000000, &v, err)) return -1;
        r->set.min_reps = (int)v;
        if (r->set.max_reps < r->set.min_reps) r->set.max_reps = r->set.min_reps;
        return 1;
    }
    if (!strcmp(f, "--min-time")) {
        if (cli_value(it, err) || cli_parse_double(f, it->value, 0, 86400, &d, err)) return -1;
        r->set.min_time = d;
        return 1;
    }
    if (!strcmp(f, "--warmup")) {
        if (cli_value(it, err) || cli_parse_i64(f, it->value, 0, 1000, &v, err)) return -1;
        r->set.warmup = (int)v;
        return 1;
    }
    if (!strcmp(f, "--chunk")) {
        if (cli_value(it, err) || cli_parse_i64(f, it->value, 1, 1 << 20, &v, err)) return -1;
        r->set.chunk = (int)v;
        return 1;
    }
    if (!strcmp(f, "--counters")) {
        if (cli_value(it, err)) return -1;
        if (!it->value[0]) return mb_fail(err, "--counters: expected a comma-separated list of events");
        r->counters = it->value;
        return 1;
    }
    if (!strcmp(f, "--counter-reps")) {
        if (cli_value(it, err) || cli_parse_i64(f, it->value, 1, 100000, &v, err)) return -1;
        r->set.counter_reps = (int)v;
        return 1;
    }
    if (!strcmp(f, "--direction")) {
        if (cli_value(it, err)) return -1;
        if (bench_direction_parse(it->value, &r->set.direction))
            return mb_fail(err, "--direction: expected forward, backward or both, got \"%s\"", it->value);
        return 1;
    }
    if (!strcmp(f, "--level")) {
        if (cli_value(it, err)) return -1;
        if (!strcmp(it->value, "scan")) r->set.block_level = false;
        else if (!strcmp(it->value, "block")) r->set.block_level = true;
        else return mb_fail(err, "--level: expected scan or block, got \"%s\"", it->value);
        return 1;
    }
    if (!strcmp(f, "--checkpoint")) {
        if (cli_value(it, err) || cli_parse_i64(f, it->value, 1, 1 << 20, &v, err)) return -1;
        r->set.checkpoint = (int)v;
        return 1;
    }
    if (!strcmp(f, "--check")) {
        if (it->value) return mb_fail(err, "--check takes no value");
        r->set.check = true;
        return 1;
    }
    return 0;
}

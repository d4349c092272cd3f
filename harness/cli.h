/* harness/cli.h: command-line parsing shared by the verbs: numbers with the flag named
 * in every error, the shape flags (--batch ... --groups), and the run flags
 * (--threads, --bind, --min-reps, ...). Errors come back as messages; main exits 2. */
#ifndef MB_CLI_H
#define MB_CLI_H

#include <stdbool.h>
#include <stdint.h>

#include "common/err.h"
#include "harness/bench.h"
#include "kernels/scan.h"

#define CLI_MAX_THREADS 1024
#define CLI_MAX_LIST 64

/* Parsers: 0 on success; -1 with "--flag: ..." in err. */
int cli_parse_i64(const char *flag, const char *s, int64_t min, int64_t max, int64_t *out, mb_err *err);
int cli_parse_double(const char *flag, const char *s, double min, double max, double *out, mb_err *err);
/* A comma-separated list of integers, e.g. "1,2,4". */
int cli_parse_i64_list(const char *flag, const char *s, int64_t min, int64_t max, int64_t *out,
                       int *n, int cap, mb_err *err);

/* Walks argv: `--flag value` and `--flag=value` both work. */
typedef struct {
    int argc, i;
    char **argv;
    const char *flag;  /* current flag name, without any "=value" */
    const char *value; /* its value, once cli_value() was called */
    char buf[128];
} cli_iter;
void cli_iter_init(cli_iter *it, int argc, char **argv, int first);
/* Next argument: returns it (a flag or a positional), NULL at the end. */
const char *cli_next(cli_iter *it);
/* The value of the current flag; -1 if it is missing. */
int cli_value(cli_iter *it, mb_err *err);

/* Shape flags with the defaults of a Mamba-1 130m layer (d_model 768, expand 2). */
typedef struct {
    scan_shape shape;
    int64_t d_model, expand, headdim; /* 0 when not given */
    bool channels_set, heads_set;
} cli_shape;
void cli_shape_default(cli_shape *c);
/* 1 if the current flag is a shape flag (consumed), 0 if not, -1 on error. */
int cli_shape_flag(cli_iter *it, cli_shape *c, mb_err *err);
/* Resolves d_model x expand, headdim, heads (for diag: heads = channels); checks. */
int cli_shape_finish(cli_shape *c, mb_err *err);

/* Run flags: --threads (a list), --bind, --seed, --min-reps, --min-time, --check,
 * --chunk, --warmup, --counters LIST, --counter-reps R. */
typedef struct {
    bench_settings set;
    int64_t threads[CLI_MAX_LIST];
    int nthreads;
    const char *counters; /* --counters LIST (NULL: none); the verb resolves it (cnt_set_init) */
} cli_run;
void cli_run_default(cli_run *r);
int cli_run_flag(cli_iter *it, cli_run *r, mb_err *err);

/* Text listing the shape and run flags, for --help. */
extern const char cli_shape_help[];
extern const char cli_run_help[];

#endif

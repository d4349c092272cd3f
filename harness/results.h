/* harness/results.h: the files of a sweep directory (docs/results.md): points.csv (one
 * row per point x kernel, columns named as the keys of `mbench run --json`), samples.csv
 * (every timed repetition), meta.json. Both CSVs live in memory and are rewritten
 * atomically after every point (samples first), so a killed sweep loses at most the
 * point in flight and --resume finds exactly the points that are done. */
#ifndef MB_RESULTS_H
#define MB_RESULTS_H

#include <jansson.h>
#include <stdbool.h>

#include "harness/bench.h"
#include "harness/csv.h"
#include "harness/scenario.h"

extern const char *const results_point_cols[];
extern const int results_point_ncols;
extern const char *const results_sample_cols[];
extern const int results_sample_ncols;

/* A point is noisy when its CV is above this (drawn hollow, flagged in points.csv). */
#define RESULTS_NOISY_CV 0.05

typedef struct {
    char dir[4096];
    csv_table points;  /* results_point_cols */
    csv_table samples; /* results_sample_cols */
    char host[256];         /* written in every new row's host column ("" : left empty) */
    char machine_type[32];  /* and machine_type (machine_type_id) */
} results_run;

/* Creates dir (and parents) for a new sweep: it must not hold a points.csv already. */
int results_create(results_run *rr, const char *dir, mb_err *err);
/* Opens a sweep directory to resume it: reads points.csv and samples.csv, dropping
 * samples of points that never reached points.csv (killed between the two writes). */
int results_open(results_run *rr, const char *dir, mb_err *err);
void results_free(results_run *rr);

/* True if (point, kernel) has a row already. */
bool results_done(const results_run *rr, int point, const char *kernel);

/* Adds the row and the samples of one measured point. `order` is its position in the
 * run order; started is its UTC start time; wall_s the seconds it took overall. */
int results_add(results_run *rr, const scen_point *p, const bench_result *r, int order, const char *started,
                double wall_s, mb_err *err);
/* Adds a row for a point the harness could not measure (status failed, reason). */
int results_add_failure(results_run *rr, const scen_point *p, const scan_kernel *k, const bench_settings *set,
                        int order, const char *started, const char *reason, mb_err *err);

/* Rewrites samples.csv then points.csv (each atomically). */
int results_save(const results_run *rr, mb_err *err);

/* Writes dir/name atomically from a JSON value (indented). */
int results_write_json(const char *dir, const char *name, json_t *v, mb_err *err);

/* The current UTC time as "2026-11-23T09:45:00Z" (iso) or "20261123T094500Z" (compact). */
void results_utc_now(char *buf, size_t len, bool compact);

/* The whole of a text file, NUL-terminated, malloc'd (the caller frees); NULL if it
 * cannot be read. */
char *results_read_text(const char *path);

#endif

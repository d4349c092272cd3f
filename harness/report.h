/* harness/report.h: reporters of measured points: human text, JSON (stable keys, used by
 * other tools), and thread speedup tables. */
#ifndef MB_REPORT_H
#define MB_REPORT_H

#include <jansson.h>
#include <stdio.h>

#include "harness/bench.h"

json_t *report_json(const bench_result *r);
/* Prints o as the verbs print JSON (indented by 2, reals to 10 digits, a newline) on f and
 * releases it (the reference is stolen; NULL prints nothing). */
void report_json_dump(FILE *f, json_t *o);
/* Prints the JSON of n results (n >= 1), indented: one result's object, or {"runs": [...]}. */
void report_json_print(FILE *f, const bench_result *r, int n);
void report_text(FILE *f, const bench_result *r, const calib *cal);
/* Speedup of each result over the first (which names the baseline and its time). */
void report_speedups(FILE *f, const bench_result *r, int n);

#endif

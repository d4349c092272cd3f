/* harness/report.h: reporters of measured points: human text, JSON (stable keys, used by
 * other tools), and thread speedup tables. */
#ifndef MB_REPORT_H
#define MB_REPORT_H

#include <jansson.h>
#include <stdio.h>

#include "harness/bench.h"

json_t *report_json(const bench_result *r);
void report_text(FILE *f, const bench_result *r, const calib *cal);
/* Speedup of each result over the first (which names the baseline and its time). */
void report_speedups(FILE *f, const bench_result *r, int n);

#endif

/* harness/csv.h: the small CSV reader and writer behind points.csv, samples.csv and
 * fits.csv (RFC 4180: comma-separated, a header row, fields quoted with "" when they hold
 * a comma, a quote or a newline), and common/file.h's atomic write through a writer
 * function (csv_atomic_write), which the results files use. */
#ifndef MB_CSV_H
#define MB_CSV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "common/err.h"

// ---------------------------------------------------------------- tables

/* A whole CSV file in memory: ncols header names, nrows rows of ncols strings each
 * (missing trailing fields read as ""). */
typedef struct {
    int ncols, nrows, cap;
    char **head;  /* [ncols] */
    char ***rows; /* [nrows][ncols] */
} csv_table;

void csv_table_init(csv_table *t);
void csv_table_free(csv_table *t);
/* Sets the header (copies the names). */
int csv_table_set_head(csv_table *t, const char *const *names, int n, mb_err *err);
/* Appends a row of ncols strings (copied; NULL is stored as ""). */
int csv_table_add(csv_table *t, const char *const *cells, mb_err *err);
/* Reads path. A missing file is an error with errno's message. */
int csv_read(csv_table *t, const char *path, mb_err *err);
/* Column index of name, or -1. */
int csv_col(const csv_table *t, const char *name);
/* The cell (row r, column named name), or "" if the column is absent. */
const char *csv_get(const csv_table *t, int r, const char *name);
/* The cell as a number; NaN if empty, absent or not a number. */
double csv_num(const csv_table *t, int r, const char *name);

/* Writes the table to f (header, then rows), quoting where needed. */
void csv_write(FILE *f, const csv_table *t);

// ---------------------------------------------------------------- atomic files

/* Writes path atomically (common/file.h: path.tmp, fsync, rename) through fn(f, arg). */
typedef void (*csv_writer_fn)(FILE *f, const void *arg);
int csv_atomic_write(const char *path, csv_writer_fn fn, const void *arg, mb_err *err);
/* The same for a table. */
int csv_write_file(const char *path, const csv_table *t, mb_err *err);

#endif

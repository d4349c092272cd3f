/* harness/machine.h: every fact about the machine and the build that a result must
 * carry (mbench info, meta.json): CPU, topology, caches, frequency policy, compiler and
 * flags, git commit, OpenBLAS, PAPI components, timer resolution. */
#ifndef MB_MACHINE_H
#define MB_MACHINE_H

#include <jansson.h>
#include <stddef.h>

#include "harness/pin.h"

void machine_cpu_model(char *buf, size_t len);

/* A JSON object describing the machine and build (caller owns the reference). Facts that
 * cannot be read are recorded as "unreadable" with the path tried, never guessed. */
json_t *machine_describe(pin_topo *t);

/* Warnings a run should print (frequency policy not fixed, SMT siblings, ...), one per
 * line, into buf; returns their count. */
int machine_warnings(json_t *desc, char *buf, size_t len);

/* The machine type of a description: 16 hex digits of a hash over what makes two hosts
 * measure alike (cpu, cpu_flags, topology, compiler, flags, git_commit, openblas core),
 * not the hostname, so the nodes of one type share it (docs/cluster.md). */
void machine_type_id(json_t *desc, char *hex, size_t len);

/* "AMD EPYC 9R45 (2 PUs)": a short label of a description for messages. */
void machine_type_label(json_t *desc, char *buf, size_t len);

/* Which parts of the machine type differ between descriptions a and b, for messages:
 * "the machine (cpu \"X\" vs \"Y\")", "the commit (1a2b3c4d5e6f vs ...)", "the build
 * flags (flags \"-O3\" vs \"-O2\")", joined by ", "; "" if none does. Returns a bitmask of
 * MACHINE_DIFF_* (0 if none differs). */
#define MACHINE_DIFF_MACHINE 1 /* cpu, cpu_flags, topology, OpenBLAS core */
#define MACHINE_DIFF_COMMIT 2  /* git_commit */
#define MACHINE_DIFF_BUILD 4   /* compiler, flags */
int machine_type_diff(json_t *a, json_t *b, char *buf, size_t len);

#endif

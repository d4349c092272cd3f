/* harness/cmd.h: the verbs of `mbench`. Each takes the arguments after the verb and
 * returns the process exit status: 0 success, 1 a failure of what was measured or
 * checked, 2 bad input (with a one-line message on stderr). main.c dispatches. */
#ifndef MB_CMD_H
#define MB_CMD_H

#include "harness/calib.h"
#include "harness/counters.h"
#include "harness/pin.h"
#include "harness/plot.h"

typedef struct {
    pin_topo topo;   /* loaded once by main */
    const char *argv0;
} mb_ctx;

typedef int (*cmd_fn)(mb_ctx *ctx, int argc, char **argv);

typedef struct {
    const char *name;
    const char *summary;
    cmd_fn fn;
} cmd_verb;

extern const cmd_verb cmd_verbs[];
extern const int cmd_verb_count;

int cmd_list(mb_ctx *ctx, int argc, char **argv);
int cmd_info(mb_ctx *ctx, int argc, char **argv);
int cmd_calibrate(mb_ctx *ctx, int argc, char **argv);
int cmd_run(mb_ctx *ctx, int argc, char **argv);
int cmd_counters(mb_ctx *ctx, int argc, char **argv);
int cmd_sweep(mb_ctx *ctx, int argc, char **argv);
int cmd_plot(mb_ctx *ctx, int argc, char **argv);
int cmd_merge(mb_ctx *ctx, int argc, char **argv);
int cmd_model(mb_ctx *ctx, int argc, char **argv);
int cmd_validate(mb_ctx *ctx, int argc, char **argv);

/* Loads the calibration, or measures and saves one (quick: scale < 1) if there is none;
 * prints what it did on stderr. Returns 0 with cal->valid, or 0 with !cal->valid when
 * calibration is off (auto false) or failed (the reason printed). */
int cmd_calibration(mb_ctx *ctx, calib *cal, int auto_measure);

/* Resolves a --counters list into a new cnt_set (*out, caller frees) for this machine's
 * topology; prints on stderr which events are unavailable here and why (PAPI's reason).
 * Returns 0, or prints the bad event name and returns -1 (exit status 2). */
int cmd_counter_set(mb_ctx *ctx, const char *list, cnt_set **out);

/* True if argv[i..] holds -h or --help. */
int cmd_wants_help(int argc, char **argv);

/* The kernel named kname, or NULL after printing why (no name given, or an unknown name
 * with the known ones listed) as "mbench: VERB: ..."; the caller then returns 2. */
struct scan_kernel;
const struct scan_kernel *cmd_kernel(const char *verb, const char *kname);

/* An argument no flag of the verb took: the kernel name (the first positional, into
 * *kname), else refused as an unknown flag or a second kernel. Returns 0, or 2 after one
 * line on stderr ("mbench: VERB: ..."). */
int cmd_kernel_arg(const char *verb, const char *arg, const char **kname);

/* Prints "mbench: <msg>" on stderr and returns 2. */
int cmd_usage_error(const char *msg);

/* The fits of a plot_sweep report on stdout, its note (if any) on stderr. */
void cmd_print_plot_report(const plot_report *rep);

/* Fits and plots of the finished results directory dir (end of a sweep or a merge): the
 * fits on stdout, where the plots went or why they failed on stderr ("mbench: VERB: ...";
 * the CSVs are kept either way). Returns 0, or 1 if the plots failed. */
int cmd_plot_results(const char *verb, const char *dir);

#endif

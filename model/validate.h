/* model/validate.h: every kernel of the table inside a whole model, against the same model
 * whose scan is the fp64 oracle: logits error per kernel, argmax agreement, and parallel vs
 * recurrent agreement (prompt in parallel, then token by token from the state). */
#ifndef MB_MODEL_VALIDATE_H
#define MB_MODEL_VALIDATE_H

#include <stdbool.h>
#include <stdint.h>

#include "kernels/scan.h"
#include "model/weights.h"

/* Normwise relative error bound on logits, max |l - ref| / max |ref|, for a kernel against
 * the oracle model and for recurrent against parallel. fp32 kernels reach ~1e-6 on the scan
 * (SCAN_TOLERANCE is 1e-4 there); the layers above the scan are the same code on both
 * sides, so the logits differ by what the scans' rounding becomes after n_layer blocks:
 * measured 1e-7..1e-5 on the presets (README). A wrong kernel or state is off by O(1). */
#define VALIDATE_TOLERANCE 1e-3

typedef struct {
    int64_t batch, len;   /* random tokens [batch][len] */
    int64_t prompt;       /* recurrent check: first `prompt` tokens in parallel, then one by one */
    uint64_t seed;
    int threads;
    double tolerance;
} validate_opts;

typedef struct {
    const scan_kernel *kernel;
    bool skipped;
    char reason[256];     /* why skipped, or why failed */
    double max_abs, max_rel;         /* parallel logits vs the oracle model's */
    double argmax_agree;             /* fraction of positions whose argmax is the oracle's */
    double rec_max_abs, rec_max_rel; /* recurrent vs parallel, this kernel */
    bool ok;
} validate_row;

/* rows has room for scan_kernel_count entries; *nrows set. Returns 0 when it ran (rows say
 * pass / fail), -1 on an error of its own (out of memory, ...). */
int validate_model(const mamba_weights *w, const validate_opts *o, validate_row *rows, int *nrows, mb_err *err);

#endif

/* tests/variant.h: a variant of the kernel test grid (test_kernels, test_backward): which
 * optional tensors a problem has and the range of its dt, put on a shape by variant_apply;
 * and the grid's shapes (variant_shape), which both tests walk. */
#ifndef MB_TEST_VARIANT_H
#define MB_TEST_VARIANT_H

#include <stdbool.h>
#include <stdint.h>

#include "kernels/scan.h"

typedef struct {
    const char *name;
    bool softplus, bias, dskip, z, h0, h_last;
    double dt_min, dt_max; /* dt after softplus, for scan_fill */
} variant;

static inline void variant_apply(scan_shape *s, const variant *v)
{
    s->softplus = v->softplus, s->has_bias = v->bias, s->has_dskip = v->dskip;
    s->has_z = v->z, s->has_h0 = v->h0, s->want_h_last = v->h_last;
}

/* A shape of the grid both tests walk: batch 2, length L, state N, channels 39 = 3 heads
 * x 13 (not a multiple of any vector width), diag or head, 1 or 3 groups, with the
 * variant's optional tensors. */
static inline scan_shape variant_shape(bool head, bool three_groups, int64_t L, int64_t N, const variant *v)
{
    scan_shape s = {.batch = 2, .seqlen = L, .channels = 39, .d_state = N, .heads = head ? 3 : 39,
                    .groups = three_groups ? 3 : 1, .a_kind = head ? SCAN_A_HEAD : SCAN_A_DIAG};
    variant_apply(&s, v);
    return s;
}

#endif

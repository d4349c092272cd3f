/* tests/variant.h: a variant of the kernel test grid (test_kernels, test_backward): which
 * optional tensors a problem has and the range of its dt, put on a shape by variant_apply. */
#ifndef MB_TEST_VARIANT_H
#define MB_TEST_VARIANT_H

#include <stdbool.h>

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

#endif

/* block/params.c: a block's parameters drawn like Mamba's initialisation (GSL's RNG):
 * projections U(-1/sqrt(fan_in), 1/sqrt(fan_in)) as torch.nn.Linear, softplus(dt_bias)
 * log-uniform in [1e-3, 1e-1], A_log = log(1..N) (Mamba-1) or log U(1, 16) per head
 * (Mamba-2), D = 1, norm weight 1. Kept apart from block.c because GSL's and OpenBLAS's
 * cblas headers do not mix. */
#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>
#include <math.h>

#include "block/block_impl.h"

/* inverse of softplus, for dt_bias */
static double inv_softplus(double y) { return y > 20.0 ? y : log(expm1(y)); }

int block_init_params(block *b, uint64_t seed, mb_err *err)
{
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    if (!r) return mb_fail(err, "out of memory (GSL RNG)");
    gsl_rng_set(r, (unsigned long)seed);
    const block_shape *s = &b->s;
    const int64_t dm = s->d_model, di = s->d_inner, N = s->d_state;
    /* Linear weights U(-1/sqrt(fan_in), 1/sqrt(fan_in)) as torch does */
    struct {
        int i;
        int64_t fan_in;
    } lin[] = {{BP_W_IN, dm}, {BP_W_X, di}, {BP_W_DT, s->dt_rank}, {BP_W_OUT, di}, {BP_CONV_W, s->d_conv},
               {BP_CONV_B, s->d_conv}};
    for (size_t j = 0; j < sizeof lin / sizeof *lin; j++) {
        float *p = b->param[lin[j].i];
        const double bound = 1.0 / sqrt((double)lin[j].fan_in);
        for (int64_t e = 0; p && e < b->np[lin[j].i]; e++) p[e] = (float)gsl_ran_flat(r, -bound, bound);
    }
    /* dt_bias: softplus(dt_bias) log-uniform in [1e-3, 1e-1] */
    for (int64_t e = 0; e < b->np[BP_DT_BIAS]; e++)
        b->param[BP_DT_BIAS][e] = (float)inv_softplus(exp(gsl_ran_flat(r, log(1e-3), log(1e-1))));
    /* A_log: log(1..N) per channel (Mamba-1, S4D-real) or log U(1, 16) per head (Mamba-2) */
    for (int64_t e = 0; e < b->np[BP_A_LOG]; e++)
        b->param[BP_A_LOG][e] = s->kind == BLOCK_MAMBA1 ? (float)log((double)(e % N + 1))
                                                        : (float)log(gsl_ran_flat(r, 1.0, 16.0));
    for (int64_t e = 0; e < b->np[BP_DSKIP]; e++) b->param[BP_DSKIP][e] = 1.0f;
    for (int64_t e = 0; e < b->np[BP_NORM_W]; e++) b->param[BP_NORM_W][e] = 1.0f;
    (void)di;
    gsl_rng_free(r);
    return 0;
}


/* kernels/exp.c: the table of exp routines the kernels use. `mbench calibrate`
 * measures each one's rate (the exp ceiling of a kernel is the rate of its routine),
 * and tests/test_exp.c checks each one's stated accuracy against double exp. */
#include <math.h>
#include <string.h>

#include "scan.h"
#include "simd.h"

// ---------------------------------------------------------------- glibc scalar expf

static void glibc_expf_apply(const float *x, float *y, int64_t n)
{
    for (int64_t i = 0; i < n; i++) y[i] = expf(x[i]);
}

static const scan_exp_routine exp_glibc = {
    .name = "glibc_expf",
    .summary = "glibc's scalar expf, one call per element",
    .apply = glibc_expf_apply,
    .max_rel_err = 2e-7,
};

// ---------------------------------------------------------------- glibc libmvec

#if defined(__AVX512F__)
#include <immintrin.h>
__m512 _ZGVeN16v_expf(__m512 x); /* libmvec's AVX-512 expf, 16 lanes */

static void libmvec_apply(const float *x, float *y, int64_t n)
{
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) _mm512_storeu_ps(y + i, _ZGVeN16v_expf(_mm512_loadu_ps(x + i)));
    for (; i < n; i++) y[i] = expf(x[i]);
}
static const scan_exp_routine exp_libmvec = {
    .name = "libmvec_expf16",
    .summary = "glibc's libmvec AVX-512 expf (_ZGVeN16v_expf), 16 lanes a call",
    .apply = libmvec_apply,
    .max_rel_err = 4e-7,
};
#elif defined(__AVX2__)
#include <immintrin.h>
__m256 _ZGVdN8v_expf(__m256 x); /* libmvec's AVX2 expf, 8 lanes */

static void libmvec_apply(const float *x, float *y, int64_t n)
{
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, _ZGVdN8v_expf(_mm256_loadu_ps(x + i)));
    for (; i < n; i++) y[i] = expf(x[i]);
}
static const scan_exp_routine exp_libmvec = {
    .name = "libmvec_expf8",
    .summary = "glibc's libmvec AVX2 expf (_ZGVdN8v_expf), 8 lanes a call",
    .apply = libmvec_apply,
    .max_rel_err = 4e-7,
};
#endif

// ---------------------------------------------------------------- mbench's own (kernels/simd.h)

static void portable_apply(const float *x, float *y, int64_t n)
{
    for (int64_t i = 0; i < n; i++) y[i] = mb_exp_portable(x[i]);
}
static const scan_exp_routine exp_portable = {
    .name = "mb_exp_portable",
    .summary = "mbench's portable exp: 2^round * degree-6 polynomial, plain C (auto-vectorised)",
    .apply = portable_apply,
    .max_rel_err = 5e-6, /* from rounding x*log2(e): ~|x| * 6e-8; 2e-7 for |x| < 1 */
};

#if defined(__AVX512F__)
static void avx512_apply(const float *x, float *y, int64_t n) { mb_exp_array(x, y, n); }
static const scan_exp_routine exp_avx512 = {
    .name = "mb_exp_avx512",
    .summary = "mbench's AVX-512 exp: 32-entry 2^(j/32) table (one permute) times a centred degree-2 polynomial, vscalefps",
    .apply = avx512_apply,
    .max_rel_err = 5e-6, /* from rounding x*log2(e): ~|x| * 6e-8; 3.5e-7 for |x| < 1 */
};
#endif

// ---------------------------------------------------------------- the table

const scan_exp_routine *const scan_exp_routines[] = {
    &exp_glibc,
#if defined(__AVX512F__) || defined(__AVX2__)
    &exp_libmvec,
#endif
    &exp_portable,
#if defined(__AVX512F__)
    &exp_avx512,
#endif
};
const int scan_exp_routine_count = (int)(sizeof scan_exp_routines / sizeof scan_exp_routines[0]);

const scan_exp_routine *scan_exp_routine_find(const char *name)
{
    for (int i = 0; i < scan_exp_routine_count; i++)
        if (!strcmp(scan_exp_routines[i]->name, name)) return scan_exp_routines[i];
    return NULL;
}

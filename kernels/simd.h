/* kernels/simd.h: the vector math the fast kernels share: mbench's own exp (a 32-entry
 * table of 2^(j/32) plus a degree-2 polynomial, AVX-512), and softplus / silu / sigmoid
 * built on it; a portable scalar exp of the same shape for builds without AVX-512, and
 * scalar softplus / sigmoid on libm.
 *
 * exp(x) = 2^(x log2 e). With y = x log2 e, K = round(32 y), r = y - K/32 in [-1/64, 1/64]
 * (centred):
 *     2^y = 2^floor(K/32) * 2^((K mod 32)/32) * 2^r
 * 2^((K mod 32)/32) comes from a two-register permute (no gather), 2^r from
 * 1 + ln2 r + c2 r^2 (p(0) = 1 and p'(0) = ln 2 exactly, c2 minimax: error 2.1e-7 at
 * |r| = 1/64, 5.5e-2 |r|^3 near 0), and 2^floor(K/32) from vscalefps, which also turns very
 * negative y into 0 without a clamp: one permute, two FMAs, one multiply, no gather, no
 * clamp. Centring and the two constraints are for the scan: a state whose decay is near 1
 * (dt A near 0) remembers ~1/(dt |A|) steps, and an exp error e with one sign there builds
 * up to ~e/(dt |A|) in the state. The previous, uncentred version (r in [0, 1/32), error
 * 5.3e-8 with one sign as dt A -> 0-) built up to 4.0e-4 relative error in y in a fused
 * scan of 16384 steps with dt A in [-1e-3, -1e-5]; this one to 1.3e-6 (tests/test_exp.c
 * checks it), for one add more a vector (~3% of the scan's inner loop).
 * Accuracy over [-87, 0]: max relative error 3.5e-7 for |x| < 1 (2^y alone: 3.2e-7), ~6e-8
 * |x| beyond (the rounding of x log2 e); tests/test_exp.c checks the stated bound of the
 * "mb_exp_avx512" row in kernels/exp.c.
 * softplus and silu use a cheaper exp (a 16-entry table: one vpermps) and, for softplus, a
 * table-driven log1p; their error does not build up over time steps as the scan's does. */
#ifndef MB_SIMD_H
#define MB_SIMD_H

#include <math.h>
#include <stdint.h>
#include <string.h>

#define MB_LOG2E 1.44269504088896341f

/* 2^r on [-1/64, 1/64]: 1 + ln2 r + c2 r^2 (c2 minimax under the two constraints, max rel
 * err 2.1e-7 at the ends) */
#define MB_EXP_LN2 0.693147180559945309f
#define MB_EXP_C2 0.24021650695910068f

#if defined(__AVX512F__)
#include <immintrin.h>

/* The table 2^(j/32), j = 0..31, as two registers (the scan's exp). */
typedef struct {
    __m512 lo, hi;
} mb_exp_tab;

/* 2^(j/32) rounded to float */
static const float mb_exp_t32[32] __attribute__((aligned(64))) = {
    1.000000000e+00f, 1.021897197e+00f, 1.044273734e+00f, 1.067140460e+00f,
    1.090507746e+00f, 1.114386797e+00f, 1.138788581e+00f, 1.163724899e+00f,
    1.189207077e+00f, 1.215247393e+00f, 1.241857767e+00f, 1.269050956e+00f,
    1.296839595e+00f, 1.325236678e+00f, 1.354255557e+00f, 1.383909941e+00f,
    1.414213538e+00f, 1.445180774e+00f, 1.476826191e+00f, 1.509164453e+00f,
    1.542210817e+00f, 1.575980902e+00f, 1.610490322e+00f, 1.645755529e+00f,
    1.681792855e+00f, 1.718619347e+00f, 1.756252170e+00f, 1.794709086e+00f,
    1.834008098e+00f, 1.874167681e+00f, 1.915206552e+00f, 1.957144141e+00f};
/* 2^(j/16) (the exp of softplus and silu); 1/(1 + i/16) rounded to float and -log of the
 * rounded value, from double (log1p in softplus). Loaded where used, not kept in
 * registers: a scan loop next to them needs every register it has. */
static const float mb_exp_t16[16] __attribute__((aligned(64))) = {
    1.000000000e+00f, 1.044273734e+00f, 1.090507746e+00f, 1.138788581e+00f,
    1.189207077e+00f, 1.241857767e+00f, 1.296839595e+00f, 1.354255557e+00f,
    1.414213538e+00f, 1.476826191e+00f, 1.542210817e+00f, 1.610490322e+00f,
    1.681792855e+00f, 1.756252170e+00f, 1.834008098e+00f, 1.915206552e+00f};
static const float mb_log1p_inv16[16] __attribute__((aligned(64))) = {
    1.000000000e+00f, 9.411764741e-01f, 8.888888955e-01f, 8.421052694e-01f,
    8.000000119e-01f, 7.619047761e-01f, 7.272727489e-01f, 6.956521869e-01f,
    6.666666865e-01f, 6.399999857e-01f, 6.153846383e-01f, 5.925925970e-01f,
    5.714285970e-01f, 5.517241359e-01f, 5.333333611e-01f, 5.161290169e-01f};
static const float mb_log1p_log16[16] __attribute__((aligned(64))) = {
    0.000000000e+00f, 6.062461808e-02f, 1.177830249e-01f, 1.718502492e-01f,
    2.231435329e-01f, 2.719337046e-01f, 3.184536994e-01f, 3.629054725e-01f,
    4.054650664e-01f, 4.462871253e-01f, 4.855077863e-01f, 5.232481360e-01f,
    5.596157312e-01f, 5.947071314e-01f, 6.286085844e-01f, 6.613985300e-01f};

static inline mb_exp_tab mb_exp_tab_init(void)
{
    return (mb_exp_tab){_mm512_load_ps(mb_exp_t32), _mm512_load_ps(mb_exp_t32 + 16)};
}

/* 2^y for y <= 0 (below -150 it gives 0, -inf included). K = round(32 y), r = y - K/32. */
static inline __attribute__((always_inline)) __m512 mb_exp2_512(__m512 y, const mb_exp_tab *tb)
{
    /* 1.5 * 2^18: y + it, rounded to nearest, is K/32 + 1.5 * 2^18 with K mod 32 in the low
     * 5 mantissa bits (the permute's index); minus it again, K/32 exactly. The explicit
     * rounding on the two operations that read y keeps the compiler from contracting them
     * with the product that made y into two FMAs (measured slower) */
    const __m512 magic = _mm512_set1_ps(393216.0f);
    const __m512 jf = _mm512_add_round_ps(y, magic, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    const __m512 kh = _mm512_sub_ps(jf, magic);
    /* exact: y and K/32 are multiples of ulp(y) (|y| < 2^18) and |r| <= 1/64 */
    const __m512 r = _mm512_sub_round_ps(y, kh, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    const __m512 T = _mm512_permutex2var_ps(tb->lo, _mm512_castps_si512(jf), tb->hi);
    /* T 2^r ~ T (1 + r (ln 2 + c2 r)) = T + (T r) q: exactly T at r = 0 */
    const __m512 q = _mm512_fmadd_ps(_mm512_set1_ps(MB_EXP_C2), r, _mm512_set1_ps(MB_EXP_LN2));
    /* scalef multiplies by 2^floor(K/32) */
    return _mm512_scalef_ps(_mm512_fmadd_ps(_mm512_mul_ps(T, r), q, T), kh);
}

static inline __attribute__((always_inline)) __m512 mb_exp512(__m512 x, const mb_exp_tab *tb)
{
    return mb_exp2_512(_mm512_mul_ps(x, _mm512_set1_ps(MB_LOG2E)), tb);
}

/* 2^y with the 16-entry table: K = floor(16 y), r = y - K/16 in [0, 1/16), 2^r by a
 * degree-2 polynomial (Chebyshev nodes on [0, 1/16], 4.8e-7): one single-source permute
 * (vpermps takes half the FMA-pipe time of vpermt2ps on this Zen 5), for the exps of
 * softplus and silu, whose error does not accumulate over time steps. Max rel err 6e-7
 * for |y| < 2^14 (y <= 128; below -150 it gives 0). */
static inline __attribute__((always_inline)) __m512 mb_exp2_t16_512(__m512 y)
{
    /* 1.5 * 2^19: adding it (rounding down) leaves floor(16 y) in the low mantissa bits */
    const __m512i j = _mm512_castps_si512(_mm512_add_round_ps(y, _mm512_set1_ps(786432.0f), _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC));
    const __m512 r = _mm512_reduce_ps(y, (4 << 4) | 0x08 | 0x01);
    const __m512 T = _mm512_permutexvar_ps(j, _mm512_load_ps(mb_exp_t16));
    const __m512 p = _mm512_fmadd_ps(_mm512_fmadd_ps(_mm512_set1_ps(0.2454939783f), r, _mm512_set1_ps(0.693023324f)), r,
                                     _mm512_set1_ps(1.000000477f));
    return _mm512_scalef_ps(_mm512_mul_ps(T, p), y);
}

/* softplus(x) = max(x, 0) + log1p(e), e = exp(-|x|) in (0, 1]. log1p by a 16-entry table:
 * i = floor(16 min(e, 1 - 2^-24)), v = 1/(1 + i/16) (rounded), q = (1 + e) v - 1 in
 * [-1e-7, 1/16] (one FMA: e is exact in it, so q is exact to its own rounding and for
 * i = 0, q = e), log1p(e) = -log(v) + log1p(q), log1p(q) = q + q^2 (c1 + q (c2 + q c3))
 * (Chebyshev nodes on [0, 1/16], 4.3e-8). Max rel err 2e-6 on [-20, 20], 5e-6 on [-80, 80],
 * mostly the float rounding of |x| log2(e) (tests/test_exp.c); 10 FMA-pipe ops against the
 * 17 of exp + reciprocal + atanh series. */
static inline __m512 mb_softplus512(__m512 x, const mb_exp_tab *tb)
{
    (void)tb;
    const __m512 e = mb_exp2_t16_512(_mm512_mul_ps(_mm512_abs_ps(x), _mm512_set1_ps(-MB_LOG2E)));
    /* 2^19 + floor(16 e) / 16: i in the low mantissa bits */
    const __m512i i = _mm512_castps_si512(_mm512_add_round_ps(_mm512_min_ps(e, _mm512_set1_ps(0x1.fffffep-1f)),
                                                              _mm512_set1_ps(524288.0f), _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC));
    const __m512 v = _mm512_permutexvar_ps(i, _mm512_load_ps(mb_log1p_inv16));
    const __m512 lv = _mm512_permutexvar_ps(i, _mm512_load_ps(mb_log1p_log16));
    const __m512 q = _mm512_fmadd_ps(e, v, _mm512_sub_ps(v, _mm512_set1_ps(1.0f)));
    __m512 c = _mm512_fmadd_ps(q, _mm512_set1_ps(-0.2266834229f), _mm512_set1_ps(0.3324422836f));
    c = _mm512_fmadd_ps(q, c, _mm512_set1_ps(-0.4999889731f));
    const __m512 base = _mm512_add_ps(_mm512_add_ps(_mm512_max_ps(x, _mm512_setzero_ps()), lv), q);
    return _mm512_fmadd_ps(_mm512_mul_ps(q, q), c, base);
}

/* y * silu(z) = y z / (1 + exp(-z)): the exp's argument clamped at 200 (exp(-z) is then
 * inf, the quotient 0, as it is for z below -88 anyway) and a true division (its own unit
 * here, off the FMA pipes). Max rel err 2e-6 on [-20, 20], 5e-6 on [-80, 80]
 * (tests/test_exp.c). */
static inline __m512 mb_silu_mul512(__m512 y, __m512 z, const mb_exp_tab *tb)
{
    (void)tb;
    const __m512 e = mb_exp2_t16_512(_mm512_min_ps(_mm512_mul_ps(z, _mm512_set1_ps(-MB_LOG2E)), _mm512_set1_ps(200.0f)));
    /* y (z / (1 + e)), not (y z) / (1 + e): the product could overflow where the quotient is 0 */
    return _mm512_mul_ps(y, _mm512_div_ps(z, _mm512_add_ps(e, _mm512_set1_ps(1.0f))));
}


/* sigmoid(z) = 1 / (1 + exp(-z)) through e = exp(-|z|): z >= 0: 1 / (1 + e); z < 0: e / (1 + e) */
static inline __m512 mb_sigmoid512(__m512 z, const mb_exp_tab *tb)
{
    const __m512 e = mb_exp512(_mm512_sub_ps(_mm512_setzero_ps(), _mm512_abs_ps(z)), tb);
    const __m512 den = _mm512_add_ps(e, _mm512_set1_ps(1.0f));
    __m512 rc = _mm512_rcp14_ps(den);
    rc = _mm512_fmadd_ps(rc, _mm512_fnmadd_ps(den, rc, _mm512_set1_ps(1.0f)), rc);
    return _mm512_mask_mul_ps(rc, _mm512_cmp_ps_mask(z, _mm512_setzero_ps(), _CMP_LT_OQ), rc, e);
}
#endif

// ---------------------------------------------------------------- portable

/* exp(x) for x <= 0, no table: 2^y = 2^round(y) * 2^f, f in [-1/2, 1/2], degree-6
 * polynomial (Chebyshev nodes, 2.5e-9); plain C the compiler vectorises (AVX2 builds) or
 * runs scalar. Below y = -126 it returns 0 (exp(x) < 1.2e-38 there). */
static inline float mb_exp_portable(float x)
{
    float y = x * MB_LOG2E;
    float yc = y < -126.0f ? -126.0f : y;
    float k = __builtin_roundf(yc);
    float f = yc - k;
    float p = 1.5461444695632573e-4f;
    p = p * f + 1.3400428177416093e-3f;
    p = p * f + 9.618056678532362e-3f;
    p = p * f + 5.550327226670846e-2f;
    p = p * f + 2.402265092228873e-1f;
    p = p * f + 6.931472067028324e-1f;
    p = p * f + 1.0f;
    int32_t bits = ((int32_t)k + 127) << 23; /* 2^k, k >= -126: a normal float */
    float scale;
    memcpy(&scale, &bits, 4);
    return y < -126.0f ? 0.0f : p * scale;
}

/* softplus and its derivative sigmoid, one element at a time through libm (the scalar
 * tails and the portable paths) */
static inline float mb_softplusf(float x) { return x > 20.0f ? x : log1pf(expf(x)); }
static inline float mb_sigmoidf(float x) { return 1.0f / (1.0f + expf(-x)); }

/* y = (acc + D u) silu(z), one channel and step, D and z optional (NULL): the read-out of
 * the materialising kernels (sequential, pscan), one formula so their forward and
 * forward_save agree bit for bit */
static inline float mb_readoutf(float acc, const float *Dk, float u, const float *z)
{
    if (Dk) acc += *Dk * u;
    if (z) acc *= *z / (1.0f + expf(-*z));
    return acc;
}

// ---------------------------------------------------------------- arrays

/* y[i] = exp(x[i]) for x[i] <= 0 (y may be x): mb_exp512 16 lanes at a time, the tail
 * masked; without AVX-512, libm's expf. */
static inline void mb_exp_array(const float *x, float *y, int64_t n)
{
#if defined(__AVX512F__)
    const mb_exp_tab tab = mb_exp_tab_init();
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) _mm512_storeu_ps(y + i, mb_exp512(_mm512_loadu_ps(x + i), &tab));
    if (i < n) {
        const __mmask16 m = (__mmask16)((1u << (n - i)) - 1);
        _mm512_mask_storeu_ps(y + i, m, mb_exp512(_mm512_maskz_loadu_ps(m, x + i), &tab));
    }
#else
    for (int64_t i = 0; i < n; i++) y[i] = expf(x[i]);
#endif
}

#endif

/* kernels/gemm_small.c: C = diag(rs) A Bm + beta C for small operands (see gemm_small.h).
 *
 * AVX-512: columns in panels of 64 (four zmm), rows in blocks of GS_MR; a block's
 * GS_MR x 64 accumulators stay in registers over the whole depth: per step of k, four
 * loads of a row of Bm and GS_MR broadcasts of A feed 4 GS_MR FMAs. The panel of Bm
 * (k x 64 floats, 16-32 KB at ssd's depths) stays in L1 while the row blocks go by. The
 * last partial vector of a panel is a masked load and store. Each (rows, vectors) pair
 * is its own unrolled instance, so the accumulators are registers, never memory. */
#include "gemm_small.h"

#if defined(__AVX512F__)
#include <immintrin.h>

#define GS_MR 6 /* rows per block: 24 accumulators + 4 rows of Bm + 1 broadcast of 32 zmm */

// ---------------------------------------------------------------- the register block

static inline __attribute__((always_inline)) void gs_block(const int mr, const int nv, __mmask16 last, int k,
                                                           const float *A, ptrdiff_t ars, ptrdiff_t acs,
                                                           const float *Bm, ptrdiff_t ldb, float *C,
                                                           ptrdiff_t ldc, const float *rs, float beta)
{
    __m512 acc[GS_MR][4];
#pragma GCC unroll 8
    for (int i = 0; i < mr; i++)
#pragma GCC unroll 4
        for (int v = 0; v < nv; v++) acc[i][v] = _mm512_setzero_ps();
    for (int kk = 0; kk < k; kk++) {
        const float *b = Bm + kk * ldb, *a = A + kk * acs;
        __m512 bv[4];
#pragma GCC unroll 4
        for (int v = 0; v < nv; v++)
            bv[v] = v == nv - 1 ? _mm512_maskz_loadu_ps(last, b + 16 * v) : _mm512_loadu_ps(b + 16 * v);
#pragma GCC unroll 8
        for (int i = 0; i < mr; i++) {
            const __m512 av = _mm512_set1_ps(a[i * ars]);
#pragma GCC unroll 4
            for (int v = 0; v < nv; v++) acc[i][v] = _mm512_fmadd_ps(av, bv[v], acc[i][v]);
        }
    }
    const __m512 bt = _mm512_set1_ps(beta);
#pragma GCC unroll 8
    for (int i = 0; i < mr; i++) {
        float *c = C + i * ldc;
        const __m512 r = _mm512_set1_ps(rs ? rs[i] : 1.0f);
#pragma GCC unroll 4
        for (int v = 0; v < nv; v++) {
            const __mmask16 m = v == nv - 1 ? last : (__mmask16)0xFFFF;
            __m512 o = _mm512_mul_ps(acc[i][v], r);
            if (beta != 0.0f) o = _mm512_fmadd_ps(bt, _mm512_maskz_loadu_ps(m, c + 16 * v), o);
            _mm512_mask_storeu_ps(c + 16 * v, m, o);
        }
    }
}

#define GS_CASE(MR, NV)                                                                          \
    case (MR) * 8 + (NV):                                                                        \
        gs_block(MR, NV, last, kb, a, ars, acs, Bm + j0, ldb, C + i0 * ldc + j0, ldc, r, beta);   \
        break;
#define GS_ROW(MR) GS_CASE(MR, 1) GS_CASE(MR, 2) GS_CASE(MR, 3) GS_CASE(MR, 4)

void mb_gemm_small(int m, int n, int k, const float *A, ptrdiff_t ars, ptrdiff_t acs, const float *Bm,
                   ptrdiff_t ldb, float *C, ptrdiff_t ldc, const float *rs, float beta, bool lower)
{
    for (int j0 = 0; j0 < n; j0 += 64) {
        const int w = n - j0 < 64 ? n - j0 : 64, nv = (w + 15) / 16;
        const __mmask16 last = (__mmask16)(w % 16 ? (1u << (w % 16)) - 1 : 0xFFFFu);
        for (int i0 = 0; i0 < m; i0 += GS_MR) {
            const int mr = m - i0 < GS_MR ? m - i0 : GS_MR;
            const int kb = lower ? (i0 + mr < k ? i0 + mr : k) : k;
            const float *a = A + i0 * ars, *r = rs ? rs + i0 : NULL;
            switch (mr * 8 + nv) {
                GS_ROW(1) GS_ROW(2) GS_ROW(3) GS_ROW(4) GS_ROW(5) GS_ROW(6)
            }
        }
    }
}

#else

// ---------------------------------------------------------------- portable

void mb_gemm_small(int m, int n, int k, const float *A, ptrdiff_t ars, ptrdiff_t acs, const float *Bm,
                   ptrdiff_t ldb, float *C, ptrdiff_t ldc, const float *rs, float beta, bool lower)
{
    for (int i = 0; i < m; i++) {
        float *c = C + i * ldc;
        const float r = rs ? rs[i] : 1.0f;
        const int kb = lower && i + 1 < k ? i + 1 : k;
        for (int j0 = 0; j0 < n; j0 += 64) { /* a row of 64 sums at a time, j innermost */
            const int w = n - j0 < 64 ? n - j0 : 64;
            float acc[64] = {0};
            for (int kk = 0; kk < kb; kk++) {
                const float a = A[i * ars + kk * acs];
                const float *b = Bm + kk * ldb + j0;
                for (int j = 0; j < w; j++) acc[j] += a * b[j];
            }
            for (int j = 0; j < w; j++) c[j0 + j] = r * acc[j] + (beta != 0.0f ? beta * c[j0 + j] : 0.0f);
        }
    }
}

#endif

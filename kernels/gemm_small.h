/* kernels/gemm_small.h: a small fp32 matrix product for the fixed shapes of the ssd kernel
 * (a few dozen to a few hundred rows, columns and depth, operands already in L1/L2).
 *
 *     C = diag(rs) A Bm + beta C          (m x n)
 *
 * A(i, k) = A[i * ars + k * acs] (row-major: ars = lda, acs = 1; transposed: ars = 1,
 * acs = lda), Bm row-major [k][n] with row stride ldb, C row-major with row stride ldc.
 * rs: NULL (all ones) or m row scales. beta == 0: C is only written, never read.
 * lower: A is lower triangular with its zeros above the diagonal stored; a block of rows
 * stops at its last row's diagonal (about half the work of a square product).
 *
 * Why not cblas_sgemm: OpenBLAS 0.3.21 under OPENBLAS_CORETYPE=Haswell (this
 * environment) runs AVX2 kernels at half the AVX-512 FMA rate, and has no row scale or
 * triangular shortcut; this product is measured faster on ssd's shapes (kernels/README.md).
 * The AVX-512 path is a register-blocked outer product (6 rows x 64 columns of
 * accumulators, A broadcast, Bm loaded); other builds get plain C loops. */
#ifndef MB_GEMM_SMALL_H
#define MB_GEMM_SMALL_H

#include <stdbool.h>
#include <stddef.h>

void mb_gemm_small(int m, int n, int k, const float *A, ptrdiff_t ars, ptrdiff_t acs, const float *Bm,
                   ptrdiff_t ldb, float *C, ptrdiff_t ldc, const float *rs, float beta, bool lower);

#endif

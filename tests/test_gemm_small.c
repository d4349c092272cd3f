/* tests/test_gemm_small.c: mb_gemm_small (kernels/gemm_small.c) against cblas_sgemm on
 * the shapes ssd uses and on ragged ones (rows not a multiple of the 6-row block, columns
 * not a multiple of 16 or 64, depth 1), with A row-major and transposed, row scales, beta,
 * and the lower-triangular shortcut; and that the columns past n and rows past m of C are
 * never touched. */
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "kernels/gemm_small.h"

static float frand(unsigned *s)
{
    *s = *s * 1103515245u + 12345u;
    return (float)((*s >> 8) & 0xFFFF) / 32768.0f - 1.0f;
}

/* one product, m x n x k, with A transposed or not; compares against cblas */
static void one(int m, int n, int k, bool trans, bool scale, float beta, bool lower)
{
    unsigned seed = (unsigned)(m * 7919 + n * 104729 + k * 31 + trans + 2 * scale + 4 * lower);
    const int lda = (trans ? m : k) + 3, ldb = n + 5, ldc = n + 7; /* padded strides */
    float *A = malloc(sizeof(float) * (size_t)(trans ? k : m) * lda);     /* [m][lda] or [k][lda] */
    float *Bm = malloc(sizeof(float) * (size_t)k * ldb);                  /* [k][ldb] */
    float *C = malloc(sizeof(float) * (size_t)(m + 1) * ldc);             /* [m + 1][ldc] */
    float *R = malloc(sizeof(float) * (size_t)(m + 1) * ldc);             /* reference */
    float *rs = malloc(sizeof(float) * (size_t)(m > 0 ? m : 1));          /* [m] */
    for (int i = 0; i < (trans ? k : m) * lda; i++) A[i] = frand(&seed);
    if (lower) /* zeros above the diagonal, stored */
        for (int i = 0; i < m; i++)
            for (int kk = i + 1; kk < k; kk++) A[trans ? kk * lda + i : i * lda + kk] = 0.0f;
    for (int i = 0; i < k * ldb; i++) Bm[i] = frand(&seed);
    for (int i = 0; i < (m + 1) * ldc; i++) C[i] = R[i] = frand(&seed);
    for (int i = 0; i < m; i++) rs[i] = scale ? (i % 5 == 3 ? 0.0f : frand(&seed)) : 1.0f;

    /* reference: R = diag(rs) (A Bm) + beta R, through a temporary */
    float *T = calloc((size_t)m * n + 1, sizeof(float)); /* [m][n] */
    cblas_sgemm(CblasRowMajor, trans ? CblasTrans : CblasNoTrans, CblasNoTrans, m, n, k, 1.0f, A, lda, Bm, ldb,
                0.0f, T, n);
    for (int i = 0; i < m; i++)
        for (int j = 0; j < n; j++) R[i * ldc + j] = rs[i] * T[i * n + j] + (beta != 0.0f ? beta * R[i * ldc + j] : 0.0f);

    mb_gemm_small(m, n, k, A, trans ? 1 : lda, trans ? lda : 1, Bm, ldb, C, ldc, scale ? rs : NULL, beta, lower);
    double worst = 0, scale_ref = 1e-30;
    for (int i = 0; i < m; i++)
        for (int j = 0; j < n; j++) {
            worst = fmax(worst, fabs(C[i * ldc + j] - R[i * ldc + j]));
            scale_ref = fmax(scale_ref, fabs(R[i * ldc + j]));
        }
    int untouched = 1;
    for (int i = 0; i <= m; i++)
        for (int j = (i < m ? n : 0); j < ldc; j++) untouched &= C[i * ldc + j] == R[i * ldc + j];
    CHECK(worst <= 1e-5 * scale_ref + 1e-6 * k, "m %d n %d k %d trans %d scale %d beta %g lower %d: max err %g (max %g)",
          m, n, k, trans, scale, beta, lower, worst, scale_ref);
    CHECK(untouched, "m %d n %d k %d: C written outside its m x n", m, n, k);
    free(A), free(Bm), free(C), free(R), free(rs), free(T);
}

int main(void)
{
    /* ssd's shapes: states N x P x Q (A transposed), output Q x P x N, intra Q x P x Q lower */
    one(128, 64, 64, true, false, 0.7f, false);
    one(64, 64, 128, false, true, 1.0f, false);
    one(64, 64, 64, false, false, 0.0f, true);
    one(64, 128, 64, false, false, 0.0f, true);
    const int ms[] = {1, 5, 6, 7, 13, 64}, ns[] = {1, 15, 16, 17, 48, 64, 65, 100}, ks[] = {1, 3, 64};
    for (int a = 0; a < 6; a++)
        for (int b = 0; b < 8; b++)
            for (int c = 0; c < 3; c++) {
                one(ms[a], ns[b], ks[c], (a + b) % 2, (b + c) % 2, c == 1 ? 0.0f : -0.5f, false);
                if (ks[c] >= ms[a]) one(ms[a], ns[b], ms[a], a % 2, b % 2, 0.0f, true);
            }
    one(0, 16, 4, false, false, 0.0f, false);
    return check_report("test_gemm_small");
}

/* model/ops.c: projections, norms and the causal conv of a Mamba block (see ops.h). */
#include "ops.h"

#include <cblas.h>
#include <math.h>
#include <omp.h>

#if defined(__AVX512F__)
#include <immintrin.h>
#endif

// ---------------------------------------------------------------- projections

/* one weight row against one activation row: acc = w . x over K */
static inline float ops_dot(const float *w, const float *x, int64_t K)
{
#if defined(__AVX512F__)
    /* four independent accumulators: one FMA chain would cap a core at 16 bytes a cycle */
    __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    int64_t k = 0;
    for (; k + 64 <= K; k += 64) {
        a0 = _mm512_fmadd_ps(_mm512_loadu_ps(w + k), _mm512_loadu_ps(x + k), a0);
        a1 = _mm512_fmadd_ps(_mm512_loadu_ps(w + k + 16), _mm512_loadu_ps(x + k + 16), a1);
        a2 = _mm512_fmadd_ps(_mm512_loadu_ps(w + k + 32), _mm512_loadu_ps(x + k + 32), a2);
        a3 = _mm512_fmadd_ps(_mm512_loadu_ps(w + k + 48), _mm512_loadu_ps(x + k + 48), a3);
    }
    for (; k + 16 <= K; k += 16) a0 = _mm512_fmadd_ps(_mm512_loadu_ps(w + k), _mm512_loadu_ps(x + k), a0);
    if (k < K) {
        const __mmask16 m = (__mmask16)((1u << (K - k)) - 1);
        a1 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, w + k), _mm512_maskz_loadu_ps(m, x + k), a1);
    }
    return _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3)));
#else
    float acc = 0.0f;
#pragma omp simd reduction(+ : acc)
    for (int64_t k = 0; k < K; k++) acc += w[k] * x[k];
    return acc;
#endif
}

void ops_dot_rows(float *Y, int64_t ldy, const float *X, int64_t ldx, int64_t M, const float *W, const float *bias,
                  int64_t K, int64_t lo, int64_t hi, int accumulate)
{
    for (int64_t n = lo; n < hi; n++) {
        const float *w = W + n * K;
        const float b = bias ? bias[n] : 0.0f;
        for (int64_t m = 0; m < M; m++) {
            const float v = ops_dot(w, X + m * ldx, K) + b;
            Y[m * ldy + n] = accumulate ? Y[m * ldy + n] + v : v;
        }
    }
}

void ops_linear(float *Y, const float *X, const float *W, const float *bias, int64_t M, int64_t N, int64_t K,
                int threads)
{
    if (threads < 1) threads = 1;
    /* rows when there are enough of them (each thread streams all of W once: compute-bound),
     * else output features (each thread reads its own slice of W: bandwidth-bound decode) */
    const int by_rows = M >= 32 * (int64_t)threads;
    const int few_rows = M <= OPS_FEW_ROWS;
    /* small problems are not worth waking a second thread for */
    if ((double)M * N * K < 65536.0) threads = 1;
#pragma omp parallel num_threads(threads)
    {
        const int nt = omp_get_num_threads(), id = omp_get_thread_num();
        const int64_t total = by_rows ? M : N;
        const int64_t step = by_rows ? (total + nt - 1) / nt : ((total + nt - 1) / nt + 15) / 16 * 16;
        const int64_t lo = id * step < total ? id * step : total;
        const int64_t hi = lo + step < total ? lo + step : total;
        if (hi > lo) {
            if (few_rows) ops_dot_rows(Y, N, X, K, M, W, bias, K, lo, hi, 0);
            else if (by_rows)
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)(hi - lo), (int)N, (int)K, 1.0f,
                            X + lo * K, (int)K, W, (int)K, 0.0f, Y + lo * N, (int)N);
            else
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)M, (int)(hi - lo), (int)K, 1.0f, X,
                            (int)K, W + lo * K, (int)K, 0.0f, Y + lo, (int)N);
            if (bias && !few_rows)
                for (int64_t m = by_rows ? lo : 0; m < (by_rows ? hi : M); m++)
                    for (int64_t n = by_rows ? 0 : lo; n < (by_rows ? N : hi); n++) Y[m * N + n] += bias[n];
        }
    }
}

// ---------------------------------------------------------------- norms

void ops_rmsnorm_row(float *y, const float *x, const float *w, int64_t n, float eps)
{
    float ss = 0.0f;
    for (int64_t i = 0; i < n; i++) ss += x[i] * x[i];
    const float scale = 1.0f / sqrtf(ss / (float)n + eps);
    for (int64_t i = 0; i < n; i++) y[i] = x[i] * scale * w[i];
}

void ops_rmsnorm(float *y, const float *x, const float *w, int64_t rows, int64_t n, float eps, int threads)
{
#pragma omp parallel for num_threads(threads) schedule(static)
    for (int64_t r = 0; r < rows; r++) ops_rmsnorm_row(y + r * n, x + r * n, w, n, eps);
}

void ops_gated_rmsnorm(float *y, const float *z, const float *w, int64_t rows, int64_t n, int64_t groups,
                       float eps, int norm_before_gate, int threads)
{
    const int64_t gs = n / groups;
#pragma omp parallel for num_threads(threads) schedule(static)
    for (int64_t r = 0; r < rows; r++) {
        float *yr = y + r * n;
        const float *zr = z + r * n;
        if (!norm_before_gate)
            for (int64_t i = 0; i < n; i++) yr[i] *= ops_silu(zr[i]);
        for (int64_t g = 0; g < groups; g++) {
            float *yg = yr + g * gs;
            float ss = 0.0f;
            for (int64_t i = 0; i < gs; i++) ss += yg[i] * yg[i];
            const float scale = 1.0f / sqrtf(ss / (float)gs + eps);
            for (int64_t i = 0; i < gs; i++) yg[i] = yg[i] * scale * w[g * gs + i];
        }
        if (norm_before_gate)
            for (int64_t i = 0; i < n; i++) yr[i] *= ops_silu(zr[i]);
    }
}

// ---------------------------------------------------------------- conv1d

void ops_conv1d_silu(const float *in, const float *wt, const float *bias, float *state, int64_t B, int64_t L,
                     int64_t C, int64_t K, float *out0, int64_t c1, float *out1, int64_t c2, float *out2,
                     float *scratch, int threads)
{
    const int64_t S = K - 1; /* inputs carried between calls */
#pragma omp parallel num_threads(threads)
    {
        float *acc = scratch + omp_get_thread_num() * C; /* [C] one output row */
#pragma omp for schedule(static)
        for (int64_t bt = 0; bt < B * L; bt++) {
            const int64_t b = bt / L, t = bt % L;
            for (int64_t c = 0; c < C; c++) acc[c] = bias ? bias[c] : 0.0f;
            for (int64_t k = 0; k < K; k++) {
                const int64_t s = t - S + k; /* input time */
                const float *wk = wt + k * C;
                if (s >= 0) {
                    const float *x = in + (b * L + s) * C;
                    for (int64_t c = 0; c < C; c++) acc[c] += wk[c] * x[c];
                } else if (state) {
                    for (int64_t c = 0; c < C; c++) acc[c] += wk[c] * state[(b * C + c) * S + (S + s)];
                }
            }
            float *o0 = out0 + bt * c1;
            for (int64_t c = 0; c < c1; c++) o0[c] = ops_silu(acc[c]);
            if (out1)
                for (int64_t c = c1; c < c2; c++) out1[bt * (c2 - c1) + c - c1] = ops_silu(acc[c]);
            if (out2)
                for (int64_t c = c2; c < C; c++) out2[bt * (C - c2) + c - c2] = ops_silu(acc[c]);
        }
        /* the state becomes the last S inputs (older ones first) */
        if (state && S > 0) {
#pragma omp for schedule(static)
            for (int64_t bc = 0; bc < B * C; bc++) {
                const int64_t b = bc / C, c = bc % C;
                float *st = state + bc * S, tmp[64];
                for (int64_t j = 0; j < S; j++) {
                    const int64_t s = L - S + j; /* input time of state slot j */
                    tmp[j] = s >= 0 ? in[(b * L + s) * C + c] : st[S + s];
                }
                for (int64_t j = 0; j < S; j++) st[j] = tmp[j];
            }
        }
    }
}

void ops_conv1d_step(const float *in, const float *wt, const float *bias, float *state, int64_t B, int64_t C,
                     int64_t K, int64_t lo, int64_t hi, float *out)
{
    const int64_t S = K - 1;
    for (int64_t b = 0; b < B; b++)
        for (int64_t c = lo; c < hi; c++) {
            const float x = in[b * C + c];
            float *st = state ? state + (b * C + c) * S : NULL;
            float acc = bias ? bias[c] : 0.0f;
            for (int64_t k = 0; k < S; k++) acc += wt[k * C + c] * (st ? st[k] : 0.0f);
            acc += wt[S * C + c] * x;
            out[b * C + c] = ops_silu(acc);
            if (st) {
                for (int64_t k = 0; k + 1 < S; k++) st[k] = st[k + 1];
                if (S > 0) st[S - 1] = x;
            }
        }
}

void ops_dt_limit(float *dt, const float *bias, int64_t rows, int64_t H, float lo, float hi, int threads)
{
#pragma omp parallel for num_threads(threads) schedule(static)
    for (int64_t r = 0; r < rows; r++)
        for (int64_t h = 0; h < H; h++) {
            float v = dt[r * H + h] + bias[h];
            v = v > 20.0f ? v : log1pf(expf(v));
            dt[r * H + h] = fminf(fmaxf(v, lo), hi);
        }
}

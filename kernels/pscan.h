/* kernels/pscan.h: the phases of the parallel scan (kernels/pscan.c) that its training
 * half (kernels/pscan_backward.c) runs too: materialising deltaA and deltaB_u, the
 * Blelloch sweeps (forwards or backwards in time), and reading y out of the states.
 * Internal to those two files. Each phase is called by every thread of an OpenMP team
 * (inside `omp parallel`) and ends in the team's barrier. */
#ifndef MB_PSCAN_H
#define MB_PSCAN_H

#include "scan.h"

/* Bytes of two [B][L][D][N] float arrays: the forward's workspace (deltaA, deltaB_u), the
 * backward's saved buffer (deltaA, h) and the core of its workspace (coefficients, adjoint). */
size_t pscan_rows_bytes(const scan_shape *s);

/* Phase 1: deltaA = exp(dt A) into dA and deltaB_u = dt B u into dBu, both [B][L][D][N],
 * h0 folded into step 0 (dBu[0] += deltaA[0] h0); dA_copy, if not NULL, gets deltaA too
 * (for the backward, which keeps dA while the sweeps consume the copy). */
void pscan_materialise(const scan_shape *s, const scan_tensors *t, float *dA, float *dBu, float *dA_copy);

/* Phase 2: x[t] = a[t] x[t-1] + x[t] over t (a becomes the running product), in place on
 * a, x [B][L][R]; reverse: over t = L-1 down to 0, x[t] = a[t] x[t+1] + x[t]. */
void pscan_sweeps(float *a, float *x, int64_t B, int64_t L, int64_t R, bool reverse);

/* Phase 3: y = C . h (+ D u, * silu(z)) from the states H [B][L][D][N], and h_last. */
void pscan_read_out(const scan_shape *s, const scan_tensors *t, const float *H);

/* Operator applications of both sweeps, per (b, d, n) (counted by walking the levels). */
double pscan_applications(int64_t L);

#endif

/* model/mamba.c: the language model around the mixers: embedding, pre-norm residual
 * blocks, final norm, head; the state for recurrent decoding; buffers and the scan call. */
#include "mamba.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/mem.h"
#include "model/mixer.h"
#include "model/ops.h"

static double mamba_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

// ---------------------------------------------------------------- state

static int64_t state_conv_len(const mamba_config *c, int64_t B)
{
    return c->n_layer * B * mamba_config_conv_dim(c) * (c->d_conv - 1);
}
static int64_t state_ssm_len(const mamba_config *c, int64_t B) { return c->n_layer * B * c->d_inner * c->d_state; }

double mamba_state_bytes_per_token(const mamba_config *c)
{
    return 2.0 * 4.0 * (double)(state_ssm_len(c, 1) + state_conv_len(c, 1));
}

int mamba_state_init(mamba_state *s, const mamba_config *c, int64_t batch, mb_err *err)
{
    memset(s, 0, sizeof *s);
    s->batch = batch;
    int64_t nc = state_conv_len(c, batch), ns = state_ssm_len(c, batch);
    s->conv = mb_alloc((size_t)(nc ? nc : 1) * sizeof(float));
    s->ssm[0] = mb_alloc((size_t)ns * sizeof(float));
    s->ssm[1] = mb_alloc((size_t)ns * sizeof(float));
    if (!s->conv || !s->ssm[0] || !s->ssm[1]) {
        mamba_state_free(s);
        return mb_fail(err, "out of memory for the recurrent state");
    }
    mamba_state_reset(s, c);
    return 0;
}

void mamba_state_reset(mamba_state *s, const mamba_config *c)
{
    memset(s->conv, 0, (size_t)state_conv_len(c, s->batch) * sizeof(float));
    memset(s->ssm[0], 0, (size_t)state_ssm_len(c, s->batch) * sizeof(float));
    memset(s->ssm[1], 0, (size_t)state_ssm_len(c, s->batch) * sizeof(float));
    s->pos = 0, s->cur = 0;
}

void mamba_state_free(mamba_state *s)
{
    mb_free(s->conv);
    mb_free(s->ssm[0]);
    mb_free(s->ssm[1]);
    memset(s, 0, sizeof *s);
}

// ---------------------------------------------------------------- buffers

scan_shape mamba_scan_shape(const mamba_config *c, int64_t B, int64_t L, bool with_state, bool has_h0)
{
    const bool v2 = c->arch == MAMBA_V2;
    return (scan_shape){.batch = B, .seqlen = L, .channels = c->d_inner, .d_state = c->d_state,
                        .heads = v2 ? c->nheads : c->d_inner, .groups = v2 ? c->ngroups : 1,
                        .a_kind = v2 ? SCAN_A_HEAD : SCAN_A_DIAG, .softplus = true, .has_bias = true,
                        .has_dskip = true, .has_z = !v2, .has_h0 = has_h0, .want_h_last = with_state};
}

void mamba_run_free(mamba_run *r)
{
    float *bufs[] = {r->x, r->xn, r->xin, r->z, r->u, r->Bm, r->Cm, r->dtr, r->delta, r->y, r->last, r->proj, r->scratch};
    for (size_t i = 0; i < sizeof bufs / sizeof *bufs; i++) mb_free(bufs[i]);
    mb_free(r->ws);
    mamba1_step_free(r);
    memset(r, 0, sizeof *r);
}

int mamba_run_init(mamba_run *r, const mamba_weights *w, const scan_kernel *k, int threads, int64_t max_batch,
                   int64_t max_len, mb_err *err)
{
    memset(r, 0, sizeof *r);
    const mamba_config *c = &w->cfg;
    r->w = w, r->kernel = k, r->threads = threads < 1 ? 1 : threads;
    r->max_batch = max_batch, r->max_len = max_len;
    const int64_t BL = max_batch * max_len, C = mamba_config_conv_dim(c);
    const int64_t GN = (c->arch == MAMBA_V2 ? c->ngroups : 1) * c->d_state;
    const int64_t K = c->arch == MAMBA_V2 ? c->nheads : c->d_inner;

    /* the kernel must run every problem the model will pose */
    scan_opts o = {.threads = r->threads};
    size_t ws = 0;
    for (int64_t L = 1; L <= max_len; L = L == max_len ? max_len + 1 : max_len)
        for (int st = 0; st < 2; st++) {
            scan_shape s = mamba_scan_shape(c, max_batch, L, st, st);
            if (c->arch == MAMBA_V2 && !c->rms_norm) s.has_z = true;
            const char *why = k->unsupported(&s, &o);
            if (why) return mb_fail(err, "kernel %s cannot run this model's scan: %s", k->name, why);
            size_t b = k->workspace_bytes(&s, &o);
            if (b > ws) ws = b;
        }
    struct {
        float **p;
        int64_t n;
    } bufs[] = {
        {&r->x, BL * c->d_model}, {&r->xn, BL * c->d_model}, {&r->xin, BL * C},      {&r->z, BL * c->d_inner},
        {&r->u, BL * c->d_inner}, {&r->Bm, BL * GN},         {&r->Cm, BL * GN},       {&r->dtr, BL * c->dt_rank + 1},
        {&r->delta, BL * K},      {&r->y, BL * c->d_inner},  {&r->last, max_batch * c->d_model},
        {&r->scratch, (int64_t)r->threads * C},
        {&r->proj, 3 * c->d_inner + C + K + c->dt_rank + 2 * GN},
    };
    for (size_t i = 0; i < sizeof bufs / sizeof *bufs; i++) {
        *bufs[i].p = mb_alloc((size_t)bufs[i].n * sizeof(float));
        if (!*bufs[i].p) {
            mamba_run_free(r);
            return mb_fail(err, "out of memory for activations (%lld tokens per call)", (long long)BL);
        }
        memset(*bufs[i].p, 0, (size_t)bufs[i].n * sizeof(float)); /* first touch, outside any timing */
    }
    if (ws) {
        if (!(r->ws = mb_alloc(ws))) {
            mamba_run_free(r);
            return mb_fail(err, "out of memory for kernel %s's workspace (%zu bytes)", k->name, ws);
        }
        memset(r->ws, 0, ws);
    }
    r->ws_bytes = ws;
    if (mamba1_step_init(r, err)) {
        mamba_run_free(r);
        return -1;
    }
    return 0;
}

int mamba_scan(mamba_run *r, const scan_shape *s, const scan_tensors *t, mb_err *err)
{
    scan_opts o = {.threads = r->threads};
    const char *why = r->kernel->unsupported(s, &o);
    if (why) return mb_fail(err, "kernel %s cannot run this scan: %s", r->kernel->name, why);
    size_t need = r->kernel->workspace_bytes(s, &o);
    if (need > r->ws_bytes)
        return mb_fail(err, "kernel %s needs %zu bytes of workspace here but %zu were reserved", r->kernel->name,
                       need, r->ws_bytes);
    double t0 = mamba_now();
    int rc = r->kernel->forward(s, t, &o, r->ws, err);
    r->t_scan += mamba_now() - t0;
    return rc ? mb_wrap(err, "kernel %s", r->kernel->name) : 0;
}

// ---------------------------------------------------------------- the model

int mamba_forward(mamba_run *r, mamba_state *st, const int32_t *tokens, int64_t B, int64_t L, float *logits,
                  bool all_positions, mb_err *err)
{
    const mamba_weights *w = r->w;
    const mamba_config *c = &w->cfg;
    const int64_t BL = B * L, dm = c->d_model, C = mamba_config_conv_dim(c), S = c->d_conv - 1;
    const int64_t I = c->d_inner, N = c->d_state;
    const int T = r->threads;
    if (B < 1 || L < 1 || B > r->max_batch || L > r->max_len)
        return mb_fail(err, "%lld x %lld tokens do not fit the %lld x %lld the model was set up for", (long long)B,
                       (long long)L, (long long)r->max_batch, (long long)r->max_len);
    if (st && st->batch != B) return mb_fail(err, "state batch %lld != %lld", (long long)st->batch, (long long)B);
    for (int64_t i = 0; i < BL; i++)
        if (tokens[i] < 0 || tokens[i] >= c->vocab)
            return mb_fail(err, "token %d at position %lld is outside the vocabulary [0, %lld)", tokens[i],
                           (long long)i, (long long)c->vocab);
    double t0 = mamba_now();

    /* one token per sequence: the decode step, one parallel region for the whole token */
    if (L == 1 && r->step_ok) {
        if (mamba1_step(r, st, tokens, B, logits, err)) return -1;
        if (st) st->cur = !st->cur, st->pos += 1;
        r->t_total += mamba_now() - t0;
        return 0;
    }

    // hidden_states = self.embedding(input_ids)                                    [BL][d_model]
#pragma omp parallel for num_threads(T) schedule(static)
    for (int64_t i = 0; i < BL; i++) memcpy(r->x + i * dm, w->embed + (int64_t)tokens[i] * dm, (size_t)dm * sizeof(float));

    for (int64_t li = 0; li < c->n_layer; li++) {
        const mamba_layer *l = &w->layers[li];
        mixer_state ms = {0};
        if (st) {
            ms.conv = st->conv + li * B * C * S;
            ms.h0 = st->pos > 0 ? st->ssm[st->cur] + li * B * I * N : NULL;
            ms.h_last = st->ssm[!st->cur] + li * B * I * N;
        }
        // hidden_states = residual + self.mixer(self.norm(residual))     (Block with RMSNorm, pre-norm)
        ops_rmsnorm(r->xn, r->x, l->norm, BL, dm, (float)c->eps, T);
        int rc = c->arch == MAMBA_V1 ? mamba1_mixer(r, l, &ms, B, L, r->xn, err) : mamba2_mixer(r, l, &ms, B, L, r->xn, err);
        if (rc) return mb_wrap(err, "layer %lld", (long long)li);
#pragma omp parallel for num_threads(T) schedule(static)
        for (int64_t i = 0; i < BL * dm; i++) r->x[i] += r->xn[i];
    }
    if (st) st->cur = !st->cur, st->pos += L;

    // hidden_states = self.norm_f(hidden_states); logits = self.lm_head(hidden_states)
    if (logits && all_positions) {
        ops_rmsnorm(r->xn, r->x, w->norm_f, BL, dm, (float)c->eps, T);
        ops_linear(logits, r->xn, w->lm_head, NULL, BL, c->vocab, dm, T);
    } else if (logits) {
        for (int64_t b = 0; b < B; b++) memcpy(r->last + b * dm, r->x + (b * L + L - 1) * dm, (size_t)dm * sizeof(float));
        ops_rmsnorm(r->last, r->last, w->norm_f, B, dm, (float)c->eps, T);
        ops_linear(logits, r->last, w->lm_head, NULL, B, c->vocab, dm, T);
    }
    r->t_total += mamba_now() - t0;
    return 0;
}

/* model/weights.c: the tensors of a Mamba model by name and shape (one table, used to
 * allocate, load and save), loading with shape checks, saving in either layout. */
#include "weights.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "model/checkpoint.h"

// ---------------------------------------------------------------- the tensor table

typedef struct {
    char name[128];
    float **dst;
    int ndim;
    int64_t shape[3];
} w_spec;

static void w_add(w_spec *s, int *n, float **dst, int ndim, int64_t d0, int64_t d1, int64_t d2, const char *fmt, ...)
    __attribute__((format(printf, 8, 9)));
static void w_add(w_spec *s, int *n, float **dst, int ndim, int64_t d0, int64_t d1, int64_t d2, const char *fmt, ...)
{
    w_spec *e = &s[(*n)++];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->name, sizeof e->name, fmt, ap);
    va_end(ap);
    e->dst = dst, e->ndim = ndim, e->shape[0] = d0, e->shape[1] = d1, e->shape[2] = d2;
}

/* Every tensor of the model in checkpoint order; the embedding's name depends on the layout.
 * lm_head is listed only when untied. Returns the count (specs has room for 4 + 16 n_layer). */
static int w_specs(mamba_weights *w, mamba_style layout, w_spec *s)
{
    const mamba_config *c = &w->cfg;
    const int64_t dm = c->d_model, I = c->d_inner, N = c->d_state, K = c->d_conv, C = mamba_config_conv_dim(c);
    const int64_t P = c->arch == MAMBA_V1 ? 2 * I : I + C + c->nheads;
    int n = 0;
    w_add(s, &n, &w->embed, 2, c->vocab, dm, 0, "%s",
          layout == MAMBA_STYLE_HF ? "backbone.embeddings.weight" : "backbone.embedding.weight");
    for (int64_t i = 0; i < c->n_layer; i++) {
        mamba_layer *l = &w->layers[i];
        const char *p = "backbone.layers";
        w_add(s, &n, &l->norm, 1, dm, 0, 0, "%s.%lld.norm.weight", p, (long long)i);
        w_add(s, &n, &l->in_proj, 2, P, dm, 0, "%s.%lld.mixer.in_proj.weight", p, (long long)i);
        if (c->use_bias) w_add(s, &n, &l->in_proj_bias, 1, P, 0, 0, "%s.%lld.mixer.in_proj.bias", p, (long long)i);
        w_add(s, &n, &l->conv_w, 3, C, 1, K, "%s.%lld.mixer.conv1d.weight", p, (long long)i);
        if (c->conv_bias) w_add(s, &n, &l->conv_b, 1, C, 0, 0, "%s.%lld.mixer.conv1d.bias", p, (long long)i);
        if (c->arch == MAMBA_V1) {
            w_add(s, &n, &l->x_proj, 2, c->dt_rank + 2 * N, I, 0, "%s.%lld.mixer.x_proj.weight", p, (long long)i);
            w_add(s, &n, &l->dt_proj, 2, I, c->dt_rank, 0, "%s.%lld.mixer.dt_proj.weight", p, (long long)i);
            w_add(s, &n, &l->dt_bias, 1, I, 0, 0, "%s.%lld.mixer.dt_proj.bias", p, (long long)i);
            w_add(s, &n, &l->A_log, 2, I, N, 0, "%s.%lld.mixer.A_log", p, (long long)i);
            w_add(s, &n, &l->D, 1, I, 0, 0, "%s.%lld.mixer.D", p, (long long)i);
        } else {
            w_add(s, &n, &l->dt_bias, 1, c->nheads, 0, 0, "%s.%lld.mixer.dt_bias", p, (long long)i);
            w_add(s, &n, &l->A_log, 1, c->nheads, 0, 0, "%s.%lld.mixer.A_log", p, (long long)i);
            w_add(s, &n, &l->D, 1, c->nheads, 0, 0, "%s.%lld.mixer.D", p, (long long)i);
            if (c->rms_norm) w_add(s, &n, &l->gnorm, 1, I, 0, 0, "%s.%lld.mixer.norm.weight", p, (long long)i);
        }
        w_add(s, &n, &l->out_proj, 2, dm, I, 0, "%s.%lld.mixer.out_proj.weight", p, (long long)i);
        if (c->use_bias) w_add(s, &n, &l->out_proj_bias, 1, dm, 0, 0, "%s.%lld.mixer.out_proj.bias", p, (long long)i);
    }
    w_add(s, &n, &w->norm_f, 1, dm, 0, 0, "backbone.norm_f.weight");
    if (!c->tie) w_add(s, &n, &w->lm_head, 2, c->vocab, dm, 0, "lm_head.weight");
    return n;
}

static int64_t w_numel(const w_spec *s)
{
    int64_t n = 1;
    for (int d = 0; d < s->ndim; d++) n *= s->shape[d];
    return n;
}

static void w_shape_str(char *buf, size_t len, int ndim, const int64_t *shape)
{
    int o = snprintf(buf, len, "[");
    for (int d = 0; d < ndim && o < (int)len; d++) o += snprintf(buf + o, len - (size_t)o, "%s%lld", d ? ", " : "", (long long)shape[d]);
    if (o < (int)len) snprintf(buf + o, len - (size_t)o, "]");
}

/* Every tensor lives in one arena, 2 MiB-aligned and advised for transparent huge pages:
 * decode streams all of it once per token, and with 4 KiB pages the hardware prefetchers
 * stop at every page boundary and the TLB misses on every page (measured here: ~10% more
 * GEMV bandwidth at 2 threads with huge pages). Tensors are carved 64-byte aligned. */
#define W_ARENA_ALIGN ((size_t)2 << 20)

static size_t w_round64(int64_t n) { return ((size_t)n * sizeof(float) + 63) / 64 * 64; }

static int w_arena_init(mamba_weights *w, size_t bytes)
{
    const size_t len = (bytes + W_ARENA_ALIGN - 1) / W_ARENA_ALIGN * W_ARENA_ALIGN;
    w->arena = aligned_alloc(W_ARENA_ALIGN, len ? len : W_ARENA_ALIGN);
    if (!w->arena) return -1;
#ifdef MADV_HUGEPAGE
    (void)madvise(w->arena, len, MADV_HUGEPAGE); /* advice only: without THP the pages stay 4 KiB */
#endif
    w->arena_len = len, w->arena_used = 0;
    return 0;
}

static float *w_alloc(mamba_weights *w, int64_t n)
{
    const size_t b = w_round64(n);
    if (!w->arena || w->arena_len - w->arena_used < b) return NULL;
    float *p = (float *)((char *)w->arena + w->arena_used);
    w->arena_used += b;
    return p;
}

void mamba_weights_free(mamba_weights *w)
{
    free(w->arena);
    free(w->layers);
    memset(w, 0, sizeof *w);
}

// ---------------------------------------------------------------- derived tensors

void mamba_weights_derive(mamba_weights *w)
{
    const mamba_config *c = &w->cfg;
    const int64_t C = mamba_config_conv_dim(c), K = c->d_conv;
    const int64_t nA = c->arch == MAMBA_V1 ? c->d_inner * c->d_state : c->nheads;
    if (c->tie) w->lm_head = w->embed;
    for (int64_t i = 0; i < c->n_layer; i++) {
        mamba_layer *l = &w->layers[i];
        /* A = -exp(A_log) */
        for (int64_t j = 0; j < nA; j++) l->A[j] = -expf(l->A_log[j]);
        /* conv_wt[k][c] = conv_w[c][0][k] */
        for (int64_t ch = 0; ch < C; ch++)
            for (int64_t k = 0; k < K; k++) l->conv_wt[k * C + ch] = l->conv_w[ch * K + k];
    }
}

/* Allocates every tensor of the table (zeroed if asked) plus the derived ones; sets
 * param_bytes, decode_bytes. */
static int w_alloc_all(mamba_weights *w, w_spec *s, int n, bool zero, mb_err *err)
{
    const mamba_config *c = &w->cfg;
    const int64_t nA = c->arch == MAMBA_V1 ? c->d_inner * c->d_state : c->nheads;
    const int64_t C = mamba_config_conv_dim(c);
    size_t need = 0;
    for (int i = 0; i < n; i++) need += w_round64(w_numel(&s[i]));
    need += (size_t)c->n_layer * (w_round64(nA) + w_round64(C * c->d_conv));
    if (w_arena_init(w, need)) return mb_fail(err, "out of memory for the weights (%zu bytes)", need);
    double bytes = 0;
    for (int i = 0; i < n; i++) {
        int64_t ne = w_numel(&s[i]);
        if (!(*s[i].dst = w_alloc(w, ne))) return mb_fail(err, "out of memory for tensor \"%s\" (%lld floats)", s[i].name, (long long)ne);
        if (zero) memset(*s[i].dst, 0, (size_t)ne * sizeof(float));
        bytes += 4.0 * (double)ne;
    }
    for (int64_t i = 0; i < c->n_layer; i++) {
        mamba_layer *l = &w->layers[i];
        if (!(l->A = w_alloc(w, nA)) || !(l->conv_wt = w_alloc(w, C * c->d_conv)))
            return mb_fail(err, "out of memory");
    }
    w->param_bytes = bytes;
    /* decoding one token reads every weight once except the embedding, of which one row
     * (A and conv_wt are read in place of A_log and conv_w, which have the same sizes) */
    const double emb = 4.0 * (double)c->vocab * c->d_model;
    w->decode_bytes = bytes - emb + 4.0 * c->d_model + (c->tie ? emb : 0);
    if (c->tie) w->lm_head = w->embed;
    return 0;
}

int mamba_weights_alloc(mamba_weights *w, const mamba_config *cfg, mb_err *err)
{
    memset(w, 0, sizeof *w);
    w->cfg = *cfg;
    w_spec *s = NULL;
    if (!(w->layers = calloc((size_t)cfg->n_layer, sizeof *w->layers)) ||
        !(s = malloc((size_t)(4 + 16 * cfg->n_layer) * sizeof *s))) {
        mb_fail(err, "out of memory");
        goto fail;
    }
    int n = w_specs(w, MAMBA_STYLE_HF, s);
    if (w_alloc_all(w, s, n, true, err)) goto fail;
    free(s);
    return 0;
fail:
    free(s);
    mamba_weights_free(w);
    return -1;
}

// ---------------------------------------------------------------- loading

int mamba_weights_load(mamba_weights *w, const char *dir, mb_err *err)
{
    memset(w, 0, sizeof *w);
    char path[1100];
    ckpt ck = {0};
    w_spec *s = NULL;
    snprintf(path, sizeof path, "%s/config.json", dir);
    if (mamba_config_load(&w->cfg, path, err)) return -1;
    if (ckpt_open(&ck, dir, err)) return -1;
    const mamba_config *c = &w->cfg;
    const st_file *f;
    /* the layout is told by the embedding's name */
    mamba_style layout;
    if (ckpt_find(&ck, "backbone.embeddings.weight", &f)) layout = MAMBA_STYLE_HF;
    else if (ckpt_find(&ck, "backbone.embedding.weight", &f)) layout = MAMBA_STYLE_ORIGINAL;
    else {
        mb_fail(err, "%s: missing tensor \"backbone.embeddings.weight\" (Hugging Face layout) or "
                "\"backbone.embedding.weight\" (state-spaces layout)", ck.files[0].path);
        goto fail;
    }
    if (!(w->layers = calloc((size_t)c->n_layer, sizeof *w->layers)) ||
        !(s = malloc((size_t)(4 + 16 * c->n_layer) * sizeof *s))) {
        mb_fail(err, "out of memory");
        goto fail;
    }
    int n = w_specs(w, layout, s);
    /* check every name and shape before allocating anything */
    for (int i = 0; i < n; i++) {
        const st_tensor *t = ckpt_find(&ck, s[i].name, &f);
        char want[96], got[96];
        if (!t) {
            mb_fail(err, "%s: missing tensor \"%s\"", ck.nmap ? dir : ck.files[0].path, s[i].name);
            goto fail;
        }
        bool same = t->ndim == s[i].ndim;
        for (int d = 0; same && d < t->ndim; d++) same = t->shape[d] == s[i].shape[d];
        if (!same) {
            w_shape_str(want, sizeof want, s[i].ndim, s[i].shape);
            w_shape_str(got, sizeof got, t->ndim, t->shape);
            mb_fail(err, "%s: tensor \"%s\" has shape %s but config.json implies %s", f->path, s[i].name, got, want);
            goto fail;
        }
        if (t->dtype != ST_F32 && t->dtype != ST_F16 && t->dtype != ST_BF16) {
            mb_fail(err, "%s: tensor \"%s\": dtype %s is not supported (F32, F16, BF16 are)", f->path, s[i].name,
                    st_dtype_name(t->dtype));
            goto fail;
        }
    }
    if (w_alloc_all(w, s, n, false, err)) goto fail; /* every byte is read below */
    for (int i = 0; i < n; i++) {
        const st_tensor *t = ckpt_find(&ck, s[i].name, &f);
        if (st_tensor_read_f32(f, t, *s[i].dst, err)) goto fail;
    }
    mamba_weights_derive(w);
    free(s);
    ckpt_close(&ck);
    return 0;
fail:
    free(s);
    ckpt_close(&ck);
    mamba_weights_free(w);
    return -1;
}

// ---------------------------------------------------------------- saving

int mamba_weights_save(const mamba_weights *w, const char *dir, mamba_style style, st_dtype dtype, mb_err *err)
{
    char path[1100];
    if (mkdir(dir, 0777) && errno != EEXIST) return mb_fail(err, "%s: cannot create: %s", dir, strerror(errno));
    mamba_weights tmp = *w; /* w_specs needs non-const field addresses; only reads them here */
    w_spec *s = malloc((size_t)(4 + 16 * w->cfg.n_layer) * sizeof *s);
    st_write_tensor *t = malloc((size_t)(4 + 16 * w->cfg.n_layer) * sizeof *t);
    int rc = -1;
    if (!s || !t) {
        mb_fail(err, "out of memory");
        goto done;
    }
    int n = w_specs(&tmp, style, s);
    for (int i = 0; i < n; i++) {
        t[i] = (st_write_tensor){.name = s[i].name, .dtype = dtype, .ndim = s[i].ndim, .data = *s[i].dst};
        memcpy(t[i].shape, s[i].shape, sizeof s[i].shape);
    }
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    if (st_write(path, t, n, err)) goto done;
    snprintf(path, sizeof path, "%s/config.json", dir);
    rc = mamba_config_write(&w->cfg, path, style, err);
done:
    free(s);
    free(t);
    return rc;
}

/* model/config.c: config.json of a Mamba-1 / Mamba-2 model, both the Hugging Face style
 * (MambaConfig, Mamba2Config) and the original state-spaces style (MambaConfig of
 * mamba_ssm: d_model, n_layer, ssm_cfg, ...). Strict about types and ranges, lenient
 * about Python's non-standard Infinity / -Infinity / NaN tokens. */
#include "config.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/file.h"

#define CFG_MAX_DIM ((int64_t)1 << 20)

// ---------------------------------------------------------------- Python's json tokens

/* Python's json.dump writes float('inf') as Infinity (and -Infinity, NaN), which is not
 * JSON. Outside strings, where a value starts (after ':', ',' or '['), these tokens are
 * rewritten as the strings "Infinity", "-Infinity", "NaN", which cfg_number() accepts.
 * Anything else is left for jansson to judge. Returns a malloc'd text, or NULL. */
static char *cfg_python_tokens(const char *in, size_t len, size_t *out_len)
{
    static const char *toks[] = {"-Infinity", "Infinity", "NaN"};
    char *out = malloc(len * 2 + 1); /* each rewrite adds 2 bytes to a token of >= 3 */
    if (!out) return NULL;
    size_t o = 0;
    bool in_str = false;
    char prev = 0; /* last non-space character outside strings */
    for (size_t i = 0; i < len; i++) {
        char ch = in[i];
        if (in_str) {
            out[o++] = ch;
            if (ch == '\\' && i + 1 < len) out[o++] = in[++i];
            else if (ch == '"') in_str = false;
            continue;
        }
        if (ch == '"') {
            in_str = true;
            prev = ch;
            out[o++] = ch;
            continue;
        }
        if (prev == ':' || prev == ',' || prev == '[') {
            bool done = false;
            for (int k = 0; k < 3 && !done; k++) {
                size_t n = strlen(toks[k]);
                if (len - i >= n && !memcmp(in + i, toks[k], n) &&
                    (i + n == len || !((in[i + n] | 32) >= 'a' && (in[i + n] | 32) <= 'z'))) {
                    out[o++] = '"';
                    memcpy(out + o, toks[k], n);
                    o += n;
                    out[o++] = '"';
                    i += n - 1;
                    prev = '"';
                    done = true;
                }
            }
            if (done) continue;
        }
        if (ch != ' ' && ch != '\t' && ch != '\n' && ch != '\r') prev = ch;
        out[o++] = ch;
    }
    out[o] = 0;
    *out_len = o;
    return out;
}

// ---------------------------------------------------------------- typed fields

typedef struct {
    json_t *obj;
    const char *what;   /* file name */
    const char *prefix; /* "" or "ssm_cfg." */
} cfg_src;

/* 1 if present (value in *out), 0 if absent, -1 on a type or range error. */
static int cfg_int(const cfg_src *s, const char *key, int64_t min, int64_t max, int64_t *out, mb_err *err)
{
    json_t *v = s->obj ? json_object_get(s->obj, key) : NULL;
    if (!v || json_is_null(v)) return 0;
    if (json_is_real(v) && json_real_value(v) == floor(json_real_value(v)) && fabs(json_real_value(v)) < 1e15)
        *out = (int64_t)json_real_value(v);
    else if (json_is_integer(v)) *out = json_integer_value(v);
    else return mb_fail(err, "%s: field \"%s%s\": expected an integer", s->what, s->prefix, key);
    if (*out < min || *out > max)
        return mb_fail(err, "%s: field \"%s%s\": %lld is out of range [%lld, %lld]", s->what, s->prefix, key,
                       (long long)*out, (long long)min, (long long)max);
    return 1;
}

static int cfg_bool(const cfg_src *s, const char *key, bool *out, mb_err *err)
{
    json_t *v = s->obj ? json_object_get(s->obj, key) : NULL;
    if (!v || json_is_null(v)) return 0;
    if (!json_is_boolean(v)) return mb_fail(err, "%s: field \"%s%s\": expected true or false", s->what, s->prefix, key);
    *out = json_is_true(v);
    return 1;
}

static int cfg_value_number(json_t *v, double *out)
{
    if (json_is_number(v)) {
        *out = json_number_value(v);
        return 0;
    }
    if (json_is_string(v)) { /* the rewritten Python tokens */
        const char *t = json_string_value(v);
        if (!strcmp(t, "Infinity")) return *out = INFINITY, 0;
        if (!strcmp(t, "-Infinity")) return *out = -INFINITY, 0;
        if (!strcmp(t, "NaN")) return *out = NAN, 0;
    }
    return -1;
}

static int cfg_number(const cfg_src *s, const char *key, double *out, mb_err *err)
{
    json_t *v = s->obj ? json_object_get(s->obj, key) : NULL;
    if (!v || json_is_null(v)) return 0;
    if (cfg_value_number(v, out)) return mb_fail(err, "%s: field \"%s%s\": expected a number", s->what, s->prefix, key);
    return 1;
}

// ---------------------------------------------------------------- the two styles

static void cfg_defaults(mamba_config *c, mamba_arch arch)
{
    memset(c, 0, sizeof *c);
    c->arch = arch;
    c->d_conv = 4, c->expand = 2;
    c->d_state = arch == MAMBA_V2 ? 128 : 16;
    c->headdim = 64, c->ngroups = 1, c->chunk_size = 256;
    c->use_bias = false, c->conv_bias = true, c->rms_norm = true, c->norm_before_gate = false;
    c->eps = 1e-5;
    c->dt_limit_lo = 0.0, c->dt_limit_hi = INFINITY;
    c->dt_min = 1e-3, c->dt_max = 1e-1, c->dt_floor = 1e-4, c->init_range = 0.02;
}

/* time_step_rank / dt_rank: an integer or "auto" (ceil(d_model / 16)). */
static int cfg_dt_rank(const cfg_src *s, const char *key, mamba_config *c, mb_err *err)
{
    json_t *v = s->obj ? json_object_get(s->obj, key) : NULL;
    c->dt_rank = (c->d_model + 15) / 16;
    if (!v || json_is_null(v) || (json_is_string(v) && !strcmp(json_string_value(v), "auto"))) return 0;
    return cfg_int(s, key, 1, CFG_MAX_DIM, &c->dt_rank, err) < 0 ? -1 : 0;
}

static int cfg_hf(mamba_config *c, json_t *root, const char *what, mb_err *err)
{
    json_t *mt = json_object_get(root, "model_type");
    bool v2 = (json_is_string(mt) && !strcmp(json_string_value(mt), "mamba2")) || json_object_get(root, "num_heads") ||
              json_object_get(root, "head_dim");
    cfg_defaults(c, v2 ? MAMBA_V2 : MAMBA_V1);
    c->style = MAMBA_STYLE_HF;
    c->tie = !v2; /* MambaConfig ties by default, Mamba2Config does not */
    cfg_src s = {root, what, ""};
    int64_t inter = 0;
    int rc;
    double lim[2];
    if ((rc = cfg_int(&s, "hidden_size", 1, CFG_MAX_DIM, &c->d_model, err)) <= 0)
        return rc < 0 ? -1 : mb_fail(err, "%s: field \"hidden_size\" is missing", what);
    if ((rc = cfg_int(&s, "num_hidden_layers", 1, 4096, &c->n_layer, err)) <= 0)
        return rc < 0 ? -1 : mb_fail(err, "%s: field \"num_hidden_layers\" is missing", what);
    if ((rc = cfg_int(&s, "vocab_size", 1, (int64_t)1 << 24, &c->vocab_size, err)) <= 0)
        return rc < 0 ? -1 : mb_fail(err, "%s: field \"vocab_size\" is missing", what);
    c->vocab = c->vocab_size;
    if (cfg_int(&s, "state_size", 1, 4096, &c->d_state, err) < 0 ||
        cfg_int(&s, "conv_kernel", 1, 64, &c->d_conv, err) < 0 ||
        cfg_int(&s, "expand", 1, 64, &c->expand, err) < 0 ||
        cfg_int(&s, "intermediate_size", 1, CFG_MAX_DIM, &inter, err) < 0 ||
        cfg_number(&s, "layer_norm_epsilon", &c->eps, err) < 0 || cfg_bool(&s, "use_bias", &c->use_bias, err) < 0 ||
        cfg_bool(&s, "use_conv_bias", &c->conv_bias, err) < 0 ||
        cfg_bool(&s, "tie_word_embeddings", &c->tie, err) < 0 || cfg_dt_rank(&s, "time_step_rank", c, err) ||
        cfg_number(&s, "time_step_min", &c->dt_min, err) < 0 || cfg_number(&s, "time_step_max", &c->dt_max, err) < 0 ||
        cfg_number(&s, "time_step_floor", &c->dt_floor, err) < 0 ||
        cfg_number(&s, "initializer_range", &c->init_range, err) < 0)
        return -1;
    c->d_inner = inter ? inter : c->expand * c->d_model;
    if (v2) {
        if (cfg_int(&s, "num_heads", 1, CFG_MAX_DIM, &c->nheads, err) < 0 ||
            cfg_int(&s, "head_dim", 1, CFG_MAX_DIM, &c->headdim, err) < 0 ||
            cfg_int(&s, "n_groups", 1, CFG_MAX_DIM, &c->ngroups, err) < 0 ||
            cfg_int(&s, "chunk_size", 1, 1 << 16, &c->chunk_size, err) < 0 ||
            cfg_bool(&s, "rms_norm", &c->rms_norm, err) < 0)
            return -1;
        /* HF's Mamba2 mixer always gates before its norm, whatever norm_before_gate says */
        c->norm_before_gate = false;
        json_t *tl = json_object_get(root, "time_step_limit");
        if (tl && !json_is_null(tl)) {
            if (!json_is_array(tl) || json_array_size(tl) != 2 || cfg_value_number(json_array_get(tl, 0), &lim[0]) ||
                cfg_value_number(json_array_get(tl, 1), &lim[1]))
                return mb_fail(err, "%s: field \"time_step_limit\": expected [min, max]", what);
            c->dt_limit_lo = lim[0], c->dt_limit_hi = lim[1];
        }
        if (!c->nheads) c->nheads = c->d_inner / c->headdim;
        /* Mamba2Config derives the inner width from the heads */
        if (!inter) c->d_inner = c->expand * c->d_model;
    }
    return 0;
}

static int cfg_original(mamba_config *c, json_t *root, const char *what, mb_err *err)
{
    json_t *ssm = json_object_get(root, "ssm_cfg");
    if (ssm && !json_is_null(ssm) && !json_is_object(ssm))
        return mb_fail(err, "%s: field \"ssm_cfg\": expected an object", what);
    json_t *layer = ssm ? json_object_get(ssm, "layer") : NULL;
    if (layer && !json_is_string(layer)) return mb_fail(err, "%s: field \"ssm_cfg.layer\": expected a string", what);
    const char *ln = layer ? json_string_value(layer) : "Mamba1";
    if (strcmp(ln, "Mamba1") && strcmp(ln, "Mamba2"))
        return mb_fail(err, "%s: field \"ssm_cfg.layer\": \"%s\" is not Mamba1 or Mamba2", what, ln);
    cfg_defaults(c, !strcmp(ln, "Mamba2") ? MAMBA_V2 : MAMBA_V1);
    c->style = MAMBA_STYLE_ORIGINAL;
    c->tie = true;
    cfg_src s = {root, what, ""}, m = {ssm, what, "ssm_cfg."};
    int rc;
    int64_t pad = 8, dint = 0;
    json_t *attn = json_object_get(root, "attn_layer_idx");
    if (attn && !(json_is_array(attn) && json_array_size(attn) == 0) && !json_is_null(attn))
        return mb_fail(err, "%s: field \"attn_layer_idx\": hybrid attention layers are not supported", what);
    if ((rc = cfg_int(&s, "d_model", 1, CFG_MAX_DIM, &c->d_model, err)) <= 0)
        return rc < 0 ? -1 : mb_fail(err, "%s: field \"d_model\" is missing", what);
    if ((rc = cfg_int(&s, "n_layer", 1, 4096, &c->n_layer, err)) <= 0)
        return rc < 0 ? -1 : mb_fail(err, "%s: field \"n_layer\" is missing", what);
    if ((rc = cfg_int(&s, "vocab_size", 1, (int64_t)1 << 24, &c->vocab_size, err)) <= 0)
        return rc < 0 ? -1 : mb_fail(err, "%s: field \"vocab_size\" is missing", what);
    if (cfg_int(&s, "pad_vocab_size_multiple", 1, 1 << 16, &pad, err) < 0 ||
        cfg_int(&s, "d_intermediate", 0, CFG_MAX_DIM, &dint, err) < 0 ||
        cfg_bool(&s, "rms_norm", &c->rms_norm, err) < 0 || cfg_bool(&s, "tie_embeddings", &c->tie, err) < 0 ||
        cfg_number(&s, "norm_epsilon", &c->eps, err) < 0)
        return -1;
    if (dint) return mb_fail(err, "%s: field \"d_intermediate\": MLP layers (%lld) are not supported", what, (long long)dint);
    if (!c->rms_norm) return mb_fail(err, "%s: field \"rms_norm\": LayerNorm models are not supported (rms_norm must be true)", what);
    c->vocab = (c->vocab_size + pad - 1) / pad * pad;
    bool bias = false;
    if (cfg_int(&m, "d_state", 1, 4096, &c->d_state, err) < 0 || cfg_int(&m, "d_conv", 1, 64, &c->d_conv, err) < 0 ||
        cfg_int(&m, "expand", 1, 64, &c->expand, err) < 0 || cfg_bool(&m, "conv_bias", &c->conv_bias, err) < 0 ||
        cfg_bool(&m, "bias", &bias, err) < 0 || cfg_number(&m, "dt_min", &c->dt_min, err) < 0 ||
        cfg_number(&m, "dt_max", &c->dt_max, err) < 0 || cfg_number(&m, "dt_init_floor", &c->dt_floor, err) < 0)
        return -1;
    c->use_bias = bias;
    c->d_inner = c->expand * c->d_model;
    if (c->arch == MAMBA_V1) return cfg_dt_rank(&m, "dt_rank", c, err);
    bool has_hdim = false, mixer_norm = true;
    int64_t d_ssm = 0;
    if (cfg_int(&m, "headdim", 1, CFG_MAX_DIM, &c->headdim, err) < 0 ||
        cfg_int(&m, "ngroups", 1, CFG_MAX_DIM, &c->ngroups, err) < 0 ||
        cfg_int(&m, "chunk_size", 1, 1 << 16, &c->chunk_size, err) < 0 ||
        cfg_int(&m, "d_ssm", 1, CFG_MAX_DIM, &d_ssm, err) < 0 || cfg_bool(&m, "rmsnorm", &mixer_norm, err) < 0 ||
        cfg_bool(&m, "norm_before_gate", &c->norm_before_gate, err) < 0 ||
        cfg_bool(&m, "D_has_hdim", &has_hdim, err) < 0)
        return -1;
    if (has_hdim) return mb_fail(err, "%s: field \"ssm_cfg.D_has_hdim\": D per channel is not supported", what);
    if (d_ssm && d_ssm != c->d_inner)
        return mb_fail(err, "%s: field \"ssm_cfg.d_ssm\": a gated MLP beside the SSM (d_ssm != d_inner) is not supported", what);
    c->rms_norm = mixer_norm;
    json_t *tl = m.obj ? json_object_get(m.obj, "dt_limit") : NULL;
    double lim[2];
    if (tl && !json_is_null(tl)) {
        if (!json_is_array(tl) || json_array_size(tl) != 2 || cfg_value_number(json_array_get(tl, 0), &lim[0]) ||
            cfg_value_number(json_array_get(tl, 1), &lim[1]))
            return mb_fail(err, "%s: field \"ssm_cfg.dt_limit\": expected [min, max]", what);
        c->dt_limit_lo = lim[0], c->dt_limit_hi = lim[1];
    }
    c->nheads = c->d_inner / c->headdim;
    return 0;
}

// ---------------------------------------------------------------- checks

int64_t mamba_config_conv_dim(const mamba_config *c)
{
    return c->arch == MAMBA_V2 ? c->d_inner + 2 * c->ngroups * c->d_state : c->d_inner;
}

int mamba_config_check(const mamba_config *c, const char *what, mb_err *err)
{
    if (!(c->eps > 0 && c->eps < 1)) return mb_fail(err, "%s: layer_norm_epsilon %g must be in (0, 1)", what, c->eps);
    if (c->d_inner < 1 || c->d_inner > CFG_MAX_DIM * 4)
        return mb_fail(err, "%s: intermediate size %lld is out of range", what, (long long)c->d_inner);
    if (c->vocab < c->vocab_size) return mb_fail(err, "%s: vocabulary padding is inconsistent", what);
    if (c->arch == MAMBA_V1) {
        if (c->dt_rank < 1) return mb_fail(err, "%s: time_step_rank must be >= 1", what);
    } else {
        if (c->headdim < 1 || c->d_inner % c->headdim)
            return mb_fail(err, "%s: head_dim %lld must divide the intermediate size %lld", what, (long long)c->headdim,
                           (long long)c->d_inner);
        if (c->nheads * c->headdim != c->d_inner)
            return mb_fail(err, "%s: num_heads x head_dim (%lld x %lld) must equal the intermediate size %lld "
                           "(expand x hidden_size)", what, (long long)c->nheads, (long long)c->headdim,
                           (long long)c->d_inner);
        if (c->ngroups < 1 || c->nheads % c->ngroups)
            return mb_fail(err, "%s: n_groups %lld must divide num_heads %lld", what, (long long)c->ngroups,
                           (long long)c->nheads);
        if (!(c->dt_limit_lo >= 0) || !(c->dt_limit_hi > c->dt_limit_lo))
            return mb_fail(err, "%s: time_step_limit [%g, %g] must satisfy 0 <= min < max", what, c->dt_limit_lo,
                           c->dt_limit_hi);
    }
    if (!(c->dt_min > 0 && c->dt_max >= c->dt_min && c->dt_floor >= 0 && c->init_range >= 0))
        return mb_fail(err, "%s: time_step_min/max/floor or initializer_range out of range", what);
    return 0;
}

int mamba_config_parse(mamba_config *c, const char *text, size_t len, const char *what, mb_err *err)
{
    size_t n = 0;
    char *clean = cfg_python_tokens(text, len, &n);
    if (!clean) return mb_fail(err, "%s: out of memory", what);
    json_error_t je;
    json_t *root = json_loadb(clean, n, JSON_REJECT_DUPLICATES, &je);
    free(clean);
    if (!root) return mb_fail(err, "%s: invalid JSON at line %d column %d: %s", what, je.line, je.column, je.text);
    int rc = -1;
    if (!json_is_object(root)) {
        mb_fail(err, "%s: not a JSON object", what);
        goto done;
    }
    json_t *mt = json_object_get(root, "model_type");
    if (mt && (!json_is_string(mt) || (strcmp(json_string_value(mt), "mamba") && strcmp(json_string_value(mt), "mamba2")))) {
        mb_fail(err, "%s: field \"model_type\": not a Mamba model (expected \"mamba\" or \"mamba2\")", what);
        goto done;
    }
    if (json_object_get(root, "hidden_size")) rc = cfg_hf(c, root, what, err);
    else if (json_object_get(root, "d_model")) rc = cfg_original(c, root, what, err);
    else mb_fail(err, "%s: neither \"hidden_size\" (Hugging Face style) nor \"d_model\" (state-spaces style) is present", what);
    if (rc == 0) rc = mamba_config_check(c, what, err);
done:
    json_decref(root);
    return rc;
}

int mamba_config_load(mamba_config *c, const char *path, mb_err *err)
{
    FILE *f = fopen(path, "rb");
    if (!f) return mb_fail(err, "%s: cannot open: %s", path, strerror(errno));
    char *buf = NULL;
    size_t len = 0, cap = 0;
    int rc = -1;
    for (;;) {
        if (len + 4096 > cap) {
            cap = cap ? cap * 2 : 65536;
            if (cap > ((size_t)16 << 20)) {
                mb_fail(err, "%s: larger than 16 MiB: not a config", path);
                goto done;
            }
            char *nb = realloc(buf, cap);
            if (!nb) {
                mb_fail(err, "%s: out of memory", path);
                goto done;
            }
            buf = nb;
        }
        size_t r = fread(buf + len, 1, cap - len, f);
        len += r;
        if (r == 0) break;
    }
    rc = mamba_config_parse(c, buf ? buf : "", len, path, err);
done:
    free(buf);
    fclose(f);
    return rc;
}

// ---------------------------------------------------------------- writing

int mamba_config_write(const mamba_config *c, const char *path, mamba_style style, mb_err *err)
{
    json_t *o;
    bool v2 = c->arch == MAMBA_V2;
    if (style == MAMBA_STYLE_HF) {
        o = json_pack("{s:[s], s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:f, s:b, s:b, s:b, s:s, s:f, s:b, s:f, s:f, s:f, s:b}",
                      "architectures", v2 ? "Mamba2ForCausalLM" : "MambaForCausalLM", "model_type", v2 ? "mamba2" : "mamba",
                      "hidden_size", (json_int_t)c->d_model, "num_hidden_layers", (json_int_t)c->n_layer, "vocab_size",
                      (json_int_t)c->vocab, "state_size", (json_int_t)c->d_state, "conv_kernel", (json_int_t)c->d_conv,
                      "expand", (json_int_t)c->expand, "intermediate_size", (json_int_t)c->d_inner,
                      "layer_norm_epsilon", c->eps, "use_bias", c->use_bias, "use_conv_bias", c->conv_bias,
                      "tie_word_embeddings", c->tie, "hidden_act", "silu", "initializer_range", c->init_range,
                      "residual_in_fp32", 1, "time_step_min", c->dt_min, "time_step_max", c->dt_max, "time_step_floor",
                      c->dt_floor, "rescale_prenorm_residual", 1);
        if (o && !v2) json_object_set_new(o, "time_step_rank", json_integer(c->dt_rank));
        if (o && v2) {
            json_object_set_new(o, "num_heads", json_integer(c->nheads));
            json_object_set_new(o, "head_dim", json_integer(c->headdim));
            json_object_set_new(o, "n_groups", json_integer(c->ngroups));
            json_object_set_new(o, "chunk_size", json_integer(c->chunk_size));
            json_object_set_new(o, "rms_norm", json_boolean(c->rms_norm));
            json_object_set_new(o, "norm_before_gate", json_boolean(c->norm_before_gate));
            json_object_set_new(o, "time_step_rank", json_integer((c->d_model + 15) / 16));
            /* as Python writes it: [0.0, Infinity] (placeholder strings, rewritten below) */
            json_object_set_new(o, "time_step_limit",
                                json_pack("[o, o]",
                                          isinf(c->dt_limit_lo) ? json_string("@INF@") : json_real(c->dt_limit_lo),
                                          isinf(c->dt_limit_hi) ? json_string("@INF@") : json_real(c->dt_limit_hi)));
        }
    } else {
        o = json_pack("{s:I, s:I, s:I, s:I, s:b, s:b, s:b, s:b, s:I, s:{s:I, s:I, s:I, s:b, s:b}}", "d_model",
                      (json_int_t)c->d_model, "d_intermediate", (json_int_t)0, "n_layer", (json_int_t)c->n_layer,
                      "vocab_size", (json_int_t)c->vocab_size, "rms_norm", 1, "residual_in_fp32", 1, "fused_add_norm", 1,
                      "tie_embeddings", c->tie, "pad_vocab_size_multiple", (json_int_t)(c->vocab == c->vocab_size ? 1 : 8),
                      "ssm_cfg", "d_state", (json_int_t)c->d_state, "d_conv", (json_int_t)c->d_conv, "expand",
                      (json_int_t)c->expand, "conv_bias", c->conv_bias, "bias", c->use_bias);
        json_t *ssm = o ? json_object_get(o, "ssm_cfg") : NULL;
        if (ssm && v2) {
            json_object_set_new(ssm, "layer", json_string("Mamba2"));
            json_object_set_new(ssm, "headdim", json_integer(c->headdim));
            json_object_set_new(ssm, "ngroups", json_integer(c->ngroups));
            json_object_set_new(ssm, "chunk_size", json_integer(c->chunk_size));
            json_object_set_new(ssm, "norm_before_gate", json_boolean(c->norm_before_gate));
            json_object_set_new(ssm, "rmsnorm", json_boolean(c->rms_norm));
        } else if (ssm) {
            json_object_set_new(ssm, "dt_rank", json_integer(c->dt_rank));
        }
        if (o && c->vocab != c->vocab_size && c->vocab % 8) {
            json_decref(o);
            return mb_fail(err, "%s: padded vocabulary %lld is not a multiple of 8", path, (long long)c->vocab);
        }
    }
    if (!o) return mb_fail(err, "%s: cannot build the config", path);
    char *text = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(15));
    json_decref(o);
    if (!text) return mb_fail(err, "%s: cannot build the config", path);
    /* "@INF@" -> Infinity, as Python's json does ("Infinity" is one byte longer) */
    char *fixed = malloc(strlen(text) * 2 + 1), *q = fixed;
    if (!fixed) {
        free(text);
        return mb_fail(err, "out of memory");
    }
    for (const char *p = text; *p;) {
        if (!strncmp(p, "\"@INF@\"", 7)) q = stpcpy(q, "Infinity"), p += 7;
        else *q++ = *p++;
    }
    *q = 0;
    free(text);
    text = fixed;
    mb_atomic a;
    if (mb_atomic_open(&a, path, err)) {
        free(text);
        return -1;
    }
    fputs(text, a.f);
    fputc('\n', a.f);
    free(text);
    return mb_atomic_commit(&a, err);
}

void mamba_config_describe(const mamba_config *c, char *buf, size_t len)
{
    if (c->arch == MAMBA_V1)
        snprintf(buf, len, "Mamba-1 d_model=%lld n_layer=%lld vocab=%lld d_state=%lld d_inner=%lld dt_rank=%lld d_conv=%lld%s",
                 (long long)c->d_model, (long long)c->n_layer, (long long)c->vocab, (long long)c->d_state,
                 (long long)c->d_inner, (long long)c->dt_rank, (long long)c->d_conv, c->tie ? " tied" : "");
    else
        snprintf(buf, len,
                 "Mamba-2 d_model=%lld n_layer=%lld vocab=%lld d_state=%lld d_inner=%lld heads=%lld headdim=%lld "
                 "groups=%lld d_conv=%lld%s",
                 (long long)c->d_model, (long long)c->n_layer, (long long)c->vocab, (long long)c->d_state,
                 (long long)c->d_inner, (long long)c->nheads, (long long)c->headdim, (long long)c->ngroups,
                 (long long)c->d_conv, c->tie ? " tied" : "");
}

/* tests/test_loader.c: safetensors parsing and conversion, config.json in both styles,
 * both tensor layouts, sharded checkpoints, and every malformed header the loader must
 * refuse with a message naming the problem. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "model/config.h"
#include "model/safetensors.h"
#include "model/synth.h"
#include "model/weights.h"

// ---------------------------------------------------------------- helpers

/* A file image: 8-byte length + header text + data bytes. Caller frees. */
static uint8_t *image(const char *hdr, const uint8_t *data, size_t ndata, size_t *len)
{
    size_t hl = strlen(hdr);
    uint8_t *b = malloc(8 + hl + ndata + 1);
    for (int i = 0; i < 8; i++) b[i] = (uint8_t)((uint64_t)hl >> (8 * i));
    memcpy(b + 8, hdr, hl);
    if (ndata) memcpy(b + 8 + hl, data, ndata);
    *len = 8 + hl + ndata;
    return b;
}

/* Parsing hdr (with ndata zero bytes of data) fails with a message containing want. */
static void expect_bad(const char *hdr, size_t ndata, const char *want)
{
    uint8_t zeros[256] = {0};
    size_t len;
    uint8_t *b = image(hdr, zeros, ndata, &len);
    st_header h;
    mb_err err = {{0}};
    int rc = st_header_parse(&h, b, len, "bad.safetensors", &err);
    CHECK(rc == -1, "header %s was accepted", hdr);
    CHECK(rc == -1 && strstr(err.msg, want) && strstr(err.msg, "bad.safetensors"), "header %s: message \"%s\" lacks \"%s\"",
          hdr, err.msg, want);
    if (rc == 0) st_header_free(&h);
    free(b);
}

// ---------------------------------------------------------------- tests

static void test_conversions(void)
{
    /* exact values in both half formats */
    const float exact[] = {0.0f, -0.0f, 1.0f, -2.5f, 0.15625f, 1024.0f, -0.75f};
    for (size_t i = 0; i < sizeof exact / sizeof *exact; i++) {
        CHECK(st_f16_to_f32(st_f32_to_f16(exact[i])) == exact[i], "f16 round trip of %g", exact[i]);
        CHECK(st_bf16_to_f32(st_f32_to_bf16(exact[i])) == exact[i], "bf16 round trip of %g", exact[i]);
    }
    CHECK(st_f16_to_f32(0x3c00) == 1.0f, "f16 1.0");
    CHECK(st_f16_to_f32(0xc000) == -2.0f, "f16 -2.0");
    CHECK(st_f16_to_f32(0x7bff) == 65504.0f, "f16 max");
    CHECK(st_f16_to_f32(0x0001) == ldexpf(1.0f, -24), "f16 smallest subnormal");
    CHECK(st_f16_to_f32(0x03ff) == ldexpf(1023.0f, -24), "f16 largest subnormal");
    CHECK(isinf(st_f16_to_f32(0x7c00)) && st_f16_to_f32(0x7c00) > 0, "f16 +inf");
    CHECK(isnan(st_f16_to_f32(0x7e00)), "f16 nan");
    CHECK(st_f32_to_f16(ldexpf(1.0f, -24)) == 0x0001, "f32 -> f16 subnormal");
    CHECK(st_f32_to_f16(ldexpf(3.0f, -25)) == 0x0002, "f32 -> f16 subnormal ties to even (1.5 -> 2)");
    CHECK(st_f32_to_f16(1.0f + ldexpf(1.0f, -11)) == 0x3c00, "f32 -> f16 ties to even (down)");
    CHECK(st_f32_to_f16(1e6f) == 0x7c00, "f32 -> f16 overflow to inf");
    CHECK(st_bf16_to_f32(0x3f80) == 1.0f, "bf16 1.0");
    CHECK(st_f32_to_bf16(1.0f + ldexpf(1.0f, -8)) == 0x3f80, "bf16 ties to even");
    CHECK(st_f32_to_bf16(1.0f + ldexpf(3.0f, -9)) == 0x3f81, "bf16 rounds up");
}

/* A hand-made file (header written here as text, data as bytes) in each dtype. */
static void test_handmade(void)
{
    const char *path = "test_loader_hand.safetensors";
    /* a: F32 [2] = {1, -2}; b: F16 [2][1] = {0.5, 3}; c: BF16 [] = -1.5; padding spaces at the end */
    const char *hdr = "{\"__metadata__\":{\"format\":\"pt\"},"
                      "\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                      "\"b\":{\"dtype\":\"F16\",\"shape\":[2,1],\"data_offsets\":[8,12]},"
                      "\"c\":{\"dtype\":\"BF16\",\"shape\":[],\"data_offsets\":[12,14]}}   ";
    uint8_t data[14];
    float a[2] = {1.0f, -2.0f};
    memcpy(data, a, 8);
    data[8] = 0x00, data[9] = 0x38;   /* f16 0.5 = 0x3800 */
    data[10] = 0x00, data[11] = 0x42; /* f16 3.0 = 0x4200 */
    data[12] = 0xc0, data[13] = 0xbf; /* bf16 -1.5 = 0xbfc0 */
    size_t len;
    uint8_t *b = image(hdr, data, sizeof data, &len);
    FILE *f = fopen(path, "wb");
    fwrite(b, 1, len, f);
    fclose(f);
    free(b);
    st_file sf;
    mb_err err;
    int rc = st_file_open(&sf, path, &err);
    CHECK(rc == 0, "hand-made file: %s", err.msg);
    if (rc == 0) {
        CHECK(sf.h.n == 3, "3 tensors, got %d", sf.h.n);
        const st_tensor *ta = st_header_find(&sf.h, "a"), *tb = st_header_find(&sf.h, "b"), *tc = st_header_find(&sf.h, "c");
        float out[2] = {0};
        CHECK(ta && tb && tc, "tensors found");
        if (ta && tb && tc) {
            CHECK(tb->ndim == 2 && tb->shape[0] == 2 && tb->shape[1] == 1 && tc->ndim == 0 && tc->numel == 1, "shapes");
            CHECK(st_tensor_read_f32(&sf, ta, out, &err) == 0 && out[0] == 1.0f && out[1] == -2.0f, "F32 values");
            CHECK(st_tensor_read_f32(&sf, tb, out, &err) == 0 && out[0] == 0.5f && out[1] == 3.0f, "F16 values %g %g",
                  out[0], out[1]);
            CHECK(st_tensor_read_f32(&sf, tc, out, &err) == 0 && out[0] == -1.5f, "BF16 value %g", out[0]);
        }
        st_file_close(&sf);
    }
    /* the writer's files read back in every dtype */
    const float vals[6] = {0.25f, -1.0f, 3.5f, 0.0f, 1024.0f, -0.125f};
    const st_dtype dts[3] = {ST_F32, ST_F16, ST_BF16};
    for (int d = 0; d < 3; d++) {
        st_write_tensor wt = {.name = "w", .dtype = dts[d], .ndim = 2, .shape = {2, 3}, .data = vals};
        CHECK(st_write(path, &wt, 1, &err) == 0, "st_write %s: %s", st_dtype_name(dts[d]), err.msg);
        rc = st_file_open(&sf, path, &err);
        CHECK(rc == 0, "reopen %s: %s", st_dtype_name(dts[d]), err.msg);
        if (rc) continue;
        float out[6];
        const st_tensor *t = st_header_find(&sf.h, "w");
        CHECK(t && t->dtype == dts[d] && st_tensor_read_f32(&sf, t, out, &err) == 0 && !memcmp(out, vals, sizeof vals),
              "values of %s", st_dtype_name(dts[d]));
        st_file_close(&sf);
    }
    /* a non-float dtype parses but does not load */
    {
        const char *h2 = "{\"i\":{\"dtype\":\"I64\",\"shape\":[1],\"data_offsets\":[0,8]}}";
        uint8_t z[8] = {0};
        uint8_t *im = image(h2, z, 8, &len);
        f = fopen(path, "wb");
        fwrite(im, 1, len, f);
        fclose(f);
        free(im);
        rc = st_file_open(&sf, path, &err);
        CHECK(rc == 0, "I64 header parses: %s", err.msg);
        float out[2];
        if (rc == 0) {
            CHECK(st_tensor_read_f32(&sf, &sf.h.t[0], out, &err) == -1 && strstr(err.msg, "I64"), "I64 refused: %s",
                  err.msg);
            st_file_close(&sf);
        }
    }
    unlink(path);
}

static void test_bad_headers(void)
{
    st_header h;
    mb_err err;
    uint8_t tiny[4] = {1, 2, 3, 4};
    CHECK(st_header_parse(&h, tiny, 4, "bad.safetensors", &err) == -1 && strstr(err.msg, "truncated"), "truncated: %s",
          err.msg);
    uint8_t past[16] = {200, 0, 0, 0, 0, 0, 0, 0, '{', '}'};
    CHECK(st_header_parse(&h, past, 16, "bad.safetensors", &err) == -1 && strstr(err.msg, "past the end"),
          "length past end: %s", err.msg);
    uint8_t huge[16] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, '{', '}'};
    CHECK(st_header_parse(&h, huge, 16, "bad.safetensors", &err) == -1 && strstr(err.msg, "past the end"),
          "length 2^64-1: %s", err.msg);
    expect_bad("{\"a\":{\"dtype\":\"F32\",", 0, "not valid JSON");
    expect_bad("[1, 2]", 0, "not a JSON object");
    expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
               "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8, "not valid JSON");
    expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
               "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", 12, "overlap");
    expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 4, "out of range");
    expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,0]}}", 8, "increasing");
    expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[-4,4]}}", 8, "increasing");
    expect_bad("{\"a\":{\"dtype\":\"Q4\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8, "unknown dtype \"Q4\"");
    expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", 8, "need 12");
    expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,8]}}", 8, "shape[0]");
    expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296],\"data_offsets\":[0,8]}}", 8, "overflow");
    expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0]}}", 8, "data_offsets");
    expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[2]}}", 8, "data_offsets");
    expect_bad("{\"a\":{\"shape\":[2],\"data_offsets\":[0,8]}}", 8, "dtype");
    expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8],\"extra\":1}}", 8, "unexpected key");
    expect_bad("{\"a\":[1,2]}", 0, "not an object");
    expect_bad("{\"__metadata__\":{\"k\":1}}", 0, "not a string");
    expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1,1,1,1],\"data_offsets\":[0,4]}}", 4, "dimensions");
    /* well-formed edge cases pass: empty header object, zero-size tensor, gap between tensors */
    size_t len;
    uint8_t *b = image("{}", NULL, 0, &len);
    CHECK(st_header_parse(&h, b, len, "ok", &err) == 0 && h.n == 0, "empty header: %s", err.msg);
    st_header_free(&h);
    free(b);
    uint8_t z[16] = {0};
    b = image("{\"e\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[4,4]},"
              "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,12]},"
              "\"c\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", z, 16, &len);
    CHECK(st_header_parse(&h, b, len, "ok", &err) == 0 && h.n == 3, "zero-size tensor and gaps: %s", err.msg);
    st_header_free(&h);
    free(b);
}

static void test_config(void)
{
    mamba_config c;
    mb_err err;
    const char *hf1 = "{\"model_type\": \"mamba\", \"hidden_size\": 768, \"num_hidden_layers\": 24, \"vocab_size\": 50280,"
                      " \"state_size\": 16, \"conv_kernel\": 4, \"expand\": 2, \"intermediate_size\": 1536,"
                      " \"time_step_rank\": \"auto\", \"layer_norm_epsilon\": 1e-05, \"use_bias\": false,"
                      " \"use_conv_bias\": true}";
    CHECK(mamba_config_parse(&c, hf1, strlen(hf1), "hf1", &err) == 0, "HF Mamba-1: %s", err.msg);
    CHECK(c.arch == MAMBA_V1 && c.d_inner == 1536 && c.dt_rank == 48 && c.tie && c.vocab == 50280 && c.eps == 1e-5,
          "HF Mamba-1 fields");
    /* Python's json: Infinity, NaN tokens; "Infinity" inside a string stays a string */
    const char *hf2 = "{\"model_type\": \"mamba2\", \"hidden_size\": 64, \"num_hidden_layers\": 2, \"vocab_size\": 256,"
                      " \"state_size\": 32, \"num_heads\": 8, \"head_dim\": 16, \"n_groups\": 2, \"chunk_size\": 16,"
                      " \"time_step_limit\": [0.0, Infinity], \"note\": \"x: Infinity, NaN\", \"junk\": NaN,"
                      " \"neg\": [-Infinity]}";
    CHECK(mamba_config_parse(&c, hf2, strlen(hf2), "hf2", &err) == 0, "HF Mamba-2 with Infinity: %s", err.msg);
    CHECK(c.arch == MAMBA_V2 && c.nheads == 8 && c.headdim == 16 && c.ngroups == 2 && isinf(c.dt_limit_hi) &&
          c.dt_limit_lo == 0 && !c.tie && c.d_inner == 128,
          "HF Mamba-2 fields");
    const char *orig = "{\"d_model\": 768, \"n_layer\": 24, \"vocab_size\": 50277, \"ssm_cfg\": {}, \"rms_norm\": true,"
                       " \"residual_in_fp32\": true, \"fused_add_norm\": true, \"pad_vocab_size_multiple\": 8}";
    CHECK(mamba_config_parse(&c, orig, strlen(orig), "orig", &err) == 0, "original Mamba-1: %s", err.msg);
    CHECK(c.arch == MAMBA_V1 && c.vocab == 50280 && c.vocab_size == 50277 && c.dt_rank == 48 && c.d_state == 16,
          "original Mamba-1 fields");
    const char *orig2 = "{\"d_model\": 768, \"d_intermediate\": 0, \"n_layer\": 24, \"vocab_size\": 50277,"
                        " \"ssm_cfg\": {\"layer\": \"Mamba2\"}, \"attn_layer_idx\": [], \"rms_norm\": true,"
                        " \"pad_vocab_size_multiple\": 16, \"tie_embeddings\": true}";
    CHECK(mamba_config_parse(&c, orig2, strlen(orig2), "orig2", &err) == 0, "original Mamba-2: %s", err.msg);
    CHECK(c.arch == MAMBA_V2 && c.vocab == 50288 && c.d_state == 128 && c.nheads == 24 && c.chunk_size == 256,
          "original Mamba-2 fields");
    struct {
        const char *text, *want;
    } bad[] = {
        {"{\"hidden_size\": 64", "invalid JSON"},
        {"{\"num_hidden_layers\": 2}", "neither"},
        {"{\"hidden_size\": \"64\", \"num_hidden_layers\": 2, \"vocab_size\": 10}", "\"hidden_size\": expected an integer"},
        {"{\"hidden_size\": 64, \"vocab_size\": 10}", "num_hidden_layers"},
        {"{\"hidden_size\": 64, \"num_hidden_layers\": 0, \"vocab_size\": 10}", "out of range"},
        {"{\"hidden_size\": 64, \"num_hidden_layers\": 2, \"vocab_size\": 10, \"use_bias\": 1}", "true or false"},
        {"{\"model_type\": \"llama\", \"hidden_size\": 64}", "not a Mamba model"},
        {"{\"hidden_size\": 64, \"num_hidden_layers\": 2, \"vocab_size\": 10, \"num_heads\": 3, \"head_dim\": 16}",
         "num_heads x head_dim"},
        {"{\"hidden_size\": 64, \"num_hidden_layers\": 2, \"vocab_size\": 10, \"head_dim\": 16, \"n_groups\": 3}",
         "n_groups"},
        {"{\"hidden_size\": 64, \"num_hidden_layers\": 2, \"vocab_size\": 10, \"head_dim\": 16, "
         "\"time_step_limit\": [NaN, 1]}", "time_step_limit"},
        {"{\"hidden_size\": 64, \"num_hidden_layers\": 2, \"vocab_size\": 10, \"layer_norm_epsilon\": Infinity}",
         "epsilon"},
        {"{\"d_model\": 64, \"n_layer\": 2, \"vocab_size\": 10, \"d_intermediate\": 128}", "d_intermediate"},
        {"{\"d_model\": 64, \"n_layer\": 2, \"vocab_size\": 10, \"attn_layer_idx\": [1]}", "attention"},
        {"{\"d_model\": 64, \"n_layer\": 2, \"vocab_size\": 10, \"ssm_cfg\": {\"layer\": \"Mamba3\"}}", "Mamba3"},
        {"{\"d_model\": 64, \"n_layer\": 2, \"vocab_size\": 10, \"rms_norm\": false}", "LayerNorm"},
        {"{\"hidden_size\": 64, \"num_hidden_layers\": 2, \"vocab_size\": 10, \"x\": Infinityy}", "invalid JSON"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        err.msg[0] = 0;
        int rc = mamba_config_parse(&c, bad[i].text, strlen(bad[i].text), "cfg.json", &err);
        CHECK(rc == -1 && strstr(err.msg, bad[i].want) && strstr(err.msg, "cfg.json"), "config %s: \"%s\" lacks \"%s\"",
              bad[i].text, err.msg, bad[i].want);
    }
}

/* max |a - b| / (|a| + 1e-3) over two models' parameters (same config): the relative
 * error of a half-precision round trip (unit roundoff: bf16 2^-8, f16 2^-11; the 1e-3
 * floor covers f16 subnormals) */
#define REL(x, y) (fabs((double)(x) - (double)(y)) / (fabs((double)(x)) + 1e-3))
static double weights_diff(const mamba_weights *a, const mamba_weights *b)
{
    const mamba_config *c = &a->cfg;
    double d = 0;
    for (int64_t i = 0; i < c->vocab * c->d_model; i++) d = fmax(d, REL(a->embed[i], b->embed[i]));
    for (int64_t l = 0; l < c->n_layer; l++) {
        int64_t nin = (c->arch == MAMBA_V1 ? 2 * c->d_inner : c->d_inner + mamba_config_conv_dim(c) + c->nheads) * c->d_model;
        for (int64_t i = 0; i < nin; i++) d = fmax(d, REL(a->layers[l].in_proj[i], b->layers[l].in_proj[i]));
        for (int64_t i = 0; i < c->d_model * c->d_inner; i++)
            d = fmax(d, REL(a->layers[l].out_proj[i], b->layers[l].out_proj[i]));
        int64_t na = c->arch == MAMBA_V1 ? c->d_inner * c->d_state : c->nheads;
        for (int64_t i = 0; i < na; i++) d = fmax(d, REL(a->layers[l].A_log[i], b->layers[l].A_log[i]));
        for (int64_t i = 0; i < mamba_config_conv_dim(c) * c->d_conv; i++)
            d = fmax(d, REL(a->layers[l].conv_wt[i], b->layers[l].conv_wt[i]));
    }
    return d;
}

static int write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (!f) return -1;
    fputs(text, f);
    return fclose(f);
}

static void test_checkpoints(void)
{
    mb_err err;
    const char *presets[] = {"tiny", "mamba2-tiny"};
    for (int p = 0; p < 2; p++) {
        mamba_config c;
        mamba_weights w, r;
        CHECK(synth_preset(presets[p], &c, &err) == 0, "preset");
        CHECK(synth_weights(&w, &c, 7, &err) == 0, "synth: %s", err.msg);
        /* both layouts, every dtype */
        const mamba_style styles[2] = {MAMBA_STYLE_HF, MAMBA_STYLE_ORIGINAL};
        const st_dtype dts[3] = {ST_F32, ST_BF16, ST_F16};
        for (int s = 0; s < 2; s++)
            for (int d = 0; d < 3; d++) {
                CHECK(mamba_weights_save(&w, "test_loader_ck", styles[s], dts[d], &err) == 0, "save: %s", err.msg);
                int rc = mamba_weights_load(&r, "test_loader_ck", &err);
                CHECK(rc == 0, "%s layout %d dtype %s: %s", presets[p], s, st_dtype_name(dts[d]), err.msg);
                if (rc) continue;
                double diff = weights_diff(&w, &r), tol = dts[d] == ST_F32 ? 0 : dts[d] == ST_F16 ? 1.0 / 2048 : 1.0 / 256;
                CHECK(diff <= tol, "%s layout %d %s: max param diff %g > %g", presets[p], s, st_dtype_name(dts[d]), diff,
                      tol);
                CHECK(r.cfg.style == styles[s], "config style read back");
                mamba_weights_free(&r);
            }
        /* sharded: the layers in one file, the rest in another, named by an index */
        CHECK(mamba_weights_save(&w, "test_loader_ck", MAMBA_STYLE_HF, ST_F32, &err) == 0, "save: %s", err.msg);
        st_file sf;
        int rc = st_file_open(&sf, "test_loader_ck/model.safetensors", &err);
        CHECK(rc == 0, "open: %s", err.msg);
        if (rc == 0) {
            int n = sf.h.n, na = 0, nb = 0;
            st_write_tensor *ta = calloc((size_t)n, sizeof *ta), *tb = calloc((size_t)n, sizeof *tb);
            float **bufs = calloc((size_t)n, sizeof *bufs);
            char *map = malloc(64 * 1024);
            int off = snprintf(map, 64 * 1024, "{\"metadata\": {\"total_size\": 0}, \"weight_map\": {");
            for (int i = 0; i < n; i++) {
                st_tensor *t = &sf.h.t[i];
                bufs[i] = malloc((size_t)t->numel * sizeof(float) + 4);
                st_tensor_read_f32(&sf, t, bufs[i], &err);
                bool layer = strstr(t->name, ".layers.") != NULL;
                st_write_tensor *wt = layer ? &ta[na++] : &tb[nb++];
                *wt = (st_write_tensor){.name = t->name, .dtype = ST_BF16, .ndim = t->ndim, .data = bufs[i]};
                memcpy(wt->shape, t->shape, sizeof t->shape);
                off += snprintf(map + off, 64 * 1024 - (size_t)off, "%s\"%s\": \"%s\"", i ? ", " : "", t->name,
                                layer ? "model-00001-of-00002.safetensors" : "model-00002-of-00002.safetensors");
            }
            snprintf(map + off, 64 * 1024 - (size_t)off, "}}\n");
            CHECK(st_write("test_loader_ck/model-00001-of-00002.safetensors", ta, na, &err) == 0, "shard 1");
            CHECK(st_write("test_loader_ck/model-00002-of-00002.safetensors", tb, nb, &err) == 0, "shard 2");
            CHECK(write_text("test_loader_ck/model.safetensors.index.json", map) == 0, "index");
            unlink("test_loader_ck/model.safetensors");
            rc = mamba_weights_load(&r, "test_loader_ck", &err);
            CHECK(rc == 0, "sharded %s: %s", presets[p], err.msg);
            if (rc == 0) {
                CHECK(weights_diff(&w, &r) <= 1.0 / 256, "sharded values");
                mamba_weights_free(&r);
            }
            /* an index naming a shard that lacks the tensor, or a path outside the directory */
            char *bad = strdup(map), *hit = strstr(bad, "model-00002-of-00002");
            memcpy(hit, "model-00001-of-00002", 20);
            write_text("test_loader_ck/model.safetensors.index.json", bad);
            CHECK(mamba_weights_load(&r, "test_loader_ck", &err) == -1 && strstr(err.msg, "does not hold"),
                  "index to the wrong shard: %s", err.msg);
            write_text("test_loader_ck/model.safetensors.index.json",
                       "{\"weight_map\": {\"backbone.norm_f.weight\": \"../model.safetensors\"}}");
            CHECK(mamba_weights_load(&r, "test_loader_ck", &err) == -1 && strstr(err.msg, "same directory"),
                  "index escaping the directory: %s", err.msg);
            free(bad);
            for (int i = 0; i < n; i++) free(bufs[i]);
            free(bufs), free(ta), free(tb), free(map);
            st_file_close(&sf);
            unlink("test_loader_ck/model-00001-of-00002.safetensors");
            unlink("test_loader_ck/model-00002-of-00002.safetensors");
            unlink("test_loader_ck/model.safetensors.index.json");
        }
        /* missing and mis-shaped tensors are named */
        mamba_config c2 = c;
        c2.d_state = c.d_state * 2;
        CHECK(mamba_weights_save(&w, "test_loader_ck", MAMBA_STYLE_HF, ST_F32, &err) == 0, "save");
        CHECK(mamba_config_write(&c2, "test_loader_ck/config.json", MAMBA_STYLE_HF, &err) == 0, "config");
        CHECK(mamba_weights_load(&r, "test_loader_ck", &err) == -1 && strstr(err.msg, "has shape") &&
                  strstr(err.msg, "backbone.layers.0.mixer"),
              "shape vs config: %s", err.msg);
        c2 = c;
        c2.tie = false; /* now lm_head.weight is required and missing */
        CHECK(mamba_config_write(&c2, "test_loader_ck/config.json", MAMBA_STYLE_HF, &err) == 0, "config");
        CHECK(mamba_weights_load(&r, "test_loader_ck", &err) == -1 && strstr(err.msg, "missing tensor \"lm_head.weight\""),
              "untied without lm_head: %s", err.msg);
        mamba_weights_free(&w);
        unlink("test_loader_ck/model.safetensors");
        unlink("test_loader_ck/config.json");
        rmdir("test_loader_ck");
    }
}

int main(void)
{
    test_conversions();
    test_handmade();
    test_bad_headers();
    test_config();
    test_checkpoints();
    return check_report("test_loader");
}

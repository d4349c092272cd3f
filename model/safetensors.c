/* model/safetensors.c: strict safetensors header parsing (jansson), mmap'd reading with
 * conversion to fp32, and writing. See safetensors.h for the format. */
#include "safetensors.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/file.h"

static const struct {
    const char *name;
    int size;
} st_dtypes[ST_DTYPE_COUNT] = {
    [ST_BOOL] = {"BOOL", 1}, [ST_U8] = {"U8", 1},     [ST_I8] = {"I8", 1},
    [ST_F8_E5M2] = {"F8_E5M2", 1}, [ST_F8_E4M3] = {"F8_E4M3", 1}, [ST_I16] = {"I16", 2},
    [ST_U16] = {"U16", 2},   [ST_F16] = {"F16", 2},   [ST_BF16] = {"BF16", 2},
    [ST_I32] = {"I32", 4},   [ST_U32] = {"U32", 4},   [ST_F32] = {"F32", 4},
    [ST_F64] = {"F64", 8},   [ST_I64] = {"I64", 8},   [ST_U64] = {"U64", 8},
};

const char *st_dtype_name(st_dtype d) { return d < ST_DTYPE_COUNT ? st_dtypes[d].name : "?"; }
int st_dtype_size(st_dtype d) { return d < ST_DTYPE_COUNT ? st_dtypes[d].size : 0; }

static int st_dtype_parse(const char *s, st_dtype *d)
{
    for (int i = 0; i < ST_DTYPE_COUNT; i++)
        if (!strcmp(s, st_dtypes[i].name)) {
            *d = (st_dtype)i;
            return 0;
        }
    return -1;
}

static uint64_t st_le64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = v << 8 | p[i];
    return v;
}

// ---------------------------------------------------------------- header parsing

void st_header_free(st_header *h)
{
    if (!h) return;
    for (int i = 0; i < h->n; i++) free(h->t[i].name);
    free(h->t);
    memset(h, 0, sizeof *h);
}

const st_tensor *st_header_find(const st_header *h, const char *name)
{
    for (int i = 0; i < h->n; i++)
        if (!strcmp(h->t[i].name, name)) return &h->t[i];
    return NULL;
}

/* One entry {"dtype", "shape", "data_offsets"} into t; data_len bounds the offsets. */
static int st_entry_parse(st_tensor *t, const char *name, json_t *v, uint64_t data_len,
                          const char *what, mb_err *err)
{
    if (!json_is_object(v)) return mb_fail(err, "%s: tensor \"%s\": entry is not an object", what, name);
    const char *key;
    json_t *val;
    json_object_foreach(v, key, val)
        if (strcmp(key, "dtype") && strcmp(key, "shape") && strcmp(key, "data_offsets"))
            return mb_fail(err, "%s: tensor \"%s\": unexpected key \"%s\"", what, name, key);
    json_t *jd = json_object_get(v, "dtype"), *js = json_object_get(v, "shape"),
           *jo = json_object_get(v, "data_offsets");
    if (!json_is_string(jd)) return mb_fail(err, "%s: tensor \"%s\": \"dtype\" missing or not a string", what, name);
    if (st_dtype_parse(json_string_value(jd), &t->dtype))
        return mb_fail(err, "%s: tensor \"%s\": unknown dtype \"%s\"", what, name, json_string_value(jd));
    if (!json_is_array(js)) return mb_fail(err, "%s: tensor \"%s\": \"shape\" missing or not an array", what, name);
    if (json_array_size(js) > ST_MAX_DIMS)
        return mb_fail(err, "%s: tensor \"%s\": %zu dimensions (at most %d)", what, name, json_array_size(js), ST_MAX_DIMS);
    t->ndim = (int)json_array_size(js);
    t->numel = 1;
    for (int i = 0; i < t->ndim; i++) {
        json_t *e = json_array_get(js, (size_t)i);
        if (!json_is_integer(e) || json_integer_value(e) < 0)
            return mb_fail(err, "%s: tensor \"%s\": shape[%d] is not a non-negative integer", what, name, i);
        t->shape[i] = json_integer_value(e);
        if (__builtin_mul_overflow(t->numel, t->shape[i], &t->numel))
            return mb_fail(err, "%s: tensor \"%s\": shape overflows", what, name);
    }
    if (!json_is_array(jo) || json_array_size(jo) != 2 || !json_is_integer(json_array_get(jo, 0)) ||
        !json_is_integer(json_array_get(jo, 1)))
        return mb_fail(err, "%s: tensor \"%s\": \"data_offsets\" must be [begin, end] integers", what, name);
    json_int_t b = json_integer_value(json_array_get(jo, 0)), e = json_integer_value(json_array_get(jo, 1));
    if (b < 0 || e < b)
        return mb_fail(err, "%s: tensor \"%s\": data_offsets [%lld, %lld] are not an increasing range", what, name,
                       (long long)b, (long long)e);
    if ((uint64_t)e > data_len)
        return mb_fail(err, "%s: tensor \"%s\": data_offsets [%lld, %lld] are out of range: the data section has %llu bytes",
                       what, name, (long long)b, (long long)e, (unsigned long long)data_len);
    int64_t bytes;
    if (__builtin_mul_overflow(t->numel, (int64_t)st_dtype_size(t->dtype), &bytes) || bytes != e - b)
        return mb_fail(err, "%s: tensor \"%s\": data_offsets span %lld bytes but %s x %lld elements need %lld",
                       what, name, (long long)(e - b), st_dtype_name(t->dtype), (long long)t->numel,
                       (long long)t->numel * st_dtype_size(t->dtype));
    t->begin = (uint64_t)b, t->end = (uint64_t)e;
    return 0;
}

static int st_cmp_begin(const void *a, const void *b)
{
    const st_tensor *x = *(const st_tensor *const *)a, *y = *(const st_tensor *const *)b;
    return x->begin < y->begin ? -1 : x->begin > y->begin ? 1 : (x->end > y->end) - (x->end < y->end);
}

int st_header_parse(st_header *h, const uint8_t *buf, size_t len, const char *what, mb_err *err)
{
    memset(h, 0, sizeof *h);
    json_t *root = NULL;
    st_tensor **order = NULL;
    if (len < 8)
        return mb_fail(err, "%s: truncated: %zu bytes, but a safetensors file starts with an 8-byte header length",
                       what, len);
    uint64_t hl = st_le64(buf);
    if (hl > len - 8)
        return mb_fail(err, "%s: header length %llu runs past the end of the file (%zu bytes)", what,
                       (unsigned long long)hl, len);
    if (hl > ST_MAX_HEADER)
        return mb_fail(err, "%s: header length %llu is over the %llu-byte limit", what, (unsigned long long)hl,
                       (unsigned long long)ST_MAX_HEADER);
    if (hl < 2 || buf[8] != '{') return mb_fail(err, "%s: header is not a JSON object (must start with '{')", what);
    h->data_offset = 8 + hl;
    h->data_len = len - 8 - hl;

    json_error_t je;
    root = json_loadb((const char *)buf + 8, (size_t)hl, JSON_REJECT_DUPLICATES, &je);
    if (!root) {
        mb_fail(err, "%s: header is not valid JSON: %s (header byte %d)", what, je.text, je.position);
        goto fail;
    }
    if (!json_is_object(root)) {
        mb_fail(err, "%s: header is not a JSON object", what);
        goto fail;
    }
    size_t cap = json_object_size(root);
    h->t = calloc(cap ? cap : 1, sizeof *h->t);
    if (!h->t) {
        mb_fail(err, "%s: out of memory", what);
        goto fail;
    }
    const char *key;
    json_t *val;
    json_object_foreach(root, key, val) {
        if (!strcmp(key, "__metadata__")) {
            const char *mk;
            json_t *mv;
            if (!json_is_object(val)) {
                mb_fail(err, "%s: \"__metadata__\" is not an object", what);
                goto fail;
            }
            json_object_foreach(val, mk, mv) if (!json_is_string(mv)) {
                mb_fail(err, "%s: \"__metadata__\".\"%s\" is not a string", what, mk);
                goto fail;
            }
            continue;
        }
        st_tensor *t = &h->t[h->n];
        if (st_entry_parse(t, key, val, h->data_len, what, err)) goto fail;
        if (!(t->name = strdup(key))) {
            mb_fail(err, "%s: out of memory", what);
            goto fail;
        }
        h->n++;
    }
    /* no two tensors share a byte */
    order = malloc((size_t)(h->n ? h->n : 1) * sizeof *order);
    if (!order) {
        mb_fail(err, "%s: out of memory", what);
        goto fail;
    }
    for (int i = 0; i < h->n; i++) order[i] = &h->t[i];
    qsort(order, (size_t)h->n, sizeof *order, st_cmp_begin);
    for (int i = 1; i < h->n; i++)
        if (order[i]->begin < order[i - 1]->end) {
            mb_fail(err, "%s: tensors \"%s\" [%llu, %llu) and \"%s\" [%llu, %llu) overlap", what, order[i - 1]->name,
                    (unsigned long long)order[i - 1]->begin, (unsigned long long)order[i - 1]->end, order[i]->name,
                    (unsigned long long)order[i]->begin, (unsigned long long)order[i]->end);
            goto fail;
        }
    free(order);
    json_decref(root);
    return 0;
fail:
    free(order);
    json_decref(root);
    st_header_free(h);
    return -1;
}

// ---------------------------------------------------------------- conversions

float st_f16_to_f32(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000) << 16, exp = (h >> 10) & 0x1f, man = h & 0x3ff, bits;
    if (exp == 0x1f) bits = sign | 0x7f800000u | man << 13; /* inf / nan */
    else if (exp) bits = sign | (exp + 112) << 23 | man << 13;
    else if (!man) bits = sign; /* zero */
    else { /* subnormal: normalise */
        int e = -1;
        do e++, man <<= 1; while (!(man & 0x400));
        bits = sign | (uint32_t)(112 - e) << 23 | (man & 0x3ff) << 13;
    }
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

float st_bf16_to_f32(uint16_t h)
{
    uint32_t bits = (uint32_t)h << 16;
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

uint16_t st_f32_to_bf16(float f)
{
    uint32_t b;
    memcpy(&b, &f, 4);
    if ((b & 0x7fffffffu) > 0x7f800000u) return (uint16_t)(b >> 16 | 0x40); /* quiet nan */
    b += 0x7fff + (b >> 16 & 1); /* round to nearest even */
    return (uint16_t)(b >> 16);
}

uint16_t st_f32_to_f16(float f)
{
    uint32_t b;
    memcpy(&b, &f, 4);
    uint32_t sign = b >> 16 & 0x8000, a = b & 0x7fffffffu;
    if (a > 0x7f800000u) return (uint16_t)(sign | 0x7e00);        /* nan */
    if (a >= 0x477ff000u) return (uint16_t)(sign | 0x7c00);       /* overflow (rounds past 65504) -> inf */
    if (a < 0x38800000u) {                                        /* below 2^-14: subnormal or zero */
        if (a < 0x33000000u) return (uint16_t)sign;               /* < half the smallest subnormal */
        /* value = man * 2^(E-150) with the implicit bit; the f16 subnormal unit is 2^-24 */
        uint32_t man = (a & 0x7fffff) | 0x800000, shift = 126 - (a >> 23);
        uint32_t q = man >> shift, rem = man & ((1u << shift) - 1), half = 1u << (shift - 1);
        if (rem > half || (rem == half && (q & 1))) q++;
        return (uint16_t)(sign | q);
    }
    uint32_t r = a - 0x38000000u; /* rebias exponent 127 -> 15 */
    r += 0xfff + (r >> 13 & 1);   /* round to nearest even */
    return (uint16_t)(sign | r >> 13);
}

// ---------------------------------------------------------------- files

int st_file_open(st_file *f, const char *path, mb_err *err)
{
    memset(f, 0, sizeof *f);
    f->fd = -1;
    snprintf(f->path, sizeof f->path, "%s", path);
    struct stat sb;
    f->fd = open(path, O_RDONLY | O_CLOEXEC);
    if (f->fd < 0) return mb_fail(err, "%s: cannot open: %s", path, strerror(errno));
    if (fstat(f->fd, &sb) || !S_ISREG(sb.st_mode)) {
        mb_fail(err, "%s: not a regular file", path);
        goto fail;
    }
    f->size = (size_t)sb.st_size;
    if (f->size) {
        f->map = mmap(NULL, f->size, PROT_READ, MAP_PRIVATE, f->fd, 0);
        if (f->map == MAP_FAILED) {
            f->map = NULL;
            mb_fail(err, "%s: mmap failed: %s", path, strerror(errno));
            goto fail;
        }
    }
    if (st_header_parse(&f->h, f->map ? f->map : (const uint8_t *)"", f->size, path, err)) goto fail;
    return 0;
fail:
    st_file_close(f);
    return -1;
}

void st_file_close(st_file *f)
{
    if (f->map) munmap(f->map, f->size);
    if (f->fd >= 0) close(f->fd);
    st_header_free(&f->h);
    f->map = NULL, f->fd = -1;
}

int st_tensor_read_f32(const st_file *f, const st_tensor *t, float *dst, mb_err *err)
{
    const uint8_t *p = f->map + f->h.data_offset + t->begin;
    switch (t->dtype) {
    case ST_F32: memcpy(dst, p, (size_t)t->numel * 4); return 0;
    case ST_F16:
        for (int64_t i = 0; i < t->numel; i++) dst[i] = st_f16_to_f32((uint16_t)(p[2 * i] | p[2 * i + 1] << 8));
        return 0;
    case ST_BF16:
        for (int64_t i = 0; i < t->numel; i++) dst[i] = st_bf16_to_f32((uint16_t)(p[2 * i] | p[2 * i + 1] << 8));
        return 0;
    default:
        return mb_fail(err, "%s: tensor \"%s\": dtype %s is not supported (F32, F16, BF16 are)", f->path, t->name,
                       st_dtype_name(t->dtype));
    }
}

// ---------------------------------------------------------------- writing

int st_write(const char *path, const st_write_tensor *t, int n, mb_err *err)
{
    json_t *root = json_object();
    char *hdr = NULL;
    mb_atomic at = {.f = NULL}; /* at.f: open from mb_atomic_open until the commit */
    uint8_t *buf = NULL;
    if (!root) return mb_fail(err, "out of memory");
    uint64_t off = 0;
    for (int i = 0; i < n; i++) {
        int64_t numel = 1;
        json_t *shape = json_array();
        for (int d = 0; d < t[i].ndim; d++) numel *= t[i].shape[d], json_array_append_new(shape, json_integer(t[i].shape[d]));
        uint64_t bytes = (uint64_t)numel * (uint64_t)st_dtype_size(t[i].dtype);
        json_t *e = json_pack("{s:s, s:o, s:[I, I]}", "dtype", st_dtype_name(t[i].dtype), "shape", shape,
                              "data_offsets", (json_int_t)off, (json_int_t)(off + bytes));
        if (!e || json_object_set_new(root, t[i].name, e)) {
            mb_fail(err, "%s: cannot build the header", path);
            goto fail;
        }
        off += bytes;
    }
    hdr = json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER);
    if (!hdr) {
        mb_fail(err, "%s: cannot build the header", path);
        goto fail;
    }
    size_t hl = strlen(hdr), padded = (hl + 7) / 8 * 8;
    if (mb_atomic_open(&at, path, err)) goto fail;
    uint8_t len8[8];
    for (int i = 0; i < 8; i++) len8[i] = (uint8_t)((uint64_t)padded >> (8 * i));
    fwrite(len8, 1, 8, at.f);
    fwrite(hdr, 1, hl, at.f);
    for (size_t i = hl; i < padded; i++) fputc(' ', at.f);
    for (int i = 0; i < n; i++) {
        int64_t numel = 1;
        for (int d = 0; d < t[i].ndim; d++) numel *= t[i].shape[d];
        if (t[i].dtype == ST_F32) {
            fwrite(t[i].data, 4, (size_t)numel, at.f); /* little-endian host */
            continue;
        }
        buf = realloc(buf, (size_t)numel * 2 + 1);
        if (!buf) {
            mb_fail(err, "out of memory");
            goto fail;
        }
        for (int64_t j = 0; j < numel; j++) {
            uint16_t v = t[i].dtype == ST_F16 ? st_f32_to_f16(t[i].data[j]) : st_f32_to_bf16(t[i].data[j]);
            buf[2 * j] = (uint8_t)v, buf[2 * j + 1] = (uint8_t)(v >> 8);
        }
        fwrite(buf, 2, (size_t)numel, at.f);
    }
    if (mb_atomic_commit(&at, err)) goto fail; /* closes at.f (and removes it on failure) */
    free(buf);
    free(hdr);
    json_decref(root);
    return 0;
fail:
    if (at.f) mb_atomic_abort(&at);
    free(buf);
    free(hdr);
    json_decref(root);
    return -1;
}

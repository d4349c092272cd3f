/* model/safetensors.h: the safetensors format: header parsing (strict), mmap'd reading with
 * F32 / F16 / BF16 converted to F32, and writing (for synthesised checkpoints and tests).
 *
 * A file is: 8 bytes little-endian u64 header length H, then H bytes of JSON
 * {"__metadata__": {...}, "NAME": {"dtype": "F32", "shape": [..], "data_offsets": [b, e]}, ...},
 * then the data section; [b, e) are byte offsets into the data section. */
#ifndef MB_SAFETENSORS_H
#define MB_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

#define ST_MAX_DIMS 8
#define ST_MAX_HEADER ((uint64_t)100 * 1000 * 1000) /* as the reference implementation */

typedef enum {
    ST_BOOL, ST_U8, ST_I8, ST_F8_E5M2, ST_F8_E4M3, ST_I16, ST_U16, ST_F16, ST_BF16,
    ST_I32, ST_U32, ST_F32, ST_F64, ST_I64, ST_U64, ST_DTYPE_COUNT
} st_dtype;

const char *st_dtype_name(st_dtype d);
int st_dtype_size(st_dtype d); /* bytes per element */

typedef struct {
    char *name;
    st_dtype dtype;
    int ndim;
    int64_t shape[ST_MAX_DIMS];
    int64_t numel;
    uint64_t begin, end; /* byte range in the data section */
} st_tensor;

typedef struct {
    int n;
    st_tensor *t;          /* [n], in header order */
    uint64_t data_offset;  /* 8 + H: where the data section starts in the file */
    uint64_t data_len;     /* bytes of the data section */
} st_header;

/* Parses and checks the header of a whole file held in buf[0..len): length within the
 * buffer, valid JSON object, every entry well-formed, known dtype, offsets inside the data
 * section, non-overlapping, matching dtype x shape. `what` names the file in messages.
 * 0, or -1 with a message (nothing stays allocated). */
int st_header_parse(st_header *h, const uint8_t *buf, size_t len, const char *what, mb_err *err);
void st_header_free(st_header *h);
const st_tensor *st_header_find(const st_header *h, const char *name);

// ---------------------------------------------------------------- files

typedef struct {
    char path[1024];
    int fd;
    uint8_t *map; /* the whole file, read-only */
    size_t size;
    st_header h;
} st_file;

int st_file_open(st_file *f, const char *path, mb_err *err);
void st_file_close(st_file *f);
/* Converts tensor t (F32, F16 or BF16) to fp32 into dst[t->numel]. */
int st_tensor_read_f32(const st_file *f, const st_tensor *t, float *dst, mb_err *err);

// ---------------------------------------------------------------- writing

typedef struct {
    const char *name;
    st_dtype dtype; /* F32, F16 or BF16 (converted from fp32, round to nearest even) */
    int ndim;
    int64_t shape[ST_MAX_DIMS];
    const float *data; /* [numel] */
} st_write_tensor;

/* Writes a safetensors file (to path.tmp, then renamed). */
int st_write(const char *path, const st_write_tensor *t, int n, mb_err *err);

/* Conversions (exposed for tests). */
float st_f16_to_f32(uint16_t h);
float st_bf16_to_f32(uint16_t h);
uint16_t st_f32_to_f16(float f);
uint16_t st_f32_to_bf16(float f);

#endif

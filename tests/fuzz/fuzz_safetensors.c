/* tests/fuzz/fuzz_safetensors.c: libFuzzer target for the safetensors header parser. The
 * input is a whole file image (8-byte length, JSON header, data); st_header_parse must
 * accept it or refuse it with a message, never crash, leak or read out of bounds; what it
 * accepts must satisfy the invariants the loader relies on. Built and run by
 * scripts/fuzz-safetensors (clang -fsanitize=fuzzer,address,undefined). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "model/safetensors.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    st_header h;
    mb_err err;
    if (st_header_parse(&h, data, size, "fuzz", &err) != 0) {
        if (!memchr(err.msg, 0, sizeof err.msg) || !err.msg[0]) abort(); /* a message, terminated */
        return 0;
    }
    /* accepted: every tensor lies inside the data section, sized by dtype x shape, disjoint */
    if (h.data_offset + h.data_len != size) abort();
    for (int i = 0; i < h.n; i++) {
        const st_tensor *t = &h.t[i];
        if (t->begin > t->end || t->end > h.data_len) abort();
        if ((uint64_t)t->numel * (uint64_t)st_dtype_size(t->dtype) != t->end - t->begin) abort();
        for (int j = 0; j < i; j++) {
            const st_tensor *u = &h.t[j];
            if (t->begin < u->end && u->begin < t->end) abort();
        }
        /* touch the bytes the loader would read */
        volatile uint8_t sink = 0;
        for (uint64_t b = t->begin; b < t->end; b += 4096) sink ^= data[h.data_offset + b];
        (void)sink;
        if (st_header_find(&h, t->name) == NULL) abort();
    }
    st_header_free(&h);
    return 0;
}

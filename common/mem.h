/* common/mem.h: 64-byte aligned allocation and overflow-checked size arithmetic. */
#ifndef MB_MEM_H
#define MB_MEM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MB_ALIGN 64

/* 64-byte aligned, size rounded up to a multiple of 64; NULL on failure or n == 0. */
void *mb_alloc(size_t n);
void mb_free(void *p);

/* a*b into *out; false on overflow (or a negative operand). */
static inline bool mb_mul(int64_t a, int64_t b, int64_t *out)
{
    if (a < 0 || b < 0) return false;
    return !__builtin_mul_overflow(a, b, out);
}
static inline bool mb_add(int64_t a, int64_t b, int64_t *out)
{
    return !__builtin_add_overflow(a, b, out);
}

/* Bytes of memory the kernel can still allocate (MemAvailable of /proc/meminfo), or -1. */
int64_t mb_mem_available(void);

#endif

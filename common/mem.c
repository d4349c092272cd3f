/* common/mem.c: aligned allocation and the memory-available probe (see mem.h). */
#include "mem.h"

#include <stdio.h>
#include <stdlib.h>

void *mb_alloc(size_t n)
{
    if (n == 0) return NULL;
    size_t rounded = (n + MB_ALIGN - 1) / MB_ALIGN * MB_ALIGN;
    if (rounded < n) return NULL;
    return aligned_alloc(MB_ALIGN, rounded);
}

void mb_free(void *p) { free(p); }

int64_t mb_mem_available(void)
{
    FILE *f = fopen("/proc/meminfo", "r");
    if (!f) return -1;
    char line[256];
    long long kb = -1;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "MemAvailable: %lld kB", &kb) == 1) break;
    fclose(f);
    return kb < 0 ? -1 : (int64_t)kb * 1024;
}

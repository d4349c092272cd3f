/* kernels/table.c: the kernel table. Adding a kernel is one file in kernels/ and one
 * line here; the harness, the tests and the plots take it from this table. */
#include <string.h>

#include "scan.h"

extern const scan_kernel scan_kernel_reference;
extern const scan_kernel scan_kernel_sequential;
extern const scan_kernel scan_kernel_pscan;
extern const scan_kernel scan_kernel_ssd;
extern const scan_kernel scan_kernel_fused;

const scan_kernel *const scan_kernels[] = {
    &scan_kernel_reference,
    &scan_kernel_sequential,
    &scan_kernel_pscan,
    &scan_kernel_ssd,
    &scan_kernel_fused,
};
const int scan_kernel_count = (int)(sizeof scan_kernels / sizeof scan_kernels[0]);

const scan_kernel *scan_kernel_find(const char *name)
{
    for (int i = 0; i < scan_kernel_count; i++)
        if (strcmp(scan_kernels[i]->name, name) == 0) return scan_kernels[i];
    return NULL;
}

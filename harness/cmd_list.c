/* harness/cmd_list.c: `mbench list`: the kernel table, the exp routines and the scenarios. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness/cmd.h"
#include "kernels/scan.h"

static int by_name(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

int cmd_list(mb_ctx *ctx, int argc, char **argv)
{
    (void)ctx;
    if (cmd_wants_help(argc, argv)) {
        printf("usage: mbench list\n\nPrints the kernels of the table (name, what it supports, idea), the exp\n"
               "routines the kernels use, the counters that work here, and the scenarios in scenarios/.\n");
        return 0;
    }
    if (argc > 0) return cmd_usage_error("list takes no arguments");
    printf("kernels:\n");
    for (int i = 0; i < scan_kernel_count; i++) {
        const scan_kernel *k = scan_kernels[i];
        printf("  %-12s %s%s\n  %-12s supports: %s; exp: %s\n", k->name, k->summary,
               k->oracle ? " [oracle]" : "", "", k->supports, k->exp_routine ? k->exp_routine : "-");
    }
    printf("exp routines:\n");
    for (int i = 0; i < scan_exp_routine_count; i++)
        printf("  %-16s %s (max rel err %.1e)\n", scan_exp_routines[i]->name, scan_exp_routines[i]->summary,
               scan_exp_routines[i]->max_rel_err);
    cnt_system sys;
    mb_err err;
    printf("counters available here (--counters; details: mbench info):\n  ");
    if (cnt_system_init(&sys, &err)) printf("none: %s", err.msg);
    else {
        int n = 0;
        if (sys.papi_cpu_active) printf("PAPI presets and %s native events", sys.cpu_component), n++;
        for (int i = 0; i < cnt_sw_event_count; i++)
            if (sys.sw_ok[i]) printf("%s%s", n++ ? ", " : "", cnt_sw_events[i].name);
        if (!sys.papi_cpu_active) printf("%sno PAPI hardware events (%s); cache misses: mbench counters KERNEL --sim",
                                         n ? "; " : "", sys.papi_reason);
    }
    printf("\n");
    printf("scenarios (%s/scenarios):\n", MB_SOURCE_DIR);
    DIR *d = opendir(MB_SOURCE_DIR "/scenarios");
    char *names[256];
    int n = 0;
    if (d) {
        struct dirent *e;
        while ((e = readdir(d)) && n < 256) {
            size_t len = strlen(e->d_name);
            if (len > 4 && !strcmp(e->d_name + len - 4, ".ini")) names[n++] = strndup(e->d_name, len - 4);
        }
        closedir(d);
    }
    qsort(names, (size_t)n, sizeof *names, by_name);
    for (int i = 0; i < n; i++) {
        printf("  %s\n", names[i]);
        free(names[i]);
    }
    if (!n) printf("  (none)\n");
    return 0;
}

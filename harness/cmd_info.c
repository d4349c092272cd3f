/* harness/cmd_info.c: `mbench info`: the machine as mbench sees it (human or --json). */
#include <stdio.h>
#include <string.h>

#include "harness/cmd.h"
#include "harness/machine.h"
#include "harness/report.h"

static void print_kv(const char *k, json_t *v)
{
    if (json_is_string(v)) printf("  %-18s %s\n", k, json_string_value(v));
    else if (json_is_integer(v)) printf("  %-18s %lld\n", k, (long long)json_integer_value(v));
    else if (json_is_real(v)) printf("  %-18s %g\n", k, json_real_value(v));
    else if (json_is_boolean(v)) printf("  %-18s %s\n", k, json_is_true(v) ? "yes" : "no");
}

int cmd_info(mb_ctx *ctx, int argc, char **argv)
{
    if (cmd_wants_help(argc, argv)) {
        printf("usage: mbench info [--json]\n\nThe machine and build every result records: CPU and its vector flags,\n"
               "hwloc topology and caches, frequency policy, compiler and flags, git commit,\n"
               "OpenBLAS configuration, PAPI version and components (and why any is disabled).\n");
        return 0;
    }
    int json = 0;
    for (int i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "--json")) json = 1;
        else {
            fprintf(stderr, "mbench: info: unknown argument \"%s\"\n", argv[i]);
            return 2;
        }
    }
    json_t *m = machine_describe(&ctx->topo);
    if (json) {
        report_json_dump(stdout, m);
        return 0;
    }
    const char *k;
    json_t *v;
    printf("machine:\n");
    json_object_foreach(m, k, v) print_kv(k, v);
    printf("cpu flags:\n ");
    size_t i;
    json_array_foreach(json_object_get(m, "cpu_flags"), i, v) printf(" %s", json_string_value(v));
    printf("\ntopology (hwloc):\n");
    json_object_foreach(json_object_get(m, "topology"), k, v) print_kv(k, v);
    printf("openblas:\n");
    json_object_foreach(json_object_get(m, "openblas"), k, v) print_kv(k, v);
    json_t *papi = json_object_get(m, "papi");
    printf("papi %s:\n", json_string_value(json_object_get(papi, "version")) ?: "");
    json_array_foreach(json_object_get(papi, "components"), i, v)
    {
        const char *name = json_string_value(json_object_get(v, "name"));
        if (json_is_true(json_object_get(v, "active")))
            printf("  %-18s active, %lld counters\n", name, (long long)json_integer_value(json_object_get(v, "counters")));
        else
            printf("  %-18s disabled: %s\n", name, json_string_value(json_object_get(v, "disabled_reason")));
    }
    json_t *cnt = json_object_get(m, "counters");
    json_t *cp = json_object_get(cnt, "papi");
    printf("counters that work here (mbench run --counters LIST):\n");
    if (json_is_true(json_object_get(cp, "available"))) {
        printf("  PAPI presets       ");
        json_array_foreach(json_object_get(cp, "presets_available"), i, v) printf("%s%s", i ? "," : "", json_string_value(v));
        printf("\n  PAPI native        names of the %s component (papi_native_avail lists them)\n",
               json_string_value(json_object_get(cp, "cpu_component")));
    } else {
        printf("  PAPI               none: %s\n", json_string_value(json_object_get(cp, "reason")) ?: "unavailable");
        printf("                     (cache misses: mbench counters KERNEL --sim simulates the caches with valgrind)\n");
    }
    json_array_foreach(json_object_get(cnt, "perf_software"), i, v)
    {
        const char *name = json_string_value(json_object_get(v, "name"));
        if (json_is_true(json_object_get(v, "available"))) printf("  %-18s yes (perf_event software)\n", name);
        else printf("  %-18s no: %s\n", name, json_string_value(json_object_get(v, "reason")));
    }
    char warn[1024];
    if (machine_warnings(m, warn, sizeof warn)) printf("warnings:\n%s", warn);
    json_decref(m);
    return 0;
}

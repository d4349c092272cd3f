/* harness/pin.c: hwloc topology and thread pinning (see pin.h).
 *
 * libgomp keeps the threads of a team alive between parallel regions of the same
 * size, so binding them once in a region of `threads` threads binds the kernel's
 * threads too; pin_readback checks that from inside the next region. */
#include "pin.h"

#include <omp.h>
#include <stdio.h>
#include <string.h>

int pin_topo_init(pin_topo *t, mb_err *err)
{
    memset(t, 0, sizeof *t);
    if (hwloc_topology_init(&t->topo)) return mb_fail(err, "hwloc: topology init failed");
    if (hwloc_topology_load(t->topo)) {
        hwloc_topology_destroy(t->topo);
        return mb_fail(err, "hwloc: topology load failed");
    }
    t->packages = hwloc_get_nbobjs_by_type(t->topo, HWLOC_OBJ_PACKAGE);
    t->cores = hwloc_get_nbobjs_by_type(t->topo, HWLOC_OBJ_CORE);
    t->pus = hwloc_get_nbobjs_by_type(t->topo, HWLOC_OBJ_PU);
    t->numa_nodes = hwloc_get_nbobjs_by_type(t->topo, HWLOC_OBJ_NUMANODE);
    t->cache_line = 64;
    const hwloc_obj_type_t types[4] = {HWLOC_OBJ_L1CACHE, HWLOC_OBJ_L2CACHE, HWLOC_OBJ_L3CACHE,
                                       HWLOC_OBJ_L4CACHE};
    for (int i = 0; i < 4; i++) {
        hwloc_obj_t o = hwloc_get_obj_by_type(t->topo, types[i], 0);
        if (!o || !o->attr) continue;
        t->cache_bytes[i] = (long long)o->attr->cache.size;
        t->cache_ways[i] = o->attr->cache.associativity;
        if (i == 0 && o->attr->cache.linesize) t->cache_line = (int)o->attr->cache.linesize;
    }
    if (t->pus < 1) t->pus = 1;
    if (t->cores < 1) t->cores = t->pus;
    return 0;
}

void pin_topo_free(pin_topo *t)
{
    if (t->topo) hwloc_topology_destroy(t->topo);
    t->topo = NULL;
}

const char *pin_mode_name(pin_mode m)
{
    return m == PIN_COMPACT ? "compact" : m == PIN_SCATTER ? "scatter" : "none";
}

int pin_mode_parse(const char *s, pin_mode *m)
{
    if (!strcmp(s, "compact")) *m = PIN_COMPACT;
    else if (!strcmp(s, "scatter")) *m = PIN_SCATTER;
    else if (!strcmp(s, "none")) *m = PIN_NONE;
    else return -1;
    return 0;
}

int pin_threads(pin_topo *t, int threads, pin_mode mode, char *readback, size_t len, mb_err *err)
{
    if (threads < 1) return mb_fail(err, "threads must be >= 1");
    hwloc_bitmap_t sets[threads];
    for (int i = 0; i < threads; i++) sets[i] = NULL;
    int rc = 0;
    hwloc_obj_t root = hwloc_get_root_obj(t->topo);
    if (mode == PIN_SCATTER) {
        for (int i = 0; i < threads; i++) sets[i] = hwloc_bitmap_alloc();
        /* one PU per thread, spread over the tree as far apart as possible */
        hwloc_distrib(t->topo, &root, 1, sets, (unsigned)threads, INT_MAX, 0);
        for (int i = 0; i < threads; i++) hwloc_bitmap_singlify(sets[i]);
    } else if (mode == PIN_COMPACT) {
        for (int i = 0; i < threads; i++) {
            hwloc_obj_t pu = hwloc_get_obj_by_type(t->topo, HWLOC_OBJ_PU, (unsigned)(i % t->pus));
            sets[i] = hwloc_bitmap_dup(pu->cpuset);
        }
    } else {
        for (int i = 0; i < threads; i++)
            sets[i] = hwloc_bitmap_dup(hwloc_topology_get_allowed_cpuset(t->topo));
    }
    int failed = -1;
#pragma omp parallel num_threads(threads)
    {
        int i = omp_get_thread_num();
        if (hwloc_set_cpubind(t->topo, sets[i], HWLOC_CPUBIND_THREAD) != 0) {
#pragma omp critical
            failed = i;
        }
    }
    for (int i = 0; i < threads; i++) hwloc_bitmap_free(sets[i]);
    if (failed >= 0) rc = mb_fail(err, "hwloc could not bind OpenMP thread %d", failed);
    if (readback) pin_readback(t, threads, readback, len);
    return rc;
}

void pin_readback(pin_topo *t, int threads, char *readback, size_t len)
{
    char parts[threads][64];
#pragma omp parallel num_threads(threads)
    {
        int i = omp_get_thread_num();
        hwloc_bitmap_t set = hwloc_bitmap_alloc();
        char list[48] = "?";
        if (set && hwloc_get_cpubind(t->topo, set, HWLOC_CPUBIND_THREAD) == 0) {
            if (hwloc_bitmap_isincluded(hwloc_topology_get_allowed_cpuset(t->topo), set))
                snprintf(list, sizeof list, "any");
            else
                hwloc_bitmap_list_snprintf(list, sizeof list, set);
        }
        snprintf(parts[i], sizeof parts[i], "%d:%s", i, list);
        hwloc_bitmap_free(set);
    }
    size_t off = 0;
    readback[0] = 0;
    for (int i = 0; i < threads && off < len; i++)
        off += (size_t)snprintf(readback + off, len - off, "%s%s", i ? " " : "", parts[i]);
}

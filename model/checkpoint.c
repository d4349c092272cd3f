/* model/checkpoint.c: one checkpoint directory, single-file or sharded (see checkpoint.h). */
#include "checkpoint.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void ckpt_close(ckpt *c)
{
    for (int i = 0; i < c->nfiles; i++) st_file_close(&c->files[i]);
    for (int i = 0; i < c->nmap; i++) free(c->map_name[i]);
    free(c->files);
    free(c->map_name);
    free(c->map_file);
    memset(c, 0, sizeof *c);
}

/* A shard name from the index must be a plain file name in the same directory. */
static int ckpt_safe_name(const char *s)
{
    return *s && !strchr(s, '/') && strcmp(s, ".") && strcmp(s, "..") && strlen(s) < 256;
}

static int ckpt_open_index(ckpt *c, const char *dir, const char *index, mb_err *err)
{
    json_error_t je;
    json_t *root = json_load_file(index, JSON_REJECT_DUPLICATES, &je);
    char path[1400];
    if (!root) return mb_fail(err, "%s: invalid JSON at line %d: %s", index, je.line, je.text);
    json_t *wm = json_object_get(root, "weight_map");
    if (!json_is_object(wm) || json_object_size(wm) == 0) {
        json_decref(root);
        return mb_fail(err, "%s: \"weight_map\" missing or empty", index);
    }
    size_t n = json_object_size(wm);
    c->map_name = calloc(n, sizeof *c->map_name);
    c->map_file = calloc(n, sizeof *c->map_file);
    c->files = calloc(n, sizeof *c->files);
    char **fname = calloc(n, sizeof *fname); /* distinct shard names, borrowed from root */
    if (!c->map_name || !c->map_file || !c->files || !fname) {
        mb_fail(err, "out of memory");
        goto fail;
    }
    const char *key;
    json_t *val;
    json_object_foreach(wm, key, val) {
        if (!json_is_string(val) || !ckpt_safe_name(json_string_value(val))) {
            mb_fail(err, "%s: weight_map[\"%s\"]: expected a file name in the same directory", index, key);
            goto fail;
        }
        const char *f = json_string_value(val);
        int fi = 0;
        while (fi < c->nfiles && strcmp(fname[fi], f)) fi++;
        if (fi == c->nfiles) {
            snprintf(path, sizeof path, "%s/%s", dir, f);
            if (st_file_open(&c->files[fi], path, err)) goto fail;
            fname[c->nfiles++] = (char *)f;
        }
        if (!(c->map_name[c->nmap] = strdup(key))) {
            mb_fail(err, "out of memory");
            goto fail;
        }
        c->map_file[c->nmap++] = fi;
        if (!st_header_find(&c->files[fi].h, key)) {
            mb_fail(err, "%s: weight_map puts tensor \"%s\" in %s, which does not hold it", index, key, f);
            goto fail;
        }
    }
    free(fname);
    json_decref(root);
    return 0;
fail:
    free(fname);
    json_decref(root);
    ckpt_close(c);
    return -1;
}

int ckpt_open(ckpt *c, const char *dir, mb_err *err)
{
    memset(c, 0, sizeof *c);
    char single[1100], index[1100];
    snprintf(single, sizeof single, "%s/model.safetensors", dir);
    snprintf(index, sizeof index, "%s/model.safetensors.index.json", dir);
    if (access(single, F_OK) == 0) {
        c->files = calloc(1, sizeof *c->files);
        if (!c->files) return mb_fail(err, "out of memory");
        if (st_file_open(&c->files[0], single, err)) {
            free(c->files);
            c->files = NULL;
            return -1;
        }
        c->nfiles = 1;
        return 0;
    }
    if (access(index, F_OK) == 0) return ckpt_open_index(c, dir, index, err);
    return mb_fail(err, "%s: neither model.safetensors nor model.safetensors.index.json is there", dir);
}

const st_tensor *ckpt_find(const ckpt *c, const char *name, const st_file **file)
{
    if (c->nmap) {
        for (int i = 0; i < c->nmap; i++)
            if (!strcmp(c->map_name[i], name)) {
                *file = &c->files[c->map_file[i]];
                return st_header_find(&(*file)->h, name);
            }
        return NULL;
    }
    if (c->nfiles < 1) return NULL;
    *file = &c->files[0];
    return st_header_find(&c->files[0].h, name);
}

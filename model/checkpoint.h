/* model/checkpoint.h: the safetensors files of one checkpoint directory: a single
 * model.safetensors, or shards listed by model.safetensors.index.json ("weight_map":
 * tensor name -> shard file). Finds a tensor by name in the file that holds it. */
#ifndef MB_MODEL_CHECKPOINT_H
#define MB_MODEL_CHECKPOINT_H

#include "common/err.h"
#include "model/safetensors.h"

typedef struct {
    int nfiles;
    st_file *files;    /* [nfiles] */
    int nmap;          /* sharded: weight_map entries */
    char **map_name;   /* [nmap] tensor names */
    int *map_file;     /* [nmap] index into files */
} ckpt;

int ckpt_open(ckpt *c, const char *dir, mb_err *err);
void ckpt_close(ckpt *c);
/* The tensor and the file holding it, or NULL (not in the checkpoint). */
const st_tensor *ckpt_find(const ckpt *c, const char *name, const st_file **file);

#endif

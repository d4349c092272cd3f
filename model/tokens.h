/* model/tokens.h: token ids in: a JSON file holding a list of lists of ints (batch x
 * length, equal lengths), or a comma-separated list on the command line. Every id is
 * checked against the vocabulary; errors name the file and the position. */
#ifndef MB_MODEL_TOKENS_H
#define MB_MODEL_TOKENS_H

#include <stdint.h>

#include "common/err.h"

typedef struct {
    int64_t batch, len;
    int32_t *ids; /* [batch][len] */
} token_batch;

/* vocab_size: ids must be in [0, vocab_size). */
int tokens_load_json(token_batch *t, const char *path, int64_t vocab_size, mb_err *err);
int tokens_parse_list(token_batch *t, const char *flag, const char *s, int64_t vocab_size, mb_err *err);
void tokens_free(token_batch *t);

#endif

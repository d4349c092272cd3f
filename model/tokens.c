/* model/tokens.c: token ids from a JSON file or a comma-separated list (see tokens.h). */
#include "tokens.h"

#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

void tokens_free(token_batch *t)
{
    free(t->ids);
    memset(t, 0, sizeof *t);
}

int tokens_load_json(token_batch *t, const char *path, int64_t vocab_size, mb_err *err)
{
    memset(t, 0, sizeof *t);
    json_error_t je;
    json_t *root = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
    if (!root) return mb_fail(err, "%s: %s (line %d column %d)", path, je.text, je.line, je.column);
    if (!json_is_array(root)) {
        mb_fail(err, "%s: expected a list of lists of token ids, e.g. [[1, 2, 3]]", path);
        goto fail;
    }
    t->batch = (int64_t)json_array_size(root);
    if (t->batch == 0) {
        mb_fail(err, "%s: empty token list (no sequences)", path);
        goto fail;
    }
    for (int64_t b = 0; b < t->batch; b++) {
        json_t *row = json_array_get(root, (size_t)b);
        if (!json_is_array(row)) {
            mb_fail(err, "%s: sequence %lld is not a list of token ids", path, (long long)b);
            goto fail;
        }
        int64_t n = (int64_t)json_array_size(row);
        if (n == 0) {
            mb_fail(err, "%s: sequence %lld is an empty token list", path, (long long)b);
            goto fail;
        }
        if (b == 0) {
            t->len = n;
            if (!(t->ids = malloc((size_t)(t->batch * t->len) * sizeof *t->ids))) {
                mb_fail(err, "%s: out of memory", path);
                goto fail;
            }
        } else if (n != t->len) {
            mb_fail(err, "%s: ragged batch: sequence %lld has %lld tokens but sequence 0 has %lld", path, (long long)b,
                    (long long)n, (long long)t->len);
            goto fail;
        }
        for (int64_t i = 0; i < n; i++) {
            json_t *v = json_array_get(row, (size_t)i);
            if (!json_is_integer(v)) {
                mb_fail(err, "%s: token [%lld][%lld] is not an integer", path, (long long)b, (long long)i);
                goto fail;
            }
            json_int_t id = json_integer_value(v);
            if (id < 0 || id >= vocab_size) {
                mb_fail(err, "%s: token [%lld][%lld] = %lld is outside the vocabulary [0, %lld)", path, (long long)b,
                        (long long)i, (long long)id, (long long)vocab_size);
                goto fail;
            }
            t->ids[b * t->len + i] = (int32_t)id;
        }
    }
    json_decref(root);
    return 0;
fail:
    json_decref(root);
    tokens_free(t);
    return -1;
}

int tokens_parse_list(token_batch *t, const char *flag, const char *s, int64_t vocab_size, mb_err *err)
{
    memset(t, 0, sizeof *t);
    int64_t n = 1;
    for (const char *p = s; *p; p++) n += *p == ',';
    if (!*s) return mb_fail(err, "%s: empty token list", flag);
    if (!(t->ids = malloc((size_t)n * sizeof *t->ids))) return mb_fail(err, "out of memory");
    t->batch = 1;
    const char *p = s;
    for (int64_t i = 0; i < n; i++) {
        char *end;
        errno = 0;
        long long v = strtoll(p, &end, 10);
        if (end == p || (*end && *end != ',') || errno) {
            tokens_free(t);
            return mb_fail(err, "%s: token %lld is not an integer (\"%s\")", flag, (long long)i, s);
        }
        if (v < 0 || v >= vocab_size) {
            tokens_free(t);
            return mb_fail(err, "%s: token %lld = %lld is outside the vocabulary [0, %lld)", flag, (long long)i, v,
                           (long long)vocab_size);
        }
        t->ids[i] = (int32_t)v;
        p = end + (*end == ',');
    }
    t->batch = 1, t->len = n;
    return 0;
}

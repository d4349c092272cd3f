/* common/file.c: atomic file writes (see file.h). */
#include "file.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

int mb_atomic_open(mb_atomic *a, const char *path, mb_err *err)
{
    a->f = NULL;
    if (strlen(path) >= sizeof a->path) return mb_fail(err, "%.200s...: path too long", path);
    snprintf(a->path, sizeof a->path, "%s", path);
    snprintf(a->tmp, sizeof a->tmp, "%s.tmp", path);
    a->f = fopen(a->tmp, "w");
    if (!a->f) return mb_fail(err, "cannot write %s (its temporary %s): %s", path, a->tmp, strerror(errno));
    return 0;
}

int mb_atomic_commit(mb_atomic *a, mb_err *err)
{
    int bad = ferror(a->f), e = 0;
    if (fflush(a->f) || fsync(fileno(a->f))) bad = 1, e = errno;
    if (fclose(a->f)) bad = 1, e = e ? e : errno;
    a->f = NULL;
    if (bad) {
        unlink(a->tmp);
        return mb_fail(err, "cannot write %s (its temporary %s): %s", a->path, a->tmp,
                       e ? strerror(e) : "write error");
    }
    if (rename(a->tmp, a->path)) {
        e = errno;
        unlink(a->tmp);
        return mb_fail(err, "cannot write %s (renaming its temporary %s over it): %s", a->path, a->tmp,
                       strerror(e));
    }
    return 0;
}

void mb_atomic_abort(mb_atomic *a)
{
    if (a->f) fclose(a->f);
    a->f = NULL;
    unlink(a->tmp);
}

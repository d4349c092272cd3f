/* tests/test_file.c: the atomic write (common/file.c). Its errors name the file the user
 * gave (the temporary PATH.tmp only in parentheses), on each way it can fail: the
 * temporary cannot be created, a write fails (file size limit), the rename fails (PATH
 * is a directory); the temporary never stays behind and PATH is untouched. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "common/file.h"

/* msg starts with "cannot write PATH (" */
static int names_path(const char *msg, const char *path)
{
    char want[4200];
    snprintf(want, sizeof want, "cannot write %s (", path);
    return !strncmp(msg, want, strlen(want));
}

static int exists(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0;
}

int main(void)
{
    char dir[] = "/tmp/mb_test_file.XXXXXX";
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    char path[256], tmp[300];
    mb_err err;
    mb_atomic a;

    // ---- a good write: PATH holds the text, no temporary left
    snprintf(path, sizeof path, "%s/ok.txt", dir);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    CHECK(mb_atomic_open(&a, path, &err) == 0, "open: %s", err.msg);
    fputs("hello\n", a.f);
    CHECK(mb_atomic_commit(&a, &err) == 0, "commit: %s", err.msg);
    FILE *f = fopen(path, "r");
    char line[64] = "";
    CHECK(f && fgets(line, sizeof line, f) && !strcmp(line, "hello\n"), "content '%s'", line);
    if (f) fclose(f);
    CHECK(!exists(tmp), "temporary %s left", tmp);

    // ---- the temporary cannot be created (no such directory)
    char missing[300];
    snprintf(missing, sizeof missing, "%s/no/such/dir.json", dir);
    CHECK(mb_atomic_open(&a, missing, &err) == -1, "open in a missing directory succeeded");
    CHECK(names_path(err.msg, missing), "open error does not name %s: %s", missing, err.msg);

    // ---- a write fails: the file size limit is under what is written
    signal(SIGXFSZ, SIG_IGN); /* the write fails with EFBIG instead of killing the test */
    struct rlimit old, lim;
    getrlimit(RLIMIT_FSIZE, &old);
    lim = old;
    lim.rlim_cur = 4096;
    snprintf(path, sizeof path, "%s/big.txt", dir);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    if (setrlimit(RLIMIT_FSIZE, &lim) == 0) {
        CHECK(mb_atomic_open(&a, path, &err) == 0, "open: %s", err.msg);
        for (int i = 0; i < 1000; i++) fputs("0123456789abcdef0123456789abcdef\n", a.f);
        CHECK(mb_atomic_commit(&a, &err) == -1, "commit past the size limit succeeded");
        setrlimit(RLIMIT_FSIZE, &old);
        CHECK(names_path(err.msg, path), "write error does not name %s: %s", path, err.msg);
        CHECK(!exists(tmp) && !exists(path), "files left after a failed write");
    } else {
        printf("setrlimit(RLIMIT_FSIZE) refused: write-error case not run\n");
    }

    // ---- the rename fails: PATH is a directory
    snprintf(path, sizeof path, "%s/adir", dir);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    CHECK(mkdir(path, 0700) == 0, "mkdir %s", path);
    CHECK(mb_atomic_open(&a, path, &err) == 0, "open: %s", err.msg);
    fputs("x\n", a.f);
    CHECK(mb_atomic_commit(&a, &err) == -1, "rename over a directory succeeded");
    CHECK(names_path(err.msg, path), "rename error does not name %s: %s", path, err.msg);
    CHECK(!exists(tmp), "temporary %s left after a failed rename", tmp);
    rmdir(path);

    // ---- abort: the temporary goes, PATH stays as it was
    snprintf(path, sizeof path, "%s/ok.txt", dir);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    CHECK(mb_atomic_open(&a, path, &err) == 0, "open: %s", err.msg);
    fputs("other\n", a.f);
    mb_atomic_abort(&a);
    CHECK(!exists(tmp), "temporary %s left after abort", tmp);
    f = fopen(path, "r");
    CHECK(f && fgets(line, sizeof line, f) && !strcmp(line, "hello\n"), "abort changed %s: '%s'", path, line);
    if (f) fclose(f);

    unlink(path);
    rmdir(dir);
    return check_report("test_file");
}

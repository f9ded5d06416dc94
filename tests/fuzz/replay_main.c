/*
 * Replay driver for libFuzzer targets, so every corpus input (and every input that ever
 * crashed a fuzzer) is re-run by the normal test suite with any compiler.
 *
 *     fuzz_x_replay PATH...
 *
 * Each PATH is a file, or a directory whose regular files are replayed in sorted order.
 * Arguments starting with '-' (libFuzzer flags) are ignored. Each input is read into a
 * buffer of exactly its size, so ASan catches reads past the end.
 */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
/* Optional in fuzz targets, as with libFuzzer. */
__attribute__((weak)) int LLVMFuzzerInitialize(int *argc, char ***argv);

static long replayed;

/* Reads one file into a buffer of exactly its size and feeds it to the target. */
static int replay_file(const char *path, size_t size)
{
    FILE *f = fopen(path, "rb");
    uint8_t *data = malloc(size ? size : 1);
    int ok = f && data && fread(data, 1, size, f) == size;
    if (ok) {
        LLVMFuzzerTestOneInput(data, size);
        replayed++;
    } else {
        fprintf(stderr, "replay: cannot read %s: %s\n", path, strerror(errno));
    }
    if (f)
        fclose(f);
    free(data);
    return ok ? 0 : -1;
}

static int cmp_names(const struct dirent **a, const struct dirent **b)
{
    return strcmp((*a)->d_name, (*b)->d_name);
}

/* Replays every regular file directly inside dir, sorted by name. */
static int replay_dir(const char *dir)
{
    struct dirent **names;
    int n = scandir(dir, &names, NULL, cmp_names);
    if (n < 0) {
        fprintf(stderr, "replay: cannot list %s: %s\n", dir, strerror(errno));
        return -1;
    }
    int rc = 0;
    for (int i = 0; i < n; i++) {
        char path[4096];
        struct stat st;
        int len = snprintf(path, sizeof path, "%s/%s", dir, names[i]->d_name);
        if (len > 0 && (size_t)len < sizeof path && stat(path, &st) == 0 && S_ISREG(st.st_mode))
            rc |= replay_file(path, (size_t)st.st_size);
        free(names[i]);
    }
    free(names);
    return rc;
}

int main(int argc, char **argv)
{
    if (LLVMFuzzerInitialize)
        LLVMFuzzerInitialize(&argc, &argv);
    int rc = 0;
    for (int i = 1; i < argc; i++) {
        struct stat st;
        if (argv[i][0] == '-')
            continue;
        if (stat(argv[i], &st) != 0) {
            fprintf(stderr, "replay: %s: %s\n", argv[i], strerror(errno));
            rc = 1;
        } else if (S_ISDIR(st.st_mode)) {
            rc |= replay_dir(argv[i]) != 0;
        } else {
            rc |= replay_file(argv[i], (size_t)st.st_size) != 0;
        }
    }
    printf("replayed %ld inputs\n", replayed);
    return rc;
}

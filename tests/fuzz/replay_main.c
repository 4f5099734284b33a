/* Replay driver for fuzz targets outside libFuzzer: runs LLVMFuzzerTestOneInput on every
 * file of the given corpus directories (or files). A crash or sanitizer report fails the
 * test; a clean error return is expected for malformed inputs. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int run_file(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *buf = malloc(n > 0 ? (size_t)n : 1);
    size_t got = buf ? fread(buf, 1, (size_t)n, f) : 0;
    fclose(f);
    if (!buf) return 0;
    LLVMFuzzerTestOneInput(buf, got);
    free(buf);
    return 1;
}

int main(int argc, char **argv) {
    int count = 0;
    for (int a = 1; a < argc; a++) {
        struct stat sb;
        if (stat(argv[a], &sb) != 0) continue;
        if (S_ISDIR(sb.st_mode)) {
            DIR *d = opendir(argv[a]);
            struct dirent *e;
            while (d && (e = readdir(d))) {
                if (e->d_name[0] == '.') continue;
                char p[4096];
                snprintf(p, sizeof p, "%s/%s", argv[a], e->d_name);
                count += run_file(p);
            }
            if (d) closedir(d);
        } else count += run_file(argv[a]);
    }
    /* also a few synthetic inputs: empty and all-zero */
    uint8_t z[64] = {0};
    LLVMFuzzerTestOneInput(z, 0);
    LLVMFuzzerTestOneInput(z, sizeof z);
    printf("replayed %d inputs\n", count + 2);
    return 0;
}

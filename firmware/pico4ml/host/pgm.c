/* PGM reader for the host twin: strict about what it accepts, clear about why not. */
#define _DEFAULT_SOURCE
#include "pgm.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Next header integer, skipping whitespace and # comments; -1 if none. */
static long header_int(FILE *f) {
    int c;
    for (;;) {
        c = fgetc(f);
        if (c == '#') {
            while (c != '\n' && c != EOF) c = fgetc(f);
        } else if (!isspace(c)) {
            break;
        }
    }
    if (!isdigit(c)) return -1;
    long v = 0;
    while (isdigit(c)) {
        if (v > 100000) return -1;
        v = v * 10 + (c - '0');
        c = fgetc(f);
    }
    return v; /* the single whitespace after the header's last number is consumed here */
}

int pgm_read(const char *path, uint8_t **pixels, int *width, int *height, char *err, size_t errlen) {
    *pixels = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    char magic[2] = {0, 0};
    if (fread(magic, 1, 2, f) != 2 || magic[0] != 'P' || (magic[1] != '5' && magic[1] != '2')) {
        snprintf(err, errlen, "%s: not a PGM file (expected P5 or P2 magic)", path);
        fclose(f);
        return -1;
    }
    long w = header_int(f), h = header_int(f), maxval = header_int(f);
    if (w < 1 || h < 1 || w > PGM_MAX_DIM || h > PGM_MAX_DIM || maxval < 1 || maxval > 255) {
        snprintf(err, errlen, "%s: unsupported PGM header (need 1..%d pixels a side, 8-bit maxval 1..255)", path,
                 PGM_MAX_DIM);
        fclose(f);
        return -1;
    }
    size_t n = (size_t)w * (size_t)h;
    uint8_t *p = malloc(n);
    if (!p) {
        snprintf(err, errlen, "%s: out of memory", path);
        fclose(f);
        return -1;
    }
    int ok = 1;
    if (magic[1] == '5') {
        ok = fread(p, 1, n, f) == n;
    } else {
        for (size_t i = 0; i < n && ok; i++) {
            long v = header_int(f);
            ok = v >= 0 && v <= maxval;
            p[i] = (uint8_t)(ok ? v : 0);
        }
    }
    fclose(f);
    if (!ok) {
        snprintf(err, errlen, "%s: truncated or corrupt pixel data", path);
        free(p);
        return -1;
    }
    if (maxval != 255)
        for (size_t i = 0; i < n; i++) p[i] = (uint8_t)((p[i] * 255 + maxval / 2) / maxval);
    *pixels = p;
    *width = (int)w;
    *height = (int)h;
    return 0;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

int pgm_list_dir(const char *dir, char ***paths, char *err, size_t errlen) {
    *paths = NULL;
    DIR *d = opendir(dir);
    if (!d) {
        snprintf(err, errlen, "%s: %s", dir, strerror(errno));
        return -1;
    }
    int count = 0, cap = 0;
    char **list = NULL;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        size_t len = strlen(e->d_name);
        if (len < 5 || strcmp(e->d_name + len - 4, ".pgm") != 0) continue;
        if (count == cap) {
            cap = cap ? cap * 2 : 64;
            char **grown = realloc(list, (size_t)cap * sizeof *list);
            if (!grown) break;
            list = grown;
        }
        size_t plen = strlen(dir) + 1 + len + 1;
        list[count] = malloc(plen);
        if (!list[count]) break;
        snprintf(list[count], plen, "%s/%s", dir, e->d_name);
        count++;
    }
    closedir(d);
    if (count == 0) {
        free(list);
        snprintf(err, errlen, "%s: no .pgm files in this directory", dir);
        return -1;
    }
    qsort(list, (size_t)count, sizeof *list, cmp_str);
    *paths = list;
    return count;
}

void pgm_free_list(char **paths, int count) {
    for (int i = 0; i < count; i++) free(paths[i]);
    free(paths);
}

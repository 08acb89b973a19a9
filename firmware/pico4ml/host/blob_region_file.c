/* blob_region_file.c: a flash region in a file (see the header). */
#define _POSIX_C_SOURCE 200809L
#include "blob_region_file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int write_at(blob_region_file *r, uint32_t off, uint32_t len) {
    for (uint32_t done = 0; done < len;) {
        ssize_t n = pwrite(r->fd, r->mem + off + done, len - done, (off_t)(off + done));
        if (n <= 0) {
            return -1;
        }
        done += (uint32_t)n;
    }
    return 0;
}

static int fail_now(blob_region_file *r) {
    if (r->fail_after < 0) {
        return 0;
    }
    return r->fail_after-- == 0;
}

static int region_erase(void *ctx, uint32_t off, uint32_t len) {
    blob_region_file *r = ctx;
    if (off % BLOB_STORE_SECTOR || len % BLOB_STORE_SECTOR || off > r->size || len > r->size - off || fail_now(r)) {
        return -1;
    }
    memset(r->mem + off, 0xFF, len);
    r->erases++;
    return write_at(r, off, len);
}

static int region_program(void *ctx, uint32_t off, const uint8_t *data, uint32_t len) {
    blob_region_file *r = ctx;
    if (off % BLOB_STORE_PAGE || len % BLOB_STORE_PAGE || off > r->size || len > r->size - off || fail_now(r)) {
        return -1;
    }
    for (uint32_t i = 0; i < len; i++) {
        r->mem[off + i] &= data[i]; /* NOR flash: programming only clears bits */
    }
    r->programs++;
    return write_at(r, off, len);
}

int blob_region_file_open(blob_region_file *r, const char *path, uint32_t size, blob_flash *flash) {
    memset(r, 0, sizeof *r);
    r->fail_after = -1;
    r->fd = open(path, O_RDWR | O_CREAT, 0644);
    if (r->fd < 0) {
        return -1;
    }
    struct stat st;
    if (fstat(r->fd, &st) != 0 || (st.st_size != 0 && st.st_size != (off_t)size)) {
        close(r->fd);
        errno = EINVAL;
        return -1;
    }
    r->mem = aligned_alloc(BLOB_STORE_SECTOR, size);
    if (!r->mem) {
        close(r->fd);
        return -1;
    }
    r->size = size;
    if (st.st_size == 0) { /* new: erased flash */
        memset(r->mem, 0xFF, size);
        if (write_at(r, 0, size) != 0) {
            blob_region_file_close(r);
            return -1;
        }
    } else {
        for (uint32_t done = 0; done < size;) {
            ssize_t n = pread(r->fd, r->mem + done, size - done, (off_t)done);
            if (n <= 0) {
                blob_region_file_close(r);
                errno = EIO;
                return -1;
            }
            done += (uint32_t)n;
        }
    }
    flash->view = r->mem;
    flash->size = size;
    flash->erase = region_erase;
    flash->program = region_program;
    flash->ctx = r;
    return 0;
}

void blob_region_file_close(blob_region_file *r) {
    if (r->fd >= 0) {
        close(r->fd);
    }
    free(r->mem);
    r->mem = 0;
    r->fd = -1;
}

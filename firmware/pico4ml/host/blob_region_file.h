/* blob_region_file.h: the board's reserved model flash region, kept in a file for the
 * host twin (and the blob store's tests), with flash's rules: erase sets a 4 KB sector to
 * 0xFF, program can only clear bits (it ANDs, as NOR flash does), whole 256-byte pages.
 * Every write goes to the file at once, so a killed twin leaves what a board losing power
 * at the same moment would keep.
 */
#ifndef BLOB_REGION_FILE_H
#define BLOB_REGION_FILE_H

#include <stdint.h>

#include "blob_store.h"

typedef struct {
    int fd;
    uint8_t *mem; /* the region's contents (the "XIP view") */
    uint32_t size;
    long erases, programs;
    long fail_after; /* tests: operations before one fails (-1: never) */
} blob_region_file;

/* Open (or create, erased) a region file of size bytes; fills flash for blob_store_init.
 * Returns 0, or -1 with errno set (a file of another size is refused, EINVAL). */
int blob_region_file_open(blob_region_file *r, const char *path, uint32_t size, blob_flash *flash);
void blob_region_file_close(blob_region_file *r);

#endif

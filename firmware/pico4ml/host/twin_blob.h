/* twin_blob.h: the host twin's model store (core/blob_store.h) over a region file
 * (blob_region_file.h), and the classifier switch to the committed blob, as the firmware
 * does with its reserved flash region. One store per process. */
#ifndef TWIN_BLOB_H
#define TWIN_BLOB_H

#include <stddef.h>
#include <stdint.h>

#define TWIN_BLOB_REGION_BYTES (1024u * 1024u) /* two 512 KiB slots, as on the board */

/* Open (or create) the region file and run its committed blob, if any: 1 a blob runs,
 * 0 the built-in model, -1 the file cannot be used (errno). */
int twin_blob_open(const char *path);
/* device_hooks.blob_command */
int twin_blob_command(void *ctx, uint8_t type, const uint8_t *payload, size_t len, uint8_t *status);
void twin_blob_close(void);

#endif

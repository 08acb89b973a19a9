/* twin_blob.c: the twin's model store (see the header). The blob runs from the region's
 * memory (what XIP flash is on the board), with one static scratch buffer. */
#include "twin_blob.h"

#include "blob_classifier.h"
#include "blob_region_file.h"
#include "blob_store.h"
#include "classifier.h"

#define SCRATCH_BYTES 65536u /* the budget a blob may ask for */

static blob_region_file s_region;
static blob_store s_store;
static uint32_t s_scratch[SCRATCH_BYTES / 4];
static blob_classifier s_active;
static int s_open;

/* Point the classifier at the store's active blob (or back at the built-in model). */
static void use_active(void) {
    blob_classifier_use(&s_active, blob_store_active(&s_store), s_scratch, sizeof s_scratch);
}

int twin_blob_open(const char *path) {
    blob_flash flash;
    s_region.fd = -1;
    if (blob_region_file_open(&s_region, path, TWIN_BLOB_REGION_BYTES, &flash) != 0) {
        return -1;
    }
    int active = blob_store_init(&s_store, &flash, SCRATCH_BYTES);
    s_open = 1;
    use_active();
    return active < 0 ? -1 : active;
}

int twin_blob_command(void *ctx, uint8_t type, const uint8_t *payload, size_t len, uint8_t *status) {
    (void)ctx;
    uint32_t before = s_store.generation;
    blob_store_command(&s_store, type, payload, len);
    blob_store_status_pack(&s_store, status);
    if (s_store.generation != before) {
        use_active(); /* between frames: the twin is one thread */
        return 1;
    }
    return 0;
}

void twin_blob_close(void) {
    if (s_open) {
        classifier_use(NULL);
        blob_region_file_close(&s_region);
        s_open = 0;
    }
}

/* model_store.c: see model_store.h.
 *
 * XIP is off while the flash is erased or programmed, so nothing may run from flash then:
 * flash_safe_execute() parks core 1 (which called flash_safe_execute_core_init()) in RAM and
 * masks interrupts on core 0 for the duration. A sector erase takes ~45 ms, a page program
 * ~1 ms; blob_store erases a sector only when the upload reaches it, so no one command holds
 * USB off for longer than that. The SDK's flash_range_* flush the XIP cache afterwards, so
 * the region reads back what was written. The classifier runs on core 0 only (main loop and
 * INJECT), where this is called too, so switching models needs no lock.
 */
#include "model_store.h"

#include "blob_classifier.h"
#include "blob_store.h"
#include "classifier.h"
#include "hardware/flash.h"
#include "pico/flash.h"

#ifndef PICO4ML_MODEL_REGION_BYTES
#define PICO4ML_MODEL_REGION_BYTES (1024u * 1024u)
#endif
#ifndef PICO4ML_BLOB_SCRATCH_BYTES
#define PICO4ML_BLOB_SCRATCH_BYTES 8192u /* common/budgets.py RAM_FOR_SCRATCH */
#endif
#define REGION_OFFSET (PICO_FLASH_SIZE_BYTES - PICO4ML_MODEL_REGION_BYTES)
#define FLASH_OP_TIMEOUT_MS 200 /* to get core 1 out of the way */

_Static_assert(PICO4ML_MODEL_REGION_BYTES % (2 * FLASH_SECTOR_SIZE) == 0, "two whole-sector slots");
_Static_assert(FLASH_SECTOR_SIZE == BLOB_STORE_SECTOR && FLASH_PAGE_SIZE == BLOB_STORE_PAGE, "flash geometry");

static blob_store s_store;
static uint32_t s_scratch[PICO4ML_BLOB_SCRATCH_BYTES / 4];
static blob_classifier s_active;

typedef struct {
    uint32_t offset, len;
    const uint8_t *data; /* NULL: erase */
} flash_op;

static void do_op(void *param) { /* runs with XIP off: only RAM code (the SDK's flash_range_*) */
    const flash_op *op = param;
    if (op->data) {
        flash_range_program(op->offset, op->data, op->len);
    } else {
        flash_range_erase(op->offset, op->len);
    }
}

static int region_erase(void *ctx, uint32_t off, uint32_t len) {
    (void)ctx;
    flash_op op = {REGION_OFFSET + off, len, NULL};
    return flash_safe_execute(do_op, &op, FLASH_OP_TIMEOUT_MS) == PICO_OK ? 0 : -1;
}

static int region_program(void *ctx, uint32_t off, const uint8_t *data, uint32_t len) {
    (void)ctx;
    flash_op op = {REGION_OFFSET + off, len, data}; /* data is in RAM (the store's page buffer) */
    return flash_safe_execute(do_op, &op, FLASH_OP_TIMEOUT_MS) == PICO_OK ? 0 : -1;
}

/* Point the classifier at the store's active blob (or back at the built-in model). */
static void use_active(void) {
    blob_classifier_use(&s_active, blob_store_active(&s_store), s_scratch, sizeof s_scratch);
}

int model_store_init(void) {
    const blob_flash flash = {
        .view = (const uint8_t *)(XIP_BASE + REGION_OFFSET),
        .size = PICO4ML_MODEL_REGION_BYTES,
        .erase = region_erase,
        .program = region_program,
        .ctx = NULL,
    };
    int active = blob_store_init(&s_store, &flash, sizeof s_scratch);
    use_active();
    return active > 0;
}

int model_store_command(void *ctx, uint8_t type, const uint8_t *payload, size_t len, uint8_t *status) {
    (void)ctx;
    uint32_t before = s_store.generation;
    blob_store_command(&s_store, type, payload, len);
    blob_store_status_pack(&s_store, status);
    if (s_store.generation != before) {
        use_active();
        return 1;
    }
    return 0;
}

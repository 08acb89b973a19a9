/* model_store.h: the board's uploaded-model store: core/blob_store.c over the reserved flash
 * region at the top of the 2 MB flash (PICO4ML_MODEL_REGION_BYTES, kept clear of the image by
 * app/model_region.ld), erased and programmed with the other core kept off the flash. */
#ifndef PICO4ML_MODEL_STORE_H
#define PICO4ML_MODEL_STORE_H

#include <stddef.h>
#include <stdint.h>

/* Find the committed blob and make the classifier run it (1), or keep the built-in model (0).
 * Core 1 must have called flash_safe_execute_core_init() before any upload. */
int model_store_init(void);

/* device_hooks.blob_command (called on core 0, between inferences). */
int model_store_command(void *ctx, uint8_t type, const uint8_t *payload, size_t len, uint8_t *status);

#endif

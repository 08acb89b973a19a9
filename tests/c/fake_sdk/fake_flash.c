/* fake_flash.c: see fake_sdk/hardware/flash.h and pico/flash.h. Misaligned or out-of-range
 * operations abort, as they would corrupt a real chip. */
#include <stdlib.h>
#include <string.h>

#include "hardware/flash.h"
#include "pico/flash.h"

_Alignas(4096) uint8_t fake_flash[PICO_FLASH_SIZE_BYTES];

__attribute__((constructor)) static void erased_at_start(void) { memset(fake_flash, 0xFF, sizeof fake_flash); }

void flash_range_erase(uint32_t off, size_t count) {
    if (off % FLASH_SECTOR_SIZE || count % FLASH_SECTOR_SIZE || off + count > sizeof fake_flash) abort();
    memset(fake_flash + off, 0xFF, count);
}

void flash_range_program(uint32_t off, const uint8_t *data, size_t count) {
    if (off % FLASH_PAGE_SIZE || count % FLASH_PAGE_SIZE || off + count > sizeof fake_flash) abort();
    for (size_t i = 0; i < count; i++) fake_flash[off + i] &= data[i];
}

int flash_safe_execute(void (*func)(void *), void *param, uint32_t enter_exit_timeout_ms) {
    (void)enter_exit_timeout_ms;
    func(param);
    return PICO_OK;
}

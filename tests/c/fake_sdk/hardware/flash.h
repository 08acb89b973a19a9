/* Fake hardware/flash.h: the 2 MB flash is a RAM array read "through XIP" at fake_flash,
 * with NOR rules (erase sets 0xFF, program only clears bits) in fake_flash.c. */
#ifndef FAKE_HARDWARE_FLASH_H
#define FAKE_HARDWARE_FLASH_H
#include <stddef.h>
#include <stdint.h>
#define FLASH_PAGE_SIZE 256u
#define FLASH_SECTOR_SIZE 4096u
#ifndef PICO_FLASH_SIZE_BYTES
#define PICO_FLASH_SIZE_BYTES (2u * 1024u * 1024u)
#endif
extern uint8_t fake_flash[PICO_FLASH_SIZE_BYTES];
#define XIP_BASE ((uintptr_t)fake_flash)
void flash_range_erase(uint32_t flash_offs, size_t count);
void flash_range_program(uint32_t flash_offs, const uint8_t *data, size_t count);
#endif

/* Fake pico/flash.h: flash_safe_execute runs the function at once (fake_flash.c); on the host
 * nothing executes from flash, so there is no other core to park. */
#ifndef FAKE_PICO_FLASH_H
#define FAKE_PICO_FLASH_H
#include <stdbool.h>
#include <stdint.h>
#ifndef PICO_OK
#define PICO_OK 0
#endif
static inline bool flash_safe_execute_core_init(void) { return true; }
int flash_safe_execute(void (*func)(void *), void *param, uint32_t enter_exit_timeout_ms);
#endif

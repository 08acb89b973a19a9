/* Fake TinyUSB device API: see fake_sdk.h. */
#ifndef FAKE_TUSB_H
#define FAKE_TUSB_H
#include "fake_sdk.h"

bool tusb_init(void);
void tud_task(void);
bool tud_mounted(void);
bool tud_cdc_connected(void);
bool tud_cdc_write_clear(void);
uint32_t tud_cdc_write_available(void);
uint32_t tud_cdc_write(const void *buf, uint32_t n);
uint32_t tud_cdc_write_flush(void);
uint32_t tud_cdc_available(void);
uint32_t tud_cdc_read(void *buf, uint32_t n);
#endif

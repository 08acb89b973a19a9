/* Fake SDK / TinyUSB implementation: see fake_sdk.h. */
#include <string.h>

#include "hardware/irq.h"
#include "pico/time.h"
#include "tusb.h"

fake_cdc_state fake_cdc;
static irq_handler_t worker;
static bool worker_enabled, pending;

int user_irq_claim_unused(bool required) { (void)required; return 26; }
void irq_set_exclusive_handler(uint num, irq_handler_t handler) { (void)num; worker = handler; }
void irq_set_priority(uint num, uint8_t priority) { (void)num; (void)priority; }
void irq_set_enabled(uint num, bool enabled) { (void)num; worker_enabled = enabled; }
void irq_add_shared_handler(uint num, irq_handler_t handler, uint8_t order) { (void)num; (void)handler; (void)order; }
void irq_set_pending(uint num) { (void)num; pending = true; }

bool add_repeating_timer_us(int64_t delay_us, repeating_timer_callback_t cb, void *user_data, repeating_timer_t *out) {
    (void)user_data;
    out->delay_us = delay_us;
    out->callback = cb;
    return true;
}

void fake_run_irq(void) {
    pending = false;
    if (worker && worker_enabled) worker();
}

bool tusb_init(void) { return true; }
void tud_task(void) { fake_cdc.tasks++; }
bool tud_mounted(void) { return fake_cdc.mounted; }
bool tud_cdc_connected(void) { return fake_cdc.mounted && fake_cdc.dtr; }
bool tud_cdc_write_clear(void) { fake_cdc.tx_len = 0; fake_cdc.clears++; return true; }
uint32_t tud_cdc_write_available(void) { return FAKE_TX_FIFO - fake_cdc.tx_len; }
uint32_t tud_cdc_write(const void *buf, uint32_t n) {
    uint32_t room = FAKE_TX_FIFO - fake_cdc.tx_len;
    if (n > room) n = room;
    memcpy(fake_cdc.tx + fake_cdc.tx_len, buf, n);
    fake_cdc.tx_len += n;
    return n;
}
uint32_t tud_cdc_write_flush(void) { fake_cdc.flushes++; return 0; }
uint32_t tud_cdc_available(void) { return fake_cdc.rx_len; }
uint32_t tud_cdc_read(void *buf, uint32_t n) {
    if (n > fake_cdc.rx_len) n = fake_cdc.rx_len;
    memcpy(buf, fake_cdc.rx, n);
    memmove(fake_cdc.rx, fake_cdc.rx + n, fake_cdc.rx_len - n);
    fake_cdc.rx_len -= n;
    return n;
}

size_t fake_host_read(uint8_t *out, size_t cap) {
    size_t n = fake_cdc.tx_len < cap ? fake_cdc.tx_len : cap;
    memcpy(out, fake_cdc.tx, n);
    memmove(fake_cdc.tx, fake_cdc.tx + n, fake_cdc.tx_len - n);
    fake_cdc.tx_len -= (uint32_t)n;
    return n;
}

size_t fake_host_write(const uint8_t *data, size_t n) {
    size_t room = FAKE_RX_FIFO - fake_cdc.rx_len;
    if (n > room) n = room;
    memcpy(fake_cdc.rx + fake_cdc.rx_len, data, n);
    fake_cdc.rx_len += (uint32_t)n;
    return n;
}

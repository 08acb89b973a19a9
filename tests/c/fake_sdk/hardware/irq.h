/* Fake hardware/irq.h: see fake_sdk.h. */
#ifndef FAKE_IRQ_H
#define FAKE_IRQ_H
#include "fake_sdk.h"
#define USBCTRL_IRQ 5
#define PICO_LOWEST_IRQ_PRIORITY 0xff
#define PICO_SHARED_IRQ_HANDLER_LOWEST_ORDER_PRIORITY 0x00
int user_irq_claim_unused(bool required);
void irq_set_exclusive_handler(uint num, irq_handler_t handler);
void irq_set_priority(uint num, uint8_t priority);
void irq_set_enabled(uint num, bool enabled);
void irq_add_shared_handler(uint num, irq_handler_t handler, uint8_t order_priority);
void irq_set_pending(uint num);
#endif

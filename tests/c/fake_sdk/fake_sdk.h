/* Host stand-ins for the few Pico SDK / TinyUSB calls app/usb_link.c makes, so its
 * ring and drop logic runs under gcc + sanitizers (tests/c/test_usb_link.c).
 * The "USB interrupt" is whatever handler usb_link_init() registered: the test
 * calls fake_run_irq() to run it, as the timer would every millisecond.
 * fake_cdc models the CDC function as the host sees it: mounted, DTR, a TX FIFO
 * of CFG_TUD_CDC_TX_BUFSIZE bytes that the host drains when it reads, and an RX
 * FIFO the host fills. */
#ifndef FAKE_SDK_H
#define FAKE_SDK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef unsigned int uint;
typedef void (*irq_handler_t)(void);

#define FAKE_TX_FIFO 1024u
#define FAKE_RX_FIFO 512u

typedef struct {
    bool mounted, dtr;
    uint8_t tx[FAKE_TX_FIFO];
    uint32_t tx_len;
    uint8_t rx[FAKE_RX_FIFO];
    uint32_t rx_len;
    uint32_t clears, flushes, tasks;
} fake_cdc_state;

extern fake_cdc_state fake_cdc;
void fake_run_irq(void);
/* Host reads up to cap bytes from the TX FIFO. */
size_t fake_host_read(uint8_t *out, size_t cap);
/* Host sends bytes (as much as the RX FIFO takes); returns how many. */
size_t fake_host_write(const uint8_t *data, size_t n);

#endif

/* USB CDC link of the firmware: TinyUSB runs in a low-priority interrupt on
 * core 0, so the USB stack stays serviced while the main loop spends hundreds
 * of milliseconds in net(). The main loop and that interrupt meet only in two
 * single-producer/single-consumer byte rings (messages out, commands in).
 *
 * Never waits for a host: with no host, the port closed (DTR low) or a host
 * that stops reading, the sink reports no room and the device drops whole
 * messages (and counts them). Bytes go out exactly as given: binary, no
 * newline translation. */
#ifndef PICO4ML_USB_LINK_H
#define PICO4ML_USB_LINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "device.h"

typedef struct {
    uint32_t bytes_sent;         /* handed to the CDC endpoint */
    uint32_t bytes_received;
    uint32_t bytes_discarded;    /* queued, then thrown away when the host went away */
    uint32_t connects;           /* DTR rising edges */
} usb_link_stats;

/* Start TinyUSB and its background interrupt (call once, on core 0). */
bool usb_link_init(void);
/* The sink for device_init(): space() = free bytes in the outgoing ring. */
device_sink usb_link_sink(void);
/* Copy up to cap received bytes; returns how many (0 if none). */
size_t usb_link_read(uint8_t *buf, size_t cap);
/* Mounted and DTR high: a host has the port open. */
bool usb_link_connected(void);
usb_link_stats usb_link_get_stats(void);

#endif

/* TinyUSB configuration: one CDC interface, device mode, full speed.
 * The SDK's TinyUSB integration sets CFG_TUSB_MCU and CFG_TUSB_OS. */
#ifndef PICO4ML_TUSB_CONFIG_H
#define PICO4ML_TUSB_CONFIG_H

#define CFG_TUSB_RHPORT0_MODE (OPT_MODE_DEVICE)
#define CFG_TUD_ENDPOINT0_SIZE 64

#define CFG_TUD_CDC 1
#define CFG_TUD_MSC 0
#define CFG_TUD_HID 0
#define CFG_TUD_MIDI 0
#define CFG_TUD_VENDOR 0

/* Full-speed bulk packets are 64 bytes. The TX FIFO only smooths the hand-off
 * from usb_link's own message ring; the RX FIFO holds commands until the main
 * loop reads them (the host is NAKed, not dropped, when it is full). */
#define CFG_TUD_CDC_EP_BUFSIZE 64
#define CFG_TUD_CDC_TX_BUFSIZE 1024
#define CFG_TUD_CDC_RX_BUFSIZE 512

#endif

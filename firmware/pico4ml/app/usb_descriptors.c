/* USB descriptors: one CDC ACM interface. Vendor id 0x2E8A (Raspberry Pi);
 * product id 0x000A is the one Raspberry Pi assigns to Pico SDK CDC devices
 * (override with -DPICO4ML_USB_PID). The serial number is the flash chip's
 * unique id, so several boards on one host are told apart. */
#include <stddef.h>

#include "pico/unique_id.h"
#include "tusb.h"

#ifndef PICO4ML_USB_VID
#define PICO4ML_USB_VID 0x2E8A
#endif
#ifndef PICO4ML_USB_PID
#define PICO4ML_USB_PID 0x000A
#endif

enum { ITF_CDC_CTRL = 0, ITF_CDC_DATA, ITF_COUNT };
enum { STR_LANG = 0, STR_MANUFACTURER, STR_PRODUCT, STR_SERIAL, STR_CDC, STR_COUNT };

#define EP_CDC_NOTIFY 0x81
#define EP_CDC_OUT 0x02
#define EP_CDC_IN 0x82
#define CONFIG_LEN (TUD_CONFIG_DESC_LEN + TUD_CDC_DESC_LEN)

static const tusb_desc_device_t device_desc = {
    .bLength = sizeof(tusb_desc_device_t),
    .bDescriptorType = TUSB_DESC_DEVICE,
    .bcdUSB = 0x0200,
    .bDeviceClass = TUSB_CLASS_MISC,  /* IAD: CDC uses two interfaces */
    .bDeviceSubClass = MISC_SUBCLASS_COMMON,
    .bDeviceProtocol = MISC_PROTOCOL_IAD,
    .bMaxPacketSize0 = CFG_TUD_ENDPOINT0_SIZE,
    .idVendor = PICO4ML_USB_VID,
    .idProduct = PICO4ML_USB_PID,
    .bcdDevice = 0x0100,
    .iManufacturer = STR_MANUFACTURER,
    .iProduct = STR_PRODUCT,
    .iSerialNumber = STR_SERIAL,
    .bNumConfigurations = 1,
};

static const uint8_t config_desc[CONFIG_LEN] = {
    TUD_CONFIG_DESCRIPTOR(1, ITF_COUNT, 0, CONFIG_LEN, 0, 250),
    TUD_CDC_DESCRIPTOR(ITF_CDC_CTRL, STR_CDC, EP_CDC_NOTIFY, 8, EP_CDC_OUT, EP_CDC_IN, CFG_TUD_CDC_EP_BUFSIZE),
};

static char serial[2 * PICO_UNIQUE_BOARD_ID_SIZE_BYTES + 1];

static const char *const strings[STR_COUNT] = {
    [STR_MANUFACTURER] = "pico4ml-mnist",
    [STR_PRODUCT] = "Pico4ML MNIST",
    [STR_SERIAL] = serial,
    [STR_CDC] = "Pico4ML MNIST stream",
};

const uint8_t *tud_descriptor_device_cb(void) {
    return (const uint8_t *)&device_desc;
}

const uint8_t *tud_descriptor_configuration_cb(uint8_t index) {
    (void)index;
    return config_desc;
}

const uint16_t *tud_descriptor_string_cb(uint8_t index, uint16_t langid) {
    (void)langid;
    static uint16_t desc[32];  /* sent after return: must outlive the call */
    size_t len;
    if (index == STR_LANG) {
        desc[1] = 0x0409;  /* English (US) */
        len = 1;
    } else {
        if (index >= STR_COUNT)
            return NULL;
        if (index == STR_SERIAL && !serial[0])
            pico_get_unique_board_id_string(serial, sizeof serial);
        const char *s = strings[index];
        for (len = 0; len < 31 && s[len]; len++)
            desc[1 + len] = (uint8_t)s[len];
    }
    desc[0] = (uint16_t)((TUSB_DESC_STRING << 8) | (2 * len + 2));
    return desc;
}

/* Himax HM01B0 camera driver for the RP2040: register setup over I2C, MCLK by
 * PWM, 1-bit pixel data captured by a PIO program and moved by DMA.
 *
 * One camera per image. The app hands in a const config (pins, capture size,
 * sensor timing); the PIO state machine and DMA channel are claimed at run
 * time. The driver keeps its state private. Every function returns 0 or a
 * negative HM01B0_ERR_* code. Call it from one core only.
 */
#ifndef HM01B0_H
#define HM01B0_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hardware/i2c.h"

enum hm01b0_error {
    HM01B0_OK = 0,
    HM01B0_ERR_I2C = -1,           /* no ACK / I2C timeout */
    HM01B0_ERR_MODEL_ID = -2,      /* sensor answered with the wrong model id */
    HM01B0_ERR_RESET = -3,         /* software reset did not complete */
    HM01B0_ERR_NO_PIO = -4,        /* no free state machine or program space */
    HM01B0_ERR_NO_DMA = -5,        /* no free DMA channel */
    HM01B0_ERR_CONFIG = -6,        /* bad config (pins, size, alignment) */
    HM01B0_ERR_NO_VSYNC = -7,      /* no frame started before the VSYNC timeout */
    HM01B0_ERR_FRAME_TIMEOUT = -8, /* a frame started but did not complete in time */
    HM01B0_ERR_STATE = -9,         /* not initialised, or a capture already running */
};

typedef struct hm01b0_config {
    i2c_inst_t *i2c;
    uint32_t i2c_hz;
    uint8_t i2c_addr;
    uint sda_pin, scl_pin;
    int reset_pin;          /* active low; -1 if not wired */
    uint mclk_pin;          /* driven by PWM */
    uint32_t mclk_hz;
    uint d0_pin;            /* PIO IN base; PCLK/HSYNC/VSYNC at the offsets in hm01b0.pio */
    uint pclk_pin, hsync_pin, vsync_pin;
    uint16_t width, height; /* pixels taken per line, lines per frame; width*height % 4 == 0 */
    bool binning_2x2;       /* 2x2 binned readout (162x162 from the 324x324 array) */
    uint16_t frame_lines;   /* sensor frame length (lines) and line length (pixel clocks): */
    uint16_t line_len_pck;  /* fps = mclk_hz / 8 / (frame_lines * line_len_pck) */
    uint8_t orientation;    /* HM01B0_MIRROR | HM01B0_FLIP at start */
} hm01b0_config;

#define HM01B0_MIRROR 0x01u
#define HM01B0_FLIP 0x02u

/* Exposure: auto (the sensor's AE aims at ae_target_mean) or fixed. */
typedef struct hm01b0_exposure {
    bool auto_exposure;
    uint8_t ae_target_mean;    /* AE: target mean pixel value, e.g. 0x5F */
    uint16_t integration_lines;/* fixed: 2 .. frame_lines - 2 */
    uint8_t analog_gain_log2;  /* fixed: 0..3 for 1x, 2x, 4x, 8x */
    uint16_t digital_gain_q6;  /* fixed: 0x40 = 1x, up to 0xFF (about 4x) */
} hm01b0_exposure;

/* Start MCLK, reset the sensor, check its model id (0x01B0), load the init
 * table, claim a PIO state machine and a DMA channel, and start streaming.
 * On failure everything claimed is released, so it can simply be retried. */
int hm01b0_init(const hm01b0_config *config);
void hm01b0_deinit(void);

/* Arm a capture of the next whole frame into buf (width*height bytes,
 * 4-byte aligned). Returns at once; the frame arrives by DMA. */
int hm01b0_capture_start(uint8_t *buf, size_t len);
/* Wait for the armed capture: HM01B0_ERR_NO_VSYNC if no data came within
 * vsync_timeout_us, HM01B0_ERR_FRAME_TIMEOUT if the frame did not finish
 * within frame_timeout_us. On error the capture is stopped. */
int hm01b0_capture_wait(uint32_t vsync_timeout_us, uint32_t frame_timeout_us);
bool hm01b0_capture_done(void);

int hm01b0_set_orientation(uint8_t flags);
int hm01b0_set_exposure(const hm01b0_exposure *e);
/* Frame period implied by the configured timing (0 before init). */
uint32_t hm01b0_frame_period_us(void);

/* Model id read by the last init (to report a wrong sensor). */
uint16_t hm01b0_model_id(void);

int hm01b0_read_reg(uint16_t reg, uint8_t *value);
int hm01b0_write_reg(uint16_t reg, uint8_t value);
const char *hm01b0_strerror(int err);

#endif

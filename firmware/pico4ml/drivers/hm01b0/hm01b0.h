/* Himax HM01B0 camera driver for the RP2040: register setup over I2C, MCLK by
 * PWM, 1-bit pixel data captured by a PIO program and moved by DMA.
 *
 * One camera per image. The app hands in a const config (pins, readout mode,
 * orientation); the PIO state machine, DMA channel and (full-window mode) PIO
 * interrupt are claimed at run time, on the core that calls hm01b0_init().
 * The driver keeps its state private. Every function returns 0 or a negative
 * HM01B0_ERR_* code. Call it from one core only: its interrupts (VSYNC edges,
 * the full mode's line ends) run on that core.
 *
 * Both readout modes deliver the same 162x162 frame:
 * - HM01B0_MODE_FULL: the full 324x324 window, the mode the board vendor's
 *   own Pico4ML demo runs. Lines arrive by DMA in a 4 KB ring; the line-end
 *   PIO interrupt averages each pair of lines 2x2 into the frame buffer.
 * - HM01B0_MODE_BINNED: the sensor bins 2x2 itself and DMA writes the frame
 *   straight into the buffer: no CPU work, 30 fps, but no public run on a
 *   Pico4ML (see firmware/pico4ml/README.md, "Camera modes").
 * A frame ends on the DMA byte count. VSYNC is watched by a GPIO interrupt,
 * never waited for: a fall before the last line is only counted
 * (hm01b0_last_capture: the frame is kept); a rise before the last line (the
 * sensor sends fewer lines than the mode) ends the capture at once as
 * HM01B0_ERR_SHORT_FRAME, before the next frame's lines get into the buffer.
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
    HM01B0_ERR_CONFIG = -6,        /* bad config (pins, mode, buffer) */
    HM01B0_ERR_NO_VSYNC = -7,      /* no frame started before the VSYNC timeout */
    HM01B0_ERR_FRAME_TIMEOUT = -8, /* a frame started but did not complete in time */
    HM01B0_ERR_STATE = -9,         /* not initialised, or a capture already running */
    HM01B0_ERR_SHORT_FRAME = -10,  /* the next frame began before this one had all its lines */
    HM01B0_ERR_OVERRUN = -11,      /* full mode: DMA overtook the decimation (interrupts held off) */
};

/* Readout modes; the values are the protocol's PROTO_CAM_MODE_BINNED / _FULL. */
typedef enum hm01b0_mode {
    HM01B0_MODE_BINNED = 1,  /* 2x2 binned by the sensor: 162x162 out of it */
    HM01B0_MODE_FULL = 2,    /* 324x324 out of the sensor, 2x2 averaged here */
} hm01b0_mode;

/* The frame every mode delivers. */
#define HM01B0_FRAME_WIDTH 162
#define HM01B0_FRAME_HEIGHT 162
#define HM01B0_FRAME_BYTES (HM01B0_FRAME_WIDTH * HM01B0_FRAME_HEIGHT)

typedef struct hm01b0_config {
    i2c_inst_t *i2c;
    uint32_t i2c_hz;
    uint8_t i2c_addr;
    uint sda_pin, scl_pin;  /* internal pull-ups are switched on */
    int reset_pin;          /* active low; -1 if not wired */
    uint mclk_pin;          /* driven by PWM */
    uint32_t mclk_hz;
    uint d0_pin;            /* PIO IN base; PCLK/HSYNC/VSYNC at the offsets in hm01b0.pio */
    uint pclk_pin, hsync_pin, vsync_pin;
    hm01b0_mode mode;
    uint8_t orientation;    /* HM01B0_MIRROR | HM01B0_FLIP at start */
} hm01b0_config;

#define HM01B0_MIRROR 0x01u
#define HM01B0_FLIP 0x02u

/* Reset timing (the board vendor's: see hm01b0.c). */
#define HM01B0_RESET_HOLD_MS 100
#define HM01B0_RESET_WAIT_MS 100

/* Exposure: auto (the sensor's AE aims at ae_target_mean) or fixed. */
typedef struct hm01b0_exposure {
    bool auto_exposure;
    uint8_t ae_target_mean;    /* AE: target mean pixel value, e.g. 0x5F */
    uint16_t integration_lines;/* fixed: 2 .. frame length - 2 */
    uint8_t analog_gain_log2;  /* fixed: 0..3 for 1x, 2x, 4x, 8x */
    uint16_t digital_gain_q6;  /* fixed: 0x40 = 1x, up to 0xFF (about 4x) */
} hm01b0_exposure;

/* What the last finished capture (good or not) saw. */
typedef struct hm01b0_capture_info {
    bool vsync_early;         /* VSYNC fell before the last line had arrived */
    uint16_t vsync_fall_line; /* if so: whole lines received when it fell */
    uint16_t lines;           /* sensor lines received (a short frame: before the next VSYNC) */
    uint16_t lines_expected;  /* sensor lines the mode gives */
} hm01b0_capture_info;

/* Start MCLK, reset the sensor, check its model id (0x01B0), load the init
 * table and the mode's table, claim a PIO state machine and a DMA channel,
 * and start streaming. On failure everything claimed is released, so it can
 * simply be retried (also with another mode). */
int hm01b0_init(const hm01b0_config *config);
void hm01b0_deinit(void);

/* Arm a capture of the next whole frame into buf (HM01B0_FRAME_BYTES,
 * 4-byte aligned). Returns at once; the frame arrives by DMA. */
int hm01b0_capture_start(uint8_t *buf, size_t len);
/* Wait for the armed capture: HM01B0_ERR_NO_VSYNC if no data came within
 * vsync_timeout_us, HM01B0_ERR_SHORT_FRAME as soon as the sensor starts the
 * next frame early, HM01B0_ERR_FRAME_TIMEOUT if the frame did not finish
 * within frame_timeout_us. The capture is stopped either way. */
int hm01b0_capture_wait(uint32_t vsync_timeout_us, uint32_t frame_timeout_us);
void hm01b0_last_capture(hm01b0_capture_info *info);

int hm01b0_set_orientation(uint8_t flags);
int hm01b0_set_exposure(const hm01b0_exposure *e);
/* Frame period of the running mode's timing (0 before init). */
uint32_t hm01b0_frame_period_us(void);
/* The running mode (0 before init). */
hm01b0_mode hm01b0_get_mode(void);
const char *hm01b0_mode_name(hm01b0_mode mode);

/* Model id read by the last init (to report a wrong sensor). */
uint16_t hm01b0_model_id(void);

int hm01b0_read_reg(uint16_t reg, uint8_t *value);
int hm01b0_write_reg(uint16_t reg, uint8_t value);
const char *hm01b0_strerror(int err);

#endif

/* HM01B0 camera driver: see hm01b0.h. The sensor streams continuously; each
 * capture restarts the PIO program, which waits for a rising VSYNC, so every
 * buffer holds exactly one whole frame. */
#include "hm01b0.h"

#include "hardware/clocks.h"
#include "hardware/dma.h"
#include "hardware/gpio.h"
#include "hardware/pio.h"
#include "hardware/pwm.h"
#include "pico/time.h"

#include "hm01b0.pio.h"
#include "hm01b0_regs.h"

#define I2C_TIMEOUT_US 5000
#define RESET_POLL_MS 10
#define RESET_TIMEOUT_MS 500

typedef struct {
    uint16_t reg;
    uint8_t value;
} reg_value;

#define REG_END 0xFFFF  /* end marker of an init table */

/* Sensor setup, written in datasheet order: standby, black level, statistics
 * and AE, output interface (1-bit serial, LSB first, gated PCLK), then the
 * group-parameter-hold write that makes the sensor apply it. Readout size,
 * timing and orientation depend on the config and are written after it. */
static const reg_value init_table[] = {
    {HM01B0_MODE_SELECT, HM01B0_MODE_STANDBY},
    /* Black level calibration on (IIR), dithering, dark pixel threshold,
     * black level target 8 for both BLC and BLI; defect correction off. */
    {HM01B0_BLC_CFG, 0x43},
    {HM01B0_BLC_DITHER, 0x40},
    {HM01B0_BLC_DARK_THD, 0x32},
    {HM01B0_BLC_TGT, 0x08},
    {HM01B0_BLI_EN, 0x01},
    {HM01B0_BLC2_TGT, 0x08},
    {HM01B0_DPC_CTRL, 0x00},
    /* AE statistics on, motion detection off. */
    {HM01B0_STAT_CTRL, 0x01},
    {HM01B0_MD_CTRL, 0x00},
    /* AE: on by default; converge thresholds, gain limits (analog 8x max,
     * digital 1x..2x), default damping, no flicker stepping. */
    {HM01B0_AE_CTRL, 0x01},
    {HM01B0_AE_TARGET_MEAN, 0x5F},
    {HM01B0_AE_MIN_MEAN, 0x0A},
    {HM01B0_CONVERGE_IN_TH, 0x03},
    {HM01B0_CONVERGE_OUT_TH, 0x05},
    {HM01B0_MIN_INTG, 0x02},
    {HM01B0_MAX_AGAIN_FULL, 0x03},
    {HM01B0_MAX_AGAIN_BIN2, 0x03},
    {HM01B0_MIN_AGAIN, 0x00},
    {HM01B0_MAX_DGAIN, 0x80},
    {HM01B0_MIN_DGAIN, 0x40},
    {HM01B0_DAMPING_FACTOR, 0x20},
    {HM01B0_FS_CTRL, 0x00},
    /* Output: 8-bit pixels sent 1 bit per PCLK, LSB first, PCLK gated to the
     * active pixels, vt_sys_div = 8 (pixel rate = MCLK / 8), VSYNC advanced
     * by one line, no trigger sync. */
    {HM01B0_BIT_WIDTH, 0x70},
    {HM01B0_BIT_CONTROL, HM01B0_BIT_CONTROL_SERIAL},
    {HM01B0_OSC_CLK_DIV, 0x20},
    {HM01B0_ADVANCE_VSYNC, 0x01},
    {HM01B0_TRIGGER_SYNC, 0x00},
    {HM01B0_OUTPUT_PIN_CTRL, 0x04},
    {REG_END, 0},
};

static struct {
    hm01b0_config cfg;
    bool ready;
    bool capturing;
    PIO pio;
    uint sm;
    uint offset;
    int dma;
    uint32_t words;           /* words per frame */
    uint16_t model_id;
    absolute_time_t started;  /* when the capture was armed */
} cam = {.dma = -1};

int hm01b0_write_reg(uint16_t reg, uint8_t value) {
    const uint8_t msg[3] = {(uint8_t)(reg >> 8), (uint8_t)reg, value};
    int n = i2c_write_timeout_us(cam.cfg.i2c, cam.cfg.i2c_addr, msg, 3, false, I2C_TIMEOUT_US);
    return n == 3 ? HM01B0_OK : HM01B0_ERR_I2C;
}

int hm01b0_read_reg(uint16_t reg, uint8_t *value) {
    const uint8_t addr[2] = {(uint8_t)(reg >> 8), (uint8_t)reg};
    if (i2c_write_timeout_us(cam.cfg.i2c, cam.cfg.i2c_addr, addr, 2, true, I2C_TIMEOUT_US) != 2)
        return HM01B0_ERR_I2C;
    if (i2c_read_timeout_us(cam.cfg.i2c, cam.cfg.i2c_addr, value, 1, false, I2C_TIMEOUT_US) != 1)
        return HM01B0_ERR_I2C;
    return HM01B0_OK;
}

static int write_table(const reg_value *table) {
    for (const reg_value *r = table; r->reg != REG_END; r++) {
        int err = hm01b0_write_reg(r->reg, r->value);
        if (err)
            return err;  /* stop at the first I2C error */
    }
    return HM01B0_OK;
}

static int write_u16(uint16_t reg_h, uint16_t value) {
    int err = hm01b0_write_reg(reg_h, (uint8_t)(value >> 8));
    return err ? err : hm01b0_write_reg((uint16_t)(reg_h + 1), (uint8_t)value);
}

static void mclk_start(uint pin, uint32_t hz) {
    uint32_t sys = clock_get_hz(clk_sys);
    uint32_t period = (sys + hz / 2) / hz;  /* clk_sys cycles per MCLK cycle */
    if (period < 2)
        period = 2;
    uint slice = pwm_gpio_to_slice_num(pin);
    gpio_set_function(pin, GPIO_FUNC_PWM);
    pwm_config pc = pwm_get_default_config();
    pwm_config_set_clkdiv_int(&pc, 1);
    pwm_config_set_wrap(&pc, (uint16_t)(period - 1));
    pwm_init(slice, &pc, false);
    pwm_set_gpio_level(pin, (uint16_t)(period / 2));
    pwm_set_enabled(slice, true);
}

static int check_model_id(void) {
    uint8_t hi = 0, lo = 0;
    int err = hm01b0_read_reg(HM01B0_MODEL_ID_H, &hi);
    if (!err)
        err = hm01b0_read_reg(HM01B0_MODEL_ID_L, &lo);
    if (err)
        return err;
    cam.model_id = (uint16_t)((hi << 8) | lo);
    return cam.model_id == HM01B0_MODEL_ID ? HM01B0_OK : HM01B0_ERR_MODEL_ID;
}

static int soft_reset(void) {
    int err = hm01b0_write_reg(HM01B0_SW_RESET, 0x01);
    if (err)
        return err;
    /* The sensor drops into standby once the reset is done. */
    for (int t = 0; t < RESET_TIMEOUT_MS; t += RESET_POLL_MS) {
        sleep_ms(RESET_POLL_MS);
        uint8_t mode = 0xFF;
        if (hm01b0_read_reg(HM01B0_MODE_SELECT, &mode) == HM01B0_OK && mode == HM01B0_MODE_STANDBY)
            return HM01B0_OK;
    }
    return HM01B0_ERR_RESET;
}

static int write_readout(const hm01b0_config *c) {
    const uint8_t skip = c->binning_2x2 ? 0x03 : 0x01;
    const reg_value readout[] = {
        {HM01B0_READOUT_X, skip},
        {HM01B0_READOUT_Y, skip},
        {HM01B0_BINNING_MODE, c->binning_2x2 ? 0x03 : 0x00},
        {HM01B0_QVGA_WIN_EN, 0x00},  /* full 324x324 array (binned to 162x162) */
        {HM01B0_SYNC_SHIFT_EN, c->binning_2x2 ? 0x03 : 0x01},
        {HM01B0_IMAGE_ORIENTATION, (uint8_t)(c->orientation & 3u)},
        {REG_END, 0},
    };
    int err = write_table(readout);
    if (!err)
        err = write_u16(HM01B0_FRAME_LEN_LINES_H, c->frame_lines);
    if (!err)
        err = write_u16(HM01B0_LINE_LEN_PCK_H, c->line_len_pck);
    /* AE must not integrate longer than a frame, or the sensor skips frames. */
    if (!err)
        err = write_u16(HM01B0_MAX_INTG_H, (uint16_t)(c->frame_lines - 2));
    return err;
}

static bool config_ok(const hm01b0_config *c) {
    return c->i2c && c->width > 0 && c->height > 0 && ((uint32_t)c->width * c->height) % 4 == 0 &&
           c->pclk_pin == c->d0_pin + hm01b0_capture_PCLK_OFFSET &&
           c->hsync_pin == c->d0_pin + hm01b0_capture_HSYNC_OFFSET &&
           c->vsync_pin == c->d0_pin + hm01b0_capture_VSYNC_OFFSET && c->frame_lines > 4 &&
           c->line_len_pck > c->width && c->mclk_hz > 0;
}

void hm01b0_deinit(void) {
    if (cam.capturing) {
        dma_channel_abort((uint)cam.dma);
        cam.capturing = false;
    }
    if (cam.pio) {
        pio_sm_set_enabled(cam.pio, cam.sm, false);
        pio_remove_program_and_unclaim_sm(&hm01b0_capture_program, cam.pio, cam.sm, cam.offset);
        cam.pio = NULL;
    }
    if (cam.dma >= 0) {
        dma_channel_unclaim((uint)cam.dma);
        cam.dma = -1;
    }
    if (cam.ready)
        (void)hm01b0_write_reg(HM01B0_MODE_SELECT, HM01B0_MODE_STANDBY);
    cam.ready = false;
}

int hm01b0_init(const hm01b0_config *config) {
    hm01b0_deinit();
    if (!config_ok(config))
        return HM01B0_ERR_CONFIG;
    cam.cfg = *config;
    cam.model_id = 0;
    cam.words = (uint32_t)config->width * config->height / 4;

    mclk_start(config->mclk_pin, config->mclk_hz);
    if (config->reset_pin >= 0) {
        gpio_init((uint)config->reset_pin);
        gpio_set_dir((uint)config->reset_pin, GPIO_OUT);
        gpio_put((uint)config->reset_pin, 0);
        sleep_ms(2);
        gpio_put((uint)config->reset_pin, 1);
    }
    sleep_ms(20);  /* let the sensor start up on MCLK */

    i2c_init(config->i2c, config->i2c_hz);
    gpio_set_function(config->sda_pin, GPIO_FUNC_I2C);
    gpio_set_function(config->scl_pin, GPIO_FUNC_I2C);
    gpio_pull_up(config->sda_pin);
    gpio_pull_up(config->scl_pin);

    int err = check_model_id();
    if (!err)
        err = soft_reset();
    if (!err)
        err = write_table(init_table);
    if (!err)
        err = write_readout(config);
    if (!err)
        err = hm01b0_write_reg(HM01B0_GRP_PARAM_HOLD, 0x01);
    if (err)
        return err;
    cam.ready = true;

    PIO pio;
    uint sm, offset;
    if (!pio_claim_free_sm_and_add_program(&hm01b0_capture_program, &pio, &sm, &offset)) {
        hm01b0_deinit();
        return HM01B0_ERR_NO_PIO;
    }
    cam.pio = pio;
    cam.sm = sm;
    cam.offset = offset;
    hm01b0_capture_program_init(pio, sm, offset, config->d0_pin);

    cam.dma = dma_claim_unused_channel(false);
    if (cam.dma < 0) {
        hm01b0_deinit();
        return HM01B0_ERR_NO_DMA;
    }
    err = hm01b0_write_reg(HM01B0_MODE_SELECT, HM01B0_MODE_STREAMING);
    if (err)
        hm01b0_deinit();
    return err;
}

int hm01b0_capture_start(uint8_t *buf, size_t len) {
    if (!cam.ready || !cam.pio || cam.dma < 0 || cam.capturing)
        return HM01B0_ERR_STATE;
    if (len != cam.words * 4 || ((uintptr_t)buf & 3u))
        return HM01B0_ERR_CONFIG;
    PIO pio = cam.pio;
    uint sm = cam.sm;
    pio_sm_set_enabled(pio, sm, false);
    pio_sm_clear_fifos(pio, sm);
    pio_sm_restart(pio, sm);
    pio_sm_exec(pio, sm, pio_encode_jmp(cam.offset + hm01b0_capture_offset_start));

    dma_channel_config dc = dma_channel_get_default_config((uint)cam.dma);
    channel_config_set_transfer_data_size(&dc, DMA_SIZE_32);
    channel_config_set_read_increment(&dc, false);
    channel_config_set_write_increment(&dc, true);
    channel_config_set_dreq(&dc, pio_get_dreq(pio, sm, false));
    dma_channel_configure((uint)cam.dma, &dc, buf, &pio->rxf[sm], cam.words, true);

    pio_sm_put(pio, sm, (uint32_t)cam.cfg.height - 1u);
    pio_sm_put(pio, sm, (uint32_t)cam.cfg.width * 8u - 1u);
    cam.started = get_absolute_time();
    cam.capturing = true;
    pio_sm_set_enabled(pio, sm, true);
    return HM01B0_OK;
}

bool hm01b0_capture_done(void) {
    return cam.capturing && !dma_channel_is_busy((uint)cam.dma);
}

static void capture_stop(void) {
    pio_sm_set_enabled(cam.pio, cam.sm, false);
    if (dma_channel_is_busy((uint)cam.dma))
        dma_channel_abort((uint)cam.dma);
    cam.capturing = false;
}

int hm01b0_capture_wait(uint32_t vsync_timeout_us, uint32_t frame_timeout_us) {
    if (!cam.capturing)
        return HM01B0_ERR_STATE;
    absolute_time_t vsync_deadline = delayed_by_us(cam.started, vsync_timeout_us);
    absolute_time_t frame_deadline = delayed_by_us(cam.started, frame_timeout_us);
    while (dma_channel_is_busy((uint)cam.dma)) {
        absolute_time_t now = get_absolute_time();
        bool no_data = dma_channel_hw_addr((uint)cam.dma)->transfer_count == cam.words;
        if (no_data && absolute_time_diff_us(vsync_deadline, now) > 0) {
            capture_stop();
            return HM01B0_ERR_NO_VSYNC;
        }
        if (absolute_time_diff_us(frame_deadline, now) > 0) {
            capture_stop();
            return HM01B0_ERR_FRAME_TIMEOUT;
        }
        tight_loop_contents();
    }
    capture_stop();
    return HM01B0_OK;
}

int hm01b0_set_orientation(uint8_t flags) {
    if (!cam.ready)
        return HM01B0_ERR_STATE;
    int err = hm01b0_write_reg(HM01B0_IMAGE_ORIENTATION, (uint8_t)(flags & 3u));
    return err ? err : hm01b0_write_reg(HM01B0_GRP_PARAM_HOLD, 0x01);
}

int hm01b0_set_exposure(const hm01b0_exposure *e) {
    if (!cam.ready)
        return HM01B0_ERR_STATE;
    int err;
    if (e->auto_exposure) {
        err = hm01b0_write_reg(HM01B0_AE_TARGET_MEAN, e->ae_target_mean);
        if (!err)
            err = hm01b0_write_reg(HM01B0_AE_CTRL, 0x01);
    } else {
        uint16_t lines = e->integration_lines;
        uint16_t max_lines = (uint16_t)(cam.cfg.frame_lines - 2);
        if (lines < 2)
            lines = 2;
        if (lines > max_lines)
            lines = max_lines;
        uint8_t again = e->analog_gain_log2 > 3 ? 3 : e->analog_gain_log2;
        uint16_t dgain = e->digital_gain_q6 > 0xFF ? 0xFF : e->digital_gain_q6;
        err = hm01b0_write_reg(HM01B0_AE_CTRL, 0x00);
        if (!err)
            err = write_u16(HM01B0_INTEGRATION_H, lines);
        if (!err)
            err = hm01b0_write_reg(HM01B0_ANALOG_GAIN, (uint8_t)(again << 4));
        if (!err)
            err = hm01b0_write_reg(HM01B0_DIGITAL_GAIN_H, (uint8_t)(dgain >> 6));
        if (!err)
            err = hm01b0_write_reg(HM01B0_DIGITAL_GAIN_L, (uint8_t)((dgain & 0x3Fu) << 2));
    }
    return err ? err : hm01b0_write_reg(HM01B0_GRP_PARAM_HOLD, 0x01);
}

uint16_t hm01b0_model_id(void) {
    return cam.model_id;
}

uint32_t hm01b0_frame_period_us(void) {
    if (!cam.ready)
        return 0;
    uint64_t clocks = (uint64_t)cam.cfg.frame_lines * cam.cfg.line_len_pck * 8u;  /* MCLK cycles */
    return (uint32_t)(clocks * 1000000u / cam.cfg.mclk_hz);
}

const char *hm01b0_strerror(int err) {
    switch (err) {
    case HM01B0_OK: return "ok";
    case HM01B0_ERR_I2C: return "camera I2C: no answer";
    case HM01B0_ERR_MODEL_ID: return "camera: wrong model id";
    case HM01B0_ERR_RESET: return "camera: reset timeout";
    case HM01B0_ERR_NO_PIO: return "camera: no free PIO";
    case HM01B0_ERR_NO_DMA: return "camera: no free DMA";
    case HM01B0_ERR_CONFIG: return "camera: bad config";
    case HM01B0_ERR_NO_VSYNC: return "camera: no VSYNC";
    case HM01B0_ERR_FRAME_TIMEOUT: return "camera: frame timeout";
    case HM01B0_ERR_STATE: return "camera: not ready";
    default: return "camera: error";
    }
}

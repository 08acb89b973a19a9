/* HM01B0 camera driver: see hm01b0.h. The sensor streams continuously; each
 * capture restarts the PIO program, which waits for a rising VSYNC, so every
 * buffer starts with a whole frame, and ends on the DMA count.
 *
 * Where the values come from (all public; this is our own table, written from
 * what they show and the HM01B0 datasheet's register map):
 *  [vendor]  ArduCAM/RPI-Pico-Cam, rp2040_hm01b0_st7735/arducam/arducam.c and
 *            arducam/hm01b0_init.h: the Pico4ML's own camera + LCD demo (the
 *            same table as tflmicro/examples/person_detection_screen/lib/
 *            arducam_s/hm01b0_init.h in that repository).
 *  [arm]     ArmDeveloperEcosystem/hm01b0-library-for-pico, src/hm01b0.c.
 *  [himax]   Himax's HM01B0 init script as shipped in SparkFun's HM01B0
 *            library and TensorFlow Lite Micro's person_detection example
 *            (HM01B0_RAW8_QVGA_8bits_lsb_5fps.h).
 *  [zephyr]  zephyrproject-rtos/zephyr, drivers/video/hm01b0.c.
 */
#include "hm01b0.h"

#include "hardware/clocks.h"
#include "hardware/dma.h"
#include "hardware/gpio.h"
#include "hardware/irq.h"
#include "hardware/pio.h"
#include "hardware/pwm.h"
#include "hardware/sync.h"
#include "pico/time.h"

#include "hm01b0.pio.h"
#include "hm01b0_regs.h"

#define I2C_TIMEOUT_US 5000
#define RESET_POLL_MS 10
#define RESET_TIMEOUT_MS 500

/* Full-window mode: sensor lines land in a ring the DMA wraps around (write
 * ring of 2^RING_BITS bytes, so it must be aligned to its size). 4 KB is
 * 12 lines: the line interrupt may be held off ~10 lines (2.4 ms) before
 * the DMA overwrites a line not yet averaged (reported as an overrun). */
#define RING_BITS 12
#define RING_BYTES (1u << RING_BITS)
#define FULL_SIDE 324

typedef struct {
    uint16_t reg;
    uint8_t value;
} reg_value;

#define REG_END 0xFFFF  /* end marker of an init table */

/* Sensor setup, after the software reset. Readout, timing and orientation
 * depend on the mode and come after it; then the group-parameter-hold write
 * makes the sensor apply it all. */
static const reg_value init_table[] = {
    {HM01B0_MODE_SELECT, HM01B0_MODE_STANDBY},
    /* Analog block, as [vendor], [himax] and [zephyr] all write it ("increase
     * adc pwr for missing code"); the public datasheet names no fields. */
    {HM01B0_ANA_CDS_TIME_1, 0x0A},
    {HM01B0_ANA_CDS_TG_RST, 0x00},
    {HM01B0_ANA_CDS_TIME_2, 0x0A},
    {HM01B0_ANA_OFFSET_0, 0xC0},
    {HM01B0_ANA_OFFSET_1, 0x42},
    {HM01B0_ANA_OFFSET_2, 0x50},
    {HM01B0_ANA_OFFSET_3, 0x00},
    {HM01B0_ANA_SF_CLAMP, 0x03},
    {HM01B0_ANA_DSUN_TUNE, 0xF7},
    {HM01B0_ANA_ADC_NONOVERLAP, 0xF8},
    {HM01B0_ANA_ADC_POWER, 0x29},
    {HM01B0_ANA_DSUN_ON, 0x1F},
    /* Black level calibration on (IIR), dithering, dark pixel threshold,
     * black level target 8 for both BLC and BLI; defect correction off;
     * digital gain control as [vendor] / [himax]. */
    {HM01B0_BLC_CFG, 0x43},
    {HM01B0_BLC_DITHER, 0x40},
    {HM01B0_BLC_DARK_THD, 0x32},
    {HM01B0_BLC_TGT, 0x08},
    {HM01B0_BLI_EN, 0x01},
    {HM01B0_BLC2_TGT, 0x08},
    {HM01B0_DPC_CTRL, 0x00},
    {HM01B0_DGAIN_CONTROL, 0x7F},
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
     * by one line, no trigger sync. [vendor] writes 0x30 to OSC_CLK_DIV: the
     * same but MSB first; [himax] 0x20 is the LSB-first value used here (so
     * is [arm]'s 1-bit capture), which lets the PIO pack 4 pixels a word. */
    {HM01B0_BIT_WIDTH, 0x70},
    {HM01B0_BIT_CONTROL, HM01B0_BIT_CONTROL_SERIAL},
    {HM01B0_OSC_CLK_DIV, 0x20},
    {HM01B0_ADVANCE_VSYNC, 0x01},
    {HM01B0_TRIGGER_SYNC, 0x00},
    {HM01B0_OUTPUT_PIN_CTRL, 0x04},
    {REG_END, 0},
};

/* One readout mode: its registers and what comes out of the sensor. */
typedef struct {
    const reg_value *regs;
    uint16_t frame_lines, line_len_pck;  /* fps = MCLK / 8 / (frame_lines * line_len_pck) */
    uint16_t sensor_lines, sensor_width; /* captured per frame */
} mode_info;

/* Full 324x324 window, no binning: [vendor]'s running table (0x0383/0x0387
 * = 1, 0x0390 = 0, frame length 0x017A, line length 0x0177, sync shift 1).
 * 324 x 324 is what [vendor] captures; [arm]'s 320x320 is the same readout
 * with 2 border lines and pixels dropped. 11 fps at MCLK 12.5 MHz. */
static const reg_value mode_full_regs[] = {
    {HM01B0_READOUT_X, 0x01},
    {HM01B0_READOUT_Y, 0x01},
    {HM01B0_BINNING_MODE, 0x00},
    {HM01B0_QVGA_WIN_EN, 0x00},
    {HM01B0_SYNC_SHIFT_EN, 0x01},
    {HM01B0_FRAME_LEN_LINES_H, 0x01},
    {HM01B0_FRAME_LEN_LINES_L, 0x7A},
    {HM01B0_LINE_LEN_PCK_H, 0x01},
    {HM01B0_LINE_LEN_PCK_L, 0x77},
    {HM01B0_MAX_INTG_H, 0x01},  /* AE integrates at most frame length - 2 [zephyr] */
    {HM01B0_MAX_INTG_L, 0x78},
    {REG_END, 0},
};

/* 2x2 binning of the full window (162x162): the four writes [vendor] has
 * commented out (0x0383/0x0387/0x0390 = 3, sync shift 3); [arm] and [zephyr]
 * bin only the QVGA window. Line length 0x00D7 as [arm]'s binned mode; 242
 * lines make 30 fps at MCLK 12.5 MHz. Unverified on a board. */
static const reg_value mode_binned_regs[] = {
    {HM01B0_READOUT_X, 0x03},
    {HM01B0_READOUT_Y, 0x03},
    {HM01B0_BINNING_MODE, 0x03},
    {HM01B0_QVGA_WIN_EN, 0x00},
    {HM01B0_SYNC_SHIFT_EN, 0x03},
    {HM01B0_FRAME_LEN_LINES_H, 0x00},
    {HM01B0_FRAME_LEN_LINES_L, 0xF2},
    {HM01B0_LINE_LEN_PCK_H, 0x00},
    {HM01B0_LINE_LEN_PCK_L, 0xD7},
    {HM01B0_MAX_INTG_H, 0x00},
    {HM01B0_MAX_INTG_L, 0xF0},
    {REG_END, 0},
};

static const mode_info modes[] = {
    [HM01B0_MODE_BINNED] = {mode_binned_regs, 0x00F2, 0x00D7, HM01B0_FRAME_HEIGHT, HM01B0_FRAME_WIDTH},
    [HM01B0_MODE_FULL] = {mode_full_regs, 0x017A, 0x0177, FULL_SIDE, FULL_SIDE},
};

static uint8_t ring[RING_BYTES] __attribute__((aligned(RING_BYTES)));

static struct {
    hm01b0_config cfg;
    const mode_info *mode;
    bool ready;
    bool capturing;
    PIO pio;
    uint sm;
    uint offset;
    int dma;
    int irq_num;              /* PIO IRQ 0 of our PIO, once its handler is installed; else -1 */
    bool vsync_isr_installed;
    uint32_t words;           /* DMA words per capture */
    uint16_t model_id;
    absolute_time_t started;  /* when the capture was armed */
    hm01b0_capture_info last;
    /* VSYNC interrupt: bytes landed when VSYNC fell / rose again too early (-1: not seen) */
    volatile int32_t fall_bytes, rise_bytes;
    /* full mode: the frame being filled, output rows done (ISR), overrun seen */
    uint8_t *out;
    volatile uint16_t rows_out;
    volatile bool overrun;
} cam = {.dma = -1, .irq_num = -1};

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

/* Software reset, then wait for standby, as [arm] and [zephyr] do. */
static int soft_reset(void) {
    int err = hm01b0_write_reg(HM01B0_SW_RESET, 0x01);
    if (err)
        return err;
    for (int t = 0; t < RESET_TIMEOUT_MS; t += RESET_POLL_MS) {
        sleep_ms(RESET_POLL_MS);
        uint8_t mode = 0xFF;
        if (hm01b0_read_reg(HM01B0_MODE_SELECT, &mode) == HM01B0_OK && mode == HM01B0_MODE_STANDBY)
            return HM01B0_OK;
    }
    return HM01B0_ERR_RESET;
}

static bool config_ok(const hm01b0_config *c) {
    return c->i2c && c->i2c_hz > 0 && (c->mode == HM01B0_MODE_BINNED || c->mode == HM01B0_MODE_FULL) &&
           c->pclk_pin == c->d0_pin + hm01b0_capture_PCLK_OFFSET &&
           c->hsync_pin == c->d0_pin + hm01b0_capture_HSYNC_OFFSET &&
           c->vsync_pin == c->d0_pin + hm01b0_capture_VSYNC_OFFSET && c->mclk_hz > 0;
}

static uint32_t __not_in_flash_func(landed_bytes)(void) {
    return (cam.words - dma_channel_hw_addr((uint)cam.dma)->transfer_count) * 4u;
}

/* ---- VSYNC edges: the consistency check, never a wait ----
 * A fall while the frame has data but is not complete: VSYNC ended before the
 * last line (counted: a diagnostic). A rise then: the next frame began before
 * this one had all its lines, so the sensor sends fewer than the mode: stop at
 * once (short frame) rather than fill the buffer from the next frame. A rise
 * with no data yet is the frame's start (the PIO waits for the same edge). */
static void __not_in_flash_func(vsync_isr)(void) {
    const uint pin = cam.cfg.vsync_pin;
    uint32_t ev = gpio_get_irq_event_mask(pin) & (GPIO_IRQ_EDGE_FALL | GPIO_IRQ_EDGE_RISE);
    if (!ev)
        return;  /* shared bank IRQ: another pin */
    gpio_acknowledge_irq(pin, ev);
    if (!cam.capturing)
        return;
    uint32_t landed = landed_bytes();
    if (landed == 0 || landed >= cam.words * 4u)
        return;
    if ((ev & GPIO_IRQ_EDGE_FALL) && cam.fall_bytes < 0)
        cam.fall_bytes = (int32_t)landed;
    if ((ev & GPIO_IRQ_EDGE_RISE) && cam.rise_bytes < 0) {
        cam.rise_bytes = (int32_t)landed;
        pio_sm_set_enabled(cam.pio, cam.sm, false);
    }
}

static void vsync_irq_enable(bool on) {
    /* Enabling also drops edges latched before (the SDK acknowledges them). */
    gpio_set_irq_enabled(cam.cfg.vsync_pin, GPIO_IRQ_EDGE_FALL | GPIO_IRQ_EDGE_RISE, on);
}

/* ---- full mode: 2x2 average of line pairs from the ring ---- */

static void __not_in_flash_func(average_pair)(uint32_t start, uint8_t *dst) {
    const uint32_t m = RING_BYTES - 1;
    uint32_t a = start, b = start + FULL_SIDE;
    for (int x = 0; x < HM01B0_FRAME_WIDTH; x++, a += 2, b += 2) {
        uint32_t sum = (uint32_t)ring[a & m] + ring[(a + 1) & m] + ring[b & m] + ring[(b + 1) & m];
        dst[x] = (uint8_t)((sum + 2) >> 2);
    }
}

/* Average every line pair that has fully arrived. Runs in the line interrupt
 * and, for the last pair, from capture_wait with interrupts off. */
static void __not_in_flash_func(average_arrived)(void) {
    uint32_t landed = landed_bytes();
    while ((uint32_t)(cam.rows_out + 1) * 2u * FULL_SIDE <= landed && cam.rows_out < HM01B0_FRAME_HEIGHT) {
        uint32_t start = (uint32_t)cam.rows_out * 2u * FULL_SIDE;
        average_pair(start, cam.out + (uint32_t)cam.rows_out * HM01B0_FRAME_WIDTH);
        /* The DMA kept writing meanwhile: past start + ring size it wrote over the pair. */
        landed = landed_bytes();
        if (landed > start + RING_BYTES)
            cam.overrun = true;
        cam.rows_out++;
    }
}

static void __not_in_flash_func(line_isr)(void) {
    if (!cam.pio || !pio_interrupt_get(cam.pio, cam.sm))
        return;  /* shared IRQ line: not ours */
    pio_interrupt_clear(cam.pio, cam.sm);
    if (cam.capturing && cam.mode == &modes[HM01B0_MODE_FULL])
        average_arrived();
}

static void line_irq_enable(bool on) {
    pio_set_irq0_source_enabled(cam.pio, (pio_interrupt_source_t)(pis_interrupt0 + cam.sm), on);
}

static void install_line_isr(void) {
    int num = pio_get_irq_num(cam.pio, 0);
    if (cam.irq_num == num)
        return;
    if (cam.irq_num >= 0)
        irq_remove_handler((uint)cam.irq_num, line_isr);
    irq_add_shared_handler((uint)num, line_isr, PICO_SHARED_IRQ_HANDLER_DEFAULT_ORDER_PRIORITY);
    irq_set_enabled((uint)num, true);
    cam.irq_num = num;
}

/* ---- init / deinit ---- */

void hm01b0_deinit(void) {
    if (cam.capturing) {
        dma_channel_abort((uint)cam.dma);
        cam.capturing = false;
    }
    if (cam.pio) {
        line_irq_enable(false);
        vsync_irq_enable(false);
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
    cam.mode = NULL;
}

int hm01b0_init(const hm01b0_config *config) {
    hm01b0_deinit();
    if (!config_ok(config))
        return HM01B0_ERR_CONFIG;
    cam.cfg = *config;
    cam.model_id = 0;
    cam.last = (hm01b0_capture_info){0};
    const mode_info *mode = &modes[config->mode];

    mclk_start(config->mclk_pin, config->mclk_hz);
    /* 100 kHz with the RP2040's internal pull-ups: every public driver runs
     * this bus at 100 kHz ([vendor] arducam.c, [arm], the vendor's IMU code on
     * the same GP4/GP5 bus); nothing shows pull-ups strong enough for 400. */
    i2c_init(config->i2c, config->i2c_hz);
    gpio_set_function(config->sda_pin, GPIO_FUNC_I2C);
    gpio_set_function(config->scl_pin, GPIO_FUNC_I2C);
    gpio_pull_up(config->sda_pin);
    gpio_pull_up(config->scl_pin);
    /* Reset held low 100 ms, then 100 ms before the first I2C access, with
     * MCLK running: [vendor] arducam.c arducam_init(). */
    if (config->reset_pin >= 0) {
        gpio_init((uint)config->reset_pin);
        gpio_set_dir((uint)config->reset_pin, GPIO_OUT);
        gpio_put((uint)config->reset_pin, 0);
        sleep_ms(HM01B0_RESET_HOLD_MS);
        gpio_put((uint)config->reset_pin, 1);
    }
    sleep_ms(HM01B0_RESET_WAIT_MS);

    int err = check_model_id();
    if (!err)
        err = soft_reset();
    if (!err)
        err = write_table(init_table);
    if (!err)
        err = write_table(mode->regs);
    if (!err)
        err = hm01b0_write_reg(HM01B0_IMAGE_ORIENTATION, (uint8_t)(config->orientation & 3u));
    if (!err)
        err = hm01b0_write_reg(HM01B0_GRP_PARAM_HOLD, 0x01);
    if (err)
        return err;
    cam.ready = true;
    cam.mode = mode;
    cam.words = (uint32_t)mode->sensor_lines * mode->sensor_width / 4u;

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
    if (config->mode == HM01B0_MODE_FULL)
        install_line_isr();
    if (!cam.vsync_isr_installed) {
        gpio_add_raw_irq_handler(config->vsync_pin, vsync_isr);
        irq_set_enabled(IO_IRQ_BANK0, true);
        cam.vsync_isr_installed = true;
    }

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

/* ---- capture ---- */

int hm01b0_capture_start(uint8_t *buf, size_t len) {
    if (!cam.ready || !cam.pio || cam.dma < 0 || cam.capturing)
        return HM01B0_ERR_STATE;
    if (len != HM01B0_FRAME_BYTES || ((uintptr_t)buf & 3u))
        return HM01B0_ERR_CONFIG;
    const bool full = cam.mode == &modes[HM01B0_MODE_FULL];
    PIO pio = cam.pio;
    uint sm = cam.sm;
    pio_sm_set_enabled(pio, sm, false);
    pio_sm_clear_fifos(pio, sm);
    pio_sm_restart(pio, sm);
    pio_sm_exec(pio, sm, pio_encode_jmp(cam.offset + hm01b0_capture_offset_start));
    pio_interrupt_clear(pio, sm + hm01b0_capture_IRQ_LINE);

    dma_channel_config dc = dma_channel_get_default_config((uint)cam.dma);
    channel_config_set_transfer_data_size(&dc, DMA_SIZE_32);
    channel_config_set_read_increment(&dc, false);
    channel_config_set_write_increment(&dc, true);
    channel_config_set_dreq(&dc, pio_get_dreq(pio, sm, false));
    if (full)
        channel_config_set_ring(&dc, true, RING_BITS);
    cam.out = buf;
    cam.rows_out = 0;
    cam.overrun = false;
    cam.fall_bytes = cam.rise_bytes = -1;
    dma_channel_configure((uint)cam.dma, &dc, full ? ring : buf, &pio->rxf[sm], cam.words, true);

    pio_sm_put(pio, sm, (uint32_t)cam.mode->sensor_lines - 1u);
    pio_sm_put(pio, sm, (uint32_t)cam.mode->sensor_width * 8u - 1u);
    cam.started = get_absolute_time();
    cam.capturing = true;
    line_irq_enable(full);
    vsync_irq_enable(true);
    pio_sm_set_enabled(pio, sm, true);
    return HM01B0_OK;
}

/* Whole lines in `landed` bytes; up to 3 bytes of a line wait in the PIO's
 * shift register for the next word (a 162-byte line is not whole words). */
static uint16_t lines_in(uint32_t landed) {
    return (uint16_t)((landed + 3u) / cam.mode->sensor_width);
}

static void capture_stop(void) {
    vsync_irq_enable(false);
    line_irq_enable(false);
    pio_sm_set_enabled(cam.pio, cam.sm, false);
    uint32_t landed = landed_bytes();
    if (dma_channel_is_busy((uint)cam.dma))
        dma_channel_abort((uint)cam.dma);
    if (cam.rise_bytes >= 0)
        landed = (uint32_t)cam.rise_bytes;  /* what the short frame had of its own */
    cam.last.lines = lines_in(landed);
    cam.last.lines_expected = cam.mode->sensor_lines;
    cam.last.vsync_early = cam.fall_bytes >= 0;
    cam.last.vsync_fall_line = cam.fall_bytes >= 0 ? lines_in((uint32_t)cam.fall_bytes) : 0;
    cam.capturing = false;
}

int hm01b0_capture_wait(uint32_t vsync_timeout_us, uint32_t frame_timeout_us) {
    if (!cam.capturing)
        return HM01B0_ERR_STATE;
    absolute_time_t vsync_deadline = delayed_by_us(cam.started, vsync_timeout_us);
    absolute_time_t frame_deadline = delayed_by_us(cam.started, frame_timeout_us);
    while (dma_channel_is_busy((uint)cam.dma)) {
        absolute_time_t now = get_absolute_time();
        if (cam.rise_bytes >= 0) {
            capture_stop();
            return HM01B0_ERR_SHORT_FRAME;
        }
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
    int err = HM01B0_OK;
    if (cam.mode == &modes[HM01B0_MODE_FULL]) {
        /* The last pair may have landed after its line interrupt looked. */
        uint32_t irq_state = save_and_disable_interrupts();
        average_arrived();
        restore_interrupts(irq_state);
        if (cam.overrun || cam.rows_out != HM01B0_FRAME_HEIGHT)
            err = HM01B0_ERR_OVERRUN;
    }
    capture_stop();
    return err;
}

void hm01b0_last_capture(hm01b0_capture_info *info) {
    *info = cam.last;
}

/* ---- settings ---- */

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
        uint16_t max_lines = (uint16_t)(cam.mode->frame_lines - 2);
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

hm01b0_mode hm01b0_get_mode(void) {
    return cam.ready ? cam.cfg.mode : (hm01b0_mode)0;
}

const char *hm01b0_mode_name(hm01b0_mode mode) {
    switch (mode) {
    case HM01B0_MODE_BINNED: return "BINNED";
    case HM01B0_MODE_FULL: return "FULL";
    default: return "NONE";
    }
}

uint32_t hm01b0_frame_period_us(void) {
    if (!cam.ready)
        return 0;
    uint64_t clocks = (uint64_t)cam.mode->frame_lines * cam.mode->line_len_pck * 8u;  /* MCLK cycles */
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
    case HM01B0_ERR_SHORT_FRAME: return "camera: short frame";
    case HM01B0_ERR_OVERRUN: return "camera: decimation overrun";
    default: return "camera: error";
    }
}

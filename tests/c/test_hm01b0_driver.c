/* The real camera driver (drivers/hm01b0/hm01b0.c) with the board's config
 * (board/pico4ml.h) on the fake board (tests/c/fake_board): the assembled PIO
 * program runs instruction by instruction, fed by a fake HM01B0 that streams the
 * mode its registers select. Checks, against values written down here from the
 * vendor's Pico4ML demo (ArduCAM/RPI-Pico-Cam rp2040_hm01b0_st7735), Himax's
 * init script and the HM01B0 datasheet, not from the driver's tables:
 *  - the I2C bus runs at 100 kHz with the internal pull-ups on GP4/GP5,
 *  - reset held low >= 100 ms, then >= 100 ms before the first I2C access, MCLK on,
 *  - both modes' registers, the analog block, the output setup, the order,
 *  - frames: FULL averaged 2x2 pixel for pixel, BINNED as sent,
 *  - VSYNC falling a line early: the frame arrives whole and is flagged,
 *  - a sensor that sends fewer lines: HM01B0_ERR_SHORT_FRAME at the next VSYNC,
 *    nothing of the next frame in the buffer, and the next good frame after it,
 *  - no VSYNC at all, a wrong model id, interrupts held off in FULL mode.
 * Exit 1 if any CHECK failed. */
#include <stdio.h>
#include <string.h>

#include "fake_board.h"
#include "hm01b0.h"
#include "pico4ml.h"

#include "check.h"

#define MS (FB_CLK_SYS_HZ / 1000u)

static hm01b0_config config(hm01b0_mode mode) {
    return (hm01b0_config){
        .i2c = PICO4ML_CAM_I2C, .i2c_hz = PICO4ML_CAM_I2C_HZ, .i2c_addr = PICO4ML_CAM_I2C_ADDR,
        .sda_pin = PICO4ML_CAM_SDA_PIN, .scl_pin = PICO4ML_CAM_SCL_PIN, .reset_pin = PICO4ML_CAM_RESET_PIN,
        .mclk_pin = PICO4ML_CAM_MCLK_PIN, .mclk_hz = PICO4ML_CAM_MCLK_HZ, .d0_pin = PICO4ML_CAM_D0_PIN,
        .pclk_pin = PICO4ML_CAM_PCLK_PIN, .hsync_pin = PICO4ML_CAM_HSYNC_PIN, .vsync_pin = PICO4ML_CAM_VSYNC_PIN,
        .mode = mode, .orientation = PICO4ML_CAM_ORIENTATION,
    };
}

static uint64_t cycles_before;  /* virtual time of the boards powered off before */
static uint32_t isr_calls_before;

static void power_on(const fake_sensor_config *sensor) {
    hm01b0_deinit();
    cycles_before += fb_cycles();
    isr_calls_before += fb_isr_calls;
    fake_sensor = *sensor;
    fb_reset();
}

static const fake_sensor_config healthy = {
    .model_id = 0x01B0, .bit_cycles = 6, .line_gap_cycles = 64, .lead_cycles = 200, .vblank_cycles = 4000,
};

/* The last value written to a register, or -1. */
static int written(uint16_t reg) {
    int v = -1;
    for (int i = 0; i < fb_i2c_log_n; i++)
        if (fb_i2c_log[i].write && fb_i2c_log[i].reg == reg) v = fb_i2c_log[i].value;
    return v;
}
static int first_write_index(uint16_t reg) {
    for (int i = 0; i < fb_i2c_log_n; i++)
        if (fb_i2c_log[i].write && fb_i2c_log[i].reg == reg) return i;
    return -1;
}
static int last_write_index(uint16_t reg) {
    int k = -1;
    for (int i = 0; i < fb_i2c_log_n; i++)
        if (fb_i2c_log[i].write && fb_i2c_log[i].reg == reg) k = i;
    return k;
}

typedef struct { uint16_t reg; uint8_t value; const char *why; } want_reg;

static void check_regs(const want_reg *w, int n, const char *what) {
    for (int i = 0; i < n; i++) {
        int got = written(w[i].reg);
        if (got != w[i].value) {
            fprintf(stderr, "%s: register 0x%04X = %d, want 0x%02X (%s)\n", what, w[i].reg, got, w[i].value, w[i].why);
            failures++;
        }
    }
}

/* Values as the public sources have them. */
static const want_reg analog_block[] = {  /* vendor hm01b0_init.h = Himax script = Zephyr */
    {0x3044, 0x0A, "CDS settling"}, {0x3045, 0x00, "cds/rst tg"}, {0x3047, 0x0A, "CDS settling"},
    {0x3050, 0xC0, "negative offset"}, {0x3051, 0x42, "analog"}, {0x3052, 0x50, "analog"},
    {0x3053, 0x00, "analog"}, {0x3054, 0x03, "sf clamp"}, {0x3055, 0xF7, "dsun"},
    {0x3056, 0xF8, "adc nonoverlap"}, {0x3057, 0x29, "adc power for missing code"}, {0x3058, 0x1F, "dsun on"},
    {0x0350, 0x7F, "dgain control"},
};
static const want_reg output_setup[] = {
    {0x3059, 0x22, "1-bit serial (vendor; Arm/Zephyr's 1-bit value)"},
    {0x3011, 0x70, "8-bit pixels"},
    {0x3060, 0x20, "gated PCLK, LSB first, vt_sys_div 8 (Himax; vendor 0x30 is the MSB-first twin)"},
    {0x3022, 0x01, "advance VSYNC (vendor, Himax)"},
    {0x3064, 0x00, "no trigger sync"}, {0x3065, 0x04, "pad control (vendor, Himax)"},
    {0x1000, 0x43, "BLC on"}, {0x1003, 0x08, "BLC target"}, {0x1006, 0x01, "BLI on"}, {0x1007, 0x08, "BLI target"},
    {0x2100, 0x01, "AE on"}, {0x0101, PICO4ML_CAM_ORIENTATION, "orientation from the board config"},
    {0x0104, 0x01, "group parameter hold"}, {0x0100, 0x01, "streaming"},
};
static const want_reg full_mode[] = {  /* vendor hm01b0_init.h, the running Pico4ML table */
    {0x0383, 0x01, "readout x full"}, {0x0387, 0x01, "readout y full"}, {0x0390, 0x00, "no binning"},
    {0x3010, 0x00, "full window, not QVGA"}, {0x1012, 0x01, "sync shift"},
    {0x0340, 0x01, "frame length 0x017A"}, {0x0341, 0x7A, "frame length 0x017A"},
    {0x0342, 0x01, "line length 0x0177"}, {0x0343, 0x77, "line length 0x0177"},
};
static const want_reg binned_mode[] = {  /* the vendor's commented-out 1/4 binning lines */
    {0x0383, 0x03, "readout x skip 2"}, {0x0387, 0x03, "readout y skip 2"}, {0x0390, 0x03, "2x2 binning"},
    {0x3010, 0x00, "full window"}, {0x1012, 0x03, "sync shift (binning)"},
    {0x0342, 0x00, "line length 0x00D7 (Arm's binned mode)"}, {0x0343, 0xD7, "line length 0x00D7"},
};

static void check_bus_and_reset(void) {
    CHECK(fb_i2c_baud == 100000);                   /* vendor arducam.c: i2c_init(..., 100 * 1000) */
    CHECK(fb_pull_up[4] && fb_pull_up[5]);          /* internal pull-ups on SDA GP4 / SCL GP5 */
    CHECK(fb_gpio_fn[4] == GPIO_FUNC_I2C && fb_gpio_fn[5] == GPIO_FUNC_I2C);
    CHECK(fb_mclk_hz == 12500000);                  /* vendor: clk_sys / 10 on GP3 */
    uint64_t low = 0, high = 0;
    int lows = 0;
    for (int i = 0; i < fb_gpio_log_n; i++) {
        if (fb_gpio_log[i].pin != 2) continue;
        if (!fb_gpio_log[i].value) { low = fb_gpio_log[i].cycle; lows++; }
        else if (lows && !high) high = fb_gpio_log[i].cycle;
    }
    CHECK(lows == 1 && high > low);
    CHECK(high - low >= 100u * MS);                 /* vendor: reset held 100 ms ... */
    CHECK(fb_i2c_first_cycle >= high + 100u * MS);  /* ... then 100 ms before the first I2C access */
    CHECK(fb_mclk_hz && fb_mclk_on_cycle <= low);   /* MCLK runs through the reset (vendor: PWM first) */
}

static void check_order(void) {
    int reset = first_write_index(0x0103);
    CHECK(reset >= 0 && written(0x0103) == 0x01);   /* software reset first (Arm, Zephyr) */
    CHECK(reset < first_write_index(0x3044) && reset < first_write_index(0x0383));
    CHECK(last_write_index(0x0104) > last_write_index(0x0343));  /* hold after the mode's timing */
    int last_write = -1;
    for (int i = 0; i < fb_i2c_log_n; i++) if (fb_i2c_log[i].write) last_write = i;
    CHECK(last_write >= 0 && last_write == last_write_index(0x0100));  /* streaming on last */
    CHECK(fb_sensor_reg(0x0100) == 0x01);
    /* the model id was read before anything was written */
    CHECK(!fb_i2c_log[0].write && fb_i2c_log[0].reg == 0x0000);
}

/* The frame n whose 2x2 averages (full) or pixels (binned) the buffer holds, or -1. */
static int frame_matches(const uint8_t *buf, hm01b0_mode mode, int rows) {
    for (uint32_t n = 0; n < 12; n++) {
        bool ok = true;
        for (int r = 0; r < rows && ok; r++)
            for (int c = 0; c < HM01B0_FRAME_WIDTH && ok; c++) {
                uint8_t want;
                if (mode == HM01B0_MODE_FULL) {
                    unsigned s = fake_sensor_pixel(n, 2u * r, 2u * c) + fake_sensor_pixel(n, 2u * r, 2u * c + 1) +
                                 fake_sensor_pixel(n, 2u * r + 1, 2u * c) + fake_sensor_pixel(n, 2u * r + 1, 2u * c + 1);
                    want = (uint8_t)((s + 2) / 4);
                } else {
                    want = fake_sensor_pixel(n, (uint32_t)r, (uint32_t)c);
                }
                ok = buf[r * HM01B0_FRAME_WIDTH + c] == want;
            }
        if (ok) return (int)n;
    }
    return -1;
}

static uint8_t frame[HM01B0_FRAME_BYTES] __attribute__((aligned(4)));

static int capture(void) {
    memset(frame, 0xEE, sizeof frame);
    int err = hm01b0_capture_start(frame, sizeof frame);
    if (err) return err;
    uint32_t period = hm01b0_frame_period_us();  /* as app/camera_task.c waits */
    return hm01b0_capture_wait(2 * period + 20000, 3 * period + 20000);
}

static void test_mode(hm01b0_mode mode, const want_reg *regs, int n_regs, uint32_t period_us) {
    const char *name = hm01b0_mode_name(mode);
    power_on(&healthy);
    CHECK(hm01b0_init(&(hm01b0_config){0}) == HM01B0_ERR_CONFIG);
    hm01b0_config cfg = config(mode);
    CHECK(hm01b0_init(&cfg) == HM01B0_OK);
    CHECK(hm01b0_get_mode() == mode && hm01b0_model_id() == 0x01B0);
    check_bus_and_reset();
    check_order();
    check_regs(analog_block, sizeof analog_block / sizeof analog_block[0], name);
    check_regs(output_setup, sizeof output_setup / sizeof output_setup[0], name);
    check_regs(regs, n_regs, name);
    CHECK(hm01b0_frame_period_us() == period_us);
    uint16_t lines = mode == HM01B0_MODE_FULL ? 324 : 162;

    for (int k = 0; k < 2; k++) {  /* two frames in a row, as the double buffer does */
        uint32_t isr_before = fb_isr_calls;
        CHECK(capture() == HM01B0_OK);
        CHECK(frame_matches(frame, mode, HM01B0_FRAME_HEIGHT) >= 0);
        hm01b0_capture_info info;
        hm01b0_last_capture(&info);
        CHECK(!info.vsync_early && info.lines == lines && info.lines_expected == lines);
        if (mode == HM01B0_MODE_FULL) CHECK(fb_isr_calls - isr_before >= 300);  /* a line interrupt a line */
    }

    /* VSYNC falls one line early: the frame still arrives whole, and is flagged. */
    fake_sensor.vsync_early_lines = 1;
    CHECK(capture() == HM01B0_OK);
    CHECK(frame_matches(frame, mode, HM01B0_FRAME_HEIGHT) >= 0);
    hm01b0_capture_info info;
    hm01b0_last_capture(&info);
    CHECK(info.vsync_early && info.vsync_fall_line == lines - 1 && info.lines == lines);
    if (!(info.vsync_early && info.vsync_fall_line == lines - 1))
        fprintf(stderr, "%s: vsync_early %d at line %u of %u\n", name, info.vsync_early, info.vsync_fall_line, lines);
    fake_sensor.vsync_early_lines = 0;
    CHECK(capture() == HM01B0_OK);
    hm01b0_last_capture(&info);
    CHECK(!info.vsync_early);

    /* Fewer lines than the mode: a short frame at the next VSYNC, in well under
     * the frame timeout, with nothing of the next frame in the buffer. */
    hm01b0_deinit();  /* the sensor's geometry follows its registers at streaming start */
    fake_sensor.missing_lines[mode] = 40;
    CHECK(hm01b0_init(&cfg) == HM01B0_OK);
    uint64_t t0 = fb_cycles();
    CHECK(capture() == HM01B0_ERR_SHORT_FRAME);
    uint64_t took_us = (fb_cycles() - t0) / FB_CYCLES_PER_US;
    CHECK(took_us < 3 * period_us + 20000);
    hm01b0_last_capture(&info);
    CHECK(info.lines == lines - 40 && info.lines_expected == lines && info.vsync_early);
    if (mode == HM01B0_MODE_BINNED) {
        CHECK(frame_matches(frame, mode, lines - 40) >= 0);
        bool untouched = true;
        for (size_t i = (size_t)(lines - 40) * HM01B0_FRAME_WIDTH; i < sizeof frame; i++) untouched &= frame[i] == 0xEE;
        CHECK(untouched);
    }
    CHECK(capture() == HM01B0_ERR_SHORT_FRAME);  /* every frame, until the mode changes */

    /* The sensor sends the mode's lines again: frames again, after re-init. */
    hm01b0_deinit();
    fake_sensor.missing_lines[mode] = 0;
    CHECK(hm01b0_init(&cfg) == HM01B0_OK);
    CHECK(capture() == HM01B0_OK);
    CHECK(frame_matches(frame, mode, HM01B0_FRAME_HEIGHT) >= 0);

    /* No frame at all (the sensor stops streaming): no VSYNC, after the VSYNC timeout. */
    CHECK(hm01b0_write_reg(0x0100, 0x00) == HM01B0_OK);
    CHECK(capture() == HM01B0_ERR_NO_VSYNC);
    hm01b0_last_capture(&info);
    CHECK(info.lines == 0);
    CHECK(hm01b0_write_reg(0x0100, 0x01) == HM01B0_OK);
    CHECK(capture() == HM01B0_OK);
}

static void test_full_mode_overrun(void) {
    power_on(&healthy);
    hm01b0_config cfg = config(HM01B0_MODE_FULL);
    CHECK(hm01b0_init(&cfg) == HM01B0_OK);
    fb_irq_blocked = true;  /* a core that never lets the line interrupt run */
    CHECK(capture() == HM01B0_ERR_OVERRUN);
    fb_irq_blocked = false;
    CHECK(capture() == HM01B0_OK);
    CHECK(frame_matches(frame, HM01B0_MODE_FULL, HM01B0_FRAME_HEIGHT) >= 0);
}

static void test_wrong_model_id(void) {
    fake_sensor_config other = healthy;
    other.model_id = 0x0B01;
    power_on(&other);
    hm01b0_config cfg = config(HM01B0_MODE_FULL);
    CHECK(hm01b0_init(&cfg) == HM01B0_ERR_MODEL_ID);
    CHECK(hm01b0_model_id() == 0x0B01);
    CHECK(written(0x0103) < 0 && written(0x0100) < 0);  /* nothing written to a sensor we do not know */
    CHECK(capture() == HM01B0_ERR_STATE);
}

static void test_no_answer(void) {
    fake_sensor_config gone = healthy;
    power_on(&gone);
    hm01b0_config cfg = config(HM01B0_MODE_FULL);
    cfg.i2c_addr = 0x25;  /* nothing there */
    CHECK(hm01b0_init(&cfg) == HM01B0_ERR_I2C);
}

int main(void) {
    /* 378 lines x 375 pixel clocks x 8 MCLK / 12.5 MHz; 242 x 215 x 8 / 12.5 MHz */
    test_mode(HM01B0_MODE_FULL, full_mode, sizeof full_mode / sizeof full_mode[0], 90720);
    test_mode(HM01B0_MODE_BINNED, binned_mode, sizeof binned_mode / sizeof binned_mode[0], 33299);
    test_full_mode_overrun();
    test_wrong_model_id();
    test_no_answer();
    if (failures) {
        fprintf(stderr, "%d check(s) failed\n", failures);
        return 1;
    }
    printf("hm01b0 driver: all checks passed (%.1f virtual s, %u interrupts)\n",
           (double)(cycles_before + fb_cycles()) / FB_CLK_SYS_HZ, isr_calls_before + fb_isr_calls);
    return 0;
}

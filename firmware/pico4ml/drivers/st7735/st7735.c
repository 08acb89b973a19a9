/* ST7735S LCD driver: see st7735.h. Commands go out 8 bits at a time with the
 * CPU; pixel rectangles go out as 16-bit SPI words by DMA, with a timeout. */
#include "st7735.h"

#include "hardware/dma.h"
#include "hardware/gpio.h"
#include "pico/time.h"

/* Commands (ST7735S datasheet, section 10). */
#define CMD_SWRESET 0x01
#define CMD_SLPOUT 0x11
#define CMD_NORON 0x13
#define CMD_INVOFF 0x20
#define CMD_INVON 0x21
#define CMD_DISPON 0x29
#define CMD_CASET 0x2A
#define CMD_RASET 0x2B
#define CMD_RAMWR 0x2C
#define CMD_MADCTL 0x36
#define CMD_COLMOD 0x3A
#define CMD_FRMCTR1 0xB1
#define CMD_FRMCTR2 0xB2
#define CMD_FRMCTR3 0xB3
#define CMD_INVCTR 0xB4
#define CMD_PWCTR1 0xC0
#define CMD_PWCTR2 0xC1
#define CMD_PWCTR3 0xC2
#define CMD_PWCTR4 0xC3
#define CMD_PWCTR5 0xC4
#define CMD_VMCTR1 0xC5
#define CMD_GMCTRP1 0xE0
#define CMD_GMCTRN1 0xE1

#define MADCTL_BGR 0x08
#define COLMOD_16BIT 0x05

/* Init tables: command, argument count (| DELAY if a delay follows the
 * arguments, in 10 ms units: WAIT(ms)), arguments. Ends with TABLE_END.
 * The values are the ones the board vendor's Pico4ML demo sends, in its order
 * (ArduCAM/RPI-Pico-Cam, rp2040_hm01b0_st7735/lib/st7735.c); their meaning is
 * from the ST7735S datasheet. Inversion and MADCTL come from the config in
 * between the two tables. */
#define DELAY 0x80
#define WAIT(ms) ((ms) / 10)
#define TABLE_END 0xFF

static const uint8_t init_power[] = {
    CMD_SWRESET, DELAY, WAIT(150),
    CMD_SLPOUT, DELAY, WAIT(500),       /* the vendor's wait; the datasheet asks for >= 120 ms */
    /* Frame rate fosc / ((2 * 1 + 40) * (160 + 44 + 45)) in normal, idle and
     * partial mode (dot and line inversion). */
    CMD_FRMCTR1, 3, 0x01, 0x2C, 0x2D,
    CMD_FRMCTR2, 3, 0x01, 0x2C, 0x2D,
    CMD_FRMCTR3, 6, 0x01, 0x2C, 0x2D, 0x01, 0x2C, 0x2D,
    CMD_INVCTR, 1, 0x07,                /* no line inversion in any mode */
    CMD_PWCTR1, 3, 0xA2, 0x02, 0x84,    /* AVDD 5 V, GVDD 4.6 V, auto mode */
    CMD_PWCTR2, 1, 0xC5,                /* VGH / VGL */
    CMD_PWCTR3, 2, 0x0A, 0x00,          /* normal mode: op-amp current small, boost clock */
    CMD_PWCTR4, 2, 0x8A, 0x2A,          /* idle mode: BCLK / 2, op-amp current small / medium low */
    CMD_PWCTR5, 2, 0x8A, 0xEE,          /* partial mode */
    CMD_VMCTR1, 1, 0x0E,                /* VCOM */
    TABLE_END,
};

static const uint8_t init_display[] = {
    CMD_COLMOD, 1, COLMOD_16BIT,
    /* Gamma curves, positive and negative polarity. */
    CMD_GMCTRP1, 16, 0x02, 0x1C, 0x07, 0x12, 0x37, 0x32, 0x29, 0x2D,
                     0x29, 0x25, 0x2B, 0x39, 0x00, 0x01, 0x03, 0x10,
    CMD_GMCTRN1, 16, 0x03, 0x1D, 0x07, 0x06, 0x2E, 0x2C, 0x29, 0x2D,
                     0x2E, 0x2E, 0x37, 0x3F, 0x00, 0x00, 0x02, 0x10,
    CMD_NORON, DELAY, WAIT(10),
    CMD_DISPON, DELAY, WAIT(100),
    TABLE_END,
};

#define XFER_MARGIN_US 20000

static struct {
    st7735_config cfg;
    int dma;
    bool ready;
} lcd = {.dma = -1};

static void spi_bits(uint bits) {
    spi_set_format(lcd.cfg.spi, bits, SPI_CPOL_0, SPI_CPHA_0, SPI_MSB_FIRST);
}

/* SPI is the bus master, so a CPU write always drains: no wait can hang. */
static void command(uint8_t cmd, const uint8_t *args, uint n) {
    gpio_put(lcd.cfg.cs_pin, 0);
    gpio_put(lcd.cfg.dc_pin, 0);
    spi_write_blocking(lcd.cfg.spi, &cmd, 1);
    gpio_put(lcd.cfg.dc_pin, 1);
    if (n)
        spi_write_blocking(lcd.cfg.spi, args, n);
    gpio_put(lcd.cfg.cs_pin, 1);
}

static void run_table(const uint8_t *t) {
    while (*t != TABLE_END) {
        uint8_t cmd = *t++;
        uint8_t n = *t++;
        bool delay = n & DELAY;
        n &= (uint8_t)~DELAY;
        command(cmd, t, n);
        t += n;
        if (delay)
            sleep_ms(10u * *t++);
    }
}

int st7735_init(const st7735_config *config) {
    lcd.cfg = *config;
    lcd.ready = false;
    spi_init(config->spi, config->baud_hz);
    spi_bits(8);
    gpio_set_function(config->sck_pin, GPIO_FUNC_SPI);
    gpio_set_function(config->mosi_pin, GPIO_FUNC_SPI);
    const uint outs[] = {config->cs_pin, config->dc_pin, config->rst_pin};
    for (unsigned i = 0; i < 3; i++) {
        gpio_init(outs[i]);
        gpio_set_dir(outs[i], GPIO_OUT);
        gpio_put(outs[i], 1);
    }
    if (config->backlight_pin >= 0) {
        gpio_init((uint)config->backlight_pin);
        gpio_set_dir((uint)config->backlight_pin, GPIO_OUT);
        gpio_put((uint)config->backlight_pin, 1);
    }
    gpio_put(config->rst_pin, 0);
    sleep_ms(10);
    gpio_put(config->rst_pin, 1);
    sleep_ms(120);

    run_table(init_power);
    command(config->invert ? CMD_INVON : CMD_INVOFF, NULL, 0);
    const uint8_t madctl = config->bgr ? MADCTL_BGR : 0;
    command(CMD_MADCTL, &madctl, 1);
    run_table(init_display);

    if (lcd.dma < 0)
        lcd.dma = dma_claim_unused_channel(false);
    if (lcd.dma < 0)
        return ST7735_ERR_NO_DMA;
    lcd.ready = true;
    return ST7735_OK;
}

static void set_window(uint16_t x, uint16_t y, uint16_t w, uint16_t h) {
    uint16_t x0 = (uint16_t)(x + lcd.cfg.col_offset), x1 = (uint16_t)(x0 + w - 1);
    uint16_t y0 = (uint16_t)(y + lcd.cfg.row_offset), y1 = (uint16_t)(y0 + h - 1);
    const uint8_t ca[4] = {(uint8_t)(x0 >> 8), (uint8_t)x0, (uint8_t)(x1 >> 8), (uint8_t)x1};
    const uint8_t ra[4] = {(uint8_t)(y0 >> 8), (uint8_t)y0, (uint8_t)(y1 >> 8), (uint8_t)y1};
    command(CMD_CASET, ca, 4);
    command(CMD_RASET, ra, 4);
}

/* Stream count 16-bit pixels after RAMWR by DMA; increment=false repeats one. */
static int send_pixels(const uint16_t *src, uint32_t count, bool increment) {
    const uint8_t cmd = CMD_RAMWR;
    gpio_put(lcd.cfg.cs_pin, 0);
    gpio_put(lcd.cfg.dc_pin, 0);
    spi_write_blocking(lcd.cfg.spi, &cmd, 1);
    gpio_put(lcd.cfg.dc_pin, 1);
    spi_bits(16);

    dma_channel_config dc = dma_channel_get_default_config((uint)lcd.dma);
    channel_config_set_transfer_data_size(&dc, DMA_SIZE_16);
    channel_config_set_read_increment(&dc, increment);
    channel_config_set_write_increment(&dc, false);
    channel_config_set_dreq(&dc, spi_get_dreq(lcd.cfg.spi, true));
    dma_channel_configure((uint)lcd.dma, &dc, &spi_get_hw(lcd.cfg.spi)->dr, src, count, true);

    /* Expected time: 16 bits per pixel at baud_hz; allow twice that. */
    uint64_t expect_us = (uint64_t)count * 16u * 1000000u / lcd.cfg.baud_hz;
    absolute_time_t deadline = make_timeout_time_us(2 * expect_us + XFER_MARGIN_US);
    int err = ST7735_OK;
    while (dma_channel_is_busy((uint)lcd.dma) || spi_is_busy(lcd.cfg.spi)) {
        if (time_reached(deadline)) {
            dma_channel_abort((uint)lcd.dma);
            err = ST7735_ERR_TIMEOUT;
            break;
        }
        tight_loop_contents();
    }
    spi_bits(8);
    gpio_put(lcd.cfg.cs_pin, 1);
    return err;
}

static bool in_range(uint16_t x, uint16_t y, uint16_t w, uint16_t h) {
    return w > 0 && h > 0 && x + w <= lcd.cfg.width && y + h <= lcd.cfg.height;
}

int st7735_fill(uint16_t x, uint16_t y, uint16_t w, uint16_t h, uint16_t color) {
    if (!lcd.ready)
        return ST7735_ERR_STATE;
    if (!in_range(x, y, w, h))
        return ST7735_ERR_RANGE;
    static uint16_t fill_color;  /* DMA source must outlive the call's stack frame */
    fill_color = color;
    set_window(x, y, w, h);
    return send_pixels(&fill_color, (uint32_t)w * h, false);
}

int st7735_blit(uint16_t x, uint16_t y, uint16_t w, uint16_t h, const uint16_t *pixels) {
    if (!lcd.ready)
        return ST7735_ERR_STATE;
    if (!in_range(x, y, w, h))
        return ST7735_ERR_RANGE;
    set_window(x, y, w, h);
    return send_pixels(pixels, (uint32_t)w * h, true);
}

const char *st7735_strerror(int err) {
    switch (err) {
    case ST7735_OK: return "ok";
    case ST7735_ERR_NO_DMA: return "lcd: no free DMA";
    case ST7735_ERR_TIMEOUT: return "lcd: SPI timeout";
    case ST7735_ERR_RANGE: return "lcd: outside panel";
    case ST7735_ERR_STATE: return "lcd: not ready";
    default: return "lcd: error";
    }
}

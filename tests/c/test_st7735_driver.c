/* The real LCD driver (drivers/st7735/st7735.c) with the board's config
 * (board/pico4ml.h) on the fake board's SPI (tests/c/fake_board): the command
 * stream it sends, checked against the one the board vendor's Pico4ML demo sends
 * (ArduCAM/RPI-Pico-Cam rp2040_hm01b0_st7735/lib/st7735.c), written down here with
 * the ST7735S datasheet's command numbers: INVOFF (not INVON), the frame-rate,
 * power and gamma commands, 500 ms after SLPOUT, BGR, and the 24-column offset of
 * the 80x160 glass. Then the build options flipped: INVON, RGB, other offsets.
 * Exit 1 if any CHECK failed. */
#include <stdio.h>
#include <string.h>

#include "fake_board.h"
#include "pico4ml.h"
#include "st7735.h"

#include "check.h"

#define MS (FB_CLK_SYS_HZ / 1000u)

typedef struct {
    uint8_t cmd;
    uint8_t args[32];
    int n;
    uint64_t cycle;
} lcd_cmd;

static lcd_cmd cmds[64];
static int n_cmds;

static void parse(void) {
    n_cmds = 0;
    for (int i = 0; i < fb_spi_log_n && n_cmds < 64; i++) {
        if (!fb_spi_log[i].dc) {
            cmds[n_cmds++] = (lcd_cmd){.cmd = fb_spi_log[i].byte, .cycle = fb_spi_log[i].cycle};
        } else if (n_cmds && cmds[n_cmds - 1].n < 32) {
            lcd_cmd *c = &cmds[n_cmds - 1];
            c->args[c->n++] = fb_spi_log[i].byte;
        }
    }
}

static const lcd_cmd *find(uint8_t cmd) {
    for (int i = 0; i < n_cmds; i++)
        if (cmds[i].cmd == cmd) return &cmds[i];
    return NULL;
}

static int index_of(uint8_t cmd) {
    const lcd_cmd *c = find(cmd);
    return c ? (int)(c - cmds) : -1;
}

static void want(uint8_t cmd, const uint8_t *args, int n, const char *name) {
    const lcd_cmd *c = find(cmd);
    if (!c || c->n != n || (n && memcmp(c->args, args, (size_t)n) != 0)) {
        fprintf(stderr, "%s (0x%02X): %s\n", name, cmd, c ? "wrong arguments" : "not sent");
        failures++;
    }
}
#define WANT(cmd, name, ...)                                              \
    do {                                                                  \
        static const uint8_t a_[] = {__VA_ARGS__};                        \
        want(cmd, a_, (int)sizeof a_, name);                              \
    } while (0)
#define WANT_NOARGS(cmd, name) want(cmd, NULL, 0, name)

static st7735_config board_config(void) {
    return (st7735_config){
        .spi = PICO4ML_LCD_SPI, .baud_hz = PICO4ML_LCD_SPI_HZ, .sck_pin = PICO4ML_LCD_SCK_PIN,
        .mosi_pin = PICO4ML_LCD_MOSI_PIN, .cs_pin = PICO4ML_LCD_CS_PIN, .dc_pin = PICO4ML_LCD_DC_PIN,
        .rst_pin = PICO4ML_LCD_RST_PIN, .backlight_pin = PICO4ML_LCD_BACKLIGHT_PIN,
        .width = PICO4ML_LCD_WIDTH, .height = PICO4ML_LCD_HEIGHT,
        .col_offset = PICO4ML_LCD_COL_OFFSET, .row_offset = PICO4ML_LCD_ROW_OFFSET,
        .bgr = PICO4ML_LCD_BGR, .invert = PICO4ML_LCD_INVERT,
    };
}

static void test_board_init_stream(void) {
    fb_reset();
    st7735_config cfg = board_config();
    CHECK(st7735_init(&cfg) == ST7735_OK);
    parse();
    CHECK(fb_spi_baud == 12000000);  /* vendor: 12 MHz on spi1 */

    /* the vendor's sequence, in its order */
    static const uint8_t order[] = {0x01, 0x11, 0xB1, 0xB2, 0xB3, 0xB4, 0xC0, 0xC1, 0xC2, 0xC3,
                                    0xC4, 0xC5, 0x20, 0x36, 0x3A, 0xE0, 0xE1, 0x13, 0x29};
    CHECK(n_cmds == (int)sizeof order);
    for (int i = 0; i < n_cmds && i < (int)sizeof order; i++) {
        if (cmds[i].cmd != order[i]) {
            fprintf(stderr, "command %d: 0x%02X, want 0x%02X\n", i, cmds[i].cmd, order[i]);
            failures++;
        }
    }
    WANT_NOARGS(0x01, "SWRESET");
    WANT_NOARGS(0x11, "SLPOUT");
    WANT(0xB1, "FRMCTR1", 0x01, 0x2C, 0x2D);
    WANT(0xB2, "FRMCTR2", 0x01, 0x2C, 0x2D);
    WANT(0xB3, "FRMCTR3", 0x01, 0x2C, 0x2D, 0x01, 0x2C, 0x2D);
    WANT(0xB4, "INVCTR", 0x07);
    WANT(0xC0, "PWCTR1", 0xA2, 0x02, 0x84);
    WANT(0xC1, "PWCTR2", 0xC5);
    WANT(0xC2, "PWCTR3", 0x0A, 0x00);
    WANT(0xC3, "PWCTR4", 0x8A, 0x2A);
    WANT(0xC4, "PWCTR5", 0x8A, 0xEE);
    WANT(0xC5, "VMCTR1", 0x0E);
    WANT_NOARGS(0x20, "INVOFF");
    WANT(0x36, "MADCTL", 0x08);  /* BGR, no rotation */
    WANT(0x3A, "COLMOD", 0x05);  /* 16-bit colour */
    WANT(0xE0, "GMCTRP1", 0x02, 0x1C, 0x07, 0x12, 0x37, 0x32, 0x29, 0x2D, 0x29, 0x25, 0x2B, 0x39, 0x00, 0x01, 0x03,
         0x10);
    WANT(0xE1, "GMCTRN1", 0x03, 0x1D, 0x07, 0x06, 0x2E, 0x2C, 0x29, 0x2D, 0x2E, 0x2E, 0x37, 0x3F, 0x00, 0x00, 0x02,
         0x10);
    WANT_NOARGS(0x13, "NORON");
    WANT_NOARGS(0x29, "DISPON");
    CHECK(find(0x21) == NULL);  /* never INVON: the picture would be a negative */

    int slpout = index_of(0x11), swreset = index_of(0x01);
    CHECK(slpout == swreset + 1);
    CHECK(cmds[slpout + 1].cycle - cmds[slpout].cycle >= 500u * MS);   /* vendor: 500 ms after SLPOUT */
    CHECK(cmds[swreset + 1].cycle - cmds[swreset].cycle >= 150u * MS); /* 150 ms after SWRESET */
    int dispon = index_of(0x29);
    CHECK(fb_cycles() - cmds[dispon].cycle >= 100u * MS);               /* and 100 ms after DISPON */

    /* The glass sits at column 24 of the controller's RAM. */
    int before = fb_spi_log_n;
    CHECK(st7735_fill(0, 0, PICO4ML_LCD_WIDTH, PICO4ML_LCD_HEIGHT, 0x1234) == ST7735_OK);
    parse();
    WANT(0x2A, "CASET", 0x00, 24, 0x00, 24 + 79);
    WANT(0x2B, "RASET", 0x00, 0, 0x00, 159);
    CHECK(find(0x2C) != NULL);  /* RAMWR */
    CHECK(fb_spi_pixels == 80u * 160u && fb_spi_last_pixel == 0x1234);
    CHECK(fb_spi_log_n > before);
    CHECK(st7735_fill(0, 0, 81, 1, 0) == ST7735_ERR_RANGE);
}

static void test_options_flipped(void) {
    fb_reset();
    st7735_config cfg = board_config();
    cfg.invert = true;      /* -DPICO4ML_LCD_INVERT=ON */
    cfg.bgr = false;        /* -DPICO4ML_LCD_BGR=OFF */
    cfg.col_offset = 26;    /* -DPICO4ML_LCD_COL_OFFSET=26 */
    cfg.row_offset = 1;     /* -DPICO4ML_LCD_ROW_OFFSET=1 */
    CHECK(st7735_init(&cfg) == ST7735_OK);
    parse();
    CHECK(find(0x21) != NULL && find(0x20) == NULL);
    WANT(0x36, "MADCTL (RGB)", 0x00);
    CHECK(st7735_fill(0, 0, 80, 160, 0) == ST7735_OK);
    parse();
    WANT(0x2A, "CASET (offset 26)", 0x00, 26, 0x00, 26 + 79);
    WANT(0x2B, "RASET (offset 1)", 0x00, 1, 0x00, 160);
}

int main(void) {
    CHECK(PICO4ML_LCD_INVERT == 0 && PICO4ML_LCD_BGR == 1 && PICO4ML_LCD_COL_OFFSET == 24 &&
          PICO4ML_LCD_ROW_OFFSET == 0);  /* the board defaults are the vendor's */
    test_board_init_stream();
    test_options_flipped();
    if (failures) {
        fprintf(stderr, "%d check(s) failed\n", failures);
        return 1;
    }
    printf("st7735 driver: all checks passed\n");
    return 0;
}

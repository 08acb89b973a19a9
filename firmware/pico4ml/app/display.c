/* LCD layout and drawing: see display.h. Gray pixels become RGB565; text uses
 * the 5x7 font. Every draw goes through band[], so RAM use stays at 3.2 KB. */
#include "display.h"

#include <string.h>

#include "classifier.h"
#include "font5x7.h"
#include "pico4ml.h"
#include "st7735.h"

#define W PICO4ML_LCD_WIDTH
#define H PICO4ML_LCD_HEIGHT
#define CAM_SIDE 80
#define IN_Y 82
#define IN_SCALE 2
#define IN_SIDE (28 * IN_SCALE)
#define DIGIT_X (IN_SIDE + 2)
#define DIGIT_SCALE 4
#define SCORE_Y (IN_Y + 4 + FONT_H * DIGIT_SCALE + 6)
#define SWATCH_Y (SCORE_Y + FONT_H + 2)
#define SWATCH_W 9
#define SWATCH_H 7
#define STATUS_Y 142
#define LINE_H 9
#define BAND_PIXELS (W * 20)

static uint16_t band[BAND_PIXELS];

#define BLACK 0x0000u
#define WHITE 0xFFFFu
#define GREY 0x8410u

static uint16_t gray565(uint8_t v) {
    return (uint16_t)(((v & 0xF8u) << 8) | ((v & 0xFCu) << 3) | (v >> 3));
}

int display_init(void) {
    const st7735_config cfg = {
        .spi = PICO4ML_LCD_SPI,
        .baud_hz = PICO4ML_LCD_SPI_HZ,
        .sck_pin = PICO4ML_LCD_SCK_PIN,
        .mosi_pin = PICO4ML_LCD_MOSI_PIN,
        .cs_pin = PICO4ML_LCD_CS_PIN,
        .dc_pin = PICO4ML_LCD_DC_PIN,
        .rst_pin = PICO4ML_LCD_RST_PIN,
        .backlight_pin = PICO4ML_LCD_BACKLIGHT_PIN,
        .width = W,
        .height = H,
        .col_offset = PICO4ML_LCD_COL_OFFSET,
        .row_offset = PICO4ML_LCD_ROW_OFFSET,
        .bgr = PICO4ML_LCD_BGR,
        .invert = PICO4ML_LCD_INVERT,
    };
    int err = st7735_init(&cfg);
    if (!err)
        err = st7735_fill(0, 0, W, H, BLACK);
    return err;
}

void display_clear(void) {
    st7735_fill(0, 0, W, H, BLACK);
}

/* Nearest-neighbour: the centred square of the frame onto 80x80. */
void display_camera(const uint8_t *frame, int width, int height, int stride) {
    int side = width < height ? width : height;
    int x0 = (width - side) / 2, y0 = (height - side) / 2;
    const int rows = BAND_PIXELS / CAM_SIDE;
    for (int by = 0; by < CAM_SIDE; by += rows) {
        for (int y = 0; y < rows; y++) {
            const uint8_t *src = frame + (size_t)(y0 + (by + y) * side / CAM_SIDE) * (size_t)stride + x0;
            for (int x = 0; x < CAM_SIDE; x++)
                band[y * CAM_SIDE + x] = gray565(src[x * side / CAM_SIDE]);
        }
        st7735_blit(0, (uint16_t)by, CAM_SIDE, (uint16_t)rows, band);
    }
}

void display_input28(const uint8_t *in28) {
    const int rows = 28 / 2 * IN_SCALE;  /* half the image per band */
    for (int by = 0; by < IN_SIDE; by += rows) {
        for (int y = 0; y < rows; y++)
            for (int x = 0; x < IN_SIDE; x++)
                band[y * IN_SIDE + x] = gray565(in28[((by + y) / IN_SCALE) * 28 + x / IN_SCALE]);
        st7735_blit(0, (uint16_t)(IN_Y + by), IN_SIDE, (uint16_t)rows, band);
    }
}

/* Render text into band (width bw, height FONT_H * scale), left aligned. */
static void render_text(const char *s, int bw, int scale, uint16_t fg, uint16_t bg) {
    int bh = FONT_H * scale;
    for (int i = 0; i < bw * bh; i++)
        band[i] = bg;
    for (int cx = 0; *s && cx + FONT_W * scale <= bw; s++, cx += (FONT_W + 1) * scale) {
        const uint8_t *g = font5x7_glyph(*s);
        for (int col = 0; col < FONT_W * scale; col++)
            for (int row = 0; row < bh; row++)
                if (g[col / scale] >> (row / scale) & 1u)
                    band[row * bw + cx + col] = fg;
    }
}

/* The polarity swatch: a little sheet with one stroke on it, as the digit was read. */
static void draw_polarity(int dark_on_light) {
    for (int y = 0; y < SWATCH_H; y++)
        for (int x = 0; x < SWATCH_W; x++) {
            int edge = x == 0 || y == 0 || x == SWATCH_W - 1 || y == SWATCH_H - 1;
            int stroke = x == SWATCH_W / 2 && y > 1 && y < SWATCH_H - 2;
            uint16_t c = BLACK;
            if (dark_on_light > 0)
                c = stroke ? BLACK : WHITE;
            else if (dark_on_light == 0)
                c = stroke ? WHITE : edge ? GREY : BLACK;
            band[y * SWATCH_W + x] = c;
        }
    st7735_blit(DIGIT_X, SWATCH_Y, SWATCH_W, SWATCH_H, band);
}

void display_result(int digit, int score_pct, int status, int dark_on_light) {
    const int bw = W - DIGIT_X;
    int none = digit < 0 || status == CLASSIFIER_NO_DIGIT, unsure = !none && status == CLASSIFIER_UNSURE;
    char d[2] = {none ? '-' : unsure ? '?' : (char)('0' + digit % 10), 0};
    render_text(d, bw, DIGIT_SCALE, WHITE, BLACK);
    st7735_blit(DIGIT_X, IN_Y + 4, (uint16_t)bw, FONT_H * DIGIT_SCALE, band);

    char pct[6] = "";
    if (!none) {
        int p = score_pct < 0 ? 0 : score_pct > 100 ? 100 : score_pct;
        int n = 0;
        if (p >= 100) pct[n++] = '1';
        if (p >= 10) pct[n++] = (char)('0' + (p / 10) % 10);
        pct[n++] = (char)('0' + p % 10);
        pct[n++] = '%';
        pct[n] = 0;
    }
    render_text(pct, bw, 1, !none && !unsure && score_pct >= 80 ? WHITE : GREY, BLACK);
    st7735_blit(DIGIT_X, SCORE_Y, (uint16_t)bw, FONT_H, band);
    draw_polarity(dark_on_light);
}

static void text_line(int y, const char *s, uint16_t fg) {
    render_text(s ? s : "", W, 1, fg, BLACK);
    st7735_blit(0, (uint16_t)y, W, FONT_H, band);
}

void display_status(const char *line1, const char *line2, bool error) {
    uint16_t fg = error ? st7735_rgb(255, 64, 64) : WHITE;
    text_line(STATUS_Y, line1, fg);
    text_line(STATUS_Y + LINE_H, line2, fg);
}

void display_text_screen(const char *const *lines, int n, bool error) {
    display_clear();
    uint16_t fg = error ? st7735_rgb(255, 64, 64) : WHITE;
    for (int i = 0; i < n && (i + 1) * LINE_H <= H; i++)
        text_line(i * LINE_H, lines[i], fg);
}

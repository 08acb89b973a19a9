/* app/display.c on the host (ST7735 faked as a frame buffer), under ASan + UBSan:
 * the layout of display.h, pixel for pixel. Writes the screen to argv[1] as a PPM
 * for a look. Run by tests/test_display.py; exit 1 if any CHECK failed. */
#include <stdio.h>
#include <string.h>

#include "classifier.h"
#include "display.h"
#include "font5x7.h"
#include "st7735.h"

#include "check.h"

static uint16_t gray(uint8_t v) { return st7735_rgb(v, v, v); }

/* Does the 5x7 glyph of c, scaled, start at (x, y) in colour fg? */
static int glyph_at(char c, int x, int y, int scale, uint16_t fg) {
    const uint8_t *g = font5x7_glyph(c);
    for (int col = 0; col < FONT_W * scale; col++)
        for (int row = 0; row < FONT_H * scale; row++) {
            int on = g[col / scale] >> (row / scale) & 1;
            if ((fake_lcd_fb[y + row][x + col] == fg) != on) return 0;
        }
    return 1;
}

/* Is the w x h area at (x, y) all black? */
static int blank_at(int x, int y, int w, int h) {
    for (int yy = y; yy < y + h; yy++)
        for (int xx = x; xx < x + w; xx++)
            if (fake_lcd_fb[yy][xx] != 0) return 0;
    return 1;
}

/* Is the 9x7 polarity swatch at (58, 129) the one for dark_on_light (1, 0, or -1: blank)? */
static int swatch_is(int dark_on_light) {
    for (int y = 0; y < 7; y++)
        for (int x = 0; x < 9; x++) {
            int edge = x == 0 || y == 0 || x == 8 || y == 6, stroke = x == 4 && y > 1 && y < 5;
            uint16_t want = 0;
            if (dark_on_light == 1) want = stroke ? 0x0000 : 0xFFFF;
            if (dark_on_light == 0) want = stroke ? 0xFFFF : edge ? 0x8410 : 0x0000;
            if (fake_lcd_fb[129 + y][58 + x] != want) return 0;
        }
    return 1;
}

int main(int argc, char **argv) {
    static uint8_t frame[162 * 162], in28[784];
    for (int y = 0; y < 162; y++)
        for (int x = 0; x < 162; x++) frame[y * 162 + x] = (uint8_t)(x + 3 * y);
    for (int i = 0; i < 784; i++) in28[i] = (uint8_t)((i % 28) * 9);

    CHECK(display_init() == 0);
    display_camera(frame, 162, 162, 162);
    display_input28(in28);
    display_result(7, 93, CLASSIFIER_DIGIT, 1);
    display_status("29.9FPS", "NET 12MS", false);
    CHECK(fake_lcd_out_of_range == 0);

    /* Camera view: rows 0..79, the 162x162 frame sampled onto 80x80. */
    for (int y = 0; y < 80; y += 7)
        for (int x = 0; x < 80; x += 5) CHECK(fake_lcd_fb[y][x] == gray(frame[(y * 162 / 80) * 162 + x * 162 / 80]));
    /* 28x28 input at 2x: rows 82..137, columns 0..55. */
    for (int y = 0; y < 56; y += 3)
        for (int x = 0; x < 56; x += 3) CHECK(fake_lcd_fb[82 + y][x] == gray(in28[(y / 2) * 28 + x / 2]));
    /* The digit at 4x right of it, its score below, the status lines at the bottom. */
    CHECK(glyph_at('7', 58, 86, 4, 0xFFFF));
    CHECK(glyph_at('9', 58, 86 + 28 + 6, 1, 0xFFFF) && glyph_at('3', 64, 120, 1, 0xFFFF) &&
          glyph_at('%', 70, 120, 1, 0xFFFF));
    CHECK(glyph_at('2', 0, 142, 1, 0xFFFF) && glyph_at('N', 0, 151, 1, 0xFFFF));

    /* The polarity swatch under the score (58..66 x 129..135): dark on light is a white
     * sheet with a black stroke down its middle column, light on dark a black sheet in a
     * grey frame with a white stroke; unknown (-1) is blank. */
    CHECK(swatch_is(1) && !swatch_is(0) && !swatch_is(-1));

    /* A low score is grey; no digit shows '-' and no score; unsure shows '?' and its score
     * in grey whatever the score; an error turns the status red. */
    display_result(4, 42, CLASSIFIER_DIGIT, 0);
    CHECK(glyph_at('4', 58, 86, 4, 0xFFFF) && glyph_at('4', 58, 120, 1, 0x8410));
    CHECK(swatch_is(0));
    display_result(-1, 0, CLASSIFIER_NO_DIGIT, -1);
    CHECK(glyph_at('-', 58, 86, 4, 0xFFFF) && blank_at(58, 120, 22, 7) && swatch_is(-1));
    display_result(3, 97, CLASSIFIER_NO_DIGIT, 1); /* the network's guess for a blank input: not shown */
    CHECK(glyph_at('-', 58, 86, 4, 0xFFFF) && blank_at(58, 120, 22, 7) && swatch_is(1));
    display_result(5, 95, CLASSIFIER_UNSURE, 0);
    CHECK(glyph_at('?', 58, 86, 4, 0xFFFF) && glyph_at('9', 58, 120, 1, 0x8410) &&
          glyph_at('5', 64, 120, 1, 0x8410) && swatch_is(0));
    display_status("CAMERA FAIL", "NO VSYNC", true);
    CHECK(glyph_at('C', 0, 142, 1, st7735_rgb(255, 64, 64)) && glyph_at('V', 18, 151, 1, st7735_rgb(255, 64, 64)));
    /* Longer lines are cut at the panel's edge, never drawn outside it. */
    display_status("A LINE MUCH TOO LONG FOR 80 PIXELS", NULL, false);
    CHECK(fake_lcd_out_of_range == 0);

    if (argc > 1) {
        display_result(7, 93, CLASSIFIER_DIGIT, 1);
        display_status("29.9FPS", "NET 12MS", false);
        FILE *f = fopen(argv[1], "wb");
        if (f) {
            fprintf(f, "P6\n80 160\n255\n");
            for (int y = 0; y < 160; y++)
                for (int x = 0; x < 80; x++) {
                    uint16_t p = fake_lcd_fb[y][x];
                    uint8_t rgb[3] = {(uint8_t)((p >> 11) << 3), (uint8_t)(((p >> 5) & 63) << 2), (uint8_t)((p & 31) << 3)};
                    fwrite(rgb, 1, 3, f);
                }
            fclose(f);
        }
    }
    if (failures) {
        fprintf(stderr, "%d check(s) failed\n", failures);
        return 1;
    }
    printf("display: all checks passed\n");
    return 0;
}

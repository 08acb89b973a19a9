/* Fake ST7735: see st7735.h in this directory. */
#include "st7735.h"

uint16_t fake_lcd_fb[FAKE_LCD_H][FAKE_LCD_W];
int fake_lcd_out_of_range;

int st7735_init(const st7735_config *config) {
    (void)config;
    return 0;
}

static int in_range(uint16_t x, uint16_t y, uint16_t w, uint16_t h) {
    return w > 0 && h > 0 && x + w <= FAKE_LCD_W && y + h <= FAKE_LCD_H;
}

int st7735_fill(uint16_t x, uint16_t y, uint16_t w, uint16_t h, uint16_t color) {
    if (!in_range(x, y, w, h)) { fake_lcd_out_of_range++; return -3; }
    for (int r = 0; r < h; r++)
        for (int c = 0; c < w; c++) fake_lcd_fb[y + r][x + c] = color;
    return 0;
}

int st7735_blit(uint16_t x, uint16_t y, uint16_t w, uint16_t h, const uint16_t *pixels) {
    if (!in_range(x, y, w, h)) { fake_lcd_out_of_range++; return -3; }
    for (int r = 0; r < h; r++)
        for (int c = 0; c < w; c++) fake_lcd_fb[y + r][x + c] = pixels[r * w + c];
    return 0;
}

/* Fake ST7735 driver for host tests of app/display.c: the same API, drawing into
 * fake_lcd_fb (80x160 RGB565) instead of a panel. */
#ifndef FAKE_ST7735_H
#define FAKE_ST7735_H

#include <stdbool.h>
#include <stdint.h>

typedef unsigned int uint;
typedef struct fake_spi spi_inst_t;
#define spi1 ((spi_inst_t *)0)

typedef struct st7735_config {
    spi_inst_t *spi;
    uint32_t baud_hz;
    uint sck_pin, mosi_pin, cs_pin, dc_pin, rst_pin;
    int backlight_pin;
    uint16_t width, height;
    uint16_t col_offset, row_offset;
    bool bgr;
    bool invert;
} st7735_config;

static inline uint16_t st7735_rgb(uint8_t r, uint8_t g, uint8_t b) {
    return (uint16_t)(((r & 0xF8u) << 8) | ((g & 0xFCu) << 3) | (b >> 3));
}

#define FAKE_LCD_W 80
#define FAKE_LCD_H 160
extern uint16_t fake_lcd_fb[FAKE_LCD_H][FAKE_LCD_W];
extern int fake_lcd_out_of_range;

int st7735_init(const st7735_config *config);
int st7735_fill(uint16_t x, uint16_t y, uint16_t w, uint16_t h, uint16_t color);
int st7735_blit(uint16_t x, uint16_t y, uint16_t w, uint16_t h, const uint16_t *pixels);

#endif

/* Sitronix ST7735S LCD driver (RGB565 over SPI, pixel data by DMA).
 *
 * The app hands in a const config; the driver keeps its state private and
 * returns 0 or a negative ST7735_ERR_* code. Call it from one core only.
 * Coordinates are panel pixels (0..width-1, 0..height-1); the column/row
 * offsets of the glass inside the controller's RAM are added here.
 */
#ifndef ST7735_H
#define ST7735_H

#include <stdbool.h>
#include <stdint.h>

#include "hardware/spi.h"

enum st7735_error {
    ST7735_OK = 0,
    ST7735_ERR_NO_DMA = -1,   /* no free DMA channel */
    ST7735_ERR_TIMEOUT = -2,  /* a pixel transfer did not finish in time */
    ST7735_ERR_RANGE = -3,    /* rectangle outside the panel */
    ST7735_ERR_STATE = -4,    /* not initialised */
};

typedef struct st7735_config {
    spi_inst_t *spi;
    uint32_t baud_hz;
    uint sck_pin, mosi_pin, cs_pin, dc_pin, rst_pin;
    int backlight_pin;        /* -1: not driven */
    uint16_t width, height;   /* visible pixels */
    uint16_t col_offset, row_offset;
    bool bgr;                 /* panel wired blue-green-red */
    bool invert;              /* IPS panels need display inversion on */
} st7735_config;

/* RGB565 from 8-bit components. */
static inline uint16_t st7735_rgb(uint8_t r, uint8_t g, uint8_t b) {
    return (uint16_t)(((r & 0xF8u) << 8) | ((g & 0xFCu) << 3) | (b >> 3));
}

int st7735_init(const st7735_config *config);
/* Fill a rectangle with one colour. */
int st7735_fill(uint16_t x, uint16_t y, uint16_t w, uint16_t h, uint16_t color);
/* Send w*h RGB565 pixels, row-major, to a rectangle (blocks until sent). */
int st7735_blit(uint16_t x, uint16_t y, uint16_t w, uint16_t h, const uint16_t *pixels);
const char *st7735_strerror(int err);

#endif

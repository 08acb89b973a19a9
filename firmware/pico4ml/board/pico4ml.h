/* ArduCAM Pico4ML board: pins and peripheral ids only (no code). PIO state
 * machines and DMA channels are claimed at run time, so they are not here.
 *
 * Values from docs/pico4ml-hardware.md. Lines marked "unverified" are build
 * options (-D on the CMake command line) so a board revision can override them
 * without editing this file.
 */
#ifndef PICO4ML_BOARD_H
#define PICO4ML_BOARD_H

/* ---- HM01B0 camera ---- */
#define PICO4ML_CAM_I2C         i2c0
#define PICO4ML_CAM_I2C_HZ      400000  /* HM01B0 supports I2C fast mode */
#define PICO4ML_CAM_SDA_PIN     4
#define PICO4ML_CAM_SCL_PIN     5
#define PICO4ML_CAM_I2C_ADDR    0x24
#define PICO4ML_CAM_RESET_PIN   2       /* active low */
#define PICO4ML_CAM_MCLK_PIN    3       /* PWM output */
#define PICO4ML_CAM_MCLK_HZ     12500000 /* clk_sys / 10 at 125 MHz, as the vendor code */
#define PICO4ML_CAM_D0_PIN      6
#define PICO4ML_CAM_PCLK_PIN    14
#define PICO4ML_CAM_HSYNC_PIN   15
#define PICO4ML_CAM_VSYNC_PIN   16

/* Sensor orientation as mounted (HM01B0 IMAGE_ORIENTATION bits: 1 mirror,
 * 2 flip). Public Pico4ML examples set both; unverified, so a build option. */
#ifndef PICO4ML_CAM_ORIENTATION
#define PICO4ML_CAM_ORIENTATION 3
#endif

/* ---- ST7735S 80x160 LCD ---- */
#define PICO4ML_LCD_SPI         spi1
#define PICO4ML_LCD_SCK_PIN     10
#define PICO4ML_LCD_MOSI_PIN    11
#define PICO4ML_LCD_CS_PIN      13
#define PICO4ML_LCD_DC_PIN      9
#define PICO4ML_LCD_RST_PIN     7
#define PICO4ML_LCD_WIDTH       80
#define PICO4ML_LCD_HEIGHT      160
#define PICO4ML_LCD_COL_OFFSET  24
#define PICO4ML_LCD_ROW_OFFSET  0

#ifndef PICO4ML_LCD_SPI_HZ
#define PICO4ML_LCD_SPI_HZ      12000000  /* vendor value */
#endif
/* Backlight pin: unverified; -1 = not driven by the firmware. */
#ifndef PICO4ML_LCD_BACKLIGHT_PIN
#define PICO4ML_LCD_BACKLIGHT_PIN -1
#endif
/* 0.96" 80x160 IPS panels usually need display inversion on; unverified. */
#ifndef PICO4ML_LCD_INVERT
#define PICO4ML_LCD_INVERT 1
#endif

#endif

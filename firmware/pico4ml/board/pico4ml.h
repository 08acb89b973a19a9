/* ArduCAM Pico4ML board: pins and peripheral ids only (no code). PIO state
 * machines and DMA channels are claimed at run time, so they are not here.
 *
 * Values from the board vendor's working Pico4ML code (ArduCAM/RPI-Pico-Cam,
 * rp2040_hm01b0_st7735/) and the parts' datasheets; firmware/pico4ml/README.md
 * ("Hardware facts" and "Bring-up checklist") says where each one comes from and
 * which to change for which symptom. The #ifndef values are CMake options
 * (-D on the cmake command line, see CMakeLists.txt), so a board revision can
 * override them without editing this file.
 */
#ifndef PICO4ML_BOARD_H
#define PICO4ML_BOARD_H

/* ---- HM01B0 camera ---- */
#define PICO4ML_CAM_I2C         i2c0
/* 100 kHz on the RP2040's internal pull-ups, as every public driver runs this
 * bus (the vendor's arducam.c and its IMU code on the same GP4/GP5 bus):
 * nothing shows pull-ups strong enough for 400 kHz. */
#ifndef PICO4ML_CAM_I2C_HZ
#define PICO4ML_CAM_I2C_HZ      100000
#endif
#define PICO4ML_CAM_SDA_PIN     4
#define PICO4ML_CAM_SCL_PIN     5
#define PICO4ML_CAM_I2C_ADDR    0x24
#ifndef PICO4ML_CAM_RESET_PIN
#define PICO4ML_CAM_RESET_PIN   2       /* active low; -1: not driven */
#endif
#define PICO4ML_CAM_MCLK_PIN    3       /* PWM output */
#define PICO4ML_CAM_MCLK_HZ     12500000 /* clk_sys / 10 at 125 MHz, as the vendor code */
#define PICO4ML_CAM_D0_PIN      6
#define PICO4ML_CAM_PCLK_PIN    14
#define PICO4ML_CAM_HSYNC_PIN   15
#define PICO4ML_CAM_VSYNC_PIN   16

/* Sensor orientation as mounted (HM01B0 IMAGE_ORIENTATION bits: 1 mirror,
 * 2 flip). The vendor's person-detection example sets both (its camera demo
 * sets mirror and flips rows in software); unverified, so a build option. */
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
/* Where the 80x160 glass sits in the controller's 132x162 RAM (vendor's
 * st7735.h, 160x80 case: XSTART 24, YSTART 0). */
#ifndef PICO4ML_LCD_COL_OFFSET
#define PICO4ML_LCD_COL_OFFSET  24
#endif
#ifndef PICO4ML_LCD_ROW_OFFSET
#define PICO4ML_LCD_ROW_OFFSET  0
#endif
/* Blue-green-red wiring (MADCTL 0x08), as the vendor's driver sets it. */
#ifndef PICO4ML_LCD_BGR
#define PICO4ML_LCD_BGR 1
#endif

#ifndef PICO4ML_LCD_SPI_HZ
#define PICO4ML_LCD_SPI_HZ      12000000  /* vendor value */
#endif
/* Backlight pin: unverified; -1 = not driven by the firmware. */
#ifndef PICO4ML_LCD_BACKLIGHT_PIN
#define PICO4ML_LCD_BACKLIGHT_PIN -1
#endif
/* Display inversion off (INVOFF), as the vendor's driver and every public
 * Pico4ML sketch send it: 1 (INVON) would show a negative. */
#ifndef PICO4ML_LCD_INVERT
#define PICO4ML_LCD_INVERT 0
#endif

#endif

/* 5x7 bitmap font for the LCD: ASCII ' ' .. 'Z' (lower case is drawn as upper
 * case). Each glyph is 5 column bytes, bit 0 = top row. */
#ifndef PICO4ML_FONT5X7_H
#define PICO4ML_FONT5X7_H

#include <stdint.h>

#define FONT_W 5
#define FONT_H 7
#define FONT_FIRST ' '
#define FONT_LAST 'Z'

/* Column bytes of c's glyph; unknown characters give '?'. */
const uint8_t *font5x7_glyph(char c);

#endif

/* What the 80x160 LCD shows (portrait):
 *   rows   0..79   live camera view (the capture downscaled to 80x80)
 *   rows  82..137  the 28x28 network input at 2x | the predicted digit ("-" none, "?"
 *                  unsure), its score, and a swatch of the polarity used
 *   rows 142..159  two status lines: fps and net() time, or an error in red
 * Drawn in small bands through one static buffer; core 1 owns the LCD. */
#ifndef PICO4ML_DISPLAY_H
#define PICO4ML_DISPLAY_H

#include <stdbool.h>
#include <stdint.h>

/* Returns 0 or a negative st7735 error. */
int display_init(void);
void display_clear(void);
void display_camera(const uint8_t *frame, int width, int height, int stride);
void display_input28(const uint8_t *in28);
/* status is CLASSIFIER_DIGIT, _NO_DIGIT (shows "-", or digit < 0) or _UNSURE (shows "?"
 * with the score in grey); dark_on_light 1 or 0 draws the polarity swatch (dark stroke on
 * white, or white stroke on black), < 0 clears it. */
void display_result(int digit, int score_pct, int status, int dark_on_light);
/* Two short status lines (13 characters each fit); error colours them red. */
void display_status(const char *line1, const char *line2, bool error);
/* Full-screen text (boot report, fatal errors): up to 20 lines of 13 chars. */
void display_text_screen(const char *const *lines, int n, bool error);

#endif

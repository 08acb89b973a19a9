/* The host twin's stand-in for the HM01B0's exposure, gain and orientation: SET_CAMERA
 * options applied to the frames the twin feeds (files, synthetic digits, a webcam), so
 * tuning them in the GUI changes what preprocessing sees, as on the board.
 *
 * Auto exposure (the default) passes frames through unchanged: the source is taken as
 * already exposed right, as the sensor's AE would. Manual exposure scales the light:
 *     out = clip(min(src * E / 256, 255) * G + noise),  G = 2^analog_gain * digital_gain / 256
 * E: integration lines (256, the default, is 1x; more brightens, less darkens); the inner
 * clip is the pixel's full well, the outer one the 8-bit ADC. Gain amplifies the sensor's
 * read noise too: noise is Gaussian with sigma = CAMERA_READ_NOISE_DN * (G - 1), so 1x gain
 * adds none and 8x adds 14 DN. Mirror and flip apply in both modes. */
#ifndef PICO4ML_HOST_CAMERA_MODEL_H
#define PICO4ML_HOST_CAMERA_MODEL_H

#include <stdbool.h>
#include <stdint.h>

#include "protocol.h"

#define CAMERA_UNITY_EXPOSURE 256   /* integration lines that leave a frame as it is */
#define CAMERA_READ_NOISE_DN 2.0f   /* read noise amplified by gain above 1x, in 8-bit steps */

typedef struct {
    proto_camera_opts opts;
    uint32_t rng; /* xorshift32 state of the gain noise */
} camera_model;

void camera_model_init(camera_model *c, uint32_t seed);
/* The device's set_camera hook (ctx: a camera_model): takes the options (0), or refuses a
 * readout mode other than KEEP (-1: the twin's camera has one; the host gets ERROR CAMERA). */
int camera_model_set(void *ctx, const proto_camera_opts *opts);
/* True when frames pass unchanged (auto exposure, no mirror, no flip). */
bool camera_model_is_identity(const camera_model *c);
/* src (width x height, packed) through the model into dst (same size, not src). */
void camera_model_apply(camera_model *c, const uint8_t *src, uint8_t *dst, int width, int height);

#endif

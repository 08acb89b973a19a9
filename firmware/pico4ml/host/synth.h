/* Synthetic camera frames for the host twin: a digit drawn as dark ink on paper
 * under uneven light, with noise, at a random place, size and angle. Drawn from
 * stroke outlines in code, so the twin needs no data set. */
#ifndef PICO4ML_HOST_SYNTH_H
#define PICO4ML_HOST_SYNTH_H

#include <stdint.h>

/* Draw `digit` (0..9) into a width x height 8-bit frame. *rng is the state of a
 * xorshift32 generator (non-zero); the same state gives the same frame. */
void synth_digit(uint8_t *frame, int width, int height, int digit, uint32_t *rng);
/* The same with two generators: *shape draws where and how the digit is drawn (place,
 * size, angle, paper, light), *noise the sensor noise. Starting every frame from the same
 * shape state and a running noise state gives one digit held still under a live camera's
 * noise. shape == noise is synth_digit(). */
void synth_digit_shaped(uint8_t *frame, int width, int height, int digit, uint32_t *shape, uint32_t *noise);
/* One step of the xorshift32 generator the digits use. */
uint32_t synth_rand(uint32_t *rng);

#endif

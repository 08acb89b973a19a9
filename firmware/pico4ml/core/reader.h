/* reader.h: a second reading of a frame whose first one is no confident digit.
 *
 * The closing that estimates the paper (bg_radius) must be wider than a stroke, but a
 * hand's shadow narrower than it (a finger, a thin arm) is then read as ink, and the
 * strokes of a bold digit seen close are wider than it and come out hollow. When the
 * first reading is not a confident digit (status NO_DIGIT or UNSURE), the frame is
 * preprocessed again with bg_radius = retry_radius (smaller: such a shadow is paper),
 * then, if that is not taken either, with retry_radius2 (larger: bold strokes stay ink).
 * A reading's answer replaces the first when it is a digit with a softmax score of at
 * least retry_score_pct (stricter than min_score_pct: a second look must not turn an
 * empty page into a digit). docs/preprocessing.md, "Second reading", has the figures.
 *
 * Portable C11, no heap; not reentrant (one static 28x28). The firmware's core 0, the
 * twin and the host's FramePipeline call the same function, so all read frames alike.
 */
#ifndef PICO4ML_READER_H
#define PICO4ML_READER_H

#include <stdint.h>

#include "classifier.h"
#include "preprocess.h"

/* pp_run's contract with a context first (device_hooks.preprocess). */
typedef int (*reader_pp_fn)(void *ctx, const uint8_t *frame, int width, int height, int stride, const pp_params *p,
                            uint8_t out28[PP_OUT * PP_OUT], pp_stages *stages);

/* 1 when `radius` is a second reading's radius for these parameters (0 and bg_radius are off). */
static inline int reader_radius_on(const pp_params *p, uint8_t radius) {
    return radius != 0 && radius != p->bg_radius;
}

/* 1 when the parameters ask for a second reading of a first one that ended in `status`. */
static inline int reader_wants_second(const pp_params *p, uint8_t status) {
    return p && status != CLASSIFIER_DIGIT
           && (reader_radius_on(p, p->retry_radius) || reader_radius_on(p, p->retry_radius2));
}

/* Call after the first reading (in28, its stages and r, status set). When a second
 * reading is wanted and one is taken (retry_radius first, then retry_radius2), in28,
 * *stages (if not NULL) and *r are replaced by it and *pp_status becomes its pp_run
 * status; returns the bg_radius of the reading taken then, else 0 with everything as it was.
 * pp: the preprocessing to use (NULL: pp_run), ctx its argument. */
int reader_second_reading(reader_pp_fn pp, void *ctx, const uint8_t *frame, int width, int height, int stride,
                          const pp_params *p, uint8_t in28[PP_OUT * PP_OUT], pp_stages *stages,
                          classifier_result *r, int *pp_status);

#endif

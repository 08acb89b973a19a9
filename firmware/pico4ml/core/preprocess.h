/* preprocess.h: camera frame -> the MNIST-style 28x28 the network expects.
 *
 * Portable C11, integer arithmetic only (the RP2040 has no FPU), no heap, static
 * work buffers (so pp_run is not reentrant: call it from one core only), no SDK
 * headers. train/preprocess.py is its bit-exact numpy twin; docs/preprocessing.md
 * explains the algorithm and the defaults.
 *
 * Stages: ROI crop -> area downscale onto a PP_WORK x PP_WORK grid -> polarity
 * (paper bright) -> background removal (relative darkness against a grey closing)
 * -> contrast normalisation + soft threshold -> robust bounding box (no specks, no
 * stray blobs) -> area resample into box_size x box_size keeping the aspect ratio
 * -> placement in 28x28 with the centre of mass at (14, 14).
 */
#ifndef PICO4ML_PREPROCESS_H
#define PICO4ML_PREPROCESS_H

#include <stddef.h>
#include <stdint.h>

#define PP_WORK 64            /* side of the work grid */
#define PP_OUT 28             /* side of the output image */
#define PP_MAX_DIM 4096       /* largest frame width/height accepted */
#define PP_PARAMS_VERSION 1
#define PP_PARAMS_SIZE 24     /* bytes of pp_params, also on the wire */
#define PP_COM_TARGET 14      /* MNIST's mean centre of mass, pixel index */

enum {
    PP_POLARITY_DARK_ON_LIGHT = 0, /* ink on paper: inverted to white on black */
    PP_POLARITY_LIGHT_ON_DARK = 1, /* chalk on a board, a screen */
    PP_POLARITY_AUTO = 2,          /* decided per frame: the majority is the ground */
};

enum {
    PP_OK = 0,
    PP_NO_DIGIT = 1,       /* nothing that looks like ink: output is blank */
    PP_ERR_ARG = -1,       /* NULL pointer, frame size outside 1..PP_MAX_DIM, stride < width */
    PP_ERR_PARAMS = -2,    /* parameters fail pp_validate_params() */
    PP_ERR_ROI = -3,       /* the ROI does not overlap the frame */
};

/* Run-time parameters. Fixed-size fields without padding, so the host can send the
 * struct as PP_PARAMS_SIZE little-endian bytes (pp_params_pack/unpack). */
typedef struct {
    uint16_t version;        /* PP_PARAMS_VERSION */
    uint16_t size;           /* PP_PARAMS_SIZE */
    int16_t roi_x, roi_y;    /* ROI top-left in frame pixels (clipped to the frame) */
    uint16_t roi_w, roi_h;   /* 0 (either): the centred square of the whole frame */
    uint8_t polarity;        /* PP_POLARITY_* */
    uint8_t bg_remove;       /* 1: divide out the paper (uneven light, vignetting) */
    uint8_t bg_radius;       /* closing radius on the work grid, 1..15; > half a stroke */
    uint8_t threshold_pct;   /* soft threshold at this % of the ink range, 1..99; 0 = Otsu */
    uint8_t saturate_pct;    /* ink at this % of the range becomes 255, 1..100 */
    uint8_t min_contrast;    /* ink range below this (0..255): no digit */
    uint8_t speck_min;       /* ink pixels in its 3x3 for a pixel to count (0..9; <= 1 off) */
    uint8_t max_gap;         /* empty rows/columns allowed inside a digit, 0..PP_WORK */
    uint8_t border;          /* work-grid pixels ignored at the edges, 0..PP_WORK/4 */
    uint8_t box_size;        /* the digit is fitted into box_size^2, 4..28 (MNIST: 20) */
    uint8_t center_mass;     /* 1: centre of mass at (14,14); 0: centre the box */
    uint8_t reserved;        /* 0 */
} pp_params;

/* Intermediate results for the GUI's side-by-side view. Grids are work_w x work_h
 * with row stride PP_WORK; box is box_w x box_h with row stride PP_OUT. */
typedef struct {
    uint8_t work[PP_WORK * PP_WORK];  /* the ROI area-downscaled, as captured */
    uint8_t ink[PP_WORK * PP_WORK];   /* after polarity + background removal: white ink */
    uint8_t norm[PP_WORK * PP_WORK];  /* after contrast normalisation + threshold */
    uint8_t box[PP_OUT * PP_OUT];     /* the digit resampled into the box */
    uint16_t roi_x, roi_y, roi_w, roi_h; /* ROI actually used */
    uint8_t work_w, work_h;
    uint8_t dark_on_light;            /* polarity used (matters for PP_POLARITY_AUTO) */
    uint8_t lo, hi;                   /* ink levels: background (median), near-maximum */
    uint8_t threshold;                /* ink level of the soft threshold */
    uint16_t saturate;                /* ink level mapped to 255 */
    int16_t bbox_x, bbox_y, bbox_w, bbox_h; /* digit on the work grid; 0 if none */
    uint8_t box_w, box_h;             /* 0 if no digit */
    int16_t shift_x, shift_y;         /* where box's top-left landed in the 28x28 */
    int16_t com_x16, com_y16;         /* the box's centre of mass in the 28x28, 1/16 pixel */
} pp_stages;

void pp_default_params(pp_params *p);

/* 0 (PP_OK) or PP_ERR_PARAMS / PP_ERR_ARG: use on every host command. */
int pp_validate_params(const pp_params *p);

/* Wire format: PP_PARAMS_SIZE bytes, little-endian, fields in struct order. */
void pp_params_pack(const pp_params *p, uint8_t out[PP_PARAMS_SIZE]);
/* Decodes and validates; *p is untouched unless the result is PP_OK. */
int pp_params_unpack(const uint8_t *data, size_t len, pp_params *p);

/* 8-bit grayscale frame (width x height, row stride in bytes) -> out28, white ink on
 * black. p == NULL means the defaults; stages may be NULL. Returns PP_OK,
 * PP_NO_DIGIT (out28 blank) or a negative PP_ERR_* (out28 blank when not NULL). */
int pp_run(const uint8_t *frame, int width, int height, int stride, const pp_params *p,
           uint8_t out28[PP_OUT * PP_OUT], pp_stages *stages);

#endif

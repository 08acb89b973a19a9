/* preprocess.h: camera frame -> the MNIST-style 28x28 the network expects.
 *
 * Portable C11, integer arithmetic only (the RP2040 has no FPU), no heap, static
 * work buffers (so pp_run is not reentrant: call it from one core only), no SDK
 * headers. train/preprocess.py is its bit-exact numpy twin; docs/preprocessing.md
 * explains the algorithm and the defaults.
 *
 * Stages: ROI crop -> area downscale onto a PP_WORK x PP_WORK grid -> ink signal
 * (relative darkness against a grey closing of the paper) -> contrast normalisation +
 * soft threshold -> connected components of the strokes, filtered (frame border, size,
 * thin lines, off-centre) and merged into the most digit-like candidate -> polarity
 * decided from the ground around that candidate (PP_POLARITY_AUTO) -> the digit's box
 * resampled from the full-resolution frame into box_size x box_size, aspect kept ->
 * placement in 28x28 with the centre of mass at (14, 14).
 */
#ifndef PICO4ML_PREPROCESS_H
#define PICO4ML_PREPROCESS_H

#include <stddef.h>
#include <stdint.h>

#define PP_WORK 64            /* side of the work grid */
#define PP_OUT 28             /* side of the output image */
#define PP_MAX_DIM 4096       /* largest frame width/height accepted */
#define PP_PARAMS_VERSION 3
#define PP_PARAMS_SIZE 36     /* bytes of pp_params, also on the wire */
#define PP_COM_TARGET 14      /* MNIST's mean centre of mass, pixel index */
#define PP_MAX_CANDIDATES 16  /* candidates reported in pp_stages */
#define PP_MAX_LABELS 127     /* components a frame may have; more: PP_ND_CLUTTERED */

enum {
    PP_POLARITY_DARK_ON_LIGHT = 0, /* ink on paper: inverted to white on black */
    PP_POLARITY_LIGHT_ON_DARK = 1, /* chalk on a board, a screen */
    PP_POLARITY_AUTO = 2,          /* decided per frame from the ground around the digit */
};

enum {
    PP_OK = 0,
    PP_NO_DIGIT = 1,       /* nothing digit-like (pp_stages.no_digit says why): output is blank */
    PP_ERR_ARG = -1,       /* NULL pointer, frame size outside 1..PP_MAX_DIM, stride < width */
    PP_ERR_PARAMS = -2,    /* parameters fail pp_validate_params() */
    PP_ERR_ROI = -3,       /* the ROI does not overlap the frame */
};

/* Why a candidate was not (only) the digit: pp_candidate.reason. */
enum {
    PP_CAND_CHOSEN = 0,     /* the digit */
    PP_CAND_MERGED = 1,     /* a part of the digit (a 5's cap, a broken stroke), merged into it */
    PP_CAND_BORDER = 2,     /* touches the frame / ROI border: a cut neighbour, the paper's edge */
    PP_CAND_SMALL = 3,      /* lower than min_size_pct of the grid */
    PP_CAND_LARGE = 4,      /* longer than max_size_pct of the grid */
    PP_CAND_THIN = 5,       /* a long line under 2 pixels thick: ruling, a margin, an edge */
    PP_CAND_OFF_CENTRE = 6, /* centre further than offcentre_pct of the grid from the middle */
    PP_CAND_WEAKER = 7,     /* digit-like, but another one scored higher */
};

/* Why there is no digit: pp_stages.no_digit. */
enum {
    PP_ND_NONE = 0,         /* a digit was found (status PP_OK) */
    PP_ND_LOW_CONTRAST = 1, /* the ink range of the whole grid is below min_contrast */
    PP_ND_NO_CANDIDATE = 2, /* every candidate was dropped */
    PP_ND_FAINT = 3,        /* the chosen candidate's own ink range is below cand_contrast */
    PP_ND_CLUTTERED = 4,    /* more than PP_MAX_LABELS separate specks: noise, not a digit */
    PP_ND_EMPTY = 5,        /* the resampled box came out empty */
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
    uint8_t min_contrast;    /* ink range of the grid below this (0..255): no digit */
    uint8_t speck_min;       /* ink pixels in its 3x3 for a pixel to count (0..9; <= 1 off) */
    uint8_t border;          /* work-grid pixels ignored at the edges, 0..PP_WORK/4 */
    uint8_t box_size;        /* the digit is fitted into box_size^2, 4..28 (MNIST: 20) */
    uint8_t center_mass;     /* 1: centre of mass at (14,14); 0: centre the box */
    /* candidate filters, in % of the work grid's longer side */
    uint8_t min_size_pct;    /* a digit is at least this high, 0..100 */
    uint8_t max_size_pct;    /* ... and at most this long, 1..100 */
    uint8_t thin_pct;        /* a line this long and under 2 px thick is not a digit, 1..100 */
    uint8_t offcentre_pct;   /* a digit's centre is at most this far from the middle, 1..100 */
    uint8_t merge_pct;       /* parts this close (% of the digit's size) join it, 0..100 */
    uint8_t grow_pct;        /* ... if the digit grows to at most this % of its size, 100..255 */
    uint8_t cand_contrast;   /* the chosen digit's own ink range below this (0..255): no digit */
    uint8_t full_res;        /* 1: resample the digit from the frame itself; 0: from the grid */
    uint8_t min_score_pct;   /* softmax score in % below which the answer is UNSURE, 0..100 */
    /* the second reading (core/reader.h; pp_run itself ignores these three) */
    uint8_t retry_radius;    /* bg_radius of a second reading when the first is no confident digit, 0..15; 0 off */
    uint8_t retry_score_pct; /* ... which is taken only at this softmax score in % or more, 0..100 */
    uint8_t retry_radius2;   /* bg_radius of a third reading when the second is not taken either, 0..15; 0 off */
    uint16_t reserved;       /* 0 */
} pp_params;

/* One connected set of strokes on the work grid (the wire's CANDIDATES entry). */
typedef struct {
    uint8_t x, y, w, h;      /* bounding box on the work grid */
    uint8_t reason;          /* PP_CAND_* */
    uint8_t score;           /* digit-likeness (mass x centrality) relative to the chosen: 255 */
    uint16_t mass;           /* normalised ink summed over its pixels, / 16 */
} pp_candidate;

/* Intermediate results for the GUI's side-by-side view. Grids are work_w x work_h
 * with row stride PP_WORK; box is box_w x box_h with row stride PP_OUT. */
typedef struct {
    uint8_t work[PP_WORK * PP_WORK];  /* the ROI area-downscaled, as captured */
    uint8_t ink[PP_WORK * PP_WORK];   /* ink signal of the polarity used: white ink */
    uint8_t norm[PP_WORK * PP_WORK];  /* after contrast normalisation + threshold */
    uint8_t box[PP_OUT * PP_OUT];     /* the digit resampled into the box */
    uint16_t roi_x, roi_y, roi_w, roi_h; /* ROI actually used */
    uint8_t work_w, work_h;
    uint8_t dark_on_light;            /* polarity used: 1 dark on light, 0 light on dark */
    uint8_t lo, hi;                   /* ink levels of the grid: background (median), near-maximum */
    uint8_t threshold;                /* ink level of the soft threshold (segmentation) */
    uint16_t saturate;                /* ink level mapped to 255 */
    int16_t bbox_x, bbox_y, bbox_w, bbox_h; /* the digit (chosen + merged) on the work grid; 0 if none */
    uint8_t box_w, box_h;             /* 0 if no digit */
    int16_t shift_x, shift_y;         /* where box's top-left landed in the 28x28 */
    int16_t com_x16, com_y16;         /* the box's centre of mass in the 28x28, 1/16 pixel */
    uint8_t digit_hi, digit_threshold; /* the digit's own ink levels (its normalisation) */
    uint16_t digit_saturate;
    uint8_t no_digit;                 /* PP_ND_*: why status is PP_NO_DIGIT */
    uint8_t n_cand;                   /* entries used in cand[] */
    int8_t chosen;                    /* index of the chosen candidate in cand[], -1 if none */
    uint8_t n_components;             /* all components found (cand[] holds the first 16) */
    pp_candidate cand[PP_MAX_CANDIDATES]; /* chosen, merged (in raster order), then by mass */
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

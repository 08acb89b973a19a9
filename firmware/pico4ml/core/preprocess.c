/* preprocess.c: camera frame -> MNIST-style 28x28, integer only.
 *
 * Every step is mirrored by train/preprocess.py (numpy); the tests compare the two
 * bit for bit (output, status, every stage and candidate), so change both together.
 * All divisions have non-negative operands except the centre-of-mass shift, which
 * uses floor_div(). docs/preprocessing.md explains each stage and its defaults.
 */
#include "preprocess.h"

#include <string.h>

#define GRID (PP_WORK * PP_WORK)
#define HALF (PP_WORK / 2)         /* the half-resolution grid of 2x2 blocks */
#define HGRID (HALF * HALF)

/* Fixed constants of the stages (documented in docs/preprocessing.md). */
#define DIGIT_HI_RANK 8      /* the digit's near-maximum: 1/8 of its pixels are darker */
#define VOTE_MARGIN_PCT 25   /* polarity vote: around the digit by 25 % of its size */
#define VOTE_FEATURE_PCT 33  /* ... on pixels whose closing-opening gap is above 33 % */
#define VOTE_GROUND_R 4      /* ... against the mean of the ground within 4 half-grid pixels */
#define MERGE_ASPECT_W 5     /* a merged digit stays at most 5/4 as wide as high (+4 px) */
#define MERGE_ASPECT_H 4
#define THIN_PX 2            /* a "thin" line averages under 2 pixels across */
#define CLOSE_MIN_PCT 50     /* with no other candidate, a border-touching one this long ... */
#define CLOSE_CENTRE_PCT 20  /* ... and this central is a close digit, not a cut neighbour */
#define COLSUM_CAP 1024      /* the downscale's source columns per strip (a bin: <= 4096/64 + 1) */
#define RETRY_RANGE_PCT 75   /* levels again without the border's ink if it had set them this high */

/* Work buffers: file scope, never on the stack (about 25 KB in all). */
static uint8_t s_work[GRID];   /* ROI on the work grid, as captured */
static uint8_t s_ink[GRID];    /* ink signal of the reading in progress */
static union {                 /* speck mask, then component labels (0: none) */
    uint32_t w[GRID / 4];      /* word access: skipping four empty pixels at once */
    uint8_t b[GRID];           /* byte access: everything else */
} s_labels;
#define s_lab s_labels.b
static uint8_t s_row_ink[PP_WORK]; /* 1: the row has mask pixels (rows without are skipped) */
static union {              /* two byte images on the half grid, or one u16 image */
    uint32_t w[HGRID / 2];  /* word access: the closing's column passes */
    uint16_t h[HGRID];      /* halfword access: the vote's row sums */
} s_half;
static union {              /* paper estimates on the half grid: [1] dark on light, [0] light on dark */
    uint32_t w[2][HGRID / 4];
    uint8_t b[2][HGRID];    /* byte access: everything else */
} s_papers;
static const uint8_t *s_paper = s_papers.b[1]; /* ... of the reading in progress */
#define HW32 (HALF / 4)                  /* words in a half-grid row */
/* Scratch that no two stages need at once: the closing's padded pass and the polarity
 * vote's, then the box resample's accumulators. */
static union {
    struct {
        uint32_t vpad[(HALF + 16) * HW32]; /* one padded column pass: n + 2r <= 32 + 16 rows */
        uint8_t half_n[HGRID];             /* polarity vote: ground counts */
        uint8_t cells[HGRID];              /* polarity vote: cells near the digit's strokes */
    } v;
    uint32_t acc28[PP_OUT * PP_OUT];       /* box resample accumulators */
    struct {
        uint16_t colsum[COLSUM_CAP];       /* the downscale's column sums */
        uint32_t rcol[2][PP_WORK];         /* ... and reciprocals per work column */
    } ds;                                  /* the area downscale */
} s_scratch;
#define s_vpad s_scratch.v.vpad
#define s_half_n s_scratch.v.half_n
#define s_cells s_scratch.v.cells
#define s_acc28 s_scratch.acc28
static uint32_t s_hrow[PP_OUT];           /* one source row resampled across */
static uint8_t s_box[PP_OUT * PP_OUT];
static uint16_t s_hist[256];
static uint8_t s_lut[256];       /* ink -> normalised ink */
static uint16_t s_recip[256];    /* 255 * 256 / p, rounded: relative darkness without division */
static uint16_t s_xb0[PP_WORK], s_xb1[PP_WORK], s_yb0[PP_WORK], s_yb1[PP_WORK]; /* area bins */
static uint8_t s_parent[PP_MAX_LABELS + 1]; /* union-find over provisional labels */
static uint8_t s_sel[PP_MAX_LABELS + 1];    /* 1: the component is part of the digit */

typedef struct {
    uint8_t x0, y0, x1, y1;
    uint16_t n;              /* pixels */
    uint8_t reason;          /* PP_CAND_* */
    uint32_t mass;           /* normalised ink summed */
} component;
static component s_comp[PP_MAX_LABELS + 1]; /* index = label, 1..n_comp, in raster order */

/* The UNSURE threshold belongs to the model's scores: a build with a model passes the one
 * calibrated for it (core/model/manifest.json); 47 is the default model's. */
#ifndef PICO4ML_MODEL_MIN_SCORE_PCT
#define PICO4ML_MODEL_MIN_SCORE_PCT 47
#endif

void pp_default_params(pp_params *p) {
    if (!p) {
        return;
    }
    memset(p, 0, sizeof *p);
    p->version = PP_PARAMS_VERSION;
    p->size = PP_PARAMS_SIZE;
    p->polarity = PP_POLARITY_AUTO;
    p->bg_remove = 1;
    p->bg_radius = 6;
    p->threshold_pct = 35;
    p->saturate_pct = 80;
    p->min_contrast = 24;
    p->speck_min = 2;
    p->border = 1;
    p->box_size = 20;
    p->center_mass = 1;
    p->min_size_pct = 8;
    p->max_size_pct = 95;
    p->thin_pct = 40;
    p->offcentre_pct = 40;
    p->merge_pct = 15;
    p->grow_pct = 150;
    p->cand_contrast = 32;
    p->full_res = 1;
    p->min_score_pct = PICO4ML_MODEL_MIN_SCORE_PCT;
    p->retry_radius = 4;
    p->retry_score_pct = 80;
    p->retry_radius2 = 8;
}

int pp_validate_params(const pp_params *p) {
    if (!p) {
        return PP_ERR_ARG;
    }
    if (p->version != PP_PARAMS_VERSION || p->size != PP_PARAMS_SIZE
        || p->roi_w > PP_MAX_DIM || p->roi_h > PP_MAX_DIM
        || p->polarity > PP_POLARITY_AUTO || p->bg_remove > 1
        || p->bg_radius < 1 || p->bg_radius > 15
        || p->threshold_pct > 99 || p->saturate_pct < 1 || p->saturate_pct > 100
        || p->speck_min > 9 || p->border > PP_WORK / 4
        || p->box_size < 4 || p->box_size > PP_OUT || p->center_mass > 1
        || p->min_size_pct > 100 || p->max_size_pct < 1 || p->max_size_pct > 100
        || p->thin_pct < 1 || p->thin_pct > 100 || p->offcentre_pct < 1 || p->offcentre_pct > 100
        || p->merge_pct > 100 || p->grow_pct < 100 || p->full_res > 1 || p->min_score_pct > 100
        || p->retry_radius > 15 || p->retry_score_pct > 100 || p->retry_radius2 > 15 || p->reserved != 0) {
        return PP_ERR_PARAMS;
    }
    return PP_OK;
}

_Static_assert(sizeof(pp_params) == PP_PARAMS_SIZE, "pp_params must have no padding");
_Static_assert(sizeof(pp_candidate) == 8, "pp_candidate is the wire's 8-byte CANDIDATES entry");

static void put16(uint8_t *b, uint16_t v) {
    b[0] = (uint8_t)(v & 0xFF);
    b[1] = (uint8_t)(v >> 8);
}

static uint16_t get16(const uint8_t *b) {
    return (uint16_t)(b[0] | (b[1] << 8));
}

#define PP_N_BYTE_FIELDS (PP_PARAMS_SIZE - 14) /* between the 12-byte head and the u16 reserved */

void pp_params_pack(const pp_params *p, uint8_t out[PP_PARAMS_SIZE]) {
    put16(out + 0, p->version);
    put16(out + 2, p->size);
    put16(out + 4, (uint16_t)p->roi_x);
    put16(out + 6, (uint16_t)p->roi_y);
    put16(out + 8, p->roi_w);
    put16(out + 10, p->roi_h);
    const uint8_t bytes[PP_N_BYTE_FIELDS] = {
        p->polarity, p->bg_remove, p->bg_radius, p->threshold_pct, p->saturate_pct, p->min_contrast,
        p->speck_min, p->border, p->box_size, p->center_mass, p->min_size_pct, p->max_size_pct,
        p->thin_pct, p->offcentre_pct, p->merge_pct, p->grow_pct, p->cand_contrast, p->full_res,
        p->min_score_pct, p->retry_radius, p->retry_score_pct, p->retry_radius2};
    memcpy(out + 12, bytes, sizeof bytes);
    put16(out + 12 + PP_N_BYTE_FIELDS, p->reserved);
}

int pp_params_unpack(const uint8_t *data, size_t len, pp_params *p) {
    if (!data || !p) {
        return PP_ERR_ARG;
    }
    if (len != PP_PARAMS_SIZE) {
        return PP_ERR_PARAMS;
    }
    pp_params q;
    q.version = get16(data + 0);
    q.size = get16(data + 2);
    q.roi_x = (int16_t)get16(data + 4);
    q.roi_y = (int16_t)get16(data + 6);
    q.roi_w = get16(data + 8);
    q.roi_h = get16(data + 10);
    const uint8_t *b = data + 12;
    q.polarity = b[0];
    q.bg_remove = b[1];
    q.bg_radius = b[2];
    q.threshold_pct = b[3];
    q.saturate_pct = b[4];
    q.min_contrast = b[5];
    q.speck_min = b[6];
    q.border = b[7];
    q.box_size = b[8];
    q.center_mass = b[9];
    q.min_size_pct = b[10];
    q.max_size_pct = b[11];
    q.thin_pct = b[12];
    q.offcentre_pct = b[13];
    q.merge_pct = b[14];
    q.grow_pct = b[15];
    q.cand_contrast = b[16];
    q.full_res = b[17];
    q.min_score_pct = b[18];
    q.retry_radius = b[19];
    q.retry_score_pct = b[20];
    q.retry_radius2 = b[21];
    q.reserved = get16(b + PP_N_BYTE_FIELDS);
    int err = pp_validate_params(&q);
    if (err == PP_OK) {
        *p = q;
    }
    return err;
}

/* floor(a / b) for b > 0 (C division truncates towards zero). */
static int32_t floor_div(int32_t a, int32_t b) {
    int32_t q = a / b;
    return (a % b != 0 && a < 0) ? q - 1 : q;
}

static int imin(int a, int b) { return a < b ? a : b; }
static int imax(int a, int b) { return a > b ? a : b; }

/* What one run found, stage by stage (also what pp_stages reports). */
typedef struct {
    int rx, ry, rw, rh;   /* ROI in the frame */
    int gw, gh, n;        /* work grid */
    int hw, hh;           /* half grid */
    int have_paper[2];    /* s_papers[] computed for this frame */
    int64_t r2;           /* the off-centre limit squared, in half pixels */
    int dark_on_light;    /* the reading in s_ink */
    int lo, hi, t, sat, low_contrast;
    int n_comp, chosen;   /* components (labels 1..n_comp) and the chosen label, 0: none */
    int no_digit;         /* PP_ND_* */
    int ux0, uy0, ux1, uy1; /* the digit (chosen + merged) on the work grid, inclusive */
    int dhi, dt, dsat;    /* the digit's own normalisation */
    int ow, oh, dx, dy;   /* box size and where it lands in the 28x28 */
    int com_x16, com_y16; /* centre of mass in the 28x28, 1/16 pixel */
} run_state;

/* ROI clipped to the frame; 0 or PP_ERR_ROI. Also sizes the work grid. */
static int choose_roi(int width, int height, const pp_params *p, run_state *s) {
    if (p->roi_w == 0 || p->roi_h == 0) {
        int side = imin(width, height);
        s->rx = (width - side) / 2;
        s->ry = (height - side) / 2;
        s->rw = s->rh = side;
    } else {
        int x0 = imax(p->roi_x, 0), y0 = imax(p->roi_y, 0);
        int x1 = imin(p->roi_x + p->roi_w, width), y1 = imin(p->roi_y + p->roi_h, height);
        if (x1 <= x0 || y1 <= y0) {
            return PP_ERR_ROI;
        }
        s->rx = x0;
        s->ry = y0;
        s->rw = x1 - x0;
        s->rh = y1 - y0;
    }
    int m = imax(s->rw, s->rh);
    s->gw = imax(1, (s->rw * PP_WORK + m / 2) / m);
    s->gh = imax(1, (s->rh * PP_WORK + m / 2) / m);
    s->n = s->gw * s->gh;
    s->hw = (s->gw + 1) / 2;
    s->hh = (s->gh + 1) / 2;
    return PP_OK;
}

/* 1. Area downscale of the ROI onto gw x gh: the mean of integer bins
 * [i*n/g, max((i+1)*n/g, i*n/g+1)), which also covers upscaling (bins of one pixel),
 * as sum * round(2^24 / count) / 2^24, rounded: no division per work pixel (sum <=
 * 255 * count keeps the product within 32 bits). Bin edges are computed once per
 * frame (and kept for the full-resolution resample). The rows of a bin are summed down
 * the columns first (one add per source pixel), then the column sums across, in strips
 * of work columns whose source spans fit the scratch (all of a 162 or 324 frame). */
static void area_downscale(const uint8_t *roi, int stride, const run_state *s) {
    for (int gx = 0; gx < s->gw; gx++) {
        s_xb0[gx] = (uint16_t)(gx * s->rw / s->gw);
        s_xb1[gx] = (uint16_t)imax((gx + 1) * s->rw / s->gw, s_xb0[gx] + 1);
    }
    for (int gy = 0; gy < s->gh; gy++) {
        s_yb0[gy] = (uint16_t)(gy * s->rh / s->gh);
        s_yb1[gy] = (uint16_t)imax((gy + 1) * s->rh / s->gh, s_yb0[gy] + 1);
    }
    /* bins are wmin or wmin + 1 pixels wide and hmin or hmin + 1 high: four reciprocals */
    uint32_t wmin = (uint32_t)imax(s->rw / s->gw, 1), hmin = (uint32_t)imax(s->rh / s->gh, 1), recip[2][2];
    for (uint32_t a = 0; a < 2; a++) {
        for (uint32_t b = 0; b < 2; b++) {
            uint32_t cnt = (hmin + a) * (wmin + b);
            recip[a][b] = ((1u << 24) + cnt / 2) / cnt;
        }
    }
    uint16_t *col = s_scratch.ds.colsum; /* a bin's column sums: <= 65 rows x 255 */
    for (int gx = 0; gx < s->gw; gx++) {    /* each work column's reciprocals, by bin height */
        s_scratch.ds.rcol[0][gx] = recip[0][s_xb1[gx] - s_xb0[gx] - wmin];
        s_scratch.ds.rcol[1][gx] = recip[1][s_xb1[gx] - s_xb0[gx] - wmin];
    }
    for (int ga = 0; ga < s->gw;) {
        int gb = ga + 1, xa = s_xb0[ga];
        while (gb < s->gw && s_xb1[gb] - xa <= COLSUM_CAP) {
            gb++;
        }
        int xn = s_xb1[gb - 1] - xa;  /* source columns of work columns [ga, gb) */
        for (int gy = 0; gy < s->gh; gy++) {
            /* the bin's rows down the columns, up to three rows per pass */
            const uint8_t *row = roi + (size_t)s_yb0[gy] * (size_t)stride + (size_t)xa;
            int left = s_yb1[gy] - s_yb0[gy];
            for (int first = 1; left > 0; first = 0) {
                const uint8_t *r0 = row, *r1 = left > 1 ? row + stride : NULL, *r2 = left > 2 ? row + 2 * stride : NULL;
                int k = r2 ? 3 : r1 ? 2 : 1;
                if (first && k == 3) {
                    for (int x = 0; x < xn; x++) {
                        col[x] = (uint16_t)(r0[x] + r1[x] + r2[x]);
                    }
                } else if (first && k == 2) {
                    for (int x = 0; x < xn; x++) {
                        col[x] = (uint16_t)(r0[x] + r1[x]);
                    }
                } else if (first) {
                    for (int x = 0; x < xn; x++) {
                        col[x] = r0[x];
                    }
                } else if (k == 3) {
                    for (int x = 0; x < xn; x++) {
                        col[x] = (uint16_t)(col[x] + r0[x] + r1[x] + r2[x]);
                    }
                } else if (k == 2) {
                    for (int x = 0; x < xn; x++) {
                        col[x] = (uint16_t)(col[x] + r0[x] + r1[x]);
                    }
                } else {
                    for (int x = 0; x < xn; x++) {
                        col[x] = (uint16_t)(col[x] + r0[x]);
                    }
                }
                row += (size_t)k * (size_t)stride;
                left -= k;
            }
            /* ... then across each bin, times its reciprocal */
            const uint32_t *rc = s_scratch.ds.rcol[s_yb1[gy] - s_yb0[gy] - hmin] + ga;
            const uint16_t *x0 = s_xb0 + ga, *x1 = s_xb1 + ga;
            uint8_t *out = s_work + gy * PP_WORK + ga;
            for (int n = gb - ga; n > 0; n--) {
                const uint16_t *c = col + (*x0++ - xa), *ce = col + (*x1++ - xa);
                uint32_t sum = *c++;
                while (c < ce) {
                    sum += *c++;
                }
                *out++ = (uint8_t)((sum * *rc++ + (1u << 23)) >> 24);
            }
        }
        ga = gb;
    }
}

/* k-th smallest value (0-based) of the histogram s_hist. */
static int hist_kth(int k) {
    int cum = 0;
    for (int v = 0; v < 256; v++) {
        cum += s_hist[v];
        if (cum > k) {
            return v;
        }
    }
    return 255;
}

/* Grey closing on the half grid: a max filter then a min filter over (2r+1)^2 pixels,
 * windows clipped at the edges. Each 1-D pass runs down the columns, four at a time in
 * a 32-bit word (byte-wise max/min without branches); the passes along x run down the
 * columns of the transposed image. A pass pads its n rows with r identity rows on each
 * side (0 for max, 255 for min: exactly a clipped window) and doubles windows in place
 * (1, 2, 4, ... rows), then combines two of them into 2r+1. */

static inline uint32_t byte_ge(uint32_t a, uint32_t b) { /* 0xFF in each byte where a >= b */
    uint32_t x = (a | 0x80808080u) - (b & 0x7F7F7F7Fu);
    uint32_t m = ((a & ~b) | (~(a ^ b) & x)) & 0x80808080u;
    return (m - (m >> 7)) | m;
}

static inline uint32_t byte_max(uint32_t a, uint32_t b) {
    uint32_t k = byte_ge(a, b);
    return (a & k) | (b & ~k);
}

static inline uint32_t byte_min(uint32_t a, uint32_t b) {
    uint32_t k = byte_ge(a, b);
    return (b & k) | (a & ~k);
}

static void column_pass(const uint32_t *src, uint32_t *dst, int n, int r, int is_max) {
    int rows = n + 2 * r, w = 2 * r + 1, span = 1;
    uint32_t ident = is_max ? 0u : 0xFFFFFFFFu;
    for (int i = 0; i < r * HW32; i++) {
        s_vpad[i] = ident;
        s_vpad[(r + n) * HW32 + i] = ident;
    }
    memcpy(s_vpad + r * HW32, src, (size_t)n * HW32 * sizeof(uint32_t));
    /* row i: the extreme of rows [i, i + 2 span); max and min in loops of their own */
    for (; 2 * span <= w; span *= 2) {
        uint32_t *row = s_vpad, *end = s_vpad + (rows - span) * HW32;
        int d = span * HW32;
        if (is_max) {
            for (; row < end; row++) {
                row[0] = byte_max(row[0], row[d]);
            }
        } else {
            for (; row < end; row++) {
                row[0] = byte_min(row[0], row[d]);
            }
        }
    }
    int off = (w - span) * HW32;
    if (is_max) {
        for (int i = 0; i < n * HW32; i++) {
            dst[i] = byte_max(s_vpad[i], s_vpad[i + off]);
        }
    } else {
        for (int i = 0; i < n * HW32; i++) {
            dst[i] = byte_min(s_vpad[i], s_vpad[i + off]);
        }
    }
}

static void transpose(const uint8_t *src, uint8_t *dst, int w, int h) { /* dst[x][y] = src[y][x] */
    for (int y = 0; y < h; y++) {
        for (int x = 0; x < w; x++) {
            dst[x * HALF + y] = src[y * HALF + x];
        }
    }
}

/* The closing of the w x h image a (row stride HALF, 4-byte aligned) into out; b is scratch. */
static void closing(const uint32_t *a, uint32_t *b, uint32_t *out, int w, int h, int r) {
    column_pass(a, b, h, r, 1);                          /* max along y */
    transpose((const uint8_t *)b, (uint8_t *)out, w, h);
    column_pass(out, out, w, r, 1);                      /* max along x */
    column_pass(out, out, w, r, 0);                      /* min along x */
    transpose((const uint8_t *)out, (uint8_t *)b, h, w);
    column_pass(b, out, h, r, 0);                        /* min along y */
}

/* The 2x2 block maxima of the work grid (q = v, or 255 - v when invert) on the half grid
 * (a last odd row or column makes blocks of 1 or 2 pixels). */
static void half_max(const run_state *s, int invert, uint8_t *dst) {
    uint8_t flip = invert ? 255 : 0;
    for (int by = 0; by < s->hh; by++) {
        const uint8_t *r0 = s_work + 2 * by * PP_WORK;
        const uint8_t *r1 = 2 * by + 1 < s->gh ? r0 + PP_WORK : r0;
        uint8_t *out = dst + by * HALF;
        for (int bx = 0; bx < s->hw; bx++) {
            int x = 2 * bx, x1 = x + 1 < s->gw ? x + 1 : x;
            int a = r0[x] ^ flip, b = r0[x1] ^ flip, c = r1[x] ^ flip, d = r1[x1] ^ flip;
            int m = a > b ? a : b, n = c > d ? c : d;
            out[bx] = (uint8_t)(m > n ? m : n);
        }
    }
}

/* The paper under work pixel (x, y): the least of the four half-grid cells nearest to it
 * (its own block and the neighbours on its side, s_nb*), so that a shadow's or a desk's
 * edge is not read as ink along the block it cuts. */
static uint8_t s_nbx[PP_WORK], s_nby[PP_WORK];

static void neighbour_cells(const run_state *s) {
    for (int x = 0; x < s->gw; x++) {
        s_nbx[x] = (uint8_t)((x & 1) ? imin((x >> 1) + 1, s->hw - 1) : imax((x >> 1) - 1, 0));
    }
    for (int y = 0; y < s->gh; y++) {
        s_nby[y] = (uint8_t)((y & 1) ? imin((y >> 1) + 1, s->hh - 1) : imax((y >> 1) - 1, 0));
    }
}

static inline int paper_at(int x, int y) {
    const uint8_t *own = s_paper + (y >> 1) * HALF, *other = s_paper + s_nby[y] * HALF;
    int bx = x >> 1, nx = s_nbx[x];
    int a = own[bx] < own[nx] ? own[bx] : own[nx];
    int b = other[bx] < other[nx] ? other[bx] : other[nx];
    return a < b ? a : b;
}

/* Relative darkness of q against the paper p, 0..255: (p - q) * 255 / p by a reciprocal. */
static inline int relative_ink(int p, int q) {
    return p > q ? (int)(((uint32_t)(p - q) * s_recip[p] + 128u) >> 8) : 0;
}

/* 2. The paper under one reading (q = v dark on light, 255 - v light on dark): a grey
 * closing of the 2x2 block maxima, computed on the half grid (4x less work, twice the
 * reach) once per frame and reading. */
static const uint8_t *paper_of(const pp_params *p, run_state *s, int dark_on_light) {
    if (!s->have_paper[dark_on_light]) {
        uint32_t *a = s_half.w, *b = s_half.w + HGRID / 4;
        half_max(s, !dark_on_light, (uint8_t *)a);
        closing(a, b, s_papers.w[dark_on_light], s->hw, s->hh, (p->bg_radius + 1) / 2);
        s->have_paper[dark_on_light] = 1;
    }
    return s_papers.b[dark_on_light];
}

/* 3. The ink signal of one reading into s_ink: relative darkness against the paper as
 * paper_at() reads it back. Without bg_remove: ink = 255 - q. Its histogram into s_hist. */
static void ink_map(const pp_params *p, run_state *s, int dark_on_light) {
    s->dark_on_light = dark_on_light;
    uint8_t flip = dark_on_light ? 0 : 255;
    int gw = s->gw, gh = s->gh, hw = s->hw;
    memset(s_hist, 0, sizeof s_hist);
    if (!p->bg_remove) {
        for (int y = 0; y < gh; y++) {
            const uint8_t *w = s_work + y * PP_WORK;
            uint8_t *ink = s_ink + y * PP_WORK;
            for (int x = 0; x < gw; x++) {
                ink[x] = (uint8_t)(255 - (w[x] ^ flip));
                s_hist[ink[x]]++;
            }
        }
        return;
    }
    s_paper = paper_of(p, s, dark_on_light);
    uint8_t cells[HALF + 2], *c = cells + 1; /* c[-1], c[hw]: the edge cells repeated */
    for (int y = 0; y < gh; y++) {
        /* the two nearest half-grid rows, their least; then the least of its own cell and
         * the neighbour on its side (paper_at()), two work pixels per cell */
        const uint8_t *own = s_paper + (y >> 1) * HALF, *other = s_paper + s_nby[y] * HALF;
        for (int bx = 0; bx < hw; bx++) {
            c[bx] = own[bx] < other[bx] ? own[bx] : other[bx];
        }
        c[-1] = c[0];
        c[hw] = c[hw - 1];
        const uint8_t *w = s_work + y * PP_WORK;
        uint8_t *ink = s_ink + y * PP_WORK;
        for (int x = 0; x < gw; x += 2) {
            int bx = x >> 1, mid = c[bx], left = c[bx - 1], right = c[bx + 1];
            int v = relative_ink(mid < left ? mid : left, w[x] ^ flip);
            ink[x] = (uint8_t)v;
            s_hist[v]++;
            if (x + 1 < gw) {
                v = relative_ink(mid < right ? mid : right, w[x + 1] ^ flip);
                ink[x + 1] = (uint8_t)v;
                s_hist[v]++;
            }
        }
    }
}

/* Otsu level t over s_hist (ink is > t), with the integer score the numpy twin uses. */
static int otsu(int n) {
    int64_t total = 0;
    for (int v = 0; v < 256; v++) {
        total += (int64_t)v * s_hist[v];
    }
    int64_t w0 = 0, s0 = 0, best_score = -1;
    int best_t = 0;
    for (int t = 0; t < 255; t++) {
        w0 += s_hist[t];
        s0 += (int64_t)t * s_hist[t];
        int64_t w1 = n - w0, s1 = total - s0;
        int64_t den = w0 * w1;
        int64_t score = -1;
        if (den > 0) {
            int64_t diff = s0 * w1 - s1 * w0;
            diff = (diff < 0 ? -diff : diff) >> 6;
            score = diff * diff / den;
        }
        if (score > best_score) {
            best_score = score;
            best_t = t;
        }
    }
    return best_t;
}

/* s_lut[v] := the soft threshold at t stretched so that sat and above become 255. */
static void make_lut(int t, int sat) {
    /* round((v - t) * 255 / span) as quotient and remainder stepped by 255 per v: one
     * division per table instead of 256 (the M0+ divides in software) */
    uint32_t span = (uint32_t)(sat - t), num = 255u + span / 2, q = num / span, r = num - q * span;
    int v = 0;
    for (; v <= t && v < 256; v++) {
        s_lut[v] = 0;
    }
    for (; v < 256 && q < 255; v++) {
        s_lut[v] = (uint8_t)q;
        for (r += 255; r >= span; r -= span) {
            q++;
        }
    }
    for (; v < 256; v++) {
        s_lut[v] = 255;
    }
}

/* 4. contrast normalisation + soft threshold: the background lo, the near-maximum hi,
 * the threshold and the saturation (from the n pixels counted in s_hist for Otsu), into
 * s_lut. */
static void set_levels(const pp_params *p, run_state *s, int lo, int hi, int n) {
    s->lo = lo;
    s->hi = hi;
    int range = hi - lo;
    s->t = p->threshold_pct > 0 ? lo + range * p->threshold_pct / 100 : otsu(n);
    s->sat = lo + range * p->saturate_pct / 100;
    if (s->sat <= s->t) {
        s->sat = s->t + 1;
    }
    s->low_contrast = range < p->min_contrast;
    make_lut(s->t, s->sat);
}

static int find_root(int x) {
    while (s_parent[x] != x) {
        s_parent[x] = s_parent[s_parent[x]];
        x = s_parent[x];
    }
    return x;
}

static void unite(int a, int b) {
    a = find_root(a);
    b = find_root(b);
    if (a < b) {
        s_parent[b] = (uint8_t)a;
    } else if (b < a) {
        s_parent[a] = (uint8_t)b;
    }
}

/* The first x' >= x of row y with a nonzero s_lab, or gw: four empty pixels at a time. */
static inline int next_set(int y, int x, int gw) {
    const uint8_t *row = s_lab + y * PP_WORK;
    while (x < gw) {
        if ((x & 3) == 0 && !s_labels.w[(y * PP_WORK + x) >> 2]) {
            x += 4;
        } else if (row[x]) {
            return x;
        } else {
            x++;
        }
    }
    return gw;
}

/* 5a. Speck mask (ink with >= speck_min ink pixels in its 3x3) labelled into
 * 8-connected components, numbered 1..n_comp in raster order of their first pixel
 * (union-find keeps the smallest provisional label, which is the first pixel's), with
 * their statistics in s_comp. 0, or PP_ND_CLUTTERED when more than PP_MAX_LABELS
 * provisional labels (pixels with no ink W, NW, N or NE of them) are needed. */
static int label_components(const pp_params *p, run_state *s) {
    int gw = s->gw, gh = s->gh, e = p->border, next = 0;
    uint8_t t = (uint8_t)s->t;
    /* bit 0: ink inside the border band; bit 1: ... with speck_min ink pixels in its 3x3.
     * Rows without ink, and four empty pixels in a word, are skipped by every pass. */
    memset(s_lab, 0, sizeof s_lab);
    memset(s_row_ink, 0, sizeof s_row_ink);
    for (int y = e; y < gh - e; y++) {
        const uint8_t *ink = s_ink + y * PP_WORK;
        uint8_t *l = s_lab + y * PP_WORK;
        int any = 0;
        for (int x = e; x < gw - e; x++) {
            int m = ink[x] > t;
            l[x] = (uint8_t)m;
            any |= m;
        }
        s_row_ink[y] = (uint8_t)any;
    }
    for (int y = 0; y < gh; y++) {
        if (!s_row_ink[y]) {
            continue;
        }
        uint8_t *row = s_lab + y * PP_WORK;
        int inner_y = y > 0 && y + 1 < gh;
        for (int x = next_set(y, 0, gw); x < gw; x = next_set(y, x + 1, gw)) {
            if (!row[x]) {
                continue;
            }
            int cnt = 0;
            if (p->speck_min <= 1) {
                cnt = 9;
            } else if (inner_y && x > 0 && x + 1 < gw) { /* no clipping: the 8 neighbours directly */
                const uint8_t *u = row - PP_WORK + x, *m = row + x, *d = row + PP_WORK + x;
                cnt = (u[-1] & 1) + (u[0] & 1) + (u[1] & 1) + (m[-1] & 1) + 1 + (m[1] & 1) + (d[-1] & 1) +
                      (d[0] & 1) + (d[1] & 1);
            } else {
                int xa = imax(x - 1, 0), xb = imin(x + 1, gw - 1);
                for (int yy = imax(y - 1, 0); yy <= imin(y + 1, gh - 1); yy++) {
                    const uint8_t *r = s_lab + yy * PP_WORK;
                    for (int xx = xa; xx <= xb; xx++) {
                        cnt += r[xx] & 1;
                    }
                }
            }
            if (cnt >= p->speck_min) {
                row[x] |= 2;
            }
        }
    }
    /* first pass: provisional labels, in place (a pixel's mask bits are read before its
     * label replaces them; its W, NW, N, NE neighbours are labels already). With
     * 8-connectivity N, if set, is already joined to W, NW and NE; only W or NW with NE
     * can be two components meeting here. */
    for (int y = 0; y < gh; y++) {
        if (!s_row_ink[y]) {
            continue;
        }
        uint8_t *l = s_lab + y * PP_WORK;
        const uint8_t *up = y > 0 ? l - PP_WORK : NULL;
        for (int x = next_set(y, 0, gw); x < gw; x = next_set(y, x + 1, gw)) {
            uint8_t v = l[x];
            if (!(v & 2)) {
                if (v) {
                    l[x] = 0;
                }
                continue;
            }
            int w = x > 0 ? l[x - 1] : 0;
            int n = up ? up[x] : 0, nw = up && x > 0 ? up[x - 1] : 0, ne = up && x + 1 < gw ? up[x + 1] : 0;
            if (n) {
                l[x] = (uint8_t)n;
            } else if (w || nw) {
                int left = w ? w : nw;
                l[x] = (uint8_t)left;
                if (ne) {
                    unite(left, ne);
                }
            } else if (ne) {
                l[x] = (uint8_t)ne;
            } else {
                if (next == PP_MAX_LABELS) {
                    return PP_ND_CLUTTERED;
                }
                next++;
                s_parent[next] = (uint8_t)next;
                l[x] = (uint8_t)next;
            }
        }
    }
    /* roots in increasing order become the final labels 1..n_comp; s_sel maps every
     * provisional label to its final one */
    int n_comp = 0;
    s_sel[0] = 0;
    for (int i = 1; i <= next; i++) {
        int root = find_root(i);
        s_sel[i] = root == i ? (uint8_t)++n_comp : s_sel[root];
    }
    for (int c = 1; c <= n_comp; c++) {
        s_comp[c] = (component){255, 255, 0, 0, 0, 0, 0};
    }
    for (int y = 0; y < gh; y++) {
        if (!s_row_ink[y]) {
            continue;
        }
        uint8_t *l = s_lab + y * PP_WORK;
        const uint8_t *ink = s_ink + y * PP_WORK;
        for (int x = next_set(y, 0, gw); x < gw; x = next_set(y, x + 1, gw)) {
            if (!l[x]) {
                continue;
            }
            int c = s_sel[l[x]];
            l[x] = (uint8_t)c;
            component *cp = &s_comp[c];
            if (x < cp->x0) cp->x0 = (uint8_t)x;
            if (x > cp->x1) cp->x1 = (uint8_t)x;
            if (y < cp->y0) cp->y0 = (uint8_t)y;
            cp->y1 = (uint8_t)y;
            cp->n++;
            cp->mass += s_lut[ink[x]];
        }
    }
    s->n_comp = n_comp;
    return 0;
}

/* A component's digit-likeness: its mass x (R^2 - d^2), d its centre's distance from the
 * middle and R the off-centre limit (both in half pixels); 0 beyond R. */
static uint64_t score_of(const component *cp, const run_state *s) {
    int64_t cx2 = cp->x0 + cp->x1 - (s->gw - 1), cy2 = cp->y0 + cp->y1 - (s->gh - 1);
    int64_t d2 = cx2 * cx2 + cy2 * cy2;
    return d2 < s->r2 ? (uint64_t)cp->mass * (uint64_t)(s->r2 - d2) : 0;
}

/* 5b. Why each component is or is not the digit; the most digit-like one (mass x
 * centrality, first on ties) is chosen, then parts near it are merged into it. */
static void choose_digit(const pp_params *p, run_state *s) {
    int gw = s->gw, gh = s->gh, e = p->border, g = imax(gw, gh);
    int64_t rr = (int64_t)2 * p->offcentre_pct * g / 100; /* offset limit, in half pixels */
    int64_t r2 = rr * rr;
    s->r2 = r2;
    int best = 0;
    for (int c = 1; c <= s->n_comp; c++) {
        component *cp = &s_comp[c];
        int w = cp->x1 - cp->x0 + 1, h = cp->y1 - cp->y0 + 1, len = imax(w, h);
        int64_t cx2 = cp->x0 + cp->x1 - (gw - 1), cy2 = cp->y0 + cp->y1 - (gh - 1);
        int64_t d2 = cx2 * cx2 + cy2 * cy2;
        if (cp->x0 <= e || cp->y0 <= e || cp->x1 >= gw - 1 - e || cp->y1 >= gh - 1 - e) {
            cp->reason = PP_CAND_BORDER;
        } else if (h * 100 < p->min_size_pct * g) {
            cp->reason = PP_CAND_SMALL;
        } else if (len * 100 > p->max_size_pct * g) {
            cp->reason = PP_CAND_LARGE;
        } else if (len * 100 >= p->thin_pct * g && cp->n < THIN_PX * len) {
            cp->reason = PP_CAND_THIN;
        } else if (d2 > r2) {
            cp->reason = PP_CAND_OFF_CENTRE;
        } else {
            cp->reason = PP_CAND_WEAKER;
            if (!best || score_of(cp, s) > score_of(&s_comp[best], s)) {
                best = c;
            }
        }
    }
    if (!best) {
        /* a digit close to the camera may touch the frame's edge: a long one near the middle */
        int64_t rc = (int64_t)2 * CLOSE_CENTRE_PCT * g / 100;
        for (int c = 1; c <= s->n_comp; c++) {
            component *cp = &s_comp[c];
            int len = imax(cp->x1 - cp->x0 + 1, cp->y1 - cp->y0 + 1);
            int64_t cx2 = cp->x0 + cp->x1 - (gw - 1), cy2 = cp->y0 + cp->y1 - (gh - 1);
            if (cp->reason == PP_CAND_BORDER && len * 100 >= CLOSE_MIN_PCT * g && len * 100 <= p->max_size_pct * g
                && cx2 * cx2 + cy2 * cy2 <= rc * rc && (!best || score_of(cp, s) > score_of(&s_comp[best], s))) {
                best = c;
            }
        }
    }
    s->chosen = best;
    if (!best) {
        s->no_digit = PP_ND_NO_CANDIDATE;
        return;
    }
    component *b = &s_comp[best];
    b->reason = PP_CAND_CHOSEN;
    int x0 = b->x0, y0 = b->y0, x1 = b->x1, y1 = b->y1;
    int own = imax(x1 - x0 + 1, y1 - y0 + 1);
    for (int changed = 1; changed;) {
        changed = 0;
        for (int c = 1; c <= s->n_comp; c++) {
            component *cp = &s_comp[c];
            if (cp->reason != PP_CAND_SMALL && cp->reason != PP_CAND_OFF_CENTRE && cp->reason != PP_CAND_WEAKER) {
                continue;
            }
            int size = imax(x1 - x0 + 1, y1 - y0 + 1);
            int gap = imax(1, size * p->merge_pct / 100);
            int dx = imax(imax(cp->x0 - x1, x0 - cp->x1), 0), dy = imax(imax(cp->y0 - y1, y0 - cp->y1), 0);
            if (imax(dx, dy) > gap) {
                continue;
            }
            int ux0 = imin(x0, cp->x0), uy0 = imin(y0, cp->y0), ux1 = imax(x1, cp->x1), uy1 = imax(y1, cp->y1);
            int uw = ux1 - ux0 + 1, uh = uy1 - uy0 + 1, ulen = imax(uw, uh);
            if (ulen * 100 > p->max_size_pct * g || uw * MERGE_ASPECT_H > uh * MERGE_ASPECT_W + 4
                || ulen * 100 > p->grow_pct * own) {
                continue;
            }
            cp->reason = PP_CAND_MERGED;
            x0 = ux0;
            y0 = uy0;
            x1 = ux1;
            y1 = uy1;
            changed = 1;
        }
    }
    s->ux0 = x0;
    s->uy0 = y0;
    s->ux1 = x1;
    s->uy1 = y1;
    s_sel[0] = 0;
    for (int c = 1; c <= s->n_comp; c++) {
        s_sel[c] = s_comp[c].reason == PP_CAND_CHOSEN || s_comp[c].reason == PP_CAND_MERGED;
    }
}

/* 2-5 for one polarity: ink, levels, components, the chosen digit. */
static void segment(const pp_params *p, run_state *s) {
    s->n_comp = 0;
    s->chosen = 0;
    s->no_digit = PP_ND_NONE;
    if (s->low_contrast) {
        s->no_digit = PP_ND_LOW_CONTRAST;
        return;
    }
    int err = label_components(p, s);
    if (err) {
        s->n_comp = 0;
        memset(s_lab, 0, sizeof s_lab);
        s->no_digit = err;
        return;
    }
    choose_digit(p, s);
}

/* 2-5 for one polarity: ink, levels, components, the chosen digit. When the ink that
 * touches the frame's border (a desk's corner, a shadow's edge) set the range, the levels
 * are taken again from the rest of the grid and the components found again, so that a
 * fainter digit in the middle is not lost below a threshold it never reaches. */
static void read_frame(const pp_params *p, run_state *s, int dark_on_light) {
    ink_map(p, s, dark_on_light);
    set_levels(p, s, hist_kth((s->n - 1) / 2), hist_kth(s->n - 1 - s->n / 256), s->n);
    segment(p, s);
    if (s->low_contrast || s->no_digit == PP_ND_CLUTTERED) {
        return;
    }
    memset(s_hist, 0, sizeof s_hist);
    uint8_t keep[PP_MAX_LABELS + 1]; /* 1: not a border-touching or too large component's pixel */
    keep[0] = 1;
    for (int c = 1; c <= s->n_comp; c++) {
        keep[c] = s_comp[c].reason != PP_CAND_BORDER && s_comp[c].reason != PP_CAND_LARGE;
    }
    int n = 0;
    for (int y = 0; y < s->gh; y++) {
        const uint8_t *lab = s_lab + y * PP_WORK, *ink = s_ink + y * PP_WORK;
        for (int x = 0; x < s->gw; x++) {
            int k = keep[lab[x]];
            s_hist[ink[x]] += (uint16_t)k;
            n += k;
        }
    }
    int hi = n > 0 ? imax(hist_kth(n - 1 - n / 256), s->lo) : s->hi;
    if ((hi - s->lo) * 100 < (s->hi - s->lo) * RETRY_RANGE_PCT) { /* the background stays the grid's */
        set_levels(p, s, s->lo, hi, n);
        segment(p, s);
    }
}

/* 6. Polarity (auto): around the candidate digit (its box grown by VOTE_MARGIN_PCT), on
 * the half grid, the dark-on-light paper C (a closing: dark strokes filled) and 255 -
 * the light-on-dark paper O (an opening: bright strokes removed) differ where there are
 * strokes of either polarity (and the holes between them). Each such pixel votes with
 * weight C - O: dark on light if its middle level (C + O) / 2 is below the mean of the
 * ground (pixels with no stroke) within VOTE_GROUND_R of it, light on dark if above.
 * Ink is darker than the paper around it and chalk brighter than the board around it,
 * whatever the light does across the frame. Returns 1 for dark on light. */
static int vote_polarity(const pp_params *p, run_state *s) {
    int hw = s->hw, hh = s->hh;
    /* C = the dark-on-light paper, O = 255 - the light-on-dark one */
    const uint8_t *cl = paper_of(p, s, 1), *op = paper_of(p, s, 0);
#define C_AT(i) (cl[i])
#define O_AT(i) (255 - op[i])
    int size = imax(s->ux1 - s->ux0 + 1, s->uy1 - s->uy0 + 1);
    int m = imax(2, size * VOTE_MARGIN_PCT / 100);
    int x0 = imax(s->ux0 - m, 0) / 2, x1 = imin(s->ux1 + m, s->gw - 1) / 2;
    int y0 = imax(s->uy0 - m, 0) / 2, y1 = imin(s->uy1 + m, s->gh - 1) / 2;
    memset(s_hist, 0, sizeof s_hist);
    for (int y = y0; y <= y1; y++) {
        for (int x = x0; x <= x1; x++) {
            s_hist[C_AT(y * HALF + x) - O_AT(y * HALF + x)]++;
        }
    }
    int nr = (x1 - x0 + 1) * (y1 - y0 + 1);
    int dmed = hist_kth((nr - 1) / 2), dhi = hist_kth(nr - 1 - nr / 16);
    /* s_half16 is free again: row sums of the ground's mid levels over [x-R, x+R] for the
     * region's columns and every row within R of it (counts in s_half_n) */
    int R = VOTE_GROUND_R, lim = (dhi - dmed) * VOTE_FEATURE_PCT;
#define IS_STROKE(i) ((C_AT(i) - O_AT(i) - dmed) * 100 > lim)
    int ya = imax(y0 - R, 0), yb = imin(y1 + R, hh - 1);
    uint16_t pre_sum[HALF + 1];
    uint8_t pre_cnt[HALF + 1];
    for (int y = ya; y <= yb; y++) {
        pre_sum[0] = 0;
        pre_cnt[0] = 0;
        for (int x = 0; x < hw; x++) {
            int i = y * HALF + x, ground = !IS_STROKE(i);
            pre_sum[x + 1] = (uint16_t)(pre_sum[x] + (ground ? (C_AT(i) + O_AT(i)) >> 1 : 0));
            pre_cnt[x + 1] = (uint8_t)(pre_cnt[x] + ground);
        }
        for (int x = x0; x <= x1; x++) {
            int lo = imax(x - R, 0), hi = imin(x + R, hw - 1) + 1;
            s_half.h[y * HALF + x] = (uint16_t)(pre_sum[hi] - pre_sum[lo]);
            s_half_n[y * HALF + x] = (uint8_t)(pre_cnt[hi] - pre_cnt[lo]);
        }
    }
    /* only cells within one cell of the digit's own pixels vote: its strokes and the
     * ground right around them, not a desk's edge or a shadow's further off */
    memset(s_cells, 0, sizeof s_cells);
    for (int y = s->uy0; y <= s->uy1; y++) {
        for (int x = s->ux0; x <= s->ux1; x++) {
            if (s_sel[s_lab[y * PP_WORK + x]]) {
                int cx = x >> 1, cy = y >> 1;
                for (int yy = imax(cy - 1, 0); yy <= imin(cy + 1, hh - 1); yy++) {
                    for (int xx = imax(cx - 1, 0); xx <= imin(cx + 1, hw - 1); xx++) {
                        s_cells[yy * HALF + xx] = 1;
                    }
                }
            }
        }
    }
    uint32_t vd = 0, vl = 0;
    for (int y = y0; y <= y1; y++) {
        for (int x = x0; x <= x1; x++) {
            int i = y * HALF + x;
            if (!s_cells[i] || !IS_STROKE(i)) {
                continue;
            }
            int32_t sum = 0, cnt = 0;
            for (int yy = imax(y - R, 0); yy <= imin(y + R, hh - 1); yy++) {
                sum += s_half.h[yy * HALF + x];
                cnt += s_half_n[yy * HALF + x];
            }
            int mid = (C_AT(i) + O_AT(i)) >> 1, d = C_AT(i) - O_AT(i);
            if (cnt > 0 && mid * cnt < sum) {
                vd += (uint32_t)d;
            } else if (cnt > 0 && mid * cnt > sum) {
                vl += (uint32_t)d;
            }
        }
    }
#undef IS_STROKE
#undef C_AT
#undef O_AT
    return vd >= vl;
}

/* 7a. The digit's own levels: its near-maximum among the chosen and merged pixels sets
 * the soft threshold and saturation of the box (s_lut). 0, or PP_ND_FAINT. */
static int digit_levels(const pp_params *p, run_state *s) {
    memset(s_hist, 0, sizeof s_hist);
    int n = 0;
    for (int y = s->uy0; y <= s->uy1; y++) {
        for (int x = s->ux0; x <= s->ux1; x++) {
            if (s_sel[s_lab[y * PP_WORK + x]]) {
                s_hist[s_ink[y * PP_WORK + x]]++;
                n++;
            }
        }
    }
    s->dhi = hist_kth(n - 1 - n / DIGIT_HI_RANK);
    int range = s->dhi - s->lo;
    s->dt = p->threshold_pct > 0 ? s->lo + range * p->threshold_pct / 100 : s->t;
    s->dsat = s->lo + range * p->saturate_pct / 100;
    if (s->dsat <= s->dt) {
        s->dsat = s->dt + 1;
    }
    if (range < p->cand_contrast) {
        return PP_ND_FAINT;
    }
    make_lut(s->dt, s->dsat);
    return 0;
}

/* One row of the area resample across: source pixel j covers [j*ow, (j+1)*ow), output
 * pixel i covers [i*fw, (i+1)*fw) in the same units. */
typedef struct {
    uint32_t ow, fw;
    uint32_t pos, end;       /* where the next source pixel starts; where output *h ends */
    uint32_t sum;            /* values of the source pixels wholly inside output *h so far */
    uint32_t *h;             /* the output pixel being filled */
} row_resampler;

static void resample_values(row_resampler *rs, const uint8_t *v, int n) {
    uint32_t pos = rs->pos, end = rs->end, ow = rs->ow, fw = rs->fw, sum = rs->sum, *h = rs->h;
    for (int k = 0; k < n; k++) {
        uint32_t val = v[k], stop = pos + ow;
        if (stop < end) {
            sum += val;
            pos = stop;
            continue;
        }
        /* the pixel ends output *h (and, upscaling, may cover whole outputs after it) */
        *h++ += sum * ow + (end - pos) * val;
        sum = 0;
        uint32_t rest = stop - end;
        end += fw;
        while (rest >= fw) {
            *h++ += fw * val;
            end += fw;
            rest -= fw;
        }
        if (rest) {
            *h += rest * val;
        }
        pos = stop;
    }
    rs->pos = pos;
    rs->end = end;
    rs->sum = sum;
    rs->h = h;
}

/* 7b. Area resample of the digit's box into s_box (ow x oh), exact in fixed point: each
 * source pixel contributes value x overlap, rounded once at the end. The source is the
 * frame itself (full_res: the work bins of the box, concatenated), its ink taken against
 * the paper of its work pixel and normalised by the digit's levels (s_lut), or the work
 * grid's ink. Pixels of other components count as 0. Rows go through s_line in chunks. */
static uint8_t s_line[256];
static uint8_t s_col_other[PP_WORK], s_col_paper[PP_WORK];
static uint16_t s_col_rec[PP_WORK];

static void resample_box(const pp_params *p, run_state *s, const uint8_t *roi, int stride) {
    int full = p->full_res, bg = p->bg_remove, ux0 = s->ux0, ux1 = s->ux1;
    uint32_t fw = 0, fh = 0;
    for (int gx = ux0; gx <= ux1; gx++) {
        fw += full ? (uint32_t)(s_xb1[gx] - s_xb0[gx]) : 1u;
    }
    for (int gy = s->uy0; gy <= s->uy1; gy++) {
        fh += full ? (uint32_t)(s_yb1[gy] - s_yb0[gy]) : 1u;
    }
    int m = (int)(fw > fh ? fw : fh), box = p->box_size;
    int ow = imax(1, ((int)fw * box + m / 2) / m), oh = imax(1, ((int)fh * box + m / 2) / m);
    s->ow = ow;
    s->oh = oh;
    memset(s_acc28, 0, (size_t)oh * PP_OUT * sizeof s_acc28[0]);
    uint8_t flip = s->dark_on_light ? 0 : 255;
    uint32_t row_pos = 0, row_end = fh;
    uint32_t *acc_row = s_acc28;
    for (int gy = s->uy0; gy <= s->uy1; gy++) {
        /* per work column of this row: another component's (0), its paper and reciprocal */
        const uint8_t *lab = s_lab + gy * PP_WORK;
        const uint8_t *own = s_paper + (gy >> 1) * HALF, *other = s_paper + s_nby[gy] * HALF;
        for (int gx = ux0; gx <= ux1; gx++) {
            s_col_other[gx] = lab[gx] && !s_sel[lab[gx]];
            int paper = 0;
            if (full && bg) {
                int bx = gx >> 1, nx = s_nbx[gx];
                int a = own[bx] < own[nx] ? own[bx] : own[nx], b = other[bx] < other[nx] ? other[bx] : other[nx];
                paper = a < b ? a : b;
            }
            s_col_paper[gx] = (uint8_t)paper;
            s_col_rec[gx] = s_recip[paper];
        }
        int ya = full ? s_yb0[gy] : gy, yb = full ? s_yb1[gy] : gy + 1;
        for (int y = ya; y < yb; y++) {
            memset(s_hrow, 0, (size_t)ow * sizeof s_hrow[0]);
            row_resampler rs = {(uint32_t)ow, fw, 0, fw, 0, s_hrow};
            const uint8_t *frow = roi + (size_t)y * (size_t)stride;
            uint8_t *out = s_line;
            for (int gx = ux0; gx <= ux1; gx++) {
                if (!full) {
                    *out++ = s_col_other[gx] ? 0 : s_lut[s_ink[gy * PP_WORK + gx]];
                    continue;
                }
                const uint8_t *in = frow + s_xb0[gx];
                int w = s_xb1[gx] - s_xb0[gx]; /* <= PP_MAX_DIM / PP_WORK + 1 = 65 */
                if (out + w > s_line + sizeof s_line) {
                    resample_values(&rs, s_line, (int)(out - s_line));
                    out = s_line;
                }
                if (s_col_other[gx]) {
                    for (int j = 0; j < w; j++) {
                        out[j] = 0;
                    }
                } else if (!bg) {
                    for (int j = 0; j < w; j++) {
                        out[j] = s_lut[in[j] ^ flip ^ 255];
                    }
                } else {
                    int paper = s_col_paper[gx];
                    uint32_t rec = s_col_rec[gx];
                    for (int j = 0; j < w; j++) {
                        int d = paper - (in[j] ^ flip);
                        out[j] = s_lut[d > 0 ? ((uint32_t)d * rec + 128u) >> 8 : 0];
                    }
                }
                out += w;
            }
            resample_values(&rs, s_line, (int)(out - s_line));
            /* ... and down: this source row covers [row_pos, row_pos + oh) */
            uint32_t stop = row_pos + (uint32_t)oh;
            while (row_pos < stop) {
                uint32_t seg = stop < row_end ? stop : row_end, wgt = seg - row_pos;
                for (int c = 0; c < ow; c++) {
                    acc_row[c] += wgt * s_hrow[c];
                }
                row_pos = seg;
                if (seg == row_end) {
                    acc_row += PP_OUT;
                    row_end += fh;
                }
            }
        }
    }
    uint32_t den = fw * fh;
    memset(s_box, 0, sizeof s_box);
    for (int y = 0; y < oh; y++) {
        for (int x = 0; x < ow; x++) {
            s_box[y * PP_OUT + x] = (uint8_t)((s_acc28[y * PP_OUT + x] + den / 2) / den);
        }
    }
}

/* 8. Place the box in out28 with its centre of mass at (PP_COM_TARGET, PP_COM_TARGET).
 * 0 if the box came out empty. */
static int place_digit(const pp_params *p, run_state *s, uint8_t *out28) {
    int32_t tot = 0, sx = 0, sy = 0;
    for (int y = 0; y < s->oh; y++) {
        for (int x = 0; x < s->ow; x++) {
            int32_t v = s_box[y * PP_OUT + x];
            tot += v;
            sx += x * v;
            sy += y * v;
        }
    }
    if (tot == 0) {
        return 0;
    }
    if (p->center_mass) {
        /* round(target - centre of mass), halves up */
        s->dx = floor_div(2 * PP_COM_TARGET * tot - 2 * sx + tot, 2 * tot);
        s->dy = floor_div(2 * PP_COM_TARGET * tot - 2 * sy + tot, 2 * tot);
    } else {
        s->dx = (PP_OUT - s->ow) / 2;
        s->dy = (PP_OUT - s->oh) / 2;
    }
    s->com_x16 = floor_div(16 * (sx + s->dx * tot) + tot / 2, tot);
    s->com_y16 = floor_div(16 * (sy + s->dy * tot) + tot / 2, tot);
    for (int y = 0; y < s->oh; y++) {
        for (int x = 0; x < s->ow; x++) {
            int ty = y + s->dy, tx = x + s->dx;
            if (ty >= 0 && ty < PP_OUT && tx >= 0 && tx < PP_OUT) {
                out28[ty * PP_OUT + tx] = s_box[y * PP_OUT + x];
            }
        }
    }
    return 1;
}

/* The candidates for pp_stages: the chosen, the merged ones (raster order), then the
 * rest by mass (raster order on ties), the first PP_MAX_CANDIDATES of them. */
static void report_candidates(const run_state *s, pp_stages *st) {
    uint64_t ref = s->chosen ? score_of(&s_comp[s->chosen], s) : 0;
    for (int c = 1; c <= s->n_comp; c++) {
        if (!s->chosen && score_of(&s_comp[c], s) > ref) {
            ref = score_of(&s_comp[c], s);
        }
    }
    int n = 0;
    uint8_t taken[PP_MAX_LABELS + 1];
    memset(taken, 0, sizeof taken);
    while (n < PP_MAX_CANDIDATES) {
        int pick = 0;
        for (int c = 1; c <= s->n_comp; c++) {
            if (taken[c]) {
                continue;
            }
            const component *a = &s_comp[c];
            int ra = a->reason == PP_CAND_CHOSEN ? 0 : a->reason == PP_CAND_MERGED ? 1 : 2;
            if (!pick) {
                pick = c;
                continue;
            }
            const component *b = &s_comp[pick];
            int rb = b->reason == PP_CAND_CHOSEN ? 0 : b->reason == PP_CAND_MERGED ? 1 : 2;
            if (ra < rb || (ra == rb && ra == 2 && a->mass > b->mass)) {
                pick = c;
            }
        }
        if (!pick) {
            break;
        }
        taken[pick] = 1;
        const component *a = &s_comp[pick];
        pp_candidate *pc = &st->cand[n];
        pc->x = a->x0;
        pc->y = a->y0;
        pc->w = (uint8_t)(a->x1 - a->x0 + 1);
        pc->h = (uint8_t)(a->y1 - a->y0 + 1);
        pc->reason = a->reason;
        /* 255 x score / ref, rounded, without overflow: score <= 2^20 * 2^16 */
        uint64_t sc = score_of(a, s);
        pc->score = (uint8_t)(ref ? (sc >= ref ? 255 : (sc * 255 + ref / 2) / ref) : 0);
        pc->mass = (uint16_t)((a->mass + 8) / 16);
        if (a->reason == PP_CAND_CHOSEN) {
            st->chosen = (int8_t)n;
        }
        n++;
    }
    st->n_cand = (uint8_t)n;
    st->n_components = (uint8_t)s->n_comp;
}

static void report_stages(const pp_params *p, const run_state *s, int found, pp_stages *st) {
    /* the segmentation levels again (the digit's replaced them in s_lut) */
    make_lut(s->t, s->sat);
    int e = p->border;
    for (int y = 0; y < s->gh; y++) {
        memcpy(st->work + y * PP_WORK, s_work + y * PP_WORK, (size_t)s->gw);
        memcpy(st->ink + y * PP_WORK, s_ink + y * PP_WORK, (size_t)s->gw);
        for (int x = 0; x < s->gw; x++) {
            int in = !s->low_contrast && x >= e && x < s->gw - e && y >= e && y < s->gh - e;
            st->norm[y * PP_WORK + x] = in ? s_lut[s_ink[y * PP_WORK + x]] : 0;
        }
    }
    st->roi_x = (uint16_t)s->rx;
    st->roi_y = (uint16_t)s->ry;
    st->roi_w = (uint16_t)s->rw;
    st->roi_h = (uint16_t)s->rh;
    st->work_w = (uint8_t)s->gw;
    st->work_h = (uint8_t)s->gh;
    st->dark_on_light = (uint8_t)s->dark_on_light;
    st->lo = (uint8_t)s->lo;
    st->hi = (uint8_t)s->hi;
    st->threshold = (uint8_t)s->t;
    st->saturate = (uint16_t)s->sat;
    st->no_digit = (uint8_t)s->no_digit;
    st->chosen = -1;
    report_candidates(s, st);
    if (s->chosen) {
        st->bbox_x = (int16_t)s->ux0;
        st->bbox_y = (int16_t)s->uy0;
        st->bbox_w = (int16_t)(s->ux1 - s->ux0 + 1);
        st->bbox_h = (int16_t)(s->uy1 - s->uy0 + 1);
        st->digit_hi = (uint8_t)s->dhi;
        st->digit_threshold = (uint8_t)s->dt;
        st->digit_saturate = (uint16_t)s->dsat;
    }
    if (found) {
        memcpy(st->box, s_box, sizeof st->box);
        st->box_w = (uint8_t)s->ow;
        st->box_h = (uint8_t)s->oh;
        st->shift_x = (int16_t)s->dx;
        st->shift_y = (int16_t)s->dy;
        st->com_x16 = (int16_t)s->com_x16;
        st->com_y16 = (int16_t)s->com_y16;
    }
}

int pp_run(const uint8_t *frame, int width, int height, int stride, const pp_params *params,
           uint8_t out28[PP_OUT * PP_OUT], pp_stages *st) {
    if (out28) {
        memset(out28, 0, PP_OUT * PP_OUT);
    }
    if (st) {
        memset(st, 0, sizeof *st);
        st->chosen = -1;
    }
    pp_params defaults;
    if (!params) {
        pp_default_params(&defaults);
        params = &defaults;
    }
    if (!frame || !out28 || width < 1 || height < 1 || width > PP_MAX_DIM || height > PP_MAX_DIM
        || stride < width) {
        return PP_ERR_ARG;
    }
    int err = pp_validate_params(params);
    if (err) {
        return err;
    }
    if (!s_recip[1]) {
        for (int v = 1; v < 256; v++) {
            s_recip[v] = (uint16_t)((255 * 256 + v / 2) / v);
        }
    }
    run_state s;
    memset(&s, 0, sizeof s);
    err = choose_roi(width, height, params, &s);
    if (err) {
        return err;
    }
    const uint8_t *roi = frame + (size_t)s.ry * (size_t)stride + (size_t)s.rx;
    area_downscale(roi, stride, &s);
    neighbour_cells(&s);

    /* the polarity: fixed, or voted around the candidate of the dark-on-light reading
     * (or of the light-on-dark one when the first has none) */
    if (params->polarity != PP_POLARITY_AUTO) {
        read_frame(params, &s, params->polarity == PP_POLARITY_DARK_ON_LIGHT);
    } else {
        read_frame(params, &s, 1);
        if (s.chosen) {
            if (!vote_polarity(params, &s)) {
                read_frame(params, &s, 0);
            }
        } else {
            read_frame(params, &s, 0);
            if (!s.chosen || vote_polarity(params, &s)) {
                /* no digit either way: report the dark-on-light reading */
                if (st) {
                    read_frame(params, &s, 1);
                } else {
                    s.dark_on_light = 1;
                }
                s.chosen = 0;
                if (s.no_digit == PP_ND_NONE) {
                    s.no_digit = PP_ND_NO_CANDIDATE;
                }
            }
        }
    }
    int found = 0;
    if (s.chosen) {
        s.no_digit = digit_levels(params, &s);
        if (!s.no_digit) {
            resample_box(params, &s, roi, stride);
            found = place_digit(params, &s, out28);
            if (!found) {
                s.no_digit = PP_ND_EMPTY;
            }
        }
    }
    if (!found) {
        memset(out28, 0, PP_OUT * PP_OUT);
    }
    if (st) {
        report_stages(params, &s, found, st);
    }
    return found ? PP_OK : PP_NO_DIGIT;
}

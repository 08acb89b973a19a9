/* preprocess.c: camera frame -> MNIST-style 28x28, integer only.
 *
 * Every step is mirrored line for line by train/preprocess.py (numpy); the tests
 * compare the two bit for bit, so change both together. All divisions have
 * non-negative operands except the centre-of-mass shift, which uses floor_div().
 */
#include "preprocess.h"

#include <string.h>

#define GRID (PP_WORK * PP_WORK)

/* Work buffers: file scope, never on the stack (about 25 KB in all). */
static uint8_t s_work[GRID];   /* ROI on the work grid, as captured */
static uint8_t s_tmp_a[GRID];  /* closing passes, later the speck mask */
static uint8_t s_tmp_b[GRID];  /* closing passes: the paper estimate */
static uint8_t s_ink[GRID];    /* relative darkness, white ink */
static uint8_t s_norm[GRID];   /* normalised + thresholded */
static uint16_t s_rows[PP_WORK * PP_OUT]; /* horizontal pass of the box resample */
static uint8_t s_box[PP_OUT * PP_OUT];
static uint32_t s_acc[PP_WORK];
static uint32_t s_prof[PP_WORK];
static uint16_t s_hist[256];
static uint16_t s_xb0[PP_WORK], s_xb1[PP_WORK];       /* area bins along x */
static uint8_t s_pad[PP_WORK + 32], s_g[PP_WORK + 32], s_h[PP_WORK + 32]; /* one filter line */

void pp_default_params(pp_params *p) {
    if (!p) {
        return;
    }
    memset(p, 0, sizeof *p);
    p->version = PP_PARAMS_VERSION;
    p->size = PP_PARAMS_SIZE;
    p->polarity = PP_POLARITY_DARK_ON_LIGHT;
    p->bg_remove = 1;
    p->bg_radius = 8;
    p->threshold_pct = 35;
    p->saturate_pct = 80;
    p->min_contrast = 24;
    p->speck_min = 2;
    p->max_gap = 3;
    p->border = 1;
    p->box_size = 20;
    p->center_mass = 1;
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
        || p->speck_min > 9 || p->max_gap > PP_WORK || p->border > PP_WORK / 4
        || p->box_size < 4 || p->box_size > PP_OUT || p->center_mass > 1 || p->reserved != 0) {
        return PP_ERR_PARAMS;
    }
    return PP_OK;
}

_Static_assert(sizeof(pp_params) == PP_PARAMS_SIZE, "pp_params must have no padding");

static void put16(uint8_t *b, uint16_t v) {
    b[0] = (uint8_t)(v & 0xFF);
    b[1] = (uint8_t)(v >> 8);
}

static uint16_t get16(const uint8_t *b) {
    return (uint16_t)(b[0] | (b[1] << 8));
}

void pp_params_pack(const pp_params *p, uint8_t out[PP_PARAMS_SIZE]) {
    put16(out + 0, p->version);
    put16(out + 2, p->size);
    put16(out + 4, (uint16_t)p->roi_x);
    put16(out + 6, (uint16_t)p->roi_y);
    put16(out + 8, p->roi_w);
    put16(out + 10, p->roi_h);
    const uint8_t bytes[12] = {p->polarity, p->bg_remove, p->bg_radius, p->threshold_pct,
                               p->saturate_pct, p->min_contrast, p->speck_min, p->max_gap,
                               p->border, p->box_size, p->center_mass, p->reserved};
    memcpy(out + 12, bytes, sizeof bytes);
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
    q.max_gap = b[7];
    q.border = b[8];
    q.box_size = b[9];
    q.center_mass = b[10];
    q.reserved = b[11];
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

/* 1. Area downscale of the ROI onto gw x gh: the rounded mean of integer bins
 * [i*n/g, max((i+1)*n/g, i*n/g+1)), which also covers upscaling (bins of one pixel).
 * Bin edges are computed once per frame: no division per frame pixel. */
static void area_downscale(const uint8_t *roi, int stride, int rw, int rh, int gw, int gh) {
    for (int gx = 0; gx < gw; gx++) {
        s_xb0[gx] = (uint16_t)(gx * rw / gw);
        s_xb1[gx] = (uint16_t)imax((gx + 1) * rw / gw, s_xb0[gx] + 1);
    }
    for (int gy = 0; gy < gh; gy++) {
        int y0 = gy * rh / gh;
        int y1 = imax((gy + 1) * rh / gh, y0 + 1);
        memset(s_acc, 0, sizeof s_acc);
        for (int y = y0; y < y1; y++) {
            const uint8_t *row = roi + (size_t)y * (size_t)stride;
            for (int gx = 0; gx < gw; gx++) {
                uint32_t s = 0;
                for (int x = s_xb0[gx]; x < s_xb1[gx]; x++) {
                    s += row[x];
                }
                s_acc[gx] += s;
            }
        }
        for (int gx = 0; gx < gw; gx++) {
            uint32_t cnt = (uint32_t)(s_xb1[gx] - s_xb0[gx]) * (uint32_t)(y1 - y0);
            s_work[gy * PP_WORK + gx] = (uint8_t)((s_acc[gx] + cnt / 2) / cnt);
        }
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

static void hist_of(const uint8_t *img, int gw, int gh) {
    memset(s_hist, 0, sizeof s_hist);
    for (int y = 0; y < gh; y++) {
        for (int x = 0; x < gw; x++) {
            s_hist[img[y * PP_WORK + x]]++;
        }
    }
}

/* Max or min of s_pad[i .. i+2r] for i < n into out[i * step]: van Herk / Gil-Werman,
 * three comparisons per pixel whatever the radius. s_pad holds the line with r
 * identity values (0 for max, 255 for min) on each side, which is exactly a window
 * clipped at the edges. One copy per operation keeps the inner loops branch-light. */
#define MAX_OP(a, b) ((a) > (b) ? (a) : (b))
#define MIN_OP(a, b) ((a) < (b) ? (a) : (b))
#define DEFINE_FILTER_LINE(name, OP)                                                  \
    static void name(int n, int r, uint8_t *out, int step) {                          \
        int len = n + 2 * r, w = 2 * r + 1;                                           \
        for (int k0 = 0; k0 < len; k0 += w) {                                         \
            int k1 = imin(k0 + w, len) - 1;                                           \
            uint8_t g = s_pad[k0], h = s_pad[k1];                                     \
            s_g[k0] = g;                                                              \
            s_h[k1] = h;                                                              \
            for (int k = k0 + 1; k <= k1; k++) {                                      \
                g = OP(g, s_pad[k]);                                                  \
                s_g[k] = g;                                                           \
            }                                                                         \
            for (int k = k1 - 1; k >= k0; k--) {                                      \
                h = OP(h, s_pad[k]);                                                  \
                s_h[k] = h;                                                           \
            }                                                                         \
        }                                                                             \
        for (int i = 0; i < n; i++) {                                                 \
            out[i * step] = OP(s_h[i], s_g[i + w - 1]);                               \
        }                                                                             \
    }
DEFINE_FILTER_LINE(filter_line_max, MAX_OP)
DEFINE_FILTER_LINE(filter_line_min, MIN_OP)

/* Sliding max or min over 2r+1 pixels along x (along_x) or y, clipped at the edges. */
static void sliding(const uint8_t *src, uint8_t *dst, int w, int h, int r, int along_x, int is_max) {
    int lines = along_x ? h : w, n = along_x ? w : h;
    int step = along_x ? 1 : PP_WORK;
    memset(s_pad, is_max ? 0 : 255, sizeof s_pad);
    for (int l = 0; l < lines; l++) {
        const uint8_t *in = along_x ? src + l * PP_WORK : src + l;
        uint8_t *out = along_x ? dst + l * PP_WORK : dst + l;
        for (int i = 0; i < n; i++) {
            s_pad[r + i] = in[i * step];
        }
        if (is_max) {
            filter_line_max(n, r, out, step);
        } else {
            filter_line_min(n, r, out, step);
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

/* The run of non-zero profile entries (gaps of <= gap zeros merged) with the most
 * mass, first on ties. Returns 0 if the profile is all zero. */
static int pick_run(const uint32_t *prof, int n, int gap, int *start, int *end) {
    int best_s = -1, best_e = -1, cur_s = -1, cur_e = -1, last = -1;
    uint32_t best_m = 0, cur_m = 0;
    for (int i = 0; i < n; i++) {
        if (prof[i] == 0) {
            continue;
        }
        if (cur_s >= 0 && i - last - 1 <= gap) {
            cur_e = i;
            cur_m += prof[i];
        } else {
            if (cur_s >= 0 && cur_m > best_m) {
                best_m = cur_m;
                best_s = cur_s;
                best_e = cur_e;
            }
            cur_s = cur_e = i;
            cur_m = prof[i];
        }
        last = i;
    }
    if (cur_s >= 0 && cur_m > best_m) {
        best_s = cur_s;
        best_e = cur_e;
    }
    if (best_s < 0) {
        return 0;
    }
    *start = best_s;
    *end = best_e;
    return 1;
}

/* Mass profile of s_norm restricted to the speck mask (s_tmp_a) and a window. */
static void profile(int rows, int x0, int x1, int y0, int y1) {
    memset(s_prof, 0, sizeof s_prof);
    for (int y = y0; y <= y1; y++) {
        for (int x = x0; x <= x1; x++) {
            if (s_tmp_a[y * PP_WORK + x]) {
                s_prof[rows ? y : x] += s_norm[y * PP_WORK + x];
            }
        }
    }
}

/* Overlap of source pixel j (length n_dst) with output pixel i (length n_src). */
static uint32_t overlap(int i, int j, int n_src, int n_dst) {
    int w = imin((j + 1) * n_dst, (i + 1) * n_src) - imax(j * n_dst, i * n_src);
    return w > 0 ? (uint32_t)w : 0;
}

/* 6. Area resample of s_norm[bbox] (bw x bh) into s_box (ow x oh), fixed point exact. */
static void resample_box(int x0, int y0, int bw, int bh, int ow, int oh) {
    for (int l = 0; l < bh; l++) {
        const uint8_t *src = s_norm + (y0 + l) * PP_WORK + x0;
        for (int i = 0; i < ow; i++) {
            uint32_t s = 0;
            for (int j = i * bw / ow; j < bw && j * ow < (i + 1) * bw; j++) {
                s += overlap(i, j, bw, ow) * src[j];
            }
            s_rows[l * PP_OUT + i] = (uint16_t)s; /* <= 255 * bw < 65536 */
        }
    }
    uint32_t den = (uint32_t)bw * (uint32_t)bh;
    memset(s_box, 0, sizeof s_box);
    for (int k = 0; k < oh; k++) {
        for (int i = 0; i < ow; i++) {
            uint32_t acc = 0;
            for (int l = k * bh / oh; l < bh && l * oh < (k + 1) * bh; l++) {
                acc += overlap(k, l, bh, oh) * s_rows[l * PP_OUT + i];
            }
            s_box[k * PP_OUT + i] = (uint8_t)((acc + den / 2) / den);
        }
    }
}

/* What one run found, stage by stage (also what pp_stages reports). */
typedef struct {
    int rx, ry, rw, rh;   /* ROI in the frame */
    int gw, gh, n;        /* work grid */
    int dark_on_light;
    int lo, hi, t, sat, low_contrast;
    int bx0, by0, bw, bh; /* bounding box on the work grid */
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
    return PP_OK;
}

/* 2. polarity: s_ink := q, the work grid with the paper bright */
static void apply_polarity(const pp_params *p, run_state *s) {
    if (p->polarity == PP_POLARITY_AUTO) {
        hist_of(s_work, s->gw, s->gh);
        int k = s->n / 64;
        s->dark_on_light = 2 * hist_kth((s->n - 1) / 2) >= hist_kth(k) + hist_kth(s->n - 1 - k);
    } else {
        s->dark_on_light = p->polarity == PP_POLARITY_DARK_ON_LIGHT;
    }
    for (int y = 0; y < s->gh; y++) {
        for (int x = 0; x < s->gw; x++) {
            uint8_t v = s_work[y * PP_WORK + x];
            s_ink[y * PP_WORK + x] = s->dark_on_light ? v : (uint8_t)(255 - v);
        }
    }
}

/* 3. background: paper = closing of q, computed on a half-resolution grid (2x2 block
 * maxima: 4x less work, twice the reach); s_ink := (paper - q) * 255 / paper in place */
static void remove_background(const pp_params *p, const run_state *s) {
    int gw = s->gw, gh = s->gh;
    uint8_t *q = s_ink;
    if (!p->bg_remove) {
        for (int y = 0; y < gh; y++) {
            for (int x = 0; x < gw; x++) {
                q[y * PP_WORK + x] = (uint8_t)(255 - q[y * PP_WORK + x]);
            }
        }
        return;
    }
    int hw = (gw + 1) / 2, hh = (gh + 1) / 2, r = (p->bg_radius + 1) / 2;
    for (int y = 0; y < hh; y++) {
        for (int x = 0; x < hw; x++) {
            int block_max = 0;
            for (int yy = 2 * y; yy < imin(2 * y + 2, gh); yy++) {
                for (int xx = 2 * x; xx < imin(2 * x + 2, gw); xx++) {
                    block_max = imax(block_max, q[yy * PP_WORK + xx]);
                }
            }
            s_tmp_a[y * PP_WORK + x] = (uint8_t)block_max;
        }
    }
    sliding(s_tmp_a, s_tmp_b, hw, hh, r, 1, 1);
    sliding(s_tmp_b, s_tmp_a, hw, hh, r, 0, 1);
    sliding(s_tmp_a, s_tmp_b, hw, hh, r, 1, 0);
    sliding(s_tmp_b, s_tmp_a, hw, hh, r, 0, 0); /* s_tmp_a: paper on the half grid */
    for (int y = 0; y < gh; y++) {
        for (int x = 0; x < gw; x++) {
            int paper = s_tmp_a[(y / 2) * PP_WORK + x / 2], v = q[y * PP_WORK + x];
            q[y * PP_WORK + x] = paper > 0 ? (uint8_t)(((paper - v) * 255 + paper / 2) / paper) : 0;
        }
    }
}

/* 4. contrast normalisation + soft threshold: s_norm from s_ink */
static void normalise(const pp_params *p, run_state *s) {
    hist_of(s_ink, s->gw, s->gh);
    s->lo = hist_kth((s->n - 1) / 2);
    s->hi = hist_kth(s->n - 1 - s->n / 256);
    int range = s->hi - s->lo;
    s->t = p->threshold_pct > 0 ? s->lo + range * p->threshold_pct / 100 : otsu(s->n);
    s->sat = s->lo + range * p->saturate_pct / 100;
    if (s->sat <= s->t) {
        s->sat = s->t + 1;
    }
    s->low_contrast = range < p->min_contrast;
    int e = p->border, t = s->t, span = s->sat - s->t;
    memset(s_norm, 0, sizeof s_norm);
    if (s->low_contrast) {
        return;
    }
    for (int y = e; y < s->gh - e; y++) {
        for (int x = e; x < s->gw - e; x++) {
            int v = s_ink[y * PP_WORK + x];
            if (v > t) {
                s_norm[y * PP_WORK + x] = (uint8_t)imin(((v - t) * 255 + span / 2) / span, 255);
            }
        }
    }
}

/* 5. bounding box: speck mask in s_tmp_a (only ink pixels need it: the others add
 * nothing to the profiles), then the heaviest runs of rows, columns, rows. */
static int find_box(const pp_params *p, run_state *s) {
    int gw = s->gw, gh = s->gh;
    for (int y = 0; y < gh; y++) {
        for (int x = 0; x < gw; x++) {
            int keep = s_norm[y * PP_WORK + x] > 0;
            if (keep && p->speck_min > 1) {
                int cnt = 0;
                for (int yy = imax(y - 1, 0); yy <= imin(y + 1, gh - 1); yy++) {
                    for (int xx = imax(x - 1, 0); xx <= imin(x + 1, gw - 1); xx++) {
                        cnt += s_norm[yy * PP_WORK + xx] > 0;
                    }
                }
                keep = cnt >= p->speck_min;
            }
            s_tmp_a[y * PP_WORK + x] = (uint8_t)keep;
        }
    }
    int x0 = 0, x1 = 0, y0 = 0, y1 = 0;
    profile(1, 0, gw - 1, 0, gh - 1);
    if (s->low_contrast || !pick_run(s_prof, gh, p->max_gap, &y0, &y1)) {
        return 0;
    }
    profile(0, 0, gw - 1, y0, y1);
    pick_run(s_prof, gw, p->max_gap, &x0, &x1);
    profile(1, x0, x1, 0, gh - 1);
    pick_run(s_prof, gh, p->max_gap, &y0, &y1);
    s->bx0 = x0;
    s->by0 = y0;
    s->bw = x1 - x0 + 1;
    s->bh = y1 - y0 + 1;
    return 1;
}

/* 6 + 7. resample into the box (aspect kept), then place it in out28 with the centre
 * of mass at (PP_COM_TARGET, PP_COM_TARGET). 0 if the box came out empty. */
static int frame_digit(const pp_params *p, run_state *s, uint8_t *out28) {
    int m = imax(s->bw, s->bh), box = p->box_size;
    s->ow = imax(1, (s->bw * box + m / 2) / m);
    s->oh = imax(1, (s->bh * box + m / 2) / m);
    resample_box(s->bx0, s->by0, s->bw, s->bh, s->ow, s->oh);
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

static void report_stages(const run_state *s, int found, pp_stages *st) {
    for (int y = 0; y < s->gh; y++) {
        memcpy(st->work + y * PP_WORK, s_work + y * PP_WORK, (size_t)s->gw);
        memcpy(st->ink + y * PP_WORK, s_ink + y * PP_WORK, (size_t)s->gw);
        memcpy(st->norm + y * PP_WORK, s_norm + y * PP_WORK, (size_t)s->gw);
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
    if (found) {
        memcpy(st->box, s_box, sizeof st->box);
        st->bbox_x = (int16_t)s->bx0;
        st->bbox_y = (int16_t)s->by0;
        st->bbox_w = (int16_t)s->bw;
        st->bbox_h = (int16_t)s->bh;
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
    run_state s;
    memset(&s, 0, sizeof s);
    err = choose_roi(width, height, params, &s);
    if (err) {
        return err;
    }
    area_downscale(frame + (size_t)s.ry * (size_t)stride + (size_t)s.rx, stride, s.rw, s.rh, s.gw, s.gh);
    apply_polarity(params, &s);
    remove_background(params, &s);
    normalise(params, &s);
    int found = find_box(params, &s) && frame_digit(params, &s, out28);
    if (!found) {
        memset(out28, 0, PP_OUT * PP_OUT);
    }
    if (st) {
        report_stages(&s, found, st);
    }
    return found ? PP_OK : PP_NO_DIGIT;
}

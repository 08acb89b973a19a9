/* test_preprocess.c: host unit tests of core/preprocess.c, run under
 * -fsanitize=address,undefined by tests/test_preprocess.py.
 *
 * Synthetic frames (a drawn ring or bar on unevenly lit paper; a frame of shapes whose
 * candidate reasons are known from their geometry, in both polarities), the edge cases
 * (1x1, blank, ROI outside, odd strides, bad arguments) and a fuzz of every parameter
 * byte, so the sanitizers see every code path; every run's candidate list is checked
 * against the pp_candidate interface. Frames live in heap buffers sized exactly, so ASan
 * catches any read past a row or a frame.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "preprocess.h"

static int failures;

#define CHECK(cond, ...)                                   \
    do {                                                   \
        if (!(cond)) {                                     \
            failures++;                                    \
            printf("FAIL %s:%d: ", __FILE__, __LINE__);    \
            printf(__VA_ARGS__);                           \
            printf("\n");                                  \
        }                                                  \
    } while (0)

static uint32_t s_rand = 12345;

static uint32_t rnd(void) {
    s_rand = s_rand * 1664525u + 1013904223u;
    return s_rand >> 8;
}

/* Paper lit from the left, a dark ring (an "0") of radius r at (cx, cy). */
static uint8_t *draw_ring(int w, int h, int stride, int cx, int cy, int r, int ink_dark) {
    uint8_t *f = malloc((size_t)stride * (size_t)(h - 1) + (size_t)w);
    for (int y = 0; y < h; y++) {
        for (int x = 0; x < w; x++) {
            int paper = 140 + 80 * x / w;
            int dx = x - cx, dy = y - cy;
            int d2 = dx * dx + dy * dy;
            int on = d2 <= r * r && d2 >= (r * 7 / 10) * (r * 7 / 10);
            int v = on ? paper * 35 / 100 : paper;
            v += (int)(rnd() % 9) - 4;
            if (!ink_dark) {
                v = 255 - v;
            }
            f[(size_t)y * (size_t)stride + (size_t)x] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
        }
    }
    return f;
}

static int blank(const uint8_t *o) {
    for (int i = 0; i < PP_OUT * PP_OUT; i++) {
        if (o[i]) {
            return 0;
        }
    }
    return 1;
}

/* centre of mass of the output, in 1/10 pixel */
static void com10(const uint8_t *o, int *cx, int *cy) {
    long s = 0, sx = 0, sy = 0;
    for (int y = 0; y < PP_OUT; y++) {
        for (int x = 0; x < PP_OUT; x++) {
            s += o[y * PP_OUT + x];
            sx += (long)x * o[y * PP_OUT + x];
            sy += (long)y * o[y * PP_OUT + x];
        }
    }
    *cx = s ? (int)(sx * 10 / s) : -1;
    *cy = s ? (int)(sy * 10 / s) : -1;
}

/* What pp_stages promises about candidates, whatever the frame and parameters. */
static void check_candidates(const pp_stages *st, int rc, const char *what) {
    CHECK(st->n_cand <= PP_MAX_CANDIDATES && st->n_cand == (st->n_components < PP_MAX_CANDIDATES
                                                                ? st->n_components : PP_MAX_CANDIDATES),
          "%s: n_cand %d of %d components", what, st->n_cand, st->n_components);
    int chosen = 0;
    for (int i = 0; i < st->n_cand; i++) {
        const pp_candidate *c = &st->cand[i];
        CHECK(c->reason <= PP_CAND_WEAKER && c->w >= 1 && c->h >= 1 && c->x + c->w <= st->work_w &&
                  c->y + c->h <= st->work_h, "%s: candidate %d out of bounds", what, i);
        chosen += c->reason == PP_CAND_CHOSEN;
    }
    CHECK(chosen <= 1 && (st->chosen < 0 ? chosen == 0 : st->chosen == 0 && st->cand[0].reason == PP_CAND_CHOSEN),
          "%s: chosen %d", what, st->chosen);
    CHECK(rc != PP_OK || (st->chosen == 0 && st->no_digit == PP_ND_NONE && st->box_w > 0),
          "%s: a digit without a chosen candidate", what);
    CHECK(rc != PP_NO_DIGIT || st->no_digit != PP_ND_NONE, "%s: no digit without a reason", what);
}

/* 128x128 frame = the work grid at 2x2: shapes with known reasons (tests/test_preprocess.py
 * draws the same one). */
static const struct {
    int x0, y0, x1, y1, reason;
} shapes[] = {
    {26, 22, 37, 41, PP_CAND_CHOSEN},     /* a ring: the "0" */
    {28, 17, 35, 19, PP_CAND_MERGED},     /* its cap, 2 rows above */
    {1, 30, 6, 36, PP_CAND_BORDER},       /* touching the frame's edge */
    {48, 10, 50, 12, PP_CAND_SMALL},      /* 3 high: under 8 % of the grid */
    {55, 14, 55, 48, PP_CAND_THIN},       /* 35 long, 1 across */
    {4, 44, 12, 58, PP_CAND_OFF_CENTRE},  /* its centre 37 px from the middle */
    {44, 24, 47, 36, PP_CAND_WEAKER},     /* digit-like, less ink than the ring */
};

static void test_known_components(int light) {
    uint8_t *f = malloc(128 * 128);
    for (int y = 0; y < 64; y++) {
        for (int x = 0; x < 64; x++) {
            int ink = 0;
            for (size_t k = 0; k < sizeof shapes / sizeof shapes[0]; k++) {
                int in = x >= shapes[k].x0 && x <= shapes[k].x1 && y >= shapes[k].y0 && y <= shapes[k].y1;
                if (k == 0 && x >= shapes[k].x0 + 3 && x <= shapes[k].x1 - 3 && y >= shapes[k].y0 + 3 &&
                    y <= shapes[k].y1 - 3) {
                    in = 0; /* the ring's hole */
                }
                ink |= in;
            }
            uint8_t v = (uint8_t)(ink ? 40 : 200);
            if (light) {
                v = (uint8_t)(255 - v);
            }
            f[(2 * y) * 128 + 2 * x] = f[(2 * y) * 128 + 2 * x + 1] = v;
            f[(2 * y + 1) * 128 + 2 * x] = f[(2 * y + 1) * 128 + 2 * x + 1] = v;
        }
    }
    uint8_t out[PP_OUT * PP_OUT];
    pp_stages st;
    int rc = pp_run(f, 128, 128, 128, NULL, out, &st);
    CHECK(rc == PP_OK && st.dark_on_light == !light, "known frame (light %d): rc %d polarity %d", light, rc,
          st.dark_on_light);
    CHECK(st.n_components == 7 && st.n_cand == 7, "known frame: %d components", st.n_components);
    for (size_t k = 0; k < sizeof shapes / sizeof shapes[0]; k++) {
        int found = 0;
        for (int i = 0; i < st.n_cand; i++) {
            const pp_candidate *c = &st.cand[i];
            if (c->x == shapes[k].x0 && c->y == shapes[k].y0 && c->x + c->w - 1 == shapes[k].x1 &&
                c->y + c->h - 1 == shapes[k].y1) {
                found = 1;
                CHECK(c->reason == shapes[k].reason, "shape %d: reason %d, expected %d", (int)k, c->reason,
                      shapes[k].reason);
            }
        }
        CHECK(found, "shape %d not reported", (int)k);
    }
    CHECK(st.bbox_x == 26 && st.bbox_y == 17 && st.bbox_w == 12 && st.bbox_h == 25, "digit box %d %d %d %d",
          st.bbox_x, st.bbox_y, st.bbox_w, st.bbox_h);
    CHECK(st.box_h == 20 && st.box_w == 10, "box %dx%d: 24x50 frame pixels into 20 high", st.box_w, st.box_h);
    check_candidates(&st, rc, "known frame");
    free(f);
}

static void test_defaults_and_wire(void) {
    pp_params p, q;
    pp_default_params(&p);
    CHECK(pp_validate_params(&p) == PP_OK, "defaults must validate");
    CHECK(p.box_size == 20 && p.center_mass == 1, "MNIST framing by default");
    uint8_t buf[PP_PARAMS_SIZE];
    p.roi_x = -5;
    p.roi_w = 300;
    pp_params_pack(&p, buf);
    CHECK(buf[0] == PP_PARAMS_VERSION && buf[1] == 0 && buf[2] == PP_PARAMS_SIZE, "header bytes");
    CHECK(PP_PARAMS_VERSION == 3 && PP_PARAMS_SIZE == 36 && sizeof(pp_params) == 36, "pp_params v3 layout");
    CHECK(p.polarity == PP_POLARITY_AUTO && p.min_score_pct <= 100 && p.full_res == 1, "v2 defaults");
    CHECK(buf[12] == p.polarity && buf[30] == p.min_score_pct && buf[31] == p.retry_radius
          && buf[32] == p.retry_score_pct && buf[33] == p.retry_radius2 && buf[34] == 0 && buf[35] == 0,
          "u8 fields in struct order, then the u16 reserved");
    CHECK(sizeof(pp_candidate) == 8, "pp_candidate is the 8-byte wire entry");
    CHECK(buf[4] == 0xFB && buf[5] == 0xFF, "roi_x little-endian two's complement");
    memset(&q, 0, sizeof q);
    CHECK(pp_params_unpack(buf, sizeof buf, &q) == PP_OK && memcmp(&p, &q, sizeof p) == 0, "round trip");
    CHECK(pp_params_unpack(buf, sizeof buf - 1, &q) == PP_ERR_PARAMS, "short payload refused");
    buf[0] = 99;
    pp_params keep = q;
    CHECK(pp_params_unpack(buf, sizeof buf, &q) == PP_ERR_PARAMS, "bad version refused");
    CHECK(memcmp(&keep, &q, sizeof q) == 0, "refused unpack leaves params untouched");
    CHECK(pp_validate_params(NULL) == PP_ERR_ARG, "NULL params");
    CHECK(pp_params_unpack(NULL, 24, &q) == PP_ERR_ARG, "NULL data");
}

static void test_ring(int w, int h, int stride, int ink_dark, int polarity) {
    int r = (w < h ? w : h) / 5;
    uint8_t *f = draw_ring(w, h, stride, w / 2 + w / 12, h / 2 - h / 14, r, ink_dark);
    pp_params p;
    pp_default_params(&p);
    p.polarity = (uint8_t)polarity;
    uint8_t out[PP_OUT * PP_OUT];
    pp_stages st;
    int rc = pp_run(f, w, h, stride, &p, out, &st);
    CHECK(rc == PP_OK, "ring %dx%d stride %d pol %d: rc %d", w, h, stride, polarity, rc);
    int cx, cy;
    com10(out, &cx, &cy);
    CHECK(cx >= 130 && cx <= 150 && cy >= 130 && cy <= 150, "ring COM at (%d, %d)/10", cx, cy);
    CHECK(out[14 * PP_OUT + 14] < 64, "ring centre stays dark (%d)", out[14 * PP_OUT + 14]);
    CHECK(st.box_w >= 18 && st.box_w <= 20 && st.box_h >= 18 && st.box_h <= 20,
          "ring fills the box (%dx%d)", st.box_w, st.box_h);
    if (polarity == PP_POLARITY_AUTO) {
        CHECK(st.dark_on_light == ink_dark, "auto polarity chose %d", st.dark_on_light);
    }
    uint8_t again[PP_OUT * PP_OUT];
    CHECK(pp_run(f, w, h, stride, &p, again, NULL) == rc && memcmp(out, again, sizeof out) == 0,
          "deterministic, stages optional");
    free(f);
}

static void test_edges(void) {
    uint8_t out[PP_OUT * PP_OUT];
    uint8_t one = 77;
    int rc = pp_run(&one, 1, 1, 1, NULL, out, NULL);
    CHECK(rc == PP_NO_DIGIT && blank(out), "1x1: rc %d", rc);

    uint8_t *black = calloc(50 * 37, 1), *white = malloc(50 * 37);
    memset(white, 255, 50 * 37);
    CHECK(pp_run(black, 50, 37, 50, NULL, out, NULL) == PP_NO_DIGIT && blank(out), "all black");
    CHECK(pp_run(white, 50, 37, 50, NULL, out, NULL) == PP_NO_DIGIT && blank(out), "all white");

    pp_params p;
    pp_default_params(&p);
    p.roi_x = 60;
    p.roi_y = 0;
    p.roi_w = 10;
    p.roi_h = 10;
    memset(out, 0xAA, sizeof out);
    CHECK(pp_run(white, 50, 37, 50, &p, out, NULL) == PP_ERR_ROI && blank(out), "ROI right of the frame");
    p.roi_x = -100;
    p.roi_w = 101;   /* one column overlaps */
    CHECK(pp_run(white, 50, 37, 50, &p, out, NULL) == PP_NO_DIGIT, "ROI clipped to one column");
    p.roi_x = -32768;
    p.roi_y = -32768;
    p.roi_w = PP_MAX_DIM;
    p.roi_h = PP_MAX_DIM;
    CHECK(pp_run(white, 50, 37, 50, &p, out, NULL) == PP_ERR_ROI, "ROI far above-left");

    memset(out, 0xAA, sizeof out);
    CHECK(pp_run(NULL, 10, 10, 10, NULL, out, NULL) == PP_ERR_ARG && blank(out), "NULL frame");
    CHECK(pp_run(white, 10, 10, 10, NULL, NULL, NULL) == PP_ERR_ARG, "NULL out");
    CHECK(pp_run(white, 0, 10, 10, NULL, out, NULL) == PP_ERR_ARG, "zero width");
    CHECK(pp_run(white, 10, -3, 10, NULL, out, NULL) == PP_ERR_ARG, "negative height");
    CHECK(pp_run(white, 10, 10, 9, NULL, out, NULL) == PP_ERR_ARG, "stride < width");
    CHECK(pp_run(white, PP_MAX_DIM + 1, 1, PP_MAX_DIM + 1, NULL, out, NULL) == PP_ERR_ARG, "too wide");
    free(black);
    free(white);

    /* the largest frame: PP_MAX_DIM x 2 (exercises the widest bins and sums) */
    uint8_t *wide = malloc(PP_MAX_DIM * 2);
    for (int i = 0; i < PP_MAX_DIM * 2; i++) {
        wide[i] = (uint8_t)rnd();
    }
    p.roi_x = p.roi_y = 0;
    p.roi_w = PP_MAX_DIM;
    p.roi_h = 2;
    rc = pp_run(wide, PP_MAX_DIM, 2, PP_MAX_DIM, &p, out, NULL);
    CHECK(rc == PP_OK || rc == PP_NO_DIGIT, "4096x2 noise: rc %d", rc);
    free(wide);
}

/* Every byte value of every uint8 field, and random whole structs: pp_run either
 * refuses (PP_ERR_PARAMS, blank output) or runs; the sanitizers watch the rest. */
static void test_param_fuzz(void) {
    int w = 41, h = 23, stride = 45;
    uint8_t *f = draw_ring(w, h, stride, 20, 11, 8, 1);
    uint8_t out[PP_OUT * PP_OUT];
    pp_stages st;
    pp_params p;
    for (int field = 12; field < PP_PARAMS_SIZE; field++) {
        for (int v = 0; v < 256; v++) {
            uint8_t buf[PP_PARAMS_SIZE];
            pp_default_params(&p);
            pp_params_pack(&p, buf);
            buf[field] = (uint8_t)v;
            memcpy(&p, buf, sizeof p); /* raw struct, as a careless caller might pass it */
            int valid = pp_validate_params(&p) == PP_OK;
            int rc = pp_run(f, w, h, stride, &p, out, &st);
            CHECK(valid ? rc >= 0 || rc == PP_ERR_ROI : rc == PP_ERR_PARAMS,
                  "field %d = %d: valid %d rc %d", field, v, valid, rc);
            if (rc >= 0) {
                check_candidates(&st, rc, "field fuzz");
            }
            if (rc != PP_OK) {
                CHECK(blank(out), "field %d = %d: output not blank on rc %d", field, v, rc);
            }
        }
    }
    int ran = 0;
    for (int i = 0; i < 20000; i++) {
        uint8_t buf[PP_PARAMS_SIZE];
        pp_default_params(&p);
        pp_params_pack(&p, buf);
        int k = (int)(rnd() % 4) + 1;
        for (int j = 0; j < k; j++) {
            buf[rnd() % PP_PARAMS_SIZE] = (uint8_t)rnd();
        }
        if (pp_params_unpack(buf, sizeof buf, &p) != PP_OK) {
            continue;
        }
        int fw = 1 + (int)(rnd() % 90), fh = 1 + (int)(rnd() % 90), fs = fw + (int)(rnd() % 3);
        uint8_t *g = draw_ring(fw, fh, fs, fw / 2, fh / 2, fw < fh ? fw / 3 : fh / 3, (int)(rnd() & 1));
        int with_stages = (int)(rnd() & 1);
        int rc = pp_run(g, fw, fh, fs, &p, out, with_stages ? &st : NULL);
        CHECK(rc == PP_OK || rc == PP_NO_DIGIT || rc == PP_ERR_ROI, "fuzz rc %d", rc);
        if (with_stages && rc >= 0) {
            check_candidates(&st, rc, "random fuzz");
        }
        uint8_t again[PP_OUT * PP_OUT];
        CHECK(pp_run(g, fw, fh, fs, &p, again, with_stages ? NULL : &st) == rc &&
                  memcmp(out, again, sizeof out) == 0, "fuzz: the output does not depend on asking for stages");
        ran++;
        free(g);
    }
    CHECK(ran > 1000, "fuzz ran only %d valid parameter sets", ran);
    free(f);
}

int main(void) {
    test_defaults_and_wire();
    test_ring(162, 162, 162, 1, PP_POLARITY_DARK_ON_LIGHT);
    test_ring(324, 324, 324, 1, PP_POLARITY_DARK_ON_LIGHT);
    test_ring(101, 77, 103, 1, PP_POLARITY_AUTO);      /* odd sizes and stride */
    test_ring(77, 101, 77, 0, PP_POLARITY_AUTO);       /* light on dark */
    test_ring(200, 120, 211, 0, PP_POLARITY_LIGHT_ON_DARK);
    test_ring(40, 40, 40, 1, PP_POLARITY_DARK_ON_LIGHT); /* smaller than the work grid */
    test_edges();
    test_known_components(0);
    test_known_components(1);
    test_param_fuzz();
    if (failures) {
        printf("%d failure(s)\n", failures);
        return 1;
    }
    printf("test_preprocess: all passed\n");
    return 0;
}

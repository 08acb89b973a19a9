/* Synthetic digits: polyline glyphs in a unit box, rendered with anti-aliased
 * thick strokes, then paper brightness, a light gradient, vignetting and noise. */
#include "synth.h"

#include <math.h>
#include <stddef.h>

typedef struct {
    float x, y;
} pt;

/* Each glyph: polylines in a 0..1 box (y down), separated by {-1,-1}, ended by {-2,-2}. */
#define BRK {-1, -1}
#define END {-2, -2}
static const pt glyph0[] = {{0.5f, 0.0f}, {0.8f, 0.1f}, {0.95f, 0.35f}, {0.95f, 0.65f}, {0.8f, 0.9f}, {0.5f, 1.0f},
                            {0.2f, 0.9f}, {0.05f, 0.65f}, {0.05f, 0.35f}, {0.2f, 0.1f}, {0.5f, 0.0f}, END};
static const pt glyph1[] = {{0.3f, 0.22f}, {0.6f, 0.0f}, {0.6f, 1.0f}, END};
static const pt glyph2[] = {{0.1f, 0.25f}, {0.25f, 0.06f}, {0.5f, 0.0f}, {0.78f, 0.08f}, {0.88f, 0.28f},
                            {0.75f, 0.5f}, {0.1f, 1.0f}, {0.95f, 1.0f}, END};
static const pt glyph3[] = {{0.1f, 0.1f}, {0.4f, 0.0f}, {0.75f, 0.06f}, {0.82f, 0.25f}, {0.45f, 0.47f}, BRK,
                            {0.45f, 0.47f}, {0.85f, 0.62f}, {0.88f, 0.85f}, {0.6f, 1.0f}, {0.1f, 0.92f}, END};
static const pt glyph4[] = {{0.7f, 1.0f}, {0.7f, 0.0f}, {0.05f, 0.7f}, {0.95f, 0.7f}, END};
static const pt glyph5[] = {{0.85f, 0.0f}, {0.22f, 0.0f}, {0.15f, 0.45f}, {0.5f, 0.37f}, {0.85f, 0.55f},
                            {0.87f, 0.82f}, {0.55f, 1.0f}, {0.1f, 0.9f}, END};
static const pt glyph6[] = {{0.8f, 0.05f}, {0.45f, 0.0f}, {0.2f, 0.3f}, {0.1f, 0.7f}, {0.3f, 0.98f}, {0.65f, 0.98f},
                            {0.88f, 0.75f}, {0.72f, 0.5f}, {0.38f, 0.48f}, {0.12f, 0.65f}, END};
static const pt glyph7[] = {{0.05f, 0.0f}, {0.95f, 0.0f}, {0.4f, 1.0f}, BRK, {0.35f, 0.5f}, {0.8f, 0.5f}, END};
static const pt glyph8[] = {{0.5f, 0.46f}, {0.2f, 0.35f}, {0.18f, 0.12f}, {0.5f, 0.0f}, {0.82f, 0.12f},
                            {0.8f, 0.35f}, {0.5f, 0.46f}, {0.12f, 0.62f}, {0.15f, 0.9f}, {0.5f, 1.0f},
                            {0.85f, 0.9f}, {0.88f, 0.62f}, {0.5f, 0.46f}, END};
static const pt glyph9[] = {{0.85f, 0.35f}, {0.6f, 0.55f}, {0.25f, 0.52f}, {0.12f, 0.28f}, {0.3f, 0.02f},
                            {0.65f, 0.0f}, {0.85f, 0.2f}, {0.85f, 0.35f}, {0.75f, 0.75f}, {0.5f, 1.0f}, END};
static const pt *const glyphs[10] = {glyph0, glyph1, glyph2, glyph3, glyph4, glyph5, glyph6, glyph7, glyph8, glyph9};

static uint32_t next(uint32_t *s) {
    uint32_t x = *s ? *s : 0x9E3779B9u;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return *s = x;
}

static float uniform(uint32_t *s, float lo, float hi) { return lo + (hi - lo) * (float)(next(s) >> 8) / 16777216.0f; }

static float seg_dist(float px, float py, pt a, pt b) {
    float dx = b.x - a.x, dy = b.y - a.y, l2 = dx * dx + dy * dy;
    float t = l2 > 0 ? ((px - a.x) * dx + (py - a.y) * dy) / l2 : 0;
    t = t < 0 ? 0 : t > 1 ? 1 : t;
    float ex = a.x + t * dx - px, ey = a.y + t * dy - py;
    return sqrtf(ex * ex + ey * ey);
}

uint32_t synth_rand(uint32_t *rng) { return next(rng); }

void synth_digit(uint8_t *frame, int width, int height, int digit, uint32_t *rng) {
    synth_digit_shaped(frame, width, height, digit, rng, rng);
}

void synth_digit_shaped(uint8_t *frame, int width, int height, int digit, uint32_t *shape, uint32_t *noise) {
    uint32_t *rng = shape; /* place, size, angle, paper and light come from here */
    const pt *g = glyphs[(digit % 10 + 10) % 10];
    int side = width < height ? width : height;
    float gh = uniform(rng, 0.30f, 0.55f) * (float)side; /* glyph height in pixels */
    float gw = gh * uniform(rng, 0.55f, 0.75f);
    float thick = gh * uniform(rng, 0.08f, 0.13f);
    float angle = uniform(rng, -0.2f, 0.2f); /* about +-12 degrees */
    float cx = (float)width / 2 + uniform(rng, -0.1f, 0.1f) * (float)width;
    float cy = (float)height / 2 + uniform(rng, -0.1f, 0.1f) * (float)height;
    float paper = uniform(rng, 140.0f, 225.0f), ink = uniform(rng, 0.55f, 0.85f);
    float grad_x = uniform(rng, -0.25f, 0.25f), grad_y = uniform(rng, -0.25f, 0.25f);
    float vignette = uniform(rng, 0.1f, 0.35f), noise_dn = uniform(rng, 2.0f, 8.0f);
    float ca = cosf(angle), sa = sinf(angle);

    for (int y = 0; y < height; y++) {
        for (int x = 0; x < width; x++) {
            float nx = ((float)x - (float)width / 2) / (float)side, ny = ((float)y - (float)height / 2) / (float)side;
            float light = 1.0f + grad_x * nx + grad_y * ny - vignette * (nx * nx + ny * ny) * 2.0f;
            /* pixel -> glyph box coordinates (in pixels, unrotated) */
            float rx = ca * ((float)x - cx) + sa * ((float)y - cy);
            float ry = -sa * ((float)x - cx) + ca * ((float)y - cy);
            float cover = 0;
            if (fabsf(rx) < gw / 2 + thick && fabsf(ry) < gh / 2 + thick) {
                float best = 1e9f;
                for (size_t i = 0; g[i + 1].x > -1.5f; i++) {
                    if (g[i].x < -0.5f || g[i + 1].x < -0.5f) continue; /* a break between polylines */
                    pt a = {(g[i].x - 0.5f) * gw, (g[i].y - 0.5f) * gh};
                    pt b = {(g[i + 1].x - 0.5f) * gw, (g[i + 1].y - 0.5f) * gh};
                    float dd = seg_dist(rx, ry, a, b);
                    if (dd < best) best = dd;
                }
                cover = thick / 2 - best + 0.5f; /* one pixel of anti-aliasing */
                cover = cover < 0 ? 0 : cover > 1 ? 1 : cover;
            }
            float n = (uniform(noise, -1, 1) + uniform(noise, -1, 1)) * noise_dn;
            float v = paper * light * (1.0f - ink * cover) + n;
            frame[(size_t)y * width + x] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v + 0.5f);
        }
    }
}

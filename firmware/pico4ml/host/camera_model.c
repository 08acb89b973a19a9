/* Exposure, gain and orientation applied to the twin's frames (see camera_model.h). */
#include "camera_model.h"

#include <math.h>
#include <stddef.h>

void camera_model_init(camera_model *c, uint32_t seed) {
    c->opts = (proto_camera_opts){PROTO_CAM_AUTO_EXPOSURE, 0, CAMERA_UNITY_EXPOSURE, 256, PROTO_CAM_MODE_KEEP};
    c->rng = seed ? seed : 0x2545F491u;
}

int camera_model_set(void *ctx, const proto_camera_opts *opts) {
    if (opts->mode != PROTO_CAM_MODE_KEEP) return -1; /* one readout: no BINNED / FULL to switch to */
    ((camera_model *)ctx)->opts = *opts; /* the device checked the ranges */
    return 0;
}

bool camera_model_is_identity(const camera_model *c) {
    return (c->opts.flags & (PROTO_CAM_AUTO_EXPOSURE | PROTO_CAM_MIRROR | PROTO_CAM_FLIP)) == PROTO_CAM_AUTO_EXPOSURE;
}

static uint32_t next(uint32_t *s) {
    uint32_t x = *s;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return *s = x;
}

/* Standard normal from the sum of four uniforms (variance 4/12, scaled to 1): cheap, smooth enough. */
static float gauss(uint32_t *s) {
    float sum = 0;
    for (int i = 0; i < 4; i++) sum += (float)(next(s) >> 8) / 16777216.0f;
    return (sum - 2.0f) * 1.7320508f;
}

void camera_model_apply(camera_model *c, const uint8_t *src, uint8_t *dst, int width, int height) {
    const proto_camera_opts *o = &c->opts;
    bool manual = !(o->flags & PROTO_CAM_AUTO_EXPOSURE);
    float exposure = (float)o->exposure / CAMERA_UNITY_EXPOSURE;
    float gain = (float)(1u << (o->analog_gain & 3u)) * (float)o->digital_gain_q8 / 256.0f;
    float sigma = CAMERA_READ_NOISE_DN * (gain - 1.0f);
    bool mirror = o->flags & PROTO_CAM_MIRROR, flip = o->flags & PROTO_CAM_FLIP;
    for (int y = 0; y < height; y++) {
        const uint8_t *row = src + (size_t)(flip ? height - 1 - y : y) * (size_t)width;
        uint8_t *out = dst + (size_t)y * (size_t)width;
        for (int x = 0; x < width; x++) {
            uint8_t v = row[mirror ? width - 1 - x : x];
            if (manual) {
                float light = fminf((float)v * exposure, 255.0f); /* full well */
                float dn = light * gain + (sigma > 0 ? sigma * gauss(&c->rng) : 0.0f);
                v = (uint8_t)(dn < 0 ? 0 : dn > 255 ? 255 : dn + 0.5f);
            }
            out[x] = v;
        }
    }
}

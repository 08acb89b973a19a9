/* reader.c: the second reading (reader.h). */
#include "reader.h"

#include <string.h>

static uint8_t s_second28[PP_OUT * PP_OUT]; /* a further reading's 28x28 until it wins */

static int run_pp(reader_pp_fn pp, void *ctx, const uint8_t *frame, int width, int height, int stride,
                  const pp_params *p, uint8_t *out28, pp_stages *stages) {
    return pp ? pp(ctx, frame, width, height, stride, p, out28, stages)
              : pp_run(frame, width, height, stride, p, out28, stages);
}

/* One more reading with bg_radius = radius: 1 (and in28, stages, r, pp_status replaced) when taken. */
static int try_radius(reader_pp_fn pp, void *ctx, const uint8_t *frame, int width, int height, int stride,
                      const pp_params *p, uint8_t radius, uint8_t *in28, pp_stages *stages, classifier_result *r,
                      int *pp_status) {
    pp_params second = *p;
    second.bg_radius = radius;
    /* no stages yet: most second readings lose, and the first's stages must survive them */
    int rc = run_pp(pp, ctx, frame, width, height, stride, &second, s_second28, NULL);
    if (rc != PP_OK) {
        return 0;
    }
    classifier_result r2;
    classifier_run(s_second28, &r2);
    classifier_set_status(&r2, rc, p->min_score_pct);
    if (r2.status != CLASSIFIER_DIGIT || r2.score * 100.0f < (float)p->retry_score_pct) {
        return 0;
    }
    memcpy(in28, s_second28, sizeof s_second28);
    if (stages) {
        /* the winner's stages: pp_run is deterministic, so this gives the same 28x28 */
        run_pp(pp, ctx, frame, width, height, stride, &second, s_second28, stages);
    }
    *r = r2;
    *pp_status = rc;
    return 1;
}

int reader_second_reading(reader_pp_fn pp, void *ctx, const uint8_t *frame, int width, int height, int stride,
                          const pp_params *p, uint8_t in28[PP_OUT * PP_OUT], pp_stages *stages,
                          classifier_result *r, int *pp_status) {
    if (!frame || !in28 || !r || !pp_status || !reader_wants_second(p, r->status)) {
        return 0;
    }
    const uint8_t radii[2] = {p->retry_radius, p->retry_radius2};
    for (int k = 0; k < 2; k++) {
        if (reader_radius_on(p, radii[k]) && (k == 0 || radii[1] != radii[0])
            && try_radius(pp, ctx, frame, width, height, stride, p, radii[k], in28, stages, r, pp_status)) {
            return radii[k];
        }
    }
    return 0;
}

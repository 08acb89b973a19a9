/* device_publish.c: the pipeline step of one frame (preprocess, net(), status) and the
 * per-frame messages it sends: FRAME (through device_frame.c), STAGE, CANDIDATES, INPUT28,
 * RESULT and, every stats_every frames, STATS. */
#include "device.h"
#include "device_internal.h"
#include "reader.h"

#include <string.h>

/* One preprocessing stage image; grids have row stride `stride`, so one piece per row. */
static void send_stage_image(device *d, const device_frame *f, uint8_t id, const uint8_t *pix, uint16_t w,
                             uint16_t h, uint16_t stride, uint8_t value, bool with_bbox) {
    const pp_stages *st = f->stages;
    proto_stage_hdr sh = {f->frame_id, id, f->flags, w, h, {0, 0, 0, 0}, value,
                          {st->roi_x, st->roi_y, st->roi_w, st->roi_h}};
    if (with_bbox && st->bbox_w > 0 && st->bbox_h > 0) {
        sh.bbox[0] = (uint16_t)st->bbox_x;
        sh.bbox[1] = (uint16_t)st->bbox_y;
        sh.bbox[2] = (uint16_t)(st->bbox_x + st->bbox_w);
        sh.bbox[3] = (uint16_t)(st->bbox_y + st->bbox_h);
    }
    uint8_t hdr[PROTO_STAGE_HDR_SIZE];
    proto_pack_stage_hdr(hdr, &sh);
    proto_piece pieces[1 + PP_WORK];
    size_t np = 0;
    pieces[np++] = (proto_piece){hdr, sizeof hdr};
    for (uint16_t y = 0; y < h && y < PP_WORK; y++) pieces[np++] = (proto_piece){pix + (size_t)y * stride, w};
    device_send(d, PROTO_STAGE, pieces, np);
}

/* The candidates weighed (also when preprocessing stopped early: then none, and why). */
static void send_candidates(device *d, const device_frame *f) {
    const pp_stages *st = f->stages;
    proto_candidates c = {
        .frame_id = f->frame_id,
        .flags = f->flags,
        .count = st->n_cand < PROTO_MAX_CANDIDATES ? st->n_cand : PROTO_MAX_CANDIDATES,
        .chosen = st->chosen,
        .no_digit = st->no_digit,
        .n_components = st->n_components,
        .work_w = st->work_w,
        .work_h = st->work_h,
    };
    if (c.chosen >= (int)c.count) c.chosen = -1;
    for (uint8_t i = 0; i < c.count; i++) {
        const pp_candidate *p = &st->cand[i];
        c.cand[i] = (proto_candidate){p->x, p->y, p->w, p->h, p->reason, p->score, p->mass};
    }
    uint8_t buf[PROTO_CANDIDATES_MAX_SIZE];
    device_send1(d, PROTO_CANDIDATES, buf, proto_pack_candidates(buf, &c));
}

static void send_stages(device *d, const device_frame *f) {
    const pp_stages *st = f->stages;
    send_candidates(d, f);
    if (st->work_w == 0 || st->work_h == 0) return; /* preprocessing stopped before the work grid */
    send_stage_image(d, f, PROTO_STAGE_WORK, st->work, st->work_w, st->work_h, PP_WORK, st->dark_on_light, true);
    send_stage_image(d, f, PROTO_STAGE_INK, st->ink, st->work_w, st->work_h, PP_WORK, st->lo, true);
    send_stage_image(d, f, PROTO_STAGE_NORM, st->norm, st->work_w, st->work_h, PP_WORK, st->threshold, true);
    if (st->box_w > 0 && st->box_h > 0)
        send_stage_image(d, f, PROTO_STAGE_BOX, st->box, st->box_w, st->box_h, PP_OUT, 0, false);
}

/* The polarity preprocessing read the frame with, if it got as far as the work grid. */
static uint8_t polarity_of(const pp_stages *st) {
    if (!st || st->work_w == 0) return PROTO_POLARITY_UNKNOWN;
    return st->dark_on_light ? PROTO_POLARITY_DARK_ON_LIGHT : PROTO_POLARITY_LIGHT_ON_DARK;
}

void device_publish(device *d, const device_frame *f) {
    uint64_t t0 = device_now_us(d);
    bool injected = f->flags & PROTO_FLAG_INJECTED;
    if (!injected) {
        /* fps: exponential average of the interval between camera frames */
        if (d->last_frame_us) {
            uint64_t dt = t0 - d->last_frame_us;
            uint32_t inst = dt ? (uint32_t)(100000000ull / dt) : 0;
            d->fps_x100 = d->fps_x100 ? (d->fps_x100 * 7u + inst) / 8u : inst;
        }
        d->last_frame_us = t0;
    }
    d->stats.frames++;
    uint16_t mask = d->stream.mask;
    if ((mask & PROTO_STREAM_FRAME) && f->pixels && !injected && d->frames_published % d->stream.decimation == 0)
        device_frame_start(d, f);
    if ((mask & PROTO_STREAM_STAGE) && f->stages) send_stages(d, f);
    if ((mask & PROTO_STREAM_INPUT28) || injected) {
        uint8_t hdr[5];
        proto_pack_input28_hdr(hdr, f->frame_id, f->flags);
        proto_piece pieces[2] = {{hdr, sizeof hdr}, {f->in28, 784}};
        device_send(d, PROTO_INPUT28, pieces, 2);
    }
    if ((mask & PROTO_STREAM_RESULT) || injected) {
        proto_result r = {
            .frame_id = f->frame_id,
            .argmax = (uint8_t)f->result->argmax,
            .model_kind = MODEL_KIND,
            .flags = f->flags,
            .score = f->result->score,
            .t_capture_us = f->t_capture_us,
            .t_preprocess_us = f->t_preprocess_us,
            .t_net_us = f->t_net_us,
            .t_send_us = d->last_send_us,
            .fps_x100 = d->fps_x100,
            .status = f->result->status,
            .polarity = polarity_of(f->stages),
            .min_score_pct = f->min_score_pct,
        };
        memcpy(r.logits, f->result->logits, sizeof r.logits);
        uint8_t buf[PROTO_RESULT_SIZE];
        device_send1(d, PROTO_RESULT, buf, proto_pack_result(buf, &r));
    }
    if (!injected) {
        d->frames_published++;
        if ((mask & PROTO_STREAM_STATS) && d->frames_published % d->stream.stats_every == 0) device_send_stats(d);
    }
    d->last_send_us = (uint32_t)(device_now_us(d) - t0);
}

int device_process(device *d, uint32_t frame_id, uint8_t flags, const uint8_t *pixels, uint16_t width,
                   uint16_t height, uint16_t stride, uint32_t t_capture_us) {
    static pp_stages stages; /* big: keep it off the stack */
    uint8_t *in28 = d->in28;
    uint64_t t0 = device_now_us(d);
    int rc = d->hooks.preprocess ? d->hooks.preprocess(d->hooks.ctx, pixels, width, height, stride, &d->params, in28,
                                                       &stages)
                                 : pp_run(pixels, width, height, stride, &d->params, in28, &stages);
    if (rc < 0) return rc;
    uint64_t t1 = device_now_us(d);
    classifier_result res;
    classifier_run(in28, &res);
    classifier_set_status(&res, rc, d->params.min_score_pct);
    uint64_t t2 = device_now_us(d);
    /* not sure: read the frame again with other closing windows (core/reader.h) */
    if (reader_wants_second(&d->params, res.status)) {
        if (reader_second_reading(d->hooks.preprocess, d->hooks.ctx, pixels, width, height, stride, &d->params,
                                  in28, &stages, &res, &rc))
            flags |= PROTO_FLAG_SECOND_READING;
        uint64_t t3 = device_now_us(d);
        t1 += t3 - t2; /* further readings count as preprocessing */
        t2 = t3;
    }
    device_frame f = {
        .frame_id = frame_id,
        .flags = flags,
        .pixels = pixels,
        .width = width,
        .height = height,
        .stride = stride,
        .in28 = in28,
        .stages = &stages,
        .result = &res,
        .min_score_pct = d->params.min_score_pct,
        .t_capture_us = t_capture_us,
        .t_preprocess_us = (uint32_t)(t1 - t0),
        .t_net_us = (uint32_t)(t2 - t1),
    };
    device_publish(d, &f);
    return rc;
}


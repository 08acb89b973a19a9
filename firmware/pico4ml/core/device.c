/* The device side of the USB protocol: command handling and per-frame messages.
 *
 * Every message goes through send(): it asks the sink for room for the whole
 * encoded message first and drops it (counting the drop) otherwise, so a host
 * that stops reading never stalls the camera or the network. Sequence numbers
 * are taken by dropped messages too, so the host's count of missing sequence
 * numbers equals device drops plus link losses.
 *
 * A FRAME image is the exception to "fits now or is dropped": it can be larger than
 * the sink (26 KB at 162x162 against the firmware's 16 KiB USB ring, 105 KB at
 * 324x324 against the twin's 64 KiB queue), so its row bands wait in
 * `pending` and device_poll() sends each one once it fits, leaving room for the small
 * messages of later frames. Its owner keeps the pixels while device_frame_pending().
 */
#include "device.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define DEFAULT_BAND_BYTES 8192u

#define MODEL_KIND ((uint8_t)classifier_model_kind()) /* CLASSIFIER_KIND_* = PROTO_MODEL_* */

/* The wire carries these values of the portable core as they are. */
_Static_assert((int)CLASSIFIER_KIND_FLOAT == (int)PROTO_MODEL_FLOAT && (int)CLASSIFIER_KIND_INT8 == (int)PROTO_MODEL_INT8,
               "model kinds");
_Static_assert((int)CLASSIFIER_DIGIT == (int)PROTO_STATUS_DIGIT && (int)CLASSIFIER_NO_DIGIT == (int)PROTO_STATUS_NO_DIGIT &&
                   (int)CLASSIFIER_UNSURE == (int)PROTO_STATUS_UNSURE,
               "RESULT status is classifier_result.status");
_Static_assert((int)PP_POLARITY_DARK_ON_LIGHT == (int)PROTO_POLARITY_DARK_ON_LIGHT &&
                   (int)PP_POLARITY_LIGHT_ON_DARK == (int)PROTO_POLARITY_LIGHT_ON_DARK,
               "RESULT polarity is the PP_POLARITY_* used");
_Static_assert(PP_MAX_CANDIDATES == PROTO_MAX_CANDIDATES, "CANDIDATES holds every pp_stages candidate");

static uint64_t now_us(const device *d) { return d->hooks.now_us(d->hooks.ctx); }

static int send(device *d, uint8_t type, const proto_piece *pieces, size_t npieces) {
    uint16_t seq = d->tx_seq++;
    size_t size = proto_packet_size(pieces, npieces);
    if (size > PROTO_MAX_PACKET || d->sink.space(d->sink.ctx) < PROTO_COBS_MAX(size)) {
        d->stats.msgs_dropped++;
        return -1;
    }
    long n = proto_encode(type, seq, pieces, npieces, d->sink.write, d->sink.ctx);
    if (n < 0) {
        d->stats.msgs_dropped++;
        return -1;
    }
    d->stats.msgs_sent++;
    d->stats.bytes_sent += (uint32_t)n;
    return 0;
}

static int send1(device *d, uint8_t type, const uint8_t *payload, size_t len) {
    proto_piece p = {payload, len};
    return send(d, type, &p, 1);
}

static void refresh_uptime(device *d) { d->stats.uptime_ms = (uint32_t)(now_us(d) / 1000u); }

void device_send_error(device *d, uint16_t code, uint8_t cmd_type, uint16_t cmd_seq, const char *text) {
    uint8_t buf[PROTO_ERROR_HDR_SIZE + PROTO_MAX_TEXT];
    send1(d, PROTO_ERROR, buf, proto_pack_error(buf, code, cmd_type, cmd_seq, text));
}

void device_send_hello(device *d) {
    uint8_t buf[PROTO_HELLO_MAX_SIZE];
    proto_hello h = {
        .model_kind = MODEL_KIND,
        .capture_width = d->cfg.capture_width,
        .capture_height = d->cfg.capture_height,
        .params_size = PP_PARAMS_SIZE,
        .max_command_bytes = (uint32_t)(d->cfg.rx_cap < PROTO_MAX_PACKET ? d->cfg.rx_cap : PROTO_MAX_PACKET),
        .uptime_ms = (uint32_t)(now_us(d) / 1000u),
        .weights_hash = classifier_weights_sha256(),
        .camera_mode = d->cam.mode,
        .params_version = PP_PARAMS_VERSION,
        .firmware_version = d->cfg.firmware_version,
        .model_name = classifier_model_name(),
        .build_info = d->cfg.build_info,
    };
    d->last_hello_us = now_us(d);
    send1(d, PROTO_HELLO, buf, proto_pack_hello(buf, &h));
}

void device_log(device *d, uint8_t level, const char *fmt, ...) {
    if (!(d->stream.mask & PROTO_STREAM_LOG)) return;
    /* 3 bytes more than fit: vsnprintf may cut a character, proto_pack_log then cuts
     * before it (a buffer of exactly PROTO_MAX_TEXT sent that half character) */
    char text[PROTO_MAX_TEXT + 4];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    uint8_t buf[PROTO_LOG_HDR_SIZE + PROTO_MAX_TEXT];
    send1(d, PROTO_LOG, buf, proto_pack_log(buf, level, text));
}

static void send_ack(device *d, uint8_t type, uint16_t seq) {
    uint8_t buf[PROTO_ACK_SIZE];
    send1(d, PROTO_ACK, buf, proto_pack_ack(buf, type, seq));
}

static void send_params(device *d) {
    uint8_t buf[PP_PARAMS_SIZE];
    pp_params_pack(&d->params, buf);
    send1(d, PROTO_PARAMS, buf, sizeof buf);
}

static void send_stream(device *d) {
    uint8_t buf[PROTO_SET_STREAM_SIZE];
    send1(d, PROTO_STREAM, buf, proto_pack_stream(buf, &d->stream));
}

static void send_camera(device *d) {
    uint8_t buf[PROTO_SET_CAMERA_SIZE];
    proto_camera_opts o = d->camera;
    o.mode = d->cam.mode; /* CAMERA says the mode running, not the one asked for */
    send1(d, PROTO_CAMERA, buf, proto_pack_camera(buf, &o));
}

static void send_stats(device *d) {
    uint8_t buf[PROTO_STATS_SIZE];
    refresh_uptime(d);
    d->stats.cam_frames = d->cam.frames;
    d->stats.cam_vsync_early = d->cam.vsync_early;
    d->stats.cam_short_frames = d->cam.short_frames;
    d->stats.cam_timeouts = d->cam.timeouts;
    d->stats.cam_fallbacks = d->cam.fallbacks;
    d->stats.cam_mode = d->cam.mode;
    send1(d, PROTO_STATS, buf, proto_pack_stats(buf, &d->stats));
}

void device_set_camera_status(device *d, const device_camera_status *cs) { d->cam = *cs; }

/* ---- commands ---- */
static void reject(device *d, uint16_t code, const proto_packet *pkt, const char *text) {
    d->stats.cmds_rejected++;
    device_send_error(d, code, pkt->type, pkt->seq, text);
}

static void cmd_ping(device *d, const proto_packet *pkt) {
    proto_ping ping;
    if (proto_parse_ping(pkt->payload, pkt->len, &ping) < 0) {
        reject(d, PROTO_ERR_LENGTH, pkt, "PING payload must be 5 bytes");
        return;
    }
    d->stats.cmds_ok++;
    uint8_t buf[PROTO_PONG_SIZE];
    send1(d, PROTO_PONG, buf, proto_pack_pong(buf, ping.nonce, (uint32_t)(now_us(d) / 1000u)));
    if (ping.flags & PROTO_PING_WANT_HELLO) device_send_hello(d);
}

static void cmd_set_params(device *d, const proto_packet *pkt) {
    char text[80];
    if (pkt->len != PP_PARAMS_SIZE) {
        snprintf(text, sizeof text, "SET_PARAMS needs %u bytes (pp_params), got %u", (unsigned)PP_PARAMS_SIZE,
                 (unsigned)pkt->len);
        reject(d, PROTO_ERR_LENGTH, pkt, text);
        return;
    }
    pp_params p;
    if (pp_params_unpack(pkt->payload, pkt->len, &p) != PP_OK) {
        reject(d, PROTO_ERR_VALUE, pkt, "SET_PARAMS: wrong version/size or a field out of range");
        return;
    }
    d->params = p;
    d->params_generation++;
    d->stats.cmds_ok++;
    send_ack(d, pkt->type, pkt->seq);
    send_params(d);
}

static void cmd_get_params(device *d, const proto_packet *pkt) {
    if (pkt->len != 0) {
        reject(d, PROTO_ERR_LENGTH, pkt, "GET_PARAMS takes no payload");
        return;
    }
    d->stats.cmds_ok++;
    send_params(d);
    send_stream(d);
    send_camera(d);
}

static void cmd_set_stream(device *d, const proto_packet *pkt) {
    proto_stream_opts o;
    int rc = proto_parse_stream(pkt->payload, pkt->len, &o);
    if (rc < 0) {
        reject(d, (uint16_t)-rc, pkt,
               rc == -PROTO_ERR_LENGTH ? "SET_STREAM payload must be 8 bytes"
                                       : "SET_STREAM: decimation and stats_every >= 1, max_side 16..128, "
                                         "unknown bits 0");
        return;
    }
    d->stream = o;
    d->stats.cmds_ok++;
    send_ack(d, pkt->type, pkt->seq);
    send_stream(d);
}

static void cmd_set_camera(device *d, const proto_packet *pkt) {
    proto_camera_opts o;
    int rc = proto_parse_camera(pkt->payload, pkt->len, &o);
    if (rc < 0) {
        reject(d, (uint16_t)-rc, pkt,
               rc == -PROTO_ERR_LENGTH ? "SET_CAMERA payload must be 8 bytes"
                                       : "SET_CAMERA: gain 0..3, exposure >= 1, digital gain 256..1023");
        return;
    }
    if (!d->hooks.set_camera) {
        reject(d, PROTO_ERR_UNSUPPORTED, pkt, "no camera on this device");
        return;
    }
    if (d->hooks.set_camera(d->hooks.ctx, &o) < 0) {
        reject(d, PROTO_ERR_CAMERA, pkt, "camera refused the options");
        return;
    }
    d->camera = o;
    d->stats.cmds_ok++;
    send_ack(d, pkt->type, pkt->seq);
    send_camera(d);
}

static void cmd_inject(device *d, const proto_packet *pkt) {
    proto_inject inj;
    int rc = proto_parse_inject(pkt->payload, pkt->len, &inj);
    if (rc < 0) {
        reject(d, (uint16_t)-rc, pkt, "INJECT: width u16, height u16, then width*height pixels");
        return;
    }
    /* frame_id of an injected answer = the INJECT's sequence number, so the host can match them. */
    rc = device_process(d, pkt->seq, PROTO_FLAG_INJECTED, inj.pixels, inj.width, inj.height, inj.width, 0);
    if (rc < 0) {
        reject(d, PROTO_ERR_VALUE, pkt, "INJECT: preprocessing refused the image (ROI outside it?)");
        return;
    }
    d->stats.cmds_ok++;
}

static void on_packet(void *ctx, const proto_packet *pkt) {
    device *d = ctx;
    switch (pkt->type) {
    case PROTO_PING: cmd_ping(d, pkt); break;
    case PROTO_SET_PARAMS: cmd_set_params(d, pkt); break;
    case PROTO_GET_PARAMS: cmd_get_params(d, pkt); break;
    case PROTO_SET_STREAM: cmd_set_stream(d, pkt); break;
    case PROTO_SET_CAMERA: cmd_set_camera(d, pkt); break;
    case PROTO_INJECT: cmd_inject(d, pkt); break;
    default: reject(d, PROTO_ERR_UNKNOWN_TYPE, pkt, "unknown command type"); break;
    }
}

static void on_rx_error(void *ctx, int code, uint8_t type, uint16_t seq) {
    device *d = ctx;
    d->stats.rx_errors++;
    /* Garbage can hold a 0x00 every other byte: answer only the first few per second so
     * a noisy line cannot crowd the real stream out of the TX buffer (all are counted). */
    uint64_t now = now_us(d);
    if (now - d->rx_err_window_us >= 1000000u) {
        d->rx_err_window_us = now;
        d->rx_err_in_window = 0;
    }
    if (++d->rx_err_in_window > DEVICE_RX_ERRORS_PER_S) return;
    const char *why = code == PROTO_ERR_FRAMING   ? "bad COBS framing"
                      : code == PROTO_ERR_CRC     ? "bad CRC-32"
                      : code == PROTO_ERR_VERSION ? "wrong protocol version"
                      : code == PROTO_ERR_TOO_LARGE ? "command larger than the receive buffer"
                                                    : "bad packet";
    device_send_error(d, (uint16_t)code, type, seq, why);
}

static void pump_frame(device *d);

void device_receive(device *d, const uint8_t *data, size_t len) {
    proto_decoder_feed(&d->rx, data, len, on_packet, on_rx_error, d);
}

void device_poll(device *d) {
    if (d->cfg.hello_period_ms && now_us(d) - d->last_hello_us >= (uint64_t)d->cfg.hello_period_ms * 1000u)
        device_send_hello(d);
    pump_frame(d);
}

/* ---- per-frame messages ---- */

/* Area-average by an integer factor so the longest side is <= max_side. */
static void downscale(const uint8_t *src, uint16_t w, uint16_t h, uint16_t stride, uint16_t max_side,
                      uint8_t *dst, uint16_t *ow, uint16_t *oh, uint16_t *factor) {
    uint16_t longest = w > h ? w : h;
    uint16_t f = (uint16_t)((longest + max_side - 1) / max_side);
    if (f < 1) f = 1;
    uint16_t dw = (uint16_t)(w / f), dh = (uint16_t)(h / f);
    if (dw == 0) dw = 1;
    if (dh == 0) dh = 1;
    for (uint16_t y = 0; y < dh; y++) {
        for (uint16_t x = 0; x < dw; x++) {
            uint32_t sum = 0, cnt = 0;
            for (uint16_t j = 0; j < f && (uint32_t)y * f + j < h; j++) {
                const uint8_t *row = src + ((size_t)y * f + j) * stride + (size_t)x * f;
                for (uint16_t i = 0; i < f && (uint32_t)x * f + i < w; i++, cnt++) sum += row[i];
            }
            dst[(size_t)y * dw + x] = (uint8_t)(cnt ? (sum + cnt / 2) / cnt : 0);
        }
    }
    *ow = dw;
    *oh = dh;
    *factor = f;
}

/* ---- FRAME images, in row bands sent as the sink has room ---- */

static size_t frame_reserve(const device *d) {
    return d->cfg.frame_reserve_bytes ? d->cfg.frame_reserve_bytes : DEVICE_FRAME_RESERVE;
}

/* Rows [y0, y0 + rows) of the pending image as message pieces (one per row when strided). */
static size_t band_pieces(const device_pending_frame *pf, uint8_t hdr[PROTO_FRAME_HDR_SIZE],
                          proto_piece pieces[1 + 64]) {
    proto_pack_frame_hdr(hdr, &pf->hdr);
    size_t np = 0;
    pieces[np++] = (proto_piece){hdr, PROTO_FRAME_HDR_SIZE};
    const uint8_t *first = pf->pix + (size_t)pf->hdr.y0 * pf->stride;
    if (pf->stride == pf->hdr.width) {
        pieces[np++] = (proto_piece){first, (size_t)pf->hdr.rows * pf->hdr.width};
    } else {
        for (uint16_t r = 0; r < pf->hdr.rows; r++)
            pieces[np++] = (proto_piece){first + (size_t)r * pf->stride, pf->hdr.width};
    }
    return np;
}

static uint16_t bands_left(const device_pending_frame *pf) {
    return (uint16_t)((pf->hdr.height - pf->hdr.y0 + pf->rows_per - 1) / pf->rows_per);
}

void device_frame_abandon(device *d) {
    device_pending_frame *pf = &d->pending;
    if (!pf->active) return;
    /* The unsent bands count as dropped and use up their numbers, like any dropped
     * message, so the host's count of missing sequence numbers still adds up. */
    uint16_t n = bands_left(pf);
    d->stats.msgs_dropped += n;
    d->tx_seq = (uint16_t)(d->tx_seq + n);
    d->frames_abandoned++;
    pf->active = false;
}

/* Send the pending image's next bands while each fits with the reserve left over. */
static void pump_frame(device *d) {
    device_pending_frame *pf = &d->pending;
    while (pf->active) {
        size_t space = d->sink.space(d->sink.ctx);
        if (space == 0) { /* no host (port closed, DTR low): nothing will drain */
            device_frame_abandon(d);
            return;
        }
        pf->hdr.rows = (uint16_t)(pf->hdr.height - pf->hdr.y0 < pf->rows_per ? pf->hdr.height - pf->hdr.y0
                                                                             : pf->rows_per);
        uint8_t hdr[PROTO_FRAME_HDR_SIZE];
        proto_piece pieces[1 + 64];
        size_t np = band_pieces(pf, hdr, pieces);
        if (space < PROTO_COBS_MAX(proto_packet_size(pieces, np)) + frame_reserve(d)) {
            if (now_us(d) - pf->progress_us >= (uint64_t)(d->cfg.frame_stall_ms ? d->cfg.frame_stall_ms
                                                                                  : DEVICE_FRAME_STALL_MS) * 1000u)
                device_frame_abandon(d); /* the host stopped reading: give the pixels back */
            return;
        }
        if (send(d, PROTO_FRAME, pieces, np) < 0) { /* the sink failed although it had room */
            device_frame_abandon(d);
            return;
        }
        pf->progress_us = now_us(d);
        pf->hdr.y0 = (uint16_t)(pf->hdr.y0 + pf->hdr.rows);
        if (pf->hdr.y0 >= pf->hdr.height) pf->active = false;
    }
}

/* Start sending an image in row bands of at most frame_band_bytes pixels each; what does
 * not fit now goes out from device_poll(). A frame still unfinished is given up first. */
static void start_frame(device *d, const device_frame *f) {
    device_frame_abandon(d); /* before the downscale below overwrites d->small */
    const uint8_t *pix = f->pixels;
    uint16_t w = f->width, h = f->height, stride = f->stride ? f->stride : f->width, scale = 1;
    uint8_t flags = f->flags;
    bool caller_pixels = true;
    if (d->stream.flags & PROTO_STREAM_FLAG_FULLRES) {
        flags |= PROTO_FLAG_FULLRES;
    } else {
        uint16_t longest = w > h ? w : h;
        if (longest > d->stream.max_side) {
            downscale(f->pixels, w, h, stride, d->stream.max_side, d->small, &w, &h, &scale);
            pix = d->small;
            stride = w;
            caller_pixels = false;
        } else {
            flags |= PROTO_FLAG_FULLRES;
        }
    }
    size_t band = d->cfg.frame_band_bytes ? d->cfg.frame_band_bytes : DEFAULT_BAND_BYTES;
    /* rows a band holds, 1..h: computed in size_t, a band larger than the image is one band */
    size_t rows = band / w;
    if (rows < 1) rows = 1;
    if (rows > h) rows = h;
    if (stride != w && rows > 64) rows = 64; /* one piece per row then */
    uint16_t rows_per = (uint16_t)rows;
    d->pending = (device_pending_frame){
        .active = true,
        .caller_pixels = caller_pixels,
        .pix = pix,
        .stride = stride,
        .rows_per = rows_per,
        .hdr = {f->frame_id, w, h, 0, 0, f->width, f->height, PROTO_FRAME_FMT_GRAY8, flags, scale},
        .progress_us = now_us(d),
    };
    pump_frame(d);
}

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
    send(d, PROTO_STAGE, pieces, np);
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
    send1(d, PROTO_CANDIDATES, buf, proto_pack_candidates(buf, &c));
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
    uint64_t t0 = now_us(d);
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
        start_frame(d, f);
    if ((mask & PROTO_STREAM_STAGE) && f->stages) send_stages(d, f);
    if ((mask & PROTO_STREAM_INPUT28) || injected) {
        uint8_t hdr[5];
        proto_pack_input28_hdr(hdr, f->frame_id, f->flags);
        proto_piece pieces[2] = {{hdr, sizeof hdr}, {f->in28, 784}};
        send(d, PROTO_INPUT28, pieces, 2);
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
        send1(d, PROTO_RESULT, buf, proto_pack_result(buf, &r));
    }
    if (!injected) {
        d->frames_published++;
        if ((mask & PROTO_STREAM_STATS) && d->frames_published % d->stream.stats_every == 0) send_stats(d);
    }
    d->last_send_us = (uint32_t)(now_us(d) - t0);
}

int device_process(device *d, uint32_t frame_id, uint8_t flags, const uint8_t *pixels, uint16_t width,
                   uint16_t height, uint16_t stride, uint32_t t_capture_us) {
    static pp_stages stages; /* big: keep it off the stack */
    uint8_t *in28 = d->in28;
    uint64_t t0 = now_us(d);
    int rc = d->hooks.preprocess ? d->hooks.preprocess(d->hooks.ctx, pixels, width, height, stride, &d->params, in28,
                                                       &stages)
                                 : pp_run(pixels, width, height, stride, &d->params, in28, &stages);
    if (rc < 0) return rc;
    uint64_t t1 = now_us(d);
    classifier_result res;
    classifier_run(in28, &res);
    classifier_set_status(&res, rc, d->params.min_score_pct);
    uint64_t t2 = now_us(d);
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

void device_params_copy(const device *d, pp_params *out) { *out = d->params; }

void device_init(device *d, const device_config *cfg, const device_sink *sink, const device_hooks *hooks) {
    memset(d, 0, sizeof *d);
    d->cfg = *cfg;
    d->sink = *sink;
    d->hooks = *hooks;
    proto_decoder_init(&d->rx, cfg->rx_buf, cfg->rx_cap);
    pp_default_params(&d->params);
    d->stream = (proto_stream_opts){DEVICE_DEFAULT_STREAM_MASK, 1, 0, DEVICE_DEFAULT_MAX_SIDE, 10};
    d->camera = (proto_camera_opts){PROTO_CAM_AUTO_EXPOSURE, 0, 0x0100, 256, PROTO_CAM_MODE_KEEP};
}

/* The device side of the USB protocol: sending, command dispatch, HELLO/LOG/STATS.
 *
 * Every message goes through device_send(): it asks the sink for room for the whole
 * encoded message first and drops it (counting the drop) otherwise, so a host
 * that stops reading never stalls the camera or the network. Sequence numbers
 * are taken by dropped messages too, so the host's count of missing sequence
 * numbers equals device drops plus link losses.
 *
 * The FRAME band sender is device_frame.c, the per-frame pipeline step device_publish.c;
 * device_internal.h is what the three share.
 */
#include "device.h"
#include "device_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

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

uint64_t device_now_us(const device *d) { return d->hooks.now_us(d->hooks.ctx); }

int device_send(device *d, uint8_t type, const proto_piece *pieces, size_t npieces) {
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

int device_send1(device *d, uint8_t type, const uint8_t *payload, size_t len) {
    proto_piece p = {payload, len};
    return device_send(d, type, &p, 1);
}

static void refresh_uptime(device *d) { d->stats.uptime_ms = (uint32_t)(device_now_us(d) / 1000u); }

void device_send_error(device *d, uint16_t code, uint8_t cmd_type, uint16_t cmd_seq, const char *text) {
    uint8_t buf[PROTO_ERROR_HDR_SIZE + PROTO_MAX_TEXT];
    device_send1(d, PROTO_ERROR, buf, proto_pack_error(buf, code, cmd_type, cmd_seq, text));
}

void device_send_hello(device *d) {
    uint8_t buf[PROTO_HELLO_MAX_SIZE];
    proto_hello h = {
        .model_kind = MODEL_KIND,
        .capture_width = d->cfg.capture_width,
        .capture_height = d->cfg.capture_height,
        .params_size = PP_PARAMS_SIZE,
        .max_command_bytes = (uint32_t)(d->cfg.rx_cap < PROTO_MAX_PACKET ? d->cfg.rx_cap : PROTO_MAX_PACKET),
        .uptime_ms = (uint32_t)(device_now_us(d) / 1000u),
        .weights_hash = classifier_weights_sha256(),
        .camera_mode = d->cam.mode,
        .params_version = PP_PARAMS_VERSION,
        .firmware_version = d->cfg.firmware_version,
        .model_name = classifier_model_name(),
        .build_info = d->cfg.build_info,
    };
    d->last_hello_us = device_now_us(d);
    device_send1(d, PROTO_HELLO, buf, proto_pack_hello(buf, &h));
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
    device_send1(d, PROTO_LOG, buf, proto_pack_log(buf, level, text));
}

static void send_ack(device *d, uint8_t type, uint16_t seq) {
    uint8_t buf[PROTO_ACK_SIZE];
    device_send1(d, PROTO_ACK, buf, proto_pack_ack(buf, type, seq));
}

static void send_params(device *d) {
    uint8_t buf[PP_PARAMS_SIZE];
    pp_params_pack(&d->params, buf);
    device_send1(d, PROTO_PARAMS, buf, sizeof buf);
}

static void send_stream(device *d) {
    uint8_t buf[PROTO_SET_STREAM_SIZE];
    device_send1(d, PROTO_STREAM, buf, proto_pack_stream(buf, &d->stream));
}

static void send_camera(device *d) {
    uint8_t buf[PROTO_SET_CAMERA_SIZE];
    proto_camera_opts o = d->camera;
    o.mode = d->cam.mode; /* CAMERA says the mode running, not the one asked for */
    device_send1(d, PROTO_CAMERA, buf, proto_pack_camera(buf, &o));
}

void device_send_stats(device *d) {
    uint8_t buf[PROTO_STATS_SIZE];
    refresh_uptime(d);
    d->stats.cam_frames = d->cam.frames;
    d->stats.cam_vsync_early = d->cam.vsync_early;
    d->stats.cam_short_frames = d->cam.short_frames;
    d->stats.cam_timeouts = d->cam.timeouts;
    d->stats.cam_fallbacks = d->cam.fallbacks;
    d->stats.cam_mode = d->cam.mode;
    device_send1(d, PROTO_STATS, buf, proto_pack_stats(buf, &d->stats));
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
    device_send1(d, PROTO_PONG, buf, proto_pack_pong(buf, ping.nonce, (uint32_t)(device_now_us(d) / 1000u)));
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

static void cmd_blob(device *d, const proto_packet *pkt) {
    if (!d->hooks.blob_command) {
        reject(d, PROTO_ERR_UNSUPPORTED, pkt, "no model store on this build (upload needs a flash region)");
        return;
    }
    uint8_t status[PROTO_BLOB_STATUS_SIZE];
    int changed = d->hooks.blob_command(d->hooks.ctx, pkt->type, pkt->payload, pkt->len, status);
    d->stats.cmds_ok++; /* answered: BLOB_STATUS says whether the store took it */
    device_send1(d, PROTO_BLOB_STATUS, status, sizeof status);
    if (changed) {
        device_send_hello(d); /* HELLO names the model that now runs */
    }
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
    case PROTO_BLOB_BEGIN:
    case PROTO_BLOB_CHUNK:
    case PROTO_BLOB_COMMIT:
    case PROTO_BLOB_QUERY: cmd_blob(d, pkt); break;
    default: reject(d, PROTO_ERR_UNKNOWN_TYPE, pkt, "unknown command type"); break;
    }
}

static void on_rx_error(void *ctx, int code, uint8_t type, uint16_t seq) {
    device *d = ctx;
    d->stats.rx_errors++;
    /* Garbage can hold a 0x00 every other byte: answer only the first few per second so
     * a noisy line cannot crowd the real stream out of the TX buffer (all are counted). */
    uint64_t now = device_now_us(d);
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

void device_receive(device *d, const uint8_t *data, size_t len) {
    proto_decoder_feed(&d->rx, data, len, on_packet, on_rx_error, d);
}

void device_poll(device *d) {
    if (d->cfg.hello_period_ms && device_now_us(d) - d->last_hello_us >= (uint64_t)d->cfg.hello_period_ms * 1000u)
        device_send_hello(d);
    device_frame_pump(d);
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

/* USB link protocol: CRC-32, COBS and the packet encoder/decoder.
 *
 * Both directions stream: the encoder turns a list of pieces into COBS blocks
 * of at most 255 bytes written straight to the sink (no whole-packet copy, so
 * a full frame costs no extra RAM), and the decoder undoes COBS byte by byte
 * into one fixed buffer, so any garbage costs at most the packet it lands in.
 */
#include "protocol.h"

#include <string.h>

/* ---- CRC-32: 16-entry table keeps flash small; fast enough at USB FS rates. */
static const uint32_t crc_nibble[16] = {
    0x00000000u, 0x1DB71064u, 0x3B6E20C8u, 0x26D930ACu, 0x76DC4190u, 0x6B6B51F4u, 0x4DB26158u, 0x5005713Cu,
    0xEDB88320u, 0xF00F9344u, 0xD6D6A3E8u, 0xCB61B38Cu, 0x9B64C2B0u, 0x86D3D2D4u, 0xA00AE278u, 0xBDBDF21Cu,
};

uint32_t proto_crc32(uint32_t crc, const uint8_t *data, size_t len) {
    crc = ~crc;
    for (size_t i = 0; i < len; i++) {
        crc ^= data[i];
        crc = (crc >> 4) ^ crc_nibble[crc & 0x0Fu];
        crc = (crc >> 4) ^ crc_nibble[crc & 0x0Fu];
    }
    return ~crc;
}

void proto_put_f32(uint8_t *p, float v) {
    uint32_t u;
    memcpy(&u, &v, sizeof u);
    proto_put_u32(p, u);
}

float proto_get_f32(const uint8_t *p) {
    uint32_t u = proto_get_u32(p);
    float v;
    memcpy(&v, &u, sizeof v);
    return v;
}

/* ---- COBS encoder state: one block of up to 254 data bytes behind its code. */
typedef struct {
    uint8_t block[256]; /* [code][data...][optional 0x00 terminator] */
    size_t blen;        /* data bytes in block */
    proto_write_fn write;
    void *ctx;
    long written;
    uint32_t crc;
    bool failed;
} cobs_stream;

static void cobs_flush(cobs_stream *s, bool terminate) {
    s->block[0] = (uint8_t)(s->blen + 1);
    size_t n = s->blen + 1;
    if (terminate) s->block[n++] = 0x00;
    if (!s->failed && s->write(s->ctx, s->block, n) < 0) s->failed = true;
    s->written += (long)n;
    s->blen = 0;
}

/* A full block (254 bytes, code 0xFF: no implied zero) waits for the next byte: if the
 * data ends there, no empty block follows it (Cheshire & Baker's encoding, the published
 * examples). */
static void cobs_put(cobs_stream *s, const uint8_t *data, size_t len) {
    s->crc = proto_crc32(s->crc, data, len);
    for (size_t i = 0; i < len; i++) {
        if (s->blen == 254) cobs_flush(s, false);
        if (data[i] == 0) {
            cobs_flush(s, false);
        } else {
            s->block[1 + s->blen++] = data[i];
        }
    }
}

size_t proto_packet_size(const proto_piece *pieces, size_t npieces) {
    size_t n = PROTO_OVERHEAD;
    for (size_t i = 0; i < npieces; i++) n += pieces[i].len;
    return n;
}

long proto_encode(uint8_t type, uint16_t seq, const proto_piece *pieces, size_t npieces,
                  proto_write_fn write, void *ctx) {
    if (proto_packet_size(pieces, npieces) > PROTO_MAX_PACKET) return -1;
    static cobs_stream s; /* 280 bytes: static to keep the callers' stacks small; not reentrant */
    s.blen = 0;
    s.write = write;
    s.ctx = ctx;
    s.written = 0;
    s.crc = 0;
    s.failed = false;
    uint8_t hdr[PROTO_HEADER_SIZE] = {PROTOCOL_VERSION, type, 0, 0};
    proto_put_u16(hdr + 2, seq);
    cobs_put(&s, hdr, sizeof hdr);
    for (size_t i = 0; i < npieces; i++) {
        if (pieces[i].len) cobs_put(&s, pieces[i].data, pieces[i].len);
    }
    uint8_t crc[PROTO_CRC_SIZE];
    proto_put_u32(crc, s.crc);
    cobs_put(&s, crc, sizeof crc);
    cobs_flush(&s, true);
    return s.failed ? -1 : s.written;
}

typedef struct {
    uint8_t *out;
    size_t cap;
    size_t len;
} buf_sink;

static int buf_write(void *ctx, const uint8_t *data, size_t len) {
    buf_sink *b = ctx;
    if (len > b->cap - b->len) return -1;
    memcpy(b->out + b->len, data, len);
    b->len += len;
    return 0;
}

long proto_encode_buf(uint8_t type, uint16_t seq, const uint8_t *payload, size_t len, uint8_t *out, size_t cap) {
    buf_sink b = {out, cap, 0};
    proto_piece p = {payload, len};
    return proto_encode(type, seq, &p, payload ? 1 : 0, buf_write, &b);
}

size_t cobs_encode(const uint8_t *in, size_t n, uint8_t *out) {
    size_t o = 1, code_at = 0;
    uint8_t code = 1;
    for (size_t i = 0; i < n; i++) {
        if (code == 0xFF) { /* a full block, and more data: the next block starts */
            out[code_at] = code;
            code_at = o++;
            code = 1;
        }
        if (in[i] == 0) {
            out[code_at] = code;
            code_at = o++;
            code = 1;
        } else {
            out[o++] = in[i];
            code++;
        }
    }
    out[code_at] = code;
    return o;
}

long cobs_decode(const uint8_t *in, size_t n, uint8_t *out, size_t cap) {
    size_t i = 0, o = 0;
    while (i < n) {
        uint8_t code = in[i++];
        if (code == 0) return -1;
        for (uint8_t k = 1; k < code; k++) {
            if (i >= n || in[i] == 0 || o >= cap) return -1;
            out[o++] = in[i++];
        }
        if (code != 0xFF && i < n) {
            if (o >= cap) return -1;
            out[o++] = 0;
        }
    }
    return (long)o;
}

/* ---- Streaming decoder ---- */
void proto_decoder_init(proto_decoder *d, uint8_t *buf, size_t cap) {
    memset(d, 0, sizeof *d);
    d->buf = buf;
    d->cap = cap;
}

static void decoder_reset(proto_decoder *d) {
    d->len = 0;
    d->code = 0;
    d->remaining = 0;
    d->in_packet = false;
    d->bad = false;
    d->bad_code = 0;
    d->raw_len = 0;
}

static void decoder_reject(proto_decoder *d, int code, proto_error_fn on_error, void *ctx) {
    uint8_t type = d->len >= 2 ? d->buf[1] : 0;
    uint16_t seq = d->len >= 4 ? proto_get_u16(d->buf + 2) : 0;
    switch (code) {
    case PROTO_ERR_CRC: d->stats.crc_errors++; break;
    case PROTO_ERR_VERSION: d->stats.version_errors++; break;
    case PROTO_ERR_TOO_LARGE: d->stats.overflows++; type = seq = 0; break;
    default: d->stats.framing_errors++; break;
    }
    d->stats.bytes_discarded += (uint32_t)d->raw_len + 1;
    if (on_error) on_error(ctx, code, type, seq);
}

static void decoder_end(proto_decoder *d, proto_packet_fn on_packet, proto_error_fn on_error, void *ctx) {
    if (d->bad) {
        decoder_reject(d, d->bad_code, on_error, ctx);
    } else if (d->remaining != 0 || d->len < PROTO_OVERHEAD) {
        decoder_reject(d, PROTO_ERR_FRAMING, on_error, ctx);
    } else {
        size_t body = d->len - PROTO_CRC_SIZE;
        if (proto_crc32(0, d->buf, body) != proto_get_u32(d->buf + body)) {
            decoder_reject(d, PROTO_ERR_CRC, on_error, ctx);
        } else if (d->buf[0] != PROTOCOL_VERSION) {
            decoder_reject(d, PROTO_ERR_VERSION, on_error, ctx);
        } else {
            d->stats.packets++;
            proto_packet p = {d->buf[1], proto_get_u16(d->buf + 2), d->buf + PROTO_HEADER_SIZE,
                              body - PROTO_HEADER_SIZE};
            if (on_packet) on_packet(ctx, &p);
        }
    }
    decoder_reset(d);
}

static bool decoder_append(proto_decoder *d, uint8_t b) {
    if (d->len >= d->cap) {
        d->bad = true;
        d->bad_code = PROTO_ERR_TOO_LARGE;
        return false;
    }
    d->buf[d->len++] = b;
    return true;
}

void proto_decoder_feed(proto_decoder *d, const uint8_t *data, size_t n, proto_packet_fn on_packet,
                        proto_error_fn on_error, void *ctx) {
    for (size_t i = 0; i < n; i++) {
        uint8_t b = data[i];
        if (b == 0) {
            if (d->in_packet) decoder_end(d, on_packet, on_error, ctx);
            continue; /* empty packets (runs of 0x00) are allowed as sync padding */
        }
        d->in_packet = true;
        d->raw_len++;
        if (d->bad) continue;
        if (d->remaining == 0) {
            /* A code byte: the block before it ended with an implied zero unless it was full. */
            if (d->code != 0 && d->code != 0xFF && !decoder_append(d, 0)) continue;
            d->code = b;
            d->remaining = (uint8_t)(b - 1);
        } else {
            decoder_append(d, b);
            d->remaining--;
        }
    }
}

/* ---- Command parsers (host -> device) ---- */
int proto_parse_ping(const uint8_t *p, size_t n, proto_ping *out) {
    if (n != PROTO_PING_SIZE) return -PROTO_ERR_LENGTH;
    out->flags = p[0];
    out->nonce = proto_get_u32(p + 1);
    return 0;
}

int proto_parse_stream(const uint8_t *p, size_t n, proto_stream_opts *out) {
    if (n != PROTO_SET_STREAM_SIZE) return -PROTO_ERR_LENGTH;
    proto_stream_opts o = {proto_get_u16(p), p[2], p[3], proto_get_u16(p + 4), p[6]};
    if ((o.mask & ~PROTO_STREAM_ALL) || o.decimation == 0 || (o.flags & ~PROTO_STREAM_FLAG_FULLRES) ||
        o.max_side < PROTO_MIN_SMALL_SIDE || o.max_side > PROTO_MAX_SMALL_SIDE || o.stats_every == 0 || p[7] != 0)
        return -PROTO_ERR_VALUE;
    *out = o;
    return 0;
}

int proto_parse_camera(const uint8_t *p, size_t n, proto_camera_opts *out) {
    if (n != PROTO_SET_CAMERA_SIZE) return -PROTO_ERR_LENGTH;
    proto_camera_opts o = {p[0], p[1], proto_get_u16(p + 2), proto_get_u16(p + 4), p[6]};
    if ((o.flags & ~(PROTO_CAM_MIRROR | PROTO_CAM_FLIP | PROTO_CAM_AUTO_EXPOSURE)) || o.analog_gain > 3 ||
        o.exposure == 0 || o.digital_gain_q8 < 256 || o.digital_gain_q8 > 1023 || o.mode > PROTO_CAM_MODE_FULL ||
        p[7] != 0)
        return -PROTO_ERR_VALUE;
    *out = o;
    return 0;
}

int proto_parse_inject(const uint8_t *p, size_t n, proto_inject *out) {
    if (n < PROTO_INJECT_HDR_SIZE) return -PROTO_ERR_LENGTH;
    uint16_t w = proto_get_u16(p), h = proto_get_u16(p + 2);
    if (w == 0 || h == 0) return -PROTO_ERR_VALUE;
    if (n - PROTO_INJECT_HDR_SIZE != (size_t)w * h) return -PROTO_ERR_LENGTH;
    out->width = w;
    out->height = h;
    out->pixels = p + PROTO_INJECT_HDR_SIZE;
    return 0;
}

/* ---- Packers (device -> host) ---- */
static size_t put_pstr(uint8_t *out, const char *s) {
    size_t n = s ? strlen(s) : 0;
    if (n > PROTO_MAX_PSTR) n = PROTO_MAX_PSTR;
    out[0] = (uint8_t)n;
    if (n) memcpy(out + 1, s, n);
    return n + 1;
}

size_t proto_pack_hello(uint8_t out[PROTO_HELLO_MAX_SIZE], const proto_hello *h) {
    memset(out, 0, PROTO_HELLO_HDR_SIZE);
    out[0] = PROTOCOL_VERSION;
    out[1] = h->model_kind;
    proto_put_u16(out + 2, h->capture_width);
    proto_put_u16(out + 4, h->capture_height);
    proto_put_u16(out + 6, h->params_size);
    proto_put_u32(out + 8, h->max_command_bytes);
    proto_put_u32(out + 12, h->uptime_ms);
    for (size_t i = 0; i < 16 && h->weights_hash && h->weights_hash[i]; i++) out[16 + i] = (uint8_t)h->weights_hash[i];
    out[32] = h->camera_mode;
    out[33] = h->params_version;
    size_t n = PROTO_HELLO_HDR_SIZE;
    n += put_pstr(out + n, h->firmware_version);
    n += put_pstr(out + n, h->model_name);
    n += put_pstr(out + n, h->build_info);
    return n;
}

size_t proto_pack_frame_hdr(uint8_t out[PROTO_FRAME_HDR_SIZE], const proto_frame_hdr *f) {
    proto_put_u32(out, f->frame_id);
    proto_put_u16(out + 4, f->width);
    proto_put_u16(out + 6, f->height);
    proto_put_u16(out + 8, f->y0);
    proto_put_u16(out + 10, f->rows);
    proto_put_u16(out + 12, f->src_width);
    proto_put_u16(out + 14, f->src_height);
    out[16] = f->format;
    out[17] = f->flags;
    proto_put_u16(out + 18, f->scale);
    return PROTO_FRAME_HDR_SIZE;
}

size_t proto_pack_input28_hdr(uint8_t out[5], uint32_t frame_id, uint8_t flags) {
    proto_put_u32(out, frame_id);
    out[4] = flags;
    return 5;
}

size_t proto_pack_stage_hdr(uint8_t out[PROTO_STAGE_HDR_SIZE], const proto_stage_hdr *s) {
    proto_put_u32(out, s->frame_id);
    out[4] = s->stage_id;
    out[5] = s->flags;
    proto_put_u16(out + 6, s->width);
    proto_put_u16(out + 8, s->height);
    for (int i = 0; i < 4; i++) proto_put_u16(out + 10 + 2 * i, s->bbox[i]);
    out[18] = s->value;
    out[19] = 0;
    for (int i = 0; i < 4; i++) proto_put_u16(out + 20 + 2 * i, s->roi[i]);
    return PROTO_STAGE_HDR_SIZE;
}

size_t proto_pack_result(uint8_t out[PROTO_RESULT_SIZE], const proto_result *r) {
    proto_put_u32(out, r->frame_id);
    out[4] = r->argmax;
    out[5] = r->model_kind;
    out[6] = r->flags;
    out[7] = r->status;
    proto_put_f32(out + 8, r->score);
    for (int i = 0; i < 10; i++) proto_put_f32(out + 12 + 4 * i, r->logits[i]);
    proto_put_u32(out + 52, r->t_capture_us);
    proto_put_u32(out + 56, r->t_preprocess_us);
    proto_put_u32(out + 60, r->t_net_us);
    proto_put_u32(out + 64, r->t_send_us);
    proto_put_u32(out + 68, r->fps_x100);
    out[72] = r->polarity;
    out[73] = r->min_score_pct;
    proto_put_u16(out + 74, 0);
    return PROTO_RESULT_SIZE;
}

size_t proto_pack_stats(uint8_t out[PROTO_STATS_SIZE], const proto_stats *s) {
    const uint32_t v[PROTO_STATS_SIZE / 4] = {
        s->uptime_ms,   s->frames,        s->msgs_sent,        s->msgs_dropped, s->bytes_sent,
        s->camera_errors, s->cmds_ok,     s->cmds_rejected,    s->rx_errors,    s->frames_skipped,
        s->cam_frames,  s->cam_vsync_early, s->cam_short_frames, s->cam_timeouts, s->cam_fallbacks,
        s->cam_mode};
    for (size_t i = 0; i < PROTO_STATS_SIZE / 4; i++) proto_put_u32(out + 4 * i, v[i]);
    return PROTO_STATS_SIZE;
}

size_t proto_pack_candidates(uint8_t out[PROTO_CANDIDATES_MAX_SIZE], const proto_candidates *c) {
    uint8_t count = c->count < PROTO_MAX_CANDIDATES ? c->count : PROTO_MAX_CANDIDATES;
    proto_put_u32(out, c->frame_id);
    out[4] = c->flags;
    out[5] = count;
    out[6] = (uint8_t)c->chosen;
    out[7] = c->no_digit;
    out[8] = c->n_components;
    out[9] = c->work_w;
    out[10] = c->work_h;
    out[11] = 0;
    uint8_t *p = out + PROTO_CANDIDATES_HDR_SIZE;
    for (uint8_t i = 0; i < count; i++, p += PROTO_CANDIDATE_SIZE) {
        const proto_candidate *e = &c->cand[i];
        p[0] = e->x;
        p[1] = e->y;
        p[2] = e->w;
        p[3] = e->h;
        p[4] = e->reason;
        p[5] = e->score;
        proto_put_u16(p + 6, e->mass);
    }
    return (size_t)(p - out);
}

size_t proto_pack_stream(uint8_t out[PROTO_SET_STREAM_SIZE], const proto_stream_opts *o) {
    proto_put_u16(out, o->mask);
    out[2] = o->decimation;
    out[3] = o->flags;
    proto_put_u16(out + 4, o->max_side);
    out[6] = o->stats_every;
    out[7] = 0;
    return PROTO_SET_STREAM_SIZE;
}

size_t proto_pack_camera(uint8_t out[PROTO_SET_CAMERA_SIZE], const proto_camera_opts *o) {
    out[0] = o->flags;
    out[1] = o->analog_gain;
    proto_put_u16(out + 2, o->exposure);
    proto_put_u16(out + 4, o->digital_gain_q8);
    out[6] = o->mode;
    out[7] = 0;
    return PROTO_SET_CAMERA_SIZE;
}

size_t proto_pack_pong(uint8_t out[PROTO_PONG_SIZE], uint32_t nonce, uint32_t uptime_ms) {
    proto_put_u32(out, nonce);
    proto_put_u32(out + 4, uptime_ms);
    return PROTO_PONG_SIZE;
}

size_t proto_pack_ack(uint8_t out[PROTO_ACK_SIZE], uint8_t cmd_type, uint16_t cmd_seq) {
    out[0] = cmd_type;
    proto_put_u16(out + 1, cmd_seq);
    return PROTO_ACK_SIZE;
}

/* Copy at most PROTO_MAX_TEXT bytes without splitting a UTF-8 sequence. */
static size_t put_text(uint8_t *out, const char *text) {
    size_t n = text ? strlen(text) : 0;
    if (n > PROTO_MAX_TEXT) {
        n = PROTO_MAX_TEXT;
        while (n > 0 && ((uint8_t)text[n] & 0xC0u) == 0x80u) n--;
    }
    if (n) memcpy(out, text, n);
    return n;
}

size_t proto_pack_error(uint8_t out[PROTO_ERROR_HDR_SIZE + PROTO_MAX_TEXT], uint16_t code, uint8_t cmd_type,
                        uint16_t cmd_seq, const char *text) {
    proto_put_u16(out, code);
    out[2] = cmd_type;
    proto_put_u16(out + 3, cmd_seq);
    return PROTO_ERROR_HDR_SIZE + put_text(out + PROTO_ERROR_HDR_SIZE, text);
}

size_t proto_pack_log(uint8_t out[PROTO_LOG_HDR_SIZE + PROTO_MAX_TEXT], uint8_t level, const char *text) {
    out[0] = level;
    return PROTO_LOG_HDR_SIZE + put_text(out + 1, text);
}

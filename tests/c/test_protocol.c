/* Host unit tests of core/protocol.c and core/device.c, run under ASan + UBSan by
 * tests/test_protocol_c.py. Each CHECK that fails prints its line; exit 1 if any did. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "device.h"
#include "protocol.h"

#include "check.h"

static uint32_t rng = 12345;
static uint32_t rnd(void) {
    rng ^= rng << 13;
    rng ^= rng >> 17;
    rng ^= rng << 5;
    return rng;
}

/* ---- a recording sink ---- */
typedef struct {
    uint8_t buf[1 << 20];
    size_t len;
    size_t space; /* what space() reports */
    int writes;
} mem_sink;

static int mem_write(void *ctx, const uint8_t *data, size_t len) {
    mem_sink *s = ctx;
    if (len > sizeof s->buf - s->len) return -1;
    memcpy(s->buf + s->len, data, len);
    s->len += len;
    s->writes++;
    return 0;
}
static size_t mem_space(void *ctx) { return ((mem_sink *)ctx)->space; }

/* ---- collecting decoded packets ---- */
typedef struct {
    int count;
    uint8_t types[4096];
    uint16_t seqs[4096];
    size_t lens[4096];
    uint8_t last[PROTO_MAX_PACKET];
    size_t last_len;
    int errors[16];
} collected;

static void collect(void *ctx, const proto_packet *p) {
    collected *c = ctx;
    if (c->count < 4096) {
        c->types[c->count] = p->type;
        c->seqs[c->count] = p->seq;
        c->lens[c->count] = p->len;
    }
    c->count++;
    memcpy(c->last, p->payload, p->len);
    c->last_len = p->len;
}
static void collect_err(void *ctx, int code, uint8_t type, uint16_t seq) {
    (void)type;
    (void)seq;
    collected *c = ctx;
    if (code >= 0 && code < 16) c->errors[code]++;
}

static uint8_t dec_buf[PROTO_MAX_PACKET];
static collected col;
static mem_sink sink;

static void decode(const uint8_t *data, size_t n) {
    proto_decoder d;
    proto_decoder_init(&d, dec_buf, sizeof dec_buf);
    memset(&col, 0, sizeof col);
    proto_decoder_feed(&d, data, n, collect, collect_err, &col);
}

static void test_crc(void) {
    CHECK(proto_crc32(0, (const uint8_t *)"123456789", 9) == 0xCBF43926u);
    CHECK(proto_crc32(0, NULL, 0) == 0);
    /* chaining = one pass */
    CHECK(proto_crc32(proto_crc32(0, (const uint8_t *)"1234", 4), (const uint8_t *)"56789", 5) == 0xCBF43926u);
}

static void test_cobs(void) {
    static uint8_t in[2000], enc[2100], out[2000];
    const size_t sizes[] = {0, 1, 2, 253, 254, 255, 256, 507, 508, 509, 1000, 2000};
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        for (int pattern = 0; pattern < 4; pattern++) {
            size_t n = sizes[k];
            for (size_t i = 0; i < n; i++)
                in[i] = pattern == 0 ? 0 : pattern == 1 ? 0xAB : pattern == 2 ? (uint8_t)rnd() : (uint8_t)(i % 7 ? i : 0);
            size_t e = cobs_encode(in, n, enc);
            CHECK(e <= PROTO_COBS_MAX(n) - 1);
            CHECK(memchr(enc, 0, e) == NULL);
            long d = cobs_decode(enc, e, out, sizeof out);
            CHECK(d == (long)n);
            CHECK(n == 0 || memcmp(in, out, n) == 0);
        }
    }
    uint8_t bad[] = {3, 1};
    CHECK(cobs_decode(bad, 2, out, sizeof out) == -1); /* block runs past the end */
    uint8_t zero[] = {2, 0};
    CHECK(cobs_decode(zero, 2, out, sizeof out) == -1);
    uint8_t ok[] = {3, 1, 2};
    CHECK(cobs_decode(ok, 3, out, 1) == -1); /* cap */
}

/* The packet encoders (pieces, buffer) and the decoder agree with flat COBS. */
static void test_packets(void) {
    static uint8_t payload[PROTO_MAX_PAYLOAD + 10], wire[PROTO_COBS_MAX(PROTO_MAX_PACKET) + 10];
    static uint8_t flat[PROTO_MAX_PACKET], flat_enc[PROTO_COBS_MAX(PROTO_MAX_PACKET)];
    const size_t sizes[] = {0, 1, 246, 247, 250, 1000, 104976 + 20, PROTO_MAX_PAYLOAD};
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        size_t n = sizes[k];
        for (size_t i = 0; i < n; i++) payload[i] = (uint8_t)(rnd() % 3 ? rnd() : 0);
        long w = proto_encode_buf(PROTO_FRAME, (uint16_t)(k * 1000), payload, n, wire, sizeof wire);
        CHECK(w > 0 && (size_t)w <= PROTO_COBS_MAX(n + PROTO_OVERHEAD));
        CHECK(wire[w - 1] == 0 && memchr(wire, 0, (size_t)w - 1) == NULL);
        /* same as building the flat packet and COBS-encoding it */
        flat[0] = PROTOCOL_VERSION;
        flat[1] = PROTO_FRAME;
        proto_put_u16(flat + 2, (uint16_t)(k * 1000));
        memcpy(flat + 4, payload, n);
        proto_put_u32(flat + 4 + n, proto_crc32(0, flat, 4 + n));
        size_t fe = cobs_encode(flat, n + PROTO_OVERHEAD, flat_enc);
        CHECK((size_t)w == fe + 1 && memcmp(wire, flat_enc, fe) == 0);
        decode(wire, (size_t)w);
        CHECK(col.count == 1 && col.types[0] == PROTO_FRAME && col.seqs[0] == (uint16_t)(k * 1000));
        CHECK(col.last_len == n && memcmp(col.last, payload, n) == 0);
    }
    CHECK(proto_encode_buf(PROTO_FRAME, 0, payload, PROTO_MAX_PAYLOAD + 1, wire, sizeof wire) == -1);
    CHECK(proto_encode_buf(PROTO_PING, 0, payload, 100, wire, 50) == -1); /* buffer too small */
}

static void test_decoder_errors(void) {
    static uint8_t wire[8192];
    uint8_t pl[5] = {1, 2, 3, 4, 5};
    size_t n = 0;
    /* garbage without a terminator, then a terminator, then 3 good packets */
    memcpy(wire, "garbage!", 8);
    n = 8;
    wire[n++] = 0;
    for (int i = 0; i < 3; i++) n += (size_t)proto_encode_buf(PROTO_PING, (uint16_t)i, pl, 5, wire + n, 100);
    decode(wire, n);
    CHECK(col.count == 3 && col.errors[PROTO_ERR_FRAMING] + col.errors[PROTO_ERR_CRC] == 1);

    /* a flipped bit is a CRC (or framing) error and the next packet still decodes */
    n = (size_t)proto_encode_buf(PROTO_PING, 7, pl, 5, wire, 100);
    size_t first = n;
    n += (size_t)proto_encode_buf(PROTO_PING, 8, pl, 5, wire + n, 100);
    for (size_t bit = 0; bit < (first - 1) * 8; bit++) {
        static uint8_t copy[256];
        memcpy(copy, wire, n);
        copy[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        decode(copy, n);
        CHECK(col.count >= 1 && col.seqs[col.count - 1] == 8);
        int errs = 0;
        for (int e = 0; e < 16; e++) errs += col.errors[e];
        CHECK(errs >= 1 || col.count == 2); /* the flip was caught, unless it only split a packet */
        CHECK(col.count <= 2);
    }
    /* truncation: every prefix of a packet followed by a good packet */
    for (size_t cut = 0; cut < first - 1; cut++) {
        static uint8_t copy[256];
        memcpy(copy, wire, cut);
        size_t m = cut;
        copy[m++] = 0;
        m += (size_t)proto_encode_buf(PROTO_PING, 9, pl, 5, copy + m, 100);
        decode(copy, m);
        CHECK(col.count == 1 && col.seqs[0] == 9);
    }
    /* wrong version with a valid CRC */
    uint8_t pkt[12] = {PROTOCOL_VERSION + 1, PROTO_PING, 0, 0, 1, 2, 3, 4};
    proto_put_u32(pkt + 8, proto_crc32(0, pkt, 8));
    size_t e = cobs_encode(pkt, 12, wire);
    wire[e++] = 0;
    decode(wire, e);
    CHECK(col.count == 0 && col.errors[PROTO_ERR_VERSION] == 1);
    /* overflow: a small buffer, a big packet, then a small one */
    static uint8_t big[3000];
    memset(big, 0x55, sizeof big);
    n = (size_t)proto_encode_buf(PROTO_INJECT, 1, big, sizeof big, wire, sizeof wire);
    n += (size_t)proto_encode_buf(PROTO_PING, 2, pl, 5, wire + n, 100);
    uint8_t small[64];
    proto_decoder d;
    proto_decoder_init(&d, small, sizeof small);
    memset(&col, 0, sizeof col);
    proto_decoder_feed(&d, wire, n, collect, collect_err, &col);
    CHECK(col.count == 1 && col.seqs[0] == 2 && col.errors[PROTO_ERR_TOO_LARGE] == 1 && d.stats.overflows == 1);
    /* byte-at-a-time feeding gives the same */
    proto_decoder_init(&d, dec_buf, sizeof dec_buf);
    memset(&col, 0, sizeof col);
    for (size_t i = 0; i < n; i++) proto_decoder_feed(&d, wire + i, 1, collect, NULL, &col);
    CHECK(col.count == 2 && d.stats.packets == 2);
}

static void test_parsers(void) {
    uint8_t b[16] = {0};
    proto_stream_opts so;
    proto_put_u16(b, 0x3F);
    b[2] = 2;
    b[3] = 1;
    proto_put_u16(b + 4, 81);
    b[6] = 5;
    CHECK(proto_parse_stream(b, 8, &so) == 0 && so.mask == 0x3F && so.decimation == 2 && so.max_side == 81);
    CHECK(proto_parse_stream(b, 7, &so) == -PROTO_ERR_LENGTH);
    b[2] = 0;
    CHECK(proto_parse_stream(b, 8, &so) == -PROTO_ERR_VALUE);
    b[2] = 1;
    proto_put_u16(b + 4, 129);
    CHECK(proto_parse_stream(b, 8, &so) == -PROTO_ERR_VALUE);
    proto_put_u16(b + 4, 81);
    b[7] = 1;
    CHECK(proto_parse_stream(b, 8, &so) == -PROTO_ERR_VALUE);

    proto_camera_opts co;
    uint8_t c[8] = {PROTO_CAM_MIRROR, 2, 0x00, 0x01, 0x00, 0x01, 0, 0};
    CHECK(proto_parse_camera(c, 8, &co) == 0 && co.analog_gain == 2 && co.exposure == 256 && co.digital_gain_q8 == 256);
    c[1] = 4;
    CHECK(proto_parse_camera(c, 8, &co) == -PROTO_ERR_VALUE);

    proto_inject in;
    uint8_t i1[4 + 6] = {3, 0, 2, 0};
    CHECK(proto_parse_inject(i1, 10, &in) == 0 && in.width == 3 && in.height == 2 && in.pixels == i1 + 4);
    CHECK(proto_parse_inject(i1, 9, &in) == -PROTO_ERR_LENGTH);
    CHECK(proto_parse_inject(i1, 3, &in) == -PROTO_ERR_LENGTH);
    uint8_t i0[4] = {0, 0, 5, 0};
    CHECK(proto_parse_inject(i0, 4, &in) == -PROTO_ERR_VALUE);

    /* text is cut on a UTF-8 boundary */
    char text[400];
    memset(text, 'a', sizeof text);
    text[199] = (char)0xC3; /* a 2-byte character straddling the limit */
    text[200] = (char)0xA9;
    text[399] = 0;
    uint8_t out[PROTO_LOG_HDR_SIZE + PROTO_MAX_TEXT];
    CHECK(proto_pack_log(out, 1, text) == 1 + 199);
}

/* ---- device logic against a recording sink ---- */
static uint64_t fake_now;
static uint64_t now_fn(void *ctx) {
    (void)ctx;
    return fake_now += 1000;
}
static int camera_calls;
static int camera_fn(void *ctx, const proto_camera_opts *o) {
    (void)ctx;
    camera_calls++;
    return o->exposure == 0xFFFF ? -1 : 0;
}

static uint8_t dev_rx[PROTO_MAX_PACKET];
static device dev;
static uint16_t host_seq;

static void dev_setup(void) {
    device_config cfg = {"test-fw", "unit test", 324, 324, dev_rx, sizeof dev_rx, 0, 0};
    device_sink s = {mem_write, mem_space, &sink};
    device_hooks h = {.now_us = now_fn, .set_camera = camera_fn};
    sink.len = 0;
    sink.space = SIZE_MAX;
    device_init(&dev, &cfg, &s, &h);
}

static void send_cmd(uint8_t type, const uint8_t *payload, size_t len) {
    static uint8_t wire[PROTO_COBS_MAX(PROTO_MAX_PACKET)];
    long n = proto_encode_buf(type, host_seq++, payload, len, wire, sizeof wire);
    sink.len = 0;
    device_receive(&dev, wire, (size_t)n);
    decode(sink.buf, sink.len);
}

static void test_device_commands(void) {
    dev_setup();
    uint8_t ping[5] = {PROTO_PING_WANT_HELLO, 0x78, 0x56, 0x34, 0x12};
    send_cmd(PROTO_PING, ping, 5);
    CHECK(col.count == 2 && col.types[0] == PROTO_PONG && col.types[1] == PROTO_HELLO);
    send_cmd(PROTO_PING, ping, 4);
    CHECK(col.count == 1 && col.types[0] == PROTO_ERROR && proto_get_u16(col.last) == PROTO_ERR_LENGTH &&
          col.last[2] == PROTO_PING);
    send_cmd(0x42, NULL, 0);
    CHECK(col.count == 1 && col.types[0] == PROTO_ERROR && proto_get_u16(col.last) == PROTO_ERR_UNKNOWN_TYPE);
    send_cmd(PROTO_HELLO, NULL, 0); /* a device->host type sent to the device */
    CHECK(col.count == 1 && col.types[0] == PROTO_ERROR);

    send_cmd(PROTO_GET_PARAMS, NULL, 0);
    CHECK(col.count == 3 && col.types[0] == PROTO_PARAMS && col.lens[0] == PP_PARAMS_SIZE &&
          col.types[1] == PROTO_STREAM && col.types[2] == PROTO_CAMERA);
    /* SET_PARAMS: the defaults with threshold 40 are accepted and echoed */
    pp_params p;
    pp_default_params(&p);
    p.threshold_pct = 40;
    uint8_t pb[PP_PARAMS_SIZE];
    pp_params_pack(&p, pb);
    uint32_t gen = device_params_generation(&dev);
    send_cmd(PROTO_SET_PARAMS, pb, sizeof pb);
    CHECK(col.count == 2 && col.types[0] == PROTO_ACK && col.types[1] == PROTO_PARAMS);
    CHECK(memcmp(col.last, pb, sizeof pb) == 0 && device_params_generation(&dev) == gen + 1);
    p.box_size = 200; /* out of range */
    pp_params_pack(&p, pb);
    send_cmd(PROTO_SET_PARAMS, pb, sizeof pb);
    CHECK(col.count == 1 && col.types[0] == PROTO_ERROR && proto_get_u16(col.last) == PROTO_ERR_VALUE);
    send_cmd(PROTO_SET_PARAMS, pb, 3);
    CHECK(col.count == 1 && proto_get_u16(col.last) == PROTO_ERR_LENGTH);

    uint8_t so[8];
    proto_stream_opts o = {PROTO_STREAM_RESULT, 1, 0, 64, 1};
    proto_pack_stream(so, &o);
    send_cmd(PROTO_SET_STREAM, so, 8);
    CHECK(col.count == 2 && col.types[0] == PROTO_ACK && device_stream_opts(&dev)->mask == PROTO_STREAM_RESULT);

    proto_camera_opts cam = {PROTO_CAM_FLIP, 1, 500, 300, PROTO_CAM_MODE_KEEP};
    uint8_t cb[8];
    proto_pack_camera(cb, &cam);
    send_cmd(PROTO_SET_CAMERA, cb, 8);
    CHECK(col.count == 2 && col.types[1] == PROTO_CAMERA && camera_calls == 1);
    cam.exposure = 0xFFFF; /* the fake camera refuses it */
    proto_pack_camera(cb, &cam);
    send_cmd(PROTO_SET_CAMERA, cb, 8);
    CHECK(col.count == 1 && proto_get_u16(col.last) == PROTO_ERR_CAMERA);

    /* garbage gets an ERROR and the device keeps answering */
    sink.len = 0;
    device_receive(&dev, (const uint8_t *)"\x11\x22\x33 garbage\x00", 13);
    decode(sink.buf, sink.len);
    CHECK(col.count == 1 && col.types[0] == PROTO_ERROR);
    send_cmd(PROTO_PING, ping, 5);
    CHECK(col.types[0] == PROTO_PONG);
    CHECK(device_stats(&dev)->cmds_rejected >= 6 && device_stats(&dev)->rx_errors == 1);

    /* a flood of runts: all counted, at most DEVICE_RX_ERRORS_PER_S answered per second */
    fake_now += 2000000; /* a fresh rate-limit window */
    static uint8_t runts[200];
    for (int i = 0; i < 200; i++) runts[i] = (uint8_t)(i % 2 ? 0x00 : 0x01);
    sink.len = 0;
    device_receive(&dev, runts, sizeof runts);
    decode(sink.buf, sink.len);
    CHECK(col.count == DEVICE_RX_ERRORS_PER_S && device_stats(&dev)->rx_errors == 101);
}

static void make_frame(uint8_t *f, int w, int h) {
    /* a dark bar (a "1") on bright paper */
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) f[y * w + x] = (x > w / 2 - w / 20 && x < w / 2 + w / 20 && y > h / 4 && y < 3 * h / 4)
                                                       ? 40 : (uint8_t)(200 + (x + y) % 7);
}

static void test_device_frames(void) {
    static uint8_t frame[324 * 324];
    make_frame(frame, 324, 324);
    dev_setup();
    /* default stream: FRAME 81x81 + INPUT28 + RESULT, STATS every 10th */
    for (int i = 0; i < 10; i++) {
        sink.len = 0;
        CHECK(device_process(&dev, (uint32_t)i + 1, 0, frame, 324, 324, 324, 100) >= 0);
        decode(sink.buf, sink.len);
    }
    CHECK(col.count == 4 && col.types[0] == PROTO_FRAME && col.types[1] == PROTO_INPUT28 &&
          col.types[2] == PROTO_RESULT && col.types[3] == PROTO_STATS);
    CHECK(col.lens[0] == PROTO_FRAME_HDR_SIZE + 81 * 81 && col.lens[1] == PROTO_INPUT28_SIZE);
    CHECK(col.last_len == PROTO_STATS_SIZE && proto_get_u32(col.last + 4) == 10); /* frames */

    /* full resolution: row bands of <= 8192 pixels that cover the frame */
    uint8_t so[8];
    proto_stream_opts o = {PROTO_STREAM_FRAME | PROTO_STREAM_STAGE, 1, PROTO_STREAM_FLAG_FULLRES, 81, 10};
    proto_pack_stream(so, &o);
    send_cmd(PROTO_SET_STREAM, so, 8);
    sink.len = 0;
    device_process(&dev, 11, 0, frame, 324, 324, 324, 100);
    decode(sink.buf, sink.len);
    int bands = 0, stages = 0;
    size_t pixels = 0;
    for (int i = 0; i < col.count; i++) {
        if (col.types[i] == PROTO_FRAME) {
            bands++;
            pixels += col.lens[i] - PROTO_FRAME_HDR_SIZE;
            CHECK(col.lens[i] - PROTO_FRAME_HDR_SIZE <= 8192);
        }
        stages += col.types[i] == PROTO_STAGE;
    }
    CHECK(pixels == 324 * 324 && bands == 13 && stages >= 3);

    /* a strided frame (the camera's buffer with padding) gives the same 28x28 */
    static uint8_t padded[324 * 400];
    for (int y = 0; y < 324; y++) memcpy(padded + y * 400, frame + y * 324, 324);
    o = (proto_stream_opts){PROTO_STREAM_INPUT28 | PROTO_STREAM_FRAME, 1, PROTO_STREAM_FLAG_FULLRES, 81, 10};
    proto_pack_stream(so, &o);
    send_cmd(PROTO_SET_STREAM, so, 8);
    sink.len = 0;
    device_process(&dev, 12, 0, frame, 324, 324, 324, 0);
    decode(sink.buf, sink.len);
    static uint8_t in28_a[789];
    memcpy(in28_a, col.last, 789);
    sink.len = 0;
    device_process(&dev, 12, 0, padded, 324, 324, 400, 0);
    decode(sink.buf, sink.len);
    CHECK(col.last_len == 789 && memcmp(in28_a, col.last, 789) == 0);

    /* no room in the sink: whole messages dropped and counted, nothing written */
    uint32_t dropped = device_stats(&dev)->msgs_dropped;
    sink.len = 0;
    sink.space = 500;
    device_process(&dev, 13, 0, frame, 324, 324, 324, 0);
    CHECK(sink.len == 0 && device_stats(&dev)->msgs_dropped > dropped);
    sink.space = SIZE_MAX;

    /* INJECT: INPUT28 + RESULT flagged injected, frame_id = the command's seq */
    static uint8_t inj[4 + 100 * 80];
    proto_put_u16(inj, 100);
    proto_put_u16(inj + 2, 80);
    make_frame(inj + 4, 100, 80);
    uint16_t seq = host_seq;
    send_cmd(PROTO_INJECT, inj, sizeof inj);
    CHECK(col.count == 2 && col.types[0] == PROTO_INPUT28 && col.types[1] == PROTO_RESULT);
    CHECK(proto_get_u32(col.last) == seq && (col.last[6] & PROTO_FLAG_INJECTED) && col.last[4] <= 9);
    send_cmd(PROTO_INJECT, inj, sizeof inj - 1);
    CHECK(col.count == 1 && col.types[0] == PROTO_ERROR && proto_get_u16(col.last) == PROTO_ERR_LENGTH);
}

/* Protocol v2: RESULT carries status, polarity and min_score_pct; CANDIDATES comes with
 * the STAGE bit; STATS and HELLO carry the camera's status; SET_CAMERA's mode reaches the hook. */
static proto_camera_opts last_camera;
static int camera_keep(void *ctx, const proto_camera_opts *o) {
    (void)ctx;
    last_camera = *o;
    return 0;
}

static int find(uint8_t type) {
    for (int i = 0; i < col.count && i < 4096; i++)
        if (col.types[i] == type) return i;
    return -1;
}

/* The payload of the first message of `type` in the sink (decoded again: col keeps only the last). */
static const uint8_t *payload_of(uint8_t type, size_t *len) {
    static uint8_t out[PROTO_MAX_PACKET];
    int idx = find(type);
    if (idx < 0) return NULL;
    /* re-decode and stop at the wanted packet */
    size_t start = 0;
    for (int k = 0; k <= idx; k++) {
        size_t end = start;
        while (sink.buf[end] != 0) end++;
        if (k == idx) {
            long n = cobs_decode(sink.buf + start, end - start, out, sizeof out);
            if (n < (long)PROTO_OVERHEAD) return NULL;
            *len = (size_t)n - PROTO_OVERHEAD;
            return out + PROTO_HEADER_SIZE;
        }
        start = end + 1;
    }
    return NULL;
}

static void test_device_v2(void) {
    static uint8_t frame[162 * 162], blank[162 * 162];
    make_frame(frame, 162, 162);
    memset(blank, 200, sizeof blank);
    dev_setup();
    dev.hooks.set_camera = camera_keep;
    device_camera_status cs = {1000, 7, 3, 5, 1, PROTO_CAM_MODE_BINNED};
    device_set_camera_status(&dev, &cs);

    uint8_t so[8];
    proto_stream_opts o = {PROTO_STREAM_STAGE | PROTO_STREAM_RESULT | PROTO_STREAM_STATS, 1, 0, 81, 1};
    proto_pack_stream(so, &o);
    send_cmd(PROTO_SET_STREAM, so, 8);
    sink.len = 0;
    int rc = device_process(&dev, 5, 0, frame, 162, 162, 162, 0);
    decode(sink.buf, sink.len);
    CHECK(rc == PP_OK && find(PROTO_CANDIDATES) >= 0 && find(PROTO_CANDIDATES) < find(PROTO_STAGE));
    size_t n;
    const uint8_t *c = payload_of(PROTO_CANDIDATES, &n);
    CHECK(c && n >= PROTO_CANDIDATES_HDR_SIZE && proto_get_u32(c) == 5);
    if (c) {
        uint8_t count = c[5];
        int8_t chosen = (int8_t)c[6];
        CHECK(count >= 1 && n == PROTO_CANDIDATES_HDR_SIZE + (size_t)count * PROTO_CANDIDATE_SIZE);
        CHECK(chosen >= 0 && chosen < count && c[PROTO_CANDIDATES_HDR_SIZE + chosen * 8 + 4] == PP_CAND_CHOSEN);
        CHECK(c[7] == PP_ND_NONE && c[9] > 0 && c[10] > 0);
    }
    const uint8_t *r = payload_of(PROTO_RESULT, &n);
    CHECK(r && n == PROTO_RESULT_SIZE);
    if (r) {
        CHECK(r[72] == PROTO_POLARITY_DARK_ON_LIGHT); /* a dark bar on light paper */
        CHECK(r[73] == dev.params.min_score_pct);
        float score = proto_get_f32(r + 8);
        CHECK(r[7] == (score * 100.0f < (float)dev.params.min_score_pct ? PROTO_STATUS_UNSURE : PROTO_STATUS_DIGIT));
    }
    const uint8_t *st = payload_of(PROTO_STATS, &n);
    CHECK(st && n == PROTO_STATS_SIZE);
    if (st) {
        CHECK(proto_get_u32(st + 40) == 1000 && proto_get_u32(st + 44) == 7 && proto_get_u32(st + 48) == 3 &&
              proto_get_u32(st + 52) == 5 && proto_get_u32(st + 56) == 1 &&
              proto_get_u32(st + 60) == PROTO_CAM_MODE_BINNED);
    }

    /* a blank page: NO_DIGIT in RESULT, CANDIDATES says why, min_score_pct as set */
    pp_params p;
    pp_default_params(&p);
    p.min_score_pct = 99;
    uint8_t pb[PP_PARAMS_SIZE];
    pp_params_pack(&p, pb);
    send_cmd(PROTO_SET_PARAMS, pb, sizeof pb);
    sink.len = 0;
    rc = device_process(&dev, 6, 0, blank, 162, 162, 162, 0);
    decode(sink.buf, sink.len);
    CHECK(rc == PP_NO_DIGIT);
    r = payload_of(PROTO_RESULT, &n);
    CHECK(r && r[7] == PROTO_STATUS_NO_DIGIT && r[73] == 99);
    c = payload_of(PROTO_CANDIDATES, &n);
    CHECK(c && (int8_t)c[6] == -1 && c[7] != PP_ND_NONE);

    /* HELLO: the camera mode running; CAMERA: the mode running, whatever was asked */
    uint8_t ping[5] = {PROTO_PING_WANT_HELLO, 1, 0, 0, 0};
    send_cmd(PROTO_PING, ping, 5);
    const uint8_t *h = payload_of(PROTO_HELLO, &n);
    CHECK(h && h[0] == 2 && h[32] == PROTO_CAM_MODE_BINNED && h[33] == PP_PARAMS_VERSION);
    uint8_t cam[8] = {PROTO_CAM_AUTO_EXPOSURE, 0, 0x00, 0x01, 0x00, 0x01, PROTO_CAM_MODE_FULL, 0};
    send_cmd(PROTO_SET_CAMERA, cam, 8);
    CHECK(col.count == 2 && col.types[0] == PROTO_ACK && last_camera.mode == PROTO_CAM_MODE_FULL);
    CHECK(col.last[6] == PROTO_CAM_MODE_BINNED); /* core 1 switches later; STATS/HELLO show it then */
    cam[6] = 3; /* no such mode */
    send_cmd(PROTO_SET_CAMERA, cam, 8);
    CHECK(col.count == 1 && col.types[0] == PROTO_ERROR && proto_get_u16(col.last) == PROTO_ERR_VALUE);
    cam[6] = 0;
    cam[7] = 1; /* reserved */
    send_cmd(PROTO_SET_CAMERA, cam, 8);
    CHECK(col.count == 1 && col.types[0] == PROTO_ERROR && proto_get_u16(col.last) == PROTO_ERR_VALUE);
}

/* INJECT runs pp_run through the device's preprocess hook, once, and nothing else inside it:
 * the firmware's hook takes the lock core 1 also takes around pp_run, so the hook is
 * exactly the locked region (net() and the answers run after it returns). */
static int hook_calls, hook_depth, hook_max_depth;
static size_t hook_sink_len_at_return;
static int locked_pp(void *ctx, const uint8_t *frame, int width, int height, int stride, const pp_params *p,
                     uint8_t out28[PP_OUT * PP_OUT], pp_stages *stages) {
    (void)ctx;
    hook_calls++;
    if (++hook_depth > hook_max_depth) hook_max_depth = hook_depth;
    int rc = pp_run(frame, width, height, stride, p, out28, stages);
    hook_depth--;
    hook_sink_len_at_return = sink.len;
    return rc;
}

static void test_inject_preprocesses_through_the_hook(void) {
    static uint8_t inj[4 + 100 * 80];
    proto_put_u16(inj, 100);
    proto_put_u16(inj + 2, 80);
    make_frame(inj + 4, 100, 80);
    /* one reading: the further readings off */
    dev_setup();
    dev.hooks.preprocess = locked_pp;
    dev.params.retry_radius = dev.params.retry_radius2 = 0;
    hook_calls = hook_max_depth = 0;
    send_cmd(PROTO_INJECT, inj, sizeof inj);
    CHECK(hook_calls == 1 && hook_max_depth == 1);
    CHECK(hook_sink_len_at_return == 0); /* nothing sent while "locked": the answers come after */
    CHECK(col.count == 2 && col.types[0] == PROTO_INPUT28 && col.types[1] == PROTO_RESULT);
    /* an answer that can never be sure (min_score_pct 100): the first reading and both further
     * ones (retry_radius, retry_radius2; none is taken) go through the hook, each on its own */
    dev_setup();
    dev.hooks.preprocess = locked_pp;
    dev.params.min_score_pct = 100;
    hook_calls = hook_max_depth = 0;
    send_cmd(PROTO_INJECT, inj, sizeof inj);
    CHECK(dev.params.retry_radius != 0 && dev.params.retry_radius2 != 0
          && dev.params.retry_radius != dev.params.retry_radius2);
    CHECK(hook_calls == 3 && hook_max_depth == 1);
    CHECK(hook_sink_len_at_return == 0);
    CHECK(col.count == 2 && col.types[0] == PROTO_INPUT28 && col.types[1] == PROTO_RESULT);
}

/* A LOG longer than PROTO_MAX_TEXT is cut before a character, never inside one (its
 * formatting buffer once held exactly PROTO_MAX_TEXT bytes, cut by vsnprintf anywhere). */
static void test_log_cut_keeps_utf8_whole(void) {
    dev_setup();
    uint8_t so[8];
    proto_stream_opts o = {PROTO_STREAM_LOG, 1, 0, 81, 10};
    proto_pack_stream(so, &o);
    send_cmd(PROTO_SET_STREAM, so, 8);
    char text[400] = "a";
    for (int i = 0; i < 150; i++) strcat(text, "\xc3\xa9"); /* e acute, 2 bytes */
    sink.len = 0;
    device_log(&dev, PROTO_LOG_INFO, "%s", text);
    decode(sink.buf, sink.len);
    CHECK(col.count == 1 && col.types[0] == PROTO_LOG);
    size_t n = col.last_len - PROTO_LOG_HDR_SIZE;
    CHECK(n == 199 && memcmp(col.last + 1, text, n) == 0); /* "a" + 99 whole characters */
}

/* A band size larger than 65535 rows' worth of a narrow image once gave rows_per = 0 (a
 * uint16_t cast) and a division by zero: now a band holds 1..height rows. */
static void test_band_rows_cannot_wrap(void) {
    static uint8_t frame[16 * 40];
    memset(frame, 128, sizeof frame);
    device_config cfg = {"test-fw", "unit test", 16, 40, dev_rx, sizeof dev_rx, (size_t)16 * 65536, 0};
    device_sink s = {mem_write, mem_space, &sink};
    device_hooks h = {.now_us = now_fn, .set_camera = camera_fn};
    sink.len = 0;
    sink.space = SIZE_MAX;
    device_init(&dev, &cfg, &s, &h);
    uint8_t so[8];
    proto_stream_opts o = {PROTO_STREAM_FRAME, 1, PROTO_STREAM_FLAG_FULLRES, 81, 10};
    proto_pack_stream(so, &o);
    send_cmd(PROTO_SET_STREAM, so, 8);
    sink.len = 0;
    device_process(&dev, 1, 0, frame, 16, 40, 16, 0);
    decode(sink.buf, sink.len);
    CHECK(col.count == 1 && col.types[0] == PROTO_FRAME && col.lens[0] == PROTO_FRAME_HDR_SIZE + 16 * 40);
    CHECK(!device_frame_pending(&dev));
}

int main(void) {
    test_crc();
    test_cobs();
    test_packets();
    test_decoder_errors();
    test_parsers();
    test_device_commands();
    test_device_frames();
    test_device_v2();
    test_band_rows_cannot_wrap();
    test_inject_preprocesses_through_the_hook();
    test_log_cut_keeps_utf8_whole();
    if (failures) {
        fprintf(stderr, "%d check(s) failed\n", failures);
        return 1;
    }
    printf("test_protocol: all checks passed\n");
    return 0;
}

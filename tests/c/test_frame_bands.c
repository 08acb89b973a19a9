/* FRAME images larger than the sink's free space (core/device.c): their row bands wait
 * and go out from device_poll() as the sink drains, the small messages of later frames
 * are not starved, a newer frame supersedes an unfinished one, and a host that stops
 * reading (or is gone) gets the frame abandoned. Run under ASan + UBSan by
 * tests/test_protocol_c.py. Each CHECK that fails prints its line; exit 1 if any did. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "device.h"
#include "protocol.h"

#include "check.h"

/* ---- a USB-like ring: `cap` bytes, of which the host has read `drained` so far ---- */
typedef struct {
    uint8_t out[1 << 21]; /* everything ever written, for the host side to decode */
    size_t len, drained, cap;
    bool gone;            /* no host: space() is 0 */
} ring_sink;

static int ring_write(void *ctx, const uint8_t *data, size_t len) {
    ring_sink *s = ctx;
    if (len > s->cap - (s->len - s->drained) || len > sizeof s->out - s->len) return -1;
    memcpy(s->out + s->len, data, len);
    s->len += len;
    return 0;
}
static size_t ring_space(void *ctx) {
    ring_sink *s = ctx;
    return s->gone ? 0 : s->cap - (s->len - s->drained);
}
/* The host reads up to n bytes. */
static void ring_drain(ring_sink *s, size_t n) { s->drained = s->len - s->drained < n ? s->len : s->drained + n; }

/* ---- the host: decodes what was written and reassembles FRAME images ---- */
#define MAX_SIDE 324
typedef struct {
    uint32_t frame_id;
    uint16_t width, height, rows_done;
    bool broken;
    uint8_t pix[MAX_SIDE * MAX_SIDE];
} image;

typedef struct {
    image img[8];          /* by frame_id % 8 */
    int results[64];       /* RESULTs per frame_id */
    int inputs[64];
    int packets, frames_bands;
    uint16_t last_seq;
    int seq_gaps;          /* missing sequence numbers */
    bool any;
} host;

static host H;
static uint8_t dec_buf[PROTO_MAX_PACKET];

static void on_packet(void *ctx, const proto_packet *p) {
    host *h = ctx;
    if (h->any) h->seq_gaps += (uint16_t)(p->seq - h->last_seq - 1);
    h->any = true;
    h->last_seq = p->seq;
    h->packets++;
    if (p->type == PROTO_RESULT) {
        uint32_t id = proto_get_u32(p->payload);
        if (id < 64) h->results[id]++;
    } else if (p->type == PROTO_INPUT28) {
        uint32_t id = proto_get_u32(p->payload);
        if (id < 64) h->inputs[id]++;
    } else if (p->type == PROTO_FRAME) {
        h->frames_bands++;
        uint32_t id = proto_get_u32(p->payload);
        uint16_t w = proto_get_u16(p->payload + 4), ht = proto_get_u16(p->payload + 6);
        uint16_t y0 = proto_get_u16(p->payload + 8), rows = proto_get_u16(p->payload + 10);
        image *im = &h->img[id % 8];
        if (y0 == 0) *im = (image){.frame_id = id, .width = w, .height = ht};
        if (im->frame_id != id || y0 != im->rows_done || (size_t)w * ht > sizeof im->pix ||
            p->len != PROTO_FRAME_HDR_SIZE + (size_t)w * rows) {
            im->broken = true;
            return;
        }
        memcpy(im->pix + (size_t)y0 * w, p->payload + PROTO_FRAME_HDR_SIZE, (size_t)w * rows);
        im->rows_done = (uint16_t)(im->rows_done + rows);
    }
}
static void on_error(void *ctx, int code, uint8_t type, uint16_t seq) {
    (void)ctx;
    (void)type;
    (void)seq;
    fprintf(stderr, "decoder error %d\n", code);
    failures++;
}

static void host_decode(const ring_sink *s) {
    proto_decoder d;
    proto_decoder_init(&d, dec_buf, sizeof dec_buf);
    memset(&H, 0, sizeof H);
    proto_decoder_feed(&d, s->out, s->len, on_packet, on_error, &H);
}

/* The frame arrived whole and its pixels are exactly `want` (w x h, row stride w). */
static bool host_has_frame(uint32_t id, const uint8_t *want, uint16_t w, uint16_t h) {
    const image *im = &H.img[id % 8];
    return im->frame_id == id && !im->broken && im->width == w && im->height == h && im->rows_done == h &&
           memcmp(im->pix, want, (size_t)w * h) == 0;
}

/* ---- the device ---- */
static uint64_t clock_now;
static uint64_t now_fn(void *ctx) {
    (void)ctx;
    return clock_now;
}
static uint8_t dev_rx[1024];
static device dev;
static ring_sink sink;
static uint8_t in28[784];
static classifier_result result = {.argmax = 7, .score = 0.5f};

static void dev_setup(size_t cap, uint16_t flags, uint16_t mask) {
    device_config cfg = {.firmware_version = "test", .build_info = "test", .capture_width = 324,
                         .capture_height = 324, .rx_buf = dev_rx, .rx_cap = sizeof dev_rx};
    device_sink s = {ring_write, ring_space, &sink};
    device_hooks hk = {.now_us = now_fn};
    memset(&sink, 0, sizeof sink);
    sink.cap = cap;
    clock_now = 1000;
    device_init(&dev, &cfg, &s, &hk);
    dev.stream.flags = (uint8_t)flags;
    dev.stream.mask = mask;
}

static void publish(uint32_t id, const uint8_t *pixels, uint16_t w, uint16_t h) {
    device_frame f = {.frame_id = id, .pixels = pixels, .width = w, .height = h, .stride = w, .in28 = in28,
                      .result = &result};
    device_publish(&dev, &f);
}

static bool seq_accounting_ok(void) {
    const proto_stats *st = device_stats(&dev);
    return ((st->msgs_sent + st->msgs_dropped) & 0xFFFFu) == dev.tx_seq;
}

#define STREAM (PROTO_STREAM_FRAME | PROTO_STREAM_INPUT28 | PROTO_STREAM_RESULT | PROTO_STREAM_STATS)

static void random_pixels(uint8_t *p, size_t n, uint32_t seed) {
    for (size_t i = 0; i < n; i++) {
        seed = seed * 1664525u + 1013904223u;
        p[i] = (uint8_t)(seed >> 24);
    }
}

/* A 324x324 frame (105 KB) through a 16 KiB ring the host drains 2 KB at a time. */
static void test_large_frame_arrives_across_polls(void) {
    static uint8_t frame[324 * 324];
    random_pixels(frame, sizeof frame, 1);
    dev_setup(16384, PROTO_STREAM_FLAG_FULLRES, STREAM);
    publish(1, frame, 324, 324);
    CHECK(device_frame_pending(&dev)); /* 13 bands do not fit at once */
    int polls = 0;
    while (device_frame_pending(&dev) && polls < 10000) {
        ring_drain(&sink, 2048);
        clock_now += 100;
        device_poll(&dev);
        polls++;
    }
    CHECK(!device_frame_pending(&dev) && polls > 10);
    host_decode(&sink);
    CHECK(host_has_frame(1, frame, 324, 324));
    CHECK(H.frames_bands == 13 && H.results[1] == 1 && H.inputs[1] == 1 && H.seq_gaps == 0);
    CHECK(device_frames_abandoned(&dev) == 0 && device_stats(&dev)->msgs_dropped == 0 && seq_accounting_ok());
    /* nothing is left to send: polling more writes nothing */
    size_t len = sink.len;
    ring_drain(&sink, SIZE_MAX);
    device_poll(&dev);
    CHECK(sink.len == len);
}

/* While a frame's bands wait, the INPUT28 + RESULT (+ STATS) of later frames (published
 * without pixels, as the firmware's skipped frames and the twin do) all get through. */
static void test_small_messages_are_not_starved(void) {
    static uint8_t frame[324 * 324];
    random_pixels(frame, sizeof frame, 2);
    dev_setup(16384, PROTO_STREAM_FLAG_FULLRES, STREAM);
    dev.stream.stats_every = 1;
    publish(1, frame, 324, 324);
    uint32_t id = 2;
    for (int step = 0; step < 20000 && (device_frame_pending(&dev) || id < 40); step++) {
        ring_drain(&sink, 700); /* slower than the frames come: the ring stays nearly full */
        clock_now += 100;
        device_poll(&dev);
        if (step % 5 == 0 && id < 40) publish(id++, NULL, 324, 324);
    }
    host_decode(&sink);
    CHECK(!device_frame_pending(&dev) && host_has_frame(1, frame, 324, 324));
    int results = 0, inputs = 0;
    for (uint32_t i = 1; i < 40; i++) {
        results += H.results[i];
        inputs += H.inputs[i];
    }
    CHECK(results == 39 && inputs == 39);
    CHECK(device_stats(&dev)->msgs_dropped == 0 && H.seq_gaps == 0 && seq_accounting_ok());
}

/* A newer frame supersedes an unfinished one: the old one is abandoned and counted,
 * its unsent bands use up sequence numbers, the new one arrives whole. */
static void test_newer_frame_supersedes(void) {
    static uint8_t a[324 * 324], b[324 * 324];
    random_pixels(a, sizeof a, 3);
    random_pixels(b, sizeof b, 4);
    dev_setup(16384, PROTO_STREAM_FLAG_FULLRES, STREAM);
    publish(1, a, 324, 324);
    ring_drain(&sink, 4096);
    device_poll(&dev);
    CHECK(device_frame_pending(&dev));
    uint32_t dropped = device_stats(&dev)->msgs_dropped;
    publish(2, b, 324, 324); /* a's owner may reuse a from now on */
    CHECK(device_frames_abandoned(&dev) == 1 && device_stats(&dev)->msgs_dropped > dropped + 5);
    memset(a, 0, sizeof a);
    for (int i = 0; i < 10000 && device_frame_pending(&dev); i++) {
        ring_drain(&sink, 4096);
        device_poll(&dev);
    }
    host_decode(&sink);
    CHECK(host_has_frame(2, b, 324, 324) && H.img[1].rows_done < 324);
    CHECK(H.results[1] == 1 && H.results[2] == 1);
    CHECK(H.seq_gaps == (int)device_stats(&dev)->msgs_dropped && seq_accounting_ok());
}

/* A host that stops reading, or no host at all, gets the pixels handed back. */
static void test_stalled_or_absent_host(void) {
    static uint8_t frame[324 * 324];
    random_pixels(frame, sizeof frame, 5);
    dev_setup(16384, PROTO_STREAM_FLAG_FULLRES, STREAM);
    publish(1, frame, 324, 324);
    clock_now += (DEVICE_FRAME_STALL_MS - 1) * 1000u;
    device_poll(&dev);
    CHECK(device_frame_pending(&dev)); /* not yet */
    clock_now += 2000;
    device_poll(&dev);
    CHECK(!device_frame_pending(&dev) && device_frames_abandoned(&dev) == 1 && seq_accounting_ok());
    /* progress resets the stall clock: a slow but reading host gets the whole frame */
    dev_setup(16384, PROTO_STREAM_FLAG_FULLRES, STREAM);
    publish(2, frame, 324, 324);
    for (int i = 0; i < 1000 && device_frame_pending(&dev); i++) {
        clock_now += 200000; /* 200 ms between polls, each one room for a band */
        ring_drain(&sink, 8300);
        device_poll(&dev);
    }
    host_decode(&sink);
    CHECK(host_has_frame(2, frame, 324, 324) && device_frames_abandoned(&dev) == 0);
    /* no host (space 0): given up at once, nothing written */
    dev_setup(16384, PROTO_STREAM_FLAG_FULLRES, STREAM);
    sink.gone = true;
    publish(3, frame, 324, 324);
    CHECK(!device_frame_pending(&dev) && device_frames_abandoned(&dev) == 1 && sink.len == 0);
    CHECK(device_stats(&dev)->msgs_dropped == 13 + 2 && seq_accounting_ok()); /* 13 bands, INPUT28, RESULT */
    /* the host went away mid-frame */
    sink.gone = false;
    publish(4, frame, 324, 324);
    CHECK(device_frame_pending(&dev));
    sink.gone = true;
    device_poll(&dev);
    CHECK(!device_frame_pending(&dev) && device_frames_abandoned(&dev) == 2);
    /* device_frame_abandon(): the owner takes its pixels back */
    sink.gone = false;
    ring_drain(&sink, SIZE_MAX);
    publish(5, frame, 324, 324);
    CHECK(device_frame_pending(&dev));
    device_frame_abandon(&dev);
    CHECK(!device_frame_pending(&dev) && device_frames_abandoned(&dev) == 3 && seq_accounting_ok());
}

/* A downscaled FRAME is the device's own copy: the owner's pixels are free at once,
 * and a strided full-resolution frame goes out row by row across polls. */
static void test_downscaled_and_strided(void) {
    static uint8_t frame[324 * 324], padded[324 * 400];
    random_pixels(frame, sizeof frame, 6);
    static const uint8_t padding[4000]; /* zero bytes: empty packets the host ignores */
    dev_setup(8192, 0, STREAM);
    ring_write(&sink, padding, sizeof padding); /* 81x81 = 6.6 KB does not fit behind these */
    publish(1, frame, 324, 324);
    CHECK(!device_frame_pending(&dev) && dev.pending.active);
    for (int i = 0; i < 100 && dev.pending.active; i++) {
        ring_drain(&sink, SIZE_MAX);
        device_poll(&dev);
    }
    CHECK(!dev.pending.active);
    host_decode(&sink);
    CHECK(H.img[1].width == 81 && H.img[1].rows_done == 81 && !H.img[1].broken);

    for (int y = 0; y < 324; y++) memcpy(padded + y * 400, frame + y * 324, 324);
    dev_setup(16384, PROTO_STREAM_FLAG_FULLRES, STREAM);
    device_frame f = {.frame_id = 2, .pixels = padded, .width = 324, .height = 324, .stride = 400, .in28 = in28,
                      .result = &result};
    device_publish(&dev, &f);
    for (int i = 0; i < 10000 && device_frame_pending(&dev); i++) {
        ring_drain(&sink, 3000);
        device_poll(&dev);
    }
    host_decode(&sink);
    CHECK(host_has_frame(2, frame, 324, 324));
}

int main(void) {
    test_large_frame_arrives_across_polls();
    test_small_messages_are_not_starved();
    test_newer_frame_supersedes();
    test_stalled_or_absent_host();
    test_downscaled_and_strided();
    if (failures) {
        fprintf(stderr, "%d check(s) failed\n", failures);
        return 1;
    }
    printf("test_frame_bands: all checks passed\n");
    return 0;
}

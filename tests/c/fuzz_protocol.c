/* Fuzz test of the stream decoder and the device's command parser, run under
 * ASan + UBSan by tests/test_protocol_c.py (a crash, sanitizer report or hang fails).
 *
 * Random bytes alone almost never pass the CRC, so most inputs are *valid packets*
 * (right COBS and CRC) of command types with random, truncated or mutated payloads,
 * plus bit-flipped, truncated and spliced streams fed in random chunks.
 * Usage: fuzz_protocol [iterations] [seed]; prints a one-line summary.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "device.h"
#include "protocol.h"

static uint32_t rng;
static uint32_t rnd(void) {
    rng ^= rng << 13;
    rng ^= rng >> 17;
    rng ^= rng << 5;
    return rng;
}
static uint32_t below(uint32_t n) { return n ? rnd() % n : 0; }

/* A sink with a random amount of space that sometimes fails, and checks COBS output. */
typedef struct {
    size_t space;
    size_t bytes;
    uint32_t zeros;
    int fail;
} fuzz_sink;
static int sink_write(void *ctx, const uint8_t *data, size_t len) {
    fuzz_sink *s = ctx;
    if (s->fail) return -1;
    for (size_t i = 0; i < len; i++) s->zeros += data[i] == 0;
    s->bytes += len;
    return 0;
}
static size_t sink_space(void *ctx) { return ((fuzz_sink *)ctx)->space; }

static uint64_t clock_now;
static uint64_t now_fn(void *ctx) {
    (void)ctx;
    return clock_now += 137;
}
static int camera_fn(void *ctx, const proto_camera_opts *o) {
    (void)ctx;
    return (o->flags & 1) ? -1 : 0;
}

static uint32_t packets_seen;
static void count_packet(void *ctx, const proto_packet *p) {
    (void)ctx;
    (void)p;
    packets_seen++;
}

static uint8_t payload[70000];
static uint8_t wire[PROTO_COBS_MAX(70000 + PROTO_OVERHEAD) + 4096];

/* A payload for a command type: sometimes valid, often slightly wrong. */
static size_t make_payload(uint8_t type) {
    size_t n;
    switch (type) {
    case PROTO_PING: n = 5; break;
    case PROTO_SET_PARAMS: {
        pp_params p;
        pp_default_params(&p);
        pp_params_pack(&p, payload);
        n = PP_PARAMS_SIZE;
        if (below(2)) payload[below(PP_PARAMS_SIZE)] = (uint8_t)rnd(); /* one field anywhere */
        break;
    }
    case PROTO_SET_STREAM: case PROTO_SET_CAMERA: n = 8; break;
    case PROTO_INJECT: {
        uint16_t w = (uint16_t)(below(4) ? 1 + below(64) : rnd()), h = (uint16_t)(below(4) ? 1 + below(64) : rnd());
        n = 4 + (size_t)w * h;
        if (n > sizeof payload) n = 4 + below(2000);
        proto_put_u16(payload, w);
        proto_put_u16(payload + 2, h);
        for (size_t i = 4; i < n; i++) payload[i] = (uint8_t)rnd();
        if (below(20) == 0 && n > 4 + 4096) n = 4 + below(4096); /* keep valid injects (net() runs) rare */
        return n;
    }
    default: n = below(64); break;
    }
    if (type != PROTO_SET_PARAMS)
        for (size_t i = 0; i < n; i++) payload[i] = (uint8_t)(below(3) ? rnd() : below(3));
    if (type == PROTO_SET_STREAM && below(2)) { /* mostly valid stream options */
        proto_stream_opts o = {(uint16_t)below(64), (uint8_t)(1 + below(4)), (uint8_t)below(2),
                               (uint16_t)(16 + below(113)), (uint8_t)(1 + below(20))};
        proto_pack_stream(payload, &o);
    }
    if (type == PROTO_SET_CAMERA && below(2)) { /* mostly valid camera options, any readout mode (v2) */
        proto_camera_opts o = {(uint8_t)below(8), (uint8_t)below(4), (uint16_t)(1 + below(1000)),
                               (uint16_t)(256 + below(768)), (uint8_t)below(4)};
        proto_pack_camera(payload, &o);
    }
    switch (below(8)) { /* length mutations */
    case 0: n = n ? n - 1 : 0; break;
    case 1: n = n + 1 + below(8); break;
    default: break;
    }
    return n;
}

static uint8_t rx_buf[PROTO_MAX_PACKET];
static device dev;
static fuzz_sink sink;

static const uint8_t command_types[] = {PROTO_PING, PROTO_SET_PARAMS, PROTO_GET_PARAMS, PROTO_SET_STREAM,
                                        PROTO_SET_CAMERA, PROTO_INJECT, 0x00, 0x07, 0x7F, 0x81, 0xFF};

/* Feed data to the device in random chunks. */
static void feed_device(const uint8_t *data, size_t n) {
    size_t i = 0;
    while (i < n) {
        size_t chunk = 1 + below(below(4) ? 64 : (uint32_t)n);
        if (chunk > n - i) chunk = n - i;
        sink.space = below(4) ? SIZE_MAX : below(3000);
        sink.fail = below(50) == 0;
        device_receive(&dev, data + i, chunk);
        i += chunk;
    }
}

int main(int argc, char **argv) {
    long iterations = argc > 1 ? atol(argv[1]) : 100000;
    rng = argc > 2 ? (uint32_t)strtoul(argv[2], NULL, 0) : 0xC0FFEEu;
    if (!rng) rng = 1;

    device_config cfg = {"fuzz", "fuzz", 324, 324, rx_buf, sizeof rx_buf, 4096, 1};
    device_sink s = {sink_write, sink_space, &sink};
    device_hooks h = {.now_us = now_fn, .set_camera = camera_fn};
    device_init(&dev, &cfg, &s, &h);

    static uint8_t small_buf[2048];
    proto_decoder dec;
    long random_inputs = 0, packet_inputs = 0, mutated_inputs = 0;
    for (long it = 0; it < iterations; it++) {
        uint32_t kind = below(10);
        if (kind < 3) {
            /* random bytes into a fresh small decoder and into cobs_decode */
            size_t n = below(600);
            for (size_t i = 0; i < n; i++) wire[i] = (uint8_t)(below(4) ? rnd() : 0);
            proto_decoder_init(&dec, small_buf, 8 + below(sizeof small_buf - 8));
            proto_decoder_feed(&dec, wire, n, count_packet, NULL, NULL);
            cobs_decode(wire, n, small_buf, below(sizeof small_buf));
            feed_device(wire, n);
            random_inputs++;
        } else {
            /* a well-formed command packet, possibly damaged */
            uint8_t type = command_types[below(sizeof command_types)];
            size_t plen = make_payload(type);
            long n = proto_encode_buf(type, (uint16_t)rnd(), payload, plen, wire, sizeof wire);
            if (n < 0) continue;
            if (kind >= 7 && n > 1) {
                switch (below(4)) {
                case 0: wire[below((uint32_t)n)] ^= (uint8_t)(1u << below(8)); break; /* bit flip */
                case 1: n = 1 + below((uint32_t)n - 1); break;                       /* truncation */
                case 2: wire[below((uint32_t)n)] = 0; break;                          /* early terminator */
                default: /* splice a random run into it */
                    for (uint32_t k = below(16), at = below((uint32_t)n); k > 0 && at < (uint32_t)n; k--, at++)
                        wire[at] = (uint8_t)rnd();
                    break;
                }
                mutated_inputs++;
            } else {
                packet_inputs++;
            }
            feed_device(wire, (size_t)n);
        }
        if (below(500) == 0) { /* a camera frame now and then: stream messages under random space */
            static uint8_t frame[96 * 80];
            for (size_t i = 0; i < sizeof frame; i++) frame[i] = (uint8_t)rnd();
            sink.space = below(2) ? SIZE_MAX : below(20000);
            sink.fail = 0;
            device_process(&dev, (uint32_t)it, 0, frame, 96, 80, 96, 5);
            device_poll(&dev);
        }
    }
    const proto_stats *st = device_stats(&dev);
    /* every message either went out or was counted as dropped; each carries exactly one 0x00 */
    int ok = ((st->msgs_sent + st->msgs_dropped) & 0xFFFFu) == dev.tx_seq && sink.zeros == st->msgs_sent;
    printf("fuzz_protocol: iterations=%ld random=%ld packets=%ld mutated=%ld cmds_ok=%u cmds_rejected=%u "
           "rx_errors=%u msgs_sent=%u msgs_dropped=%u frames=%u invariants=%s\n",
           iterations, random_inputs, packet_inputs, mutated_inputs, st->cmds_ok, st->cmds_rejected, st->rx_errors,
           st->msgs_sent, st->msgs_dropped, st->frames, ok ? "ok" : "BROKEN");
    return ok ? 0 : 1;
}

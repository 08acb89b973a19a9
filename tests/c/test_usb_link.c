/* app/usb_link.c (the firmware's USB CDC link) with core/device.c on top, on the host:
 * the TinyUSB calls are the fakes in tests/c/fake_sdk. Checks what the board must do
 * with no host, a closed port, a host that stops reading and a host that comes back:
 * never block, drop whole messages and count them, and hand over the exact bytes.
 * Run under ASan + UBSan by tests/test_usb_link.py; exit 1 if any CHECK failed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "device.h"
#include "fake_sdk.h"
#include "usb_link.h"

#include "check.h"

/* ---- the device, writing through a recorder in front of usb_link's sink ---- */
static device dev;
static uint8_t cmd_buf[4096];
static device_sink link_sink;
static uint8_t sent[1 << 22];
static size_t sent_len;
static uint64_t fake_now;

static int rec_write(void *ctx, const uint8_t *data, size_t len) {
    (void)ctx;
    int rc = link_sink.write(link_sink.ctx, data, len);
    if (rc == 0 && sent_len + len <= sizeof sent) {
        memcpy(sent + sent_len, data, len);
        sent_len += len;
    }
    return rc;
}
static size_t rec_space(void *ctx) { (void)ctx; return link_sink.space(link_sink.ctx); }
static uint64_t clock_us(void *ctx) { (void)ctx; return fake_now += 1000; }

/* ---- the host: everything it read, decoded ---- */
static uint8_t got[1 << 22];
static size_t got_len;
static proto_decoder host;
static uint8_t host_buf[PROTO_MAX_PACKET];
static int packets, host_errors, pongs;
/* FRAME bands of one full-resolution image, joined as the GUI's FrameAssembler does */
static uint8_t whole[162 * 162];
static uint32_t whole_id;
static int whole_rows, whole_frames;
static uint16_t last_seq;
static int seq_gaps;

static void on_packet(void *ctx, const proto_packet *p) {
    (void)ctx;
    if (packets && p->seq != (uint16_t)(last_seq + 1))
        seq_gaps += (uint16_t)(p->seq - last_seq - 1);
    last_seq = p->seq;
    packets++;
    if (p->type == PROTO_PONG)
        pongs++;
    if (p->type == PROTO_FRAME && proto_get_u16(p->payload + 4) == 162) {
        uint32_t id = proto_get_u32(p->payload);
        uint16_t y0 = proto_get_u16(p->payload + 8), rows = proto_get_u16(p->payload + 10);
        if (y0 == 0) {
            whole_id = id;
            whole_rows = 0;
        }
        if (id != whole_id || y0 != whole_rows || p->len != PROTO_FRAME_HDR_SIZE + 162u * rows)
            return;
        memcpy(whole + y0 * 162, p->payload + PROTO_FRAME_HDR_SIZE, 162u * rows);
        whole_rows += rows;
        whole_frames += whole_rows == 162;
    }
}
static void on_error(void *ctx, int code, uint8_t type, uint16_t seq) {
    (void)ctx; (void)code; (void)type; (void)seq;
    host_errors++;
}
static void host_reset(void) {
    proto_decoder_init(&host, host_buf, sizeof host_buf);
    packets = host_errors = pongs = seq_gaps = 0;
    got_len = sent_len = 0;
}

/* n "USB interrupts"; the host reads what arrived after each if it is reading. */
static void pump(int n, bool host_reads) {
    for (int i = 0; i < n; i++) {
        fake_run_irq();
        if (!host_reads)
            continue;
        uint8_t tmp[FAKE_TX_FIFO];
        size_t k = fake_host_read(tmp, sizeof tmp);
        if (got_len + k <= sizeof got)
            memcpy(got + got_len, tmp, k);
        got_len += k;
        proto_decoder_feed(&host, tmp, k, on_packet, on_error, NULL);
    }
}

static uint32_t rng = 2024;
static uint8_t rnd8(void) {
    rng ^= rng << 13; rng ^= rng >> 17; rng ^= rng << 5;
    return (uint8_t)rng;
}

/* One camera frame's messages (FRAME, INPUT28, RESULT, STATS, ...) with pixels full of
 * 0x00, '\n' and '\r' so any newline translation or framing slip would show. */
static void publish_frame(uint32_t id) {
    static uint8_t pixels[162 * 162], in28[784];
    for (size_t i = 0; i < sizeof pixels; i++) pixels[i] = (i % 7 == 0) ? (uint8_t)"\n\r\0"[i % 3] : rnd8();
    for (size_t i = 0; i < sizeof in28; i++) in28[i] = rnd8();
    classifier_result r = {.argmax = 3, .score = 0.75f};
    r.logits[3] = 5.0f;
    device_frame f = {.frame_id = id, .pixels = pixels, .width = 162, .height = 162, .stride = 162,
                      .in28 = in28, .result = &r, .t_capture_us = 33000, .t_preprocess_us = 5000, .t_net_us = 9000};
    device_publish(&dev, &f);
}

static void drain(void) {
    for (int i = 0; i < 1000 && (fake_cdc.tx_len || rec_space(NULL) < 16384); i++)
        pump(1, true);
}

int main(void) {
    CHECK(usb_link_init());
    link_sink = usb_link_sink();
    device_config cfg = {.firmware_version = "test", .build_info = "host", .capture_width = 162,
                         .capture_height = 162, .rx_buf = cmd_buf, .rx_cap = sizeof cmd_buf};
    device_sink rec = {.write = rec_write, .space = rec_space, .ctx = NULL};
    device_hooks hooks = {.now_us = clock_us};
    device_init(&dev, &cfg, &rec, &hooks);
    host_reset();

    /* A. No host at all: nothing is queued, every message is dropped and counted. */
    uint32_t dropped0 = device_stats(&dev)->msgs_dropped;
    for (uint32_t i = 0; i < 20; i++) { publish_frame(i); pump(2, false); }
    CHECK(device_stats(&dev)->msgs_dropped - dropped0 >= 20 * 3);
    CHECK(device_stats(&dev)->msgs_sent == 0);
    CHECK(usb_link_get_stats().bytes_sent == 0);
    CHECK(rec_space(NULL) == 0);

    /* Enumerated but the port closed (DTR low): the same. */
    fake_cdc.mounted = true;
    pump(3, false);
    CHECK(!usb_link_connected());
    publish_frame(100);
    CHECK(device_stats(&dev)->msgs_sent == 0);

    /* B. A host opens the port and keeps reading: every byte arrives, exactly as written. */
    fake_cdc.dtr = true;
    pump(1, true);
    CHECK(usb_link_connected());
    CHECK(usb_link_get_stats().connects == 1 && fake_cdc.clears == 1);
    host_reset();
    uint32_t sent0 = device_stats(&dev)->msgs_sent;
    dropped0 = device_stats(&dev)->msgs_dropped;
    for (uint32_t i = 0; i < 30; i++) { publish_frame(200 + i); drain(); }
    CHECK(device_stats(&dev)->msgs_dropped == dropped0);
    CHECK(got_len == sent_len && sent_len > 30 * 6000);
    CHECK(memcmp(got, sent, sent_len) == 0);  /* binary, in order, no newline translation */
    CHECK(host_errors == 0 && seq_gaps == 0);
    CHECK((uint32_t)packets == device_stats(&dev)->msgs_sent - sent0);

    /* C. The host stops reading: no blocking, whole messages dropped and counted. */
    host_reset();
    sent0 = device_stats(&dev)->msgs_sent;
    dropped0 = device_stats(&dev)->msgs_dropped;
    for (uint32_t i = 0; i < 40; i++) { publish_frame(300 + i); pump(4, false); }
    uint32_t dropped = device_stats(&dev)->msgs_dropped - dropped0;
    CHECK(dropped > 0);
    CHECK(fake_cdc.tx_len == FAKE_TX_FIFO);  /* the CDC FIFO is full, the ring holds the rest */
    /* ... and reads again: only whole messages, the gaps are the drops (a last
     * message after them makes trailing drops show as a gap too). */
    drain();
    device_log(&dev, PROTO_LOG_INFO, "after the stall");
    drain();
    CHECK(host_errors == 0);
    CHECK((uint32_t)packets == device_stats(&dev)->msgs_sent - sent0);
    CHECK((uint32_t)seq_gaps == dropped);
    CHECK(got_len == sent_len && memcmp(got, sent, sent_len) == 0);

    /* D. The host closes the port mid-message: what was queued is thrown away. */
    publish_frame(400);
    pump(1, true);  /* part of it went out */
    fake_cdc.dtr = false;
    pump(1, false);
    CHECK(!usb_link_connected());
    CHECK(usb_link_get_stats().bytes_discarded > 0);
    CHECK(rec_space(NULL) == 0);
    /* It opens the port again: a fresh stream that decodes with no error from its first byte. */
    fake_cdc.dtr = true;
    pump(1, false);
    CHECK(usb_link_get_stats().connects == 2 && fake_cdc.clears == 2 && fake_cdc.tx_len == 0);
    host_reset();
    publish_frame(500);
    drain();
    CHECK(packets >= 3 && host_errors == 0);

    /* E. Commands: bytes from the host reach the device in order; PING gets a PONG. */
    host_reset();
    uint8_t ping[PROTO_PING_SIZE] = {0, 0x78, 0x56, 0x34, 0x12};
    uint8_t enc[64];
    long n = proto_encode_buf(PROTO_PING, 7, ping, sizeof ping, enc, sizeof enc);
    CHECK(n > 0 && fake_host_write(enc, (size_t)n) == (size_t)n);
    pump(1, false);
    uint8_t in[256];
    size_t k = usb_link_read(in, sizeof in);
    CHECK(k == (size_t)n && memcmp(in, enc, k) == 0);
    device_receive(&dev, in, k);
    drain();
    CHECK(pongs == 1 && host_errors == 0);
    /* More than the CDC and ring hold, while the main loop is busy: held back, not lost. */
    static uint8_t blob[6000], back[6000];
    for (size_t i = 0; i < sizeof blob; i++) blob[i] = rnd8();
    size_t w = 0, r = 0;
    for (int round = 0; round < 200 && r < sizeof blob; round++) {
        w += fake_host_write(blob + w, sizeof blob - w);
        pump(1, false);
        if (round % 3 == 2) r += usb_link_read(back + r, sizeof back - r);  /* reads now and then */
    }
    CHECK(r == sizeof blob && memcmp(back, blob, sizeof blob) == 0);

    /* F. Full resolution: a 162x162 FRAME (26 KB) is larger than the 16 KB ring. As app/main.c
     * does, the frame is kept (its pixels unchanged) while device_frame_pending() and the
     * main loop calls device_poll(); the host gets it whole, with no drop. */
    static uint8_t full[162 * 162], in28[784];
    for (size_t i = 0; i < sizeof full; i++) full[i] = (i % 5 == 0) ? 0 : rnd8();
    classifier_result res = {.argmax = 1, .score = 0.9f};
    dev.stream.flags = PROTO_STREAM_FLAG_FULLRES;
    drain();
    host_reset();
    dropped0 = device_stats(&dev)->msgs_dropped;
    int loops = 0;
    for (uint32_t id = 600; id < 603; id++) {
        device_frame f = {.frame_id = id, .pixels = full, .width = 162, .height = 162, .stride = 162,
                          .in28 = in28, .result = &res};
        device_publish(&dev, &f);
        CHECK(device_frame_pending(&dev));
        for (; device_frame_pending(&dev) && loops < 100000; loops++) {
            pump(1, true);
            device_poll(&dev);
        }
    }
    drain();
    CHECK(!device_frame_pending(&dev) && whole_frames == 3 && whole_id == 602 && loops > 10);
    CHECK(memcmp(whole, full, sizeof full) == 0);
    CHECK(device_stats(&dev)->msgs_dropped == dropped0 && seq_gaps == 0 && host_errors == 0);
    /* the host closes the port mid-frame: given up at once, the pixels are free again */
    device_frame f = {.frame_id = 700, .pixels = full, .width = 162, .height = 162, .stride = 162,
                      .in28 = in28, .result = &res};
    device_publish(&dev, &f);
    CHECK(device_frame_pending(&dev));
    fake_cdc.dtr = false;
    pump(1, false);
    device_poll(&dev);
    CHECK(!device_frame_pending(&dev) && device_frames_abandoned(&dev) >= 1);

    if (failures) {
        fprintf(stderr, "%d check(s) failed\n", failures);
        return 1;
    }
    printf("usb_link: all checks passed (%u bytes sent, %u discarded)\n", usb_link_get_stats().bytes_sent,
           usb_link_get_stats().bytes_discarded);
    return 0;
}

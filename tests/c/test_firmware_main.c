/* app/main.c on the host: the firmware's core 0 loop (renamed firmware_main) and its core 1
 * (app/camera_task.c) as two threads, with the real usb_link.c, device.c, protocol.c,
 * preprocess.c and classifier.c; the SDK, TinyUSB, camera and LCD are the fakes of
 * tests/c/fake_sdk and fake_cam. This thread is the USB host and the USB interrupt
 * (fake_run_irq, which the board's timer fires every millisecond). Checks what main.c
 * wires: protocol v2 HELLO / STATS carry the camera's mode and counters from
 * camera_task_get_counters(), RESULT's status, SET_PARAMS reach core 1 (the newest of a
 * burst), an INJECT is answered while core 1 keeps capturing. Exit 1 if a CHECK failed. */
#define _DEFAULT_SOURCE  /* usleep */
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "fake_camera.h"
#include "fake_sdk.h"
#include "pico/time.h"
#include "preprocess.h"
#include "protocol.h"

#include "check.h"

/* The firmware's core 0 itself, its main() renamed. */
#define main firmware_main
#include "main.c"
#undef main

static void *core0(void *arg) {
    (void)arg;
    firmware_main();
    return NULL;
}

/* ---- the host side ---- */
typedef struct {
    uint8_t type;
    uint16_t seq;
    size_t len;
    uint8_t payload[1024];
} msg;

static msg inbox[4096];
static int n_in;
static uint8_t rx_buf[PROTO_MAX_PACKET];
static proto_decoder dec;
static uint16_t host_seq;

static void on_packet(void *ctx, const proto_packet *p) {
    (void)ctx;
    if (n_in >= 4096) return;
    msg *m = &inbox[n_in++];
    m->type = p->type;
    m->seq = p->seq;
    m->len = p->len;
    memcpy(m->payload, p->payload, p->len < sizeof m->payload ? p->len : sizeof m->payload);
}

/* One millisecond of the USB interrupt and the host reading. */
static void tick(void) {
    static uint8_t buf[FAKE_TX_FIFO];
    fake_run_irq();
    size_t n = fake_host_read(buf, sizeof buf);
    proto_decoder_feed(&dec, buf, n, on_packet, NULL, NULL);
    usleep(1000);
}

/* Encoded with the stateless cobs_encode(): proto_encode()'s COBS state is static (one
 * encoder per device), and the firmware thread is encoding at the same time. */
static void send_cmd(uint8_t type, const uint8_t *payload, size_t len) {
    static uint8_t packet[4096 + PROTO_OVERHEAD], wire[PROTO_COBS_MAX(4096 + PROTO_OVERHEAD)];
    packet[0] = PROTOCOL_VERSION;
    packet[1] = type;
    proto_put_u16(packet + 2, host_seq++);
    memcpy(packet + PROTO_HEADER_SIZE, payload, len);
    proto_put_u32(packet + PROTO_HEADER_SIZE + len, proto_crc32(0, packet, PROTO_HEADER_SIZE + len));
    long n = (long)cobs_encode(packet, len + PROTO_OVERHEAD, wire);
    wire[n++] = 0;
    for (long off = 0; off < n;) {
        off += (long)fake_host_write(wire + off, (size_t)(n - off));
        tick();
    }
}

/* The newest message of `type` at or after index `from`, waiting up to `ms`. */
static const msg *wait_for(uint8_t type, int from, int ms) {
    for (int t = 0; t < ms; t++) {
        for (int i = n_in - 1; i >= from; i--)
            if (inbox[i].type == type) return &inbox[i];
        tick();
    }
    return NULL;
}

int main(void) {
    proto_decoder_init(&dec, rx_buf, sizeof rx_buf);
    fake_cdc.mounted = true;
    fake_cdc.dtr = true;
    pthread_t t;
    pthread_create(&t, NULL, core0, NULL);

    /* HELLO on connect: version 2, the camera's mode once it runs */
    uint8_t ping[5] = {PROTO_PING_WANT_HELLO, 1, 2, 3, 4};
    const msg *m = NULL;
    for (int tries = 0; tries < 50 && !(m && m->payload[32] != PROTO_CAM_MODE_NONE); tries++) {
        int from = n_in;
        send_cmd(PROTO_PING, ping, sizeof ping);
        m = wait_for(PROTO_HELLO, from, 200);
    }
    CHECK(m && m->payload[0] == PROTOCOL_VERSION && m->payload[32] == PROTO_CAM_MODE_FULL &&
          m->payload[33] == PP_PARAMS_VERSION);

    /* STATS every frame, with the camera's counters; CANDIDATES with the stages */
    uint8_t so[PROTO_SET_STREAM_SIZE];
    proto_stream_opts o = {PROTO_STREAM_STAGE | PROTO_STREAM_RESULT | PROTO_STREAM_STATS, 1, 0, 81, 1};
    proto_pack_stream(so, &o);
    send_cmd(PROTO_SET_STREAM, so, sizeof so);
    int from = n_in;
    const msg *s1 = wait_for(PROTO_STATS, from, 3000);
    CHECK(s1 && s1->len == PROTO_STATS_SIZE);
    uint32_t frames1 = s1 ? proto_get_u32(s1->payload + 40) : 0;
    const msg *s2 = NULL;
    for (int i = 0; i < 3000 && !(s2 && proto_get_u32(s2->payload + 40) > frames1); i++) {
        tick();
        s2 = wait_for(PROTO_STATS, from, 1);
    }
    CHECK(s2 && proto_get_u32(s2->payload + 40) > frames1 && frames1 > 0);     /* cam_frames */
    CHECK(s2 && proto_get_u32(s2->payload + 60) == PROTO_CAM_MODE_FULL);        /* cam_mode */
    CHECK(s2 && proto_get_u32(s2->payload + 52) == 0);                          /* cam_timeouts */
    const msg *r = wait_for(PROTO_RESULT, from, 3000);
    CHECK(r && r->len == PROTO_RESULT_SIZE && r->payload[7] == PROTO_STATUS_NO_DIGIT); /* a flat fake frame */
    const msg *c = wait_for(PROTO_CANDIDATES, from, 3000);
    CHECK(c && c->payload[9] > 0); /* the work grid was made: work_w */

    /* a burst of SET_PARAMS, the last with an ROI outside the frame: core 1 gets the last */
    pp_params p;
    pp_default_params(&p);
    uint8_t pb[PP_PARAMS_SIZE];
    for (int i = 0; i < 12; i++) {
        p.threshold_pct = (uint8_t)(20 + i);
        if (i == 11) {
            p.roi_x = 1000;
            p.roi_w = p.roi_h = 10;
        }
        pp_params_pack(&p, pb);
        send_cmd(PROTO_SET_PARAMS, pb, sizeof pb);
    }
    from = n_in;
    int roi_refused = 0;
    for (int i = 0; i < 3000 && !roi_refused; i++) {
        for (int k = from; k < n_in; k++)
            if (inbox[k].type == PROTO_CANDIDATES && inbox[k].payload[9] == 0) roi_refused = 1; /* no grid */
        tick();
    }
    CHECK(roi_refused);

    /* an INJECT is answered (through the locked preprocess hook) and core 1 keeps capturing;
     * without the stages, which fill the USB ring at the fake camera's 1000 fps */
    o = (proto_stream_opts){PROTO_STREAM_RESULT, 1, 0, 81, 10};
    proto_pack_stream(so, &o);
    send_cmd(PROTO_SET_STREAM, so, sizeof so);
    pp_default_params(&p);
    pp_params_pack(&p, pb);
    send_cmd(PROTO_SET_PARAMS, pb, sizeof pb);
    static uint8_t inj[4 + 40 * 40];
    proto_put_u16(inj, 40);
    proto_put_u16(inj + 2, 40);
    for (int i = 0; i < 40 * 40; i++) inj[4 + i] = (uint8_t)((i % 40 > 17 && i % 40 < 23) ? 30 : 220);
    uint16_t inject_seq = host_seq;
    from = n_in;
    int captures0 = fake_camera_get_stats().captures;
    send_cmd(PROTO_INJECT, inj, sizeof inj);
    const msg *ir = NULL;
    for (int i = 0; i < 3000 && !ir; i++) {
        for (int k = from; k < n_in && !ir; k++)
            if (inbox[k].type == PROTO_RESULT && (inbox[k].payload[6] & PROTO_FLAG_INJECTED)) ir = &inbox[k];
        tick();
    }
    CHECK(ir && proto_get_u32(ir->payload) == inject_seq);
    for (int i = 0; i < 200; i++) tick();
    CHECK(fake_camera_get_stats().captures > captures0);

    /* the model store is wired (app/model_store.c over the fake flash): the built-in model
     * runs, a slot holds 512 KiB less its record sector, and a BEGIN it cannot hold is refused */
    uint8_t begin[PROTO_BLOB_BEGIN_SIZE] = {0};
    from = n_in;
    send_cmd(PROTO_BLOB_QUERY, begin, 0);
    const msg *bs = wait_for(PROTO_BLOB_STATUS, from, 1000);
    CHECK(bs && bs->len == PROTO_BLOB_STATUS_SIZE && bs->payload[3] == 0 && bs->payload[1] == PROTO_BLOB_UP_OK);
    CHECK(bs && proto_get_u32(bs->payload + 16) == 512u * 1024u - 4096u);
    proto_put_u32(begin, 600u * 1024u);
    from = n_in;
    send_cmd(PROTO_BLOB_BEGIN, begin, sizeof begin);
    bs = wait_for(PROTO_BLOB_STATUS, from, 1000);
    CHECK(bs && bs->payload[1] == PROTO_BLOB_UP_TOO_BIG && bs->payload[0] == 0);

    if (failures) {
        fprintf(stderr, "%d check(s) failed\n", failures);
        fflush(stderr);
        _exit(1);
    }
    printf("test_firmware_main: all checks passed (%d messages)\n", n_in);
    fflush(stdout);
    _exit(0); /* the firmware's loops never return */
}

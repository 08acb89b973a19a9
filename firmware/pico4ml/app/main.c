/* Core 0: takes each new 28x28 input that core 1 lends, runs net() on it,
 * times it, gives the result back for the LCD, and streams everything over
 * USB CDC through the portable device/protocol code. Also answers host
 * commands and reports memory use at boot and whenever a host connects.
 *
 * A full-resolution FRAME (26 KB) is larger than the 16 KB USB ring: the device
 * sends its bands from device_poll() as the ring drains, so the lent buffer goes
 * back to core 1 only once device_frame_pending() is false. Core 1 meanwhile
 * captures into its other buffer alone and skips lending (STATS frames_skipped). */
#include <stdio.h>

#include "camera_task.h"
#include "classifier.h"
#include "device.h"
#include "mem_report.h"
#include "model_store.h"
#include "pico/stdlib.h"
#include "pico/version.h"
#include "reader.h"
#include "usb_link.h"

#ifndef PICO4ML_MODEL_ID
#define PICO4ML_MODEL_ID "?" /* CMake passes the manifest entry it built in */
#endif

#define RX_CHUNK 256
#define REPORT_PERIOD_US (30u * 1000u * 1000u)
#define HELLO_PERIOD_MS 5000u
#define IDLE_SLEEP_US 200

/* Decoded-command buffer: caps INJECT images at about 16K pixels (128x128). */
static uint8_t cmd_buf[16 * 1024 + 64];
static device dev;

static uint64_t clock_us(void *ctx) {
    (void)ctx;
    return time_us_64();
}

static int set_camera(void *ctx, const proto_camera_opts *o) {
    (void)ctx;
    return camera_task_set_camera(o);
}

static void report_memory(void) {
    mem_usage m;
    mem_usage_get(&m);
    device_log(&dev, PROTO_LOG_INFO,
               "memory: flash %lu B, static RAM %lu B (data+bss), heap free %lu B, model %s %lu B",
               (unsigned long)m.flash_bytes, (unsigned long)m.ram_static_bytes, (unsigned long)m.heap_free_bytes,
               PICO4ML_MODEL_ID, classifier_weight_bytes());
    device_log(&dev, PROTO_LOG_INFO, "stack headroom: core0 %lu of %lu B, core1 %lu of %lu B",
               (unsigned long)m.stack0_unused, (unsigned long)m.stack0_bytes, (unsigned long)m.stack1_unused,
               (unsigned long)m.stack1_bytes);
}

/* Host bytes -> commands. An INJECT runs pp_run on this core through the device's
 * preprocess hook (camera_task_pp_run), which holds core 1 off pp_run's buffers for
 * pp_run alone, not for net() or the answers. */
static bool serve_host(void) {
    static uint8_t buf[RX_CHUNK];  /* static: core 0's 4 KB stack also carries the USB interrupt */
    size_t n = usb_link_read(buf, sizeof buf);
    if (!n)
        return false;
    device_receive(&dev, buf, n);
    return true;
}

/* New parameters to core 1 (a mailbox: never lost, the newest wins). */
static void forward_params(void) {
    static uint32_t generation;
    if (device_params_generation(&dev) == generation)
        return;
    generation = device_params_generation(&dev);
    pp_params p;
    device_params_copy(&dev, &p);
    camera_task_set_params(&p);
}

/* The camera's counters and mode into the device (STATS, HELLO, CAMERA). */
static void forward_camera_status(void) {
    camera_counters c;
    camera_task_get_counters(&c);
    const device_camera_status cs = {
        .frames = c.frames,
        .vsync_early = c.vsync_mismatch,
        .short_frames = c.short_frames,
        .timeouts = c.timeouts,
        .fallbacks = c.mode_fallbacks,
        .mode = c.mode,
    };
    device_set_camera_status(&dev, &cs);
}

static void forward_camera_events(void) {
    camera_event e;
    while (camera_task_poll_event(&e)) {
        if (e.code < 0) {
            device_count_camera_error(&dev);
            device_send_error(&dev, PROTO_ERR_CAMERA, 0, 0, e.text);
        } else {
            device_log(&dev, e.code == CAMERA_EVENT_WARN ? PROTO_LOG_WARN : PROTO_LOG_INFO, "%s", e.text);
        }
    }
}

/* Camera health as a LOG line (STATS carries the same counters). */
static void report_camera(void) {
    camera_counters c;
    camera_task_get_counters(&c);
    const char *mode = c.mode == PROTO_CAM_MODE_FULL ? "FULL 324x324 averaged 2x2"
                       : c.mode == PROTO_CAM_MODE_BINNED ? "BINNED 162x162"
                                                         : "down";
    device_log(&dev, PROTO_LOG_INFO,
               "camera: mode %s, %lu frames, %lu timeouts (%lu short), %lu VSYNC mismatches, %lu mode fallbacks", mode,
               (unsigned long)c.frames, (unsigned long)c.timeouts, (unsigned long)c.short_frames,
               (unsigned long)c.vsync_mismatch, (unsigned long)c.mode_fallbacks);
}

/* The lent frame whose FRAME bands are still going out, and what net() made of it. */
static struct {
    bool held;
    camera_frame f;
    classifier_result r;
    uint32_t t_net_us;
} sending;

static void give_back_when_sent(void) {
    if (sending.held && !device_frame_pending(&dev)) {
        camera_task_release(&sending.f, &sending.r, sending.t_net_us);
        sending.held = false;
    }
}

static bool classify_next(void) {
    camera_frame f;
    if (sending.held || !camera_task_take(&f))
        return false;
    uint64_t t0 = time_us_64();
    classifier_result r;
    classifier_run(f.in28, &r);
    uint8_t min_score_pct = dev.params.min_score_pct;
    classifier_set_status(&r, f.pp_status, min_score_pct);
    uint64_t t1 = time_us_64();
    uint32_t t_net = (uint32_t)(t1 - t0);
    /* not sure: read the lent frame again with other closing windows (core/reader.h);
     * its pixels stay put while core 0 holds them, pp_run's buffers are taken under the lock */
    uint32_t t_preprocess = f.t_preprocess_us;
    if (reader_wants_second(&dev.params, r.status)) {
        f.second_reading = reader_second_reading(camera_task_pp_run, NULL, f.pixels, CAMERA_WIDTH, CAMERA_HEIGHT,
                                                 CAMERA_WIDTH, &dev.params, f.in28, f.stages, &r, &f.pp_status);
        t_preprocess += (uint32_t)(time_us_64() - t1);
    }
    for (uint32_t i = 0; i < f.skipped; i++)
        device_count_skipped(&dev);
    const device_frame df = {
        .frame_id = f.frame_id,
        .flags = f.second_reading ? PROTO_FLAG_SECOND_READING : 0,
        .pixels = f.pixels,
        .width = CAMERA_WIDTH,
        .height = CAMERA_HEIGHT,
        .stride = CAMERA_WIDTH,
        .in28 = f.in28,
        .stages = f.stages,
        .result = &r,
        .min_score_pct = min_score_pct,
        .t_capture_us = f.t_capture_us,
        .t_preprocess_us = t_preprocess,
        .t_net_us = t_net,
    };
    device_publish(&dev, &df);
    /* Back to core 1 once every message has the pixels (at once unless a FRAME is pending). */
    sending.held = true;
    sending.f = f;
    sending.r = r;
    sending.t_net_us = t_net;
    give_back_when_sent();
    return true;
}

int main(void) {
    mem_paint_stacks();
    bool usb_ok = usb_link_init();

    const device_config cfg = {
        .firmware_version = PICO4ML_FIRMWARE_VERSION,
        .build_info = "pico-sdk " PICO_SDK_VERSION_STRING ", model " PICO4ML_MODEL_ID,
        .capture_width = CAMERA_WIDTH,
        .capture_height = CAMERA_HEIGHT,
        .rx_buf = cmd_buf,
        .rx_cap = sizeof cmd_buf,
        .frame_band_bytes = 0,
        .hello_period_ms = HELLO_PERIOD_MS,
    };
    const device_sink sink = usb_link_sink();
    const device_hooks hooks = {.now_us = clock_us,
                                .set_camera = set_camera,
                                .preprocess = camera_task_pp_run,
                                .blob_command = model_store_command, /* uploads into the flash region */
                                .ctx = NULL};
    device_init(&dev, &cfg, &sink, &hooks);

    camera_task_launch();
    model_store_init(); /* the last committed valid blob runs, else the built-in model */
    report_memory();  /* dropped if no host yet: repeated on every connect */

    uint32_t connects = 0;
    uint64_t next_report = time_us_64() + REPORT_PERIOD_US;
    for (;;) {
        bool busy = serve_host();
        forward_params();
        forward_camera_events();
        forward_camera_status();
        if (usb_ok) {
            uint32_t c = usb_link_get_stats().connects;
            if (c != connects) {
                connects = c;
                device_send_hello(&dev);
                report_memory();
                report_camera();
            }
        }
        busy |= classify_next();
        device_poll(&dev);  /* HELLO, and FRAME bands that fit now */
        give_back_when_sent();
        if (time_us_64() >= next_report) {
            next_report += REPORT_PERIOD_US;
            report_memory();
            report_camera();
        }
        if (!busy)
            sleep_us(IDLE_SLEEP_US);
    }
}

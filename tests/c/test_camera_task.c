/* app/camera_task.c's two cores as two threads (fakes: tests/c/fake_cam, fake_sdk),
 * with the real core/preprocess.c. This thread plays core 0 like app/main.c: take the
 * lent frame, "run net()" for a while, give it back. Checks that a lent buffer never
 * changes while core 0 holds it (ThreadSanitizer would also flag the race), that frames
 * come newest-first with rising ids, that camera failures are reported and recovered
 * from, that host settings reach the camera, and the camera modes:
 *  - boot in the build's mode (FULL unless PICO4ML_CAM_MODE_DEFAULT says otherwise),
 *  - frames whose VSYNC fell early are kept, counted and LOGged,
 *  - 3 timeouts in a row make it fall back to the other mode, reported as a WARN,
 *  - SET_CAMERA's mode switches it; a mode whose frames all end short (a sensor that
 *    sends fewer lines) times out 3 times and falls back again,
 *  - frames and short frames are counted (STATS v2),
 *  - the newest of a burst of parameters reaches core 1.
 * Exit 1 if any CHECK failed. */
#define _DEFAULT_SOURCE  /* usleep */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "camera_task.h"
#include "fake_camera.h"
#include "hm01b0.h"
#include "pico/time.h"

#include "check.h"

#define FRAME (CAMERA_WIDTH * CAMERA_HEIGHT)
#define WANT_FRAMES 120

#ifndef EXPECT_BOOT_MODE
#define EXPECT_BOOT_MODE PROTO_CAM_MODE_FULL
#endif
#define OTHER(m) ((m) == PROTO_CAM_MODE_FULL ? PROTO_CAM_MODE_BINNED : PROTO_CAM_MODE_FULL)

typedef struct {
    int errors, infos, warns;
    int short_frames, vsync_logs, fallback_warns, host_switches, recoveries;
} event_counts;

static void drain_events(event_counts *ec) {
    camera_event e;
    while (camera_task_poll_event(&e)) {
        if (e.code < 0) {
            ec->errors++;
            if (e.code == HM01B0_ERR_SHORT_FRAME && strstr(e.text, "short frame"))
                ec->short_frames++;
        } else if (e.code == CAMERA_EVENT_WARN) {
            ec->warns++;
            if (strstr(e.text, "falling back")) ec->fallback_warns++;
        } else {
            ec->infos++;
            if (strstr(e.text, "VSYNC")) ec->vsync_logs++;
            if (strstr(e.text, "(host)")) ec->host_switches++;
            if (strstr(e.text, "recovered")) ec->recoveries++;
        }
    }
}

static int consistent(const uint8_t *px) {
    uint32_t id;
    memcpy(&id, px, sizeof id);
    for (size_t i = sizeof id; i < FRAME; i++)
        if (px[i] != (uint8_t)id) return 0;
    return 1;
}

/* Core 0's loop for `want` lent frames (or 60 s); returns how many it got. */
static int run_core0(int want, event_counts *ec, uint32_t *skipped) {
    static uint8_t copy[FRAME], in28_copy[PP_OUT * PP_OUT];
    static pp_stages stages_copy;
    static uint32_t last_id;
    int lent = 0;
    uint64_t deadline = time_us_64() + 60u * 1000000u;
    while (lent < want && time_us_64() < deadline) {
        drain_events(ec);
        camera_counters c;
        camera_task_get_counters(&c);  /* read while core 1 writes them: TSan watches */
        camera_frame f;
        if (!camera_task_take(&f)) {
            usleep(100);
            continue;
        }
        CHECK(f.frame_id > last_id);
        last_id = f.frame_id;
        CHECK(f.pixels && f.in28 && f.stages && f.pp_status >= 0);
        CHECK(((uintptr_t)f.pixels & 3u) == 0);
        CHECK(consistent(f.pixels));
        memcpy(copy, f.pixels, FRAME);
        memcpy(in28_copy, f.in28, sizeof in28_copy);
        memcpy(&stages_copy, f.stages, sizeof stages_copy);
        usleep(3000);  /* net(): core 1 keeps capturing meanwhile */
        CHECK(memcmp(copy, f.pixels, FRAME) == 0);
        CHECK(memcmp(in28_copy, f.in28, sizeof in28_copy) == 0);
        CHECK(memcmp(&stages_copy, f.stages, sizeof stages_copy) == 0);
        *skipped += f.skipped;
        classifier_result r = {.argmax = lent % 10, .score = 0.5f};
        camera_task_release(&f, &r, 3000);
        lent++;
    }
    drain_events(ec);
    return lent;
}

int main(void) {
    /* Phase 1: boot mode, 2 failed inits, 10 frames with an early VSYNC, then 3
     * captures without VSYNC: a fallback to the other mode. */
    const fake_camera_script boot = {.fail_inits = 2, .vsync_early_from = 10, .vsync_early_to = 20,
                                     .no_vsync_from = 40};
    fake_camera_set_script(&boot);
    camera_task_launch();

    proto_camera_opts cam = {.flags = PROTO_CAM_MIRROR, .analog_gain = 2, .exposure = 100, .digital_gain_q8 = 512};
    CHECK(camera_task_set_camera(&cam) == 0);
    proto_camera_opts bad = {.flags = 0, .analog_gain = 9, .exposure = 100, .digital_gain_q8 = 256};
    CHECK(camera_task_set_camera(&bad) < 0);
    proto_camera_opts bad_mode = {.flags = PROTO_CAM_AUTO_EXPOSURE, .mode = 3};
    CHECK(camera_task_set_camera(&bad_mode) < 0);

    event_counts ec = {0};
    uint32_t skipped = 0;
    int lent = run_core0(WANT_FRAMES, &ec, &skipped);
    fake_camera_stats cs = fake_camera_get_stats();
    camera_counters cc;
    camera_task_get_counters(&cc);
    CHECK(lent == WANT_FRAMES);
    CHECK(skipped > 0);                        /* core 1 ran ahead of the slow core 0 ... */
    CHECK(cs.captures > lent);               /* ... and kept capturing */
    CHECK(cs.double_starts == 0);
    CHECK(cs.init_calls >= 4 && cs.inits >= 2);  /* 2 failed inits, then a re-init after 3 timeouts */
    CHECK(ec.errors >= 1 + 3 && ec.recoveries >= 2);  /* a repeated init failure is reported once */
    CHECK(cs.inits_in_mode[EXPECT_BOOT_MODE] == 1);  /* booted in the build's mode ... */
    CHECK(cs.inits_in_mode[OTHER(EXPECT_BOOT_MODE)] == 1);  /* ... fell back once */
    CHECK(cs.mode == OTHER(EXPECT_BOOT_MODE) && cc.mode == OTHER(EXPECT_BOOT_MODE));
    CHECK(cc.timeouts == 3 && cc.mode_fallbacks == 1);
    CHECK(ec.fallback_warns == 1);
    CHECK(cc.vsync_mismatch == 10);            /* every early VSYNC counted, the frames kept */
    CHECK(ec.vsync_logs == 1);                 /* and LOGged once, not once a frame */
    CHECK(cs.orientation == HM01B0_MIRROR);   /* host settings, re-applied after the fallback */
    CHECK(cs.exposure_sets >= 2);
    CHECK(!cs.exposure.auto_exposure && cs.exposure.analog_gain_log2 == 2 &&
          cs.exposure.integration_lines == 100 && cs.exposure.digital_gain_q6 == 128);

    /* Phase 2: the host selects the boot mode again, in which the sensor now sends
     * fewer lines than the mode: 3 short frames, a second fallback, frames again. */
    const fake_camera_script shorts = {.short_mode = (hm01b0_mode)EXPECT_BOOT_MODE};
    fake_camera_set_script(&shorts);
    proto_camera_opts back = cam;
    back.mode = EXPECT_BOOT_MODE;
    CHECK(camera_task_set_camera(&back) == 0);
    event_counts ec2 = {0};
    lent = run_core0(30, &ec2, &skipped);
    cs = fake_camera_get_stats();
    camera_task_get_counters(&cc);
    CHECK(lent == 30);
    CHECK(ec2.host_switches == 1);
    CHECK(ec2.short_frames == 3);              /* each reported, with its line count */
    CHECK(ec2.fallback_warns == 1);
    CHECK(cc.timeouts == 3 + 3 && cc.mode_fallbacks == 2);
    CHECK(cc.mode == OTHER(EXPECT_BOOT_MODE));
    CHECK(cs.inits_in_mode[EXPECT_BOOT_MODE] == 2 && cs.inits_in_mode[OTHER(EXPECT_BOOT_MODE)] == 2);
    CHECK(cs.orientation == HM01B0_MIRROR);

    /* Phase 3: mode 0 keeps the running mode while other options change. */
    proto_camera_opts keep = {.flags = PROTO_CAM_FLIP | PROTO_CAM_AUTO_EXPOSURE, .mode = PROTO_CAM_MODE_KEEP};
    CHECK(camera_task_set_camera(&keep) == 0);
    event_counts ec3 = {0};
    lent = run_core0(10, &ec3, &skipped);
    cs = fake_camera_get_stats();
    camera_task_get_counters(&cc);
    CHECK(lent == 10 && ec3.host_switches == 0 && ec3.errors == 0);
    CHECK(cc.mode == OTHER(EXPECT_BOOT_MODE) && cc.mode_fallbacks == 2);
    CHECK(cs.orientation == HM01B0_FLIP && cs.exposure.auto_exposure);
    CHECK(cc.frames >= (uint32_t)(WANT_FRAMES + 40) && cc.short_frames == 3);

    /* Phase 4: a burst of parameters (the host dragging a slider) while core 1 captures:
     * the last one reaches core 1. They once went through the 4-deep control queue, which
     * dropped the newest when full although the host had been told they were in force. */
    pp_params p;
    pp_default_params(&p);
    for (int i = 0; i < 20; i++) {
        p.threshold_pct = (uint8_t)(10 + i);
        camera_task_set_params(&p);
    }
    p.roi_x = 1000;  /* outside the 162x162 frame: pp_run says PP_ERR_ROI */
    p.roi_w = p.roi_h = 10;
    camera_task_set_params(&p);
    int seen = 0;
    uint64_t deadline = time_us_64() + 5u * 1000000u;
    while (!seen && time_us_64() < deadline) {
        camera_frame f;
        if (!camera_task_take(&f)) {
            usleep(100);
            continue;
        }
        seen = f.pp_status == PP_ERR_ROI;
        classifier_result r = {.argmax = 0, .score = 0.5f};
        camera_task_release(&f, &r, 1000);
    }
    CHECK(seen);
    pp_default_params(&p);
    camera_task_set_params(&p);

    if (failures) {
        fprintf(stderr, "%d check(s) failed\n", failures);
        return 1;
    }
    printf("camera_task: all checks passed (%d captures, %d inits, %u skipped, %u timeouts, %u VSYNC mismatches, "
           "%u fallbacks)\n", cs.captures, cs.inits, skipped, cc.timeouts, cc.vsync_mismatch, cc.mode_fallbacks);
    return 0;
}

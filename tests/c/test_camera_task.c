/* app/camera_task.c's two cores as two threads (fakes: tests/c/fake_cam, fake_sdk),
 * with the real core/preprocess.c. This thread plays core 0 like app/main.c: take the
 * lent frame, "run net()" for a while, give it back. Checks that a lent buffer never
 * changes while core 0 holds it (ThreadSanitizer would also flag the race), that frames
 * come newest-first with rising ids, that camera failures are reported and recovered
 * from, and that host settings reach the camera. Exit 1 if any CHECK failed. */
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

static int consistent(const uint8_t *px) {
    uint32_t id;
    memcpy(&id, px, sizeof id);
    for (size_t i = sizeof id; i < FRAME; i++)
        if (px[i] != (uint8_t)id) return 0;
    return 1;
}

int main(void) {
    static uint8_t copy[FRAME], in28_copy[PP_OUT * PP_OUT];
    static pp_stages stages_copy;
    camera_task_launch();

    proto_camera_opts cam = {.flags = PROTO_CAM_MIRROR, .analog_gain = 2, .exposure = 100, .digital_gain_q8 = 512};
    CHECK(camera_task_set_camera(&cam) == 0);
    proto_camera_opts bad = {.flags = 0, .analog_gain = 9, .exposure = 100, .digital_gain_q8 = 256};
    CHECK(camera_task_set_camera(&bad) < 0);

    int lent = 0, errors = 0, recoveries = 0;
    uint32_t last_id = 0, skipped = 0;
    uint64_t deadline = time_us_64() + 60u * 1000000u;
    while (lent < WANT_FRAMES && time_us_64() < deadline) {
        camera_event e;
        while (camera_task_poll_event(&e)) {
            if (e.code < 0) errors++;
            else recoveries++;
        }
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
        skipped += f.skipped;
        classifier_result r = {.argmax = lent % 10, .score = 0.5f};
        camera_task_release(&f, &r, 3000);
        lent++;
    }
    camera_event e;
    while (camera_task_poll_event(&e)) {
        if (e.code < 0) errors++;
        else recoveries++;
    }
    fake_camera_stats cs = fake_camera_get_stats();
    CHECK(lent == WANT_FRAMES);
    CHECK(skipped > 0);                        /* core 1 ran ahead of the slow core 0 ... */
    CHECK(cs.captures > lent);               /* ... and kept capturing */
    CHECK(cs.double_starts == 0);
    CHECK(cs.init_calls >= 4 && cs.inits >= 2);  /* 2 failed inits, then a re-init after 3 timeouts */
    CHECK(errors >= 1 + 3 && recoveries >= 2);  /* a repeated init failure is reported once */
    CHECK(cs.orientation == HM01B0_MIRROR);
    CHECK(!cs.exposure.auto_exposure && cs.exposure.analog_gain_log2 == 2 &&
          cs.exposure.integration_lines == 100 && cs.exposure.digital_gain_q6 == 128);

    if (failures) {
        fprintf(stderr, "%d check(s) failed\n", failures);
        return 1;
    }
    printf("camera_task: all checks passed (%d frames lent, %u skipped, %d captures, %d errors)\n", lent, skipped,
           cs.captures, errors);
    return 0;
}

/* A fake HM01B0 (the real hm01b0.h API), LCD and memory report, for running
 * app/camera_task.c on the host (tests/c/test_camera_task.c).
 *
 * The "DMA" fills a capture buffer in eight chunks with pauses in between, each
 * frame with its own byte (id & 0xFF) after a 4-byte id, so a buffer written while
 * core 0 holds it shows up as changing content (and as a data race under TSan).
 * Faults follow the script (fake_camera.h): failed inits, frames whose VSYNC fell
 * early (kept, flagged in hm01b0_last_capture), frames with no VSYNC, and a mode in
 * which the sensor sends fewer lines than the mode has (every capture ends short). */
#define _DEFAULT_SOURCE  /* usleep */
#include <pthread.h>
#include <string.h>
#include <unistd.h>

#include "classifier.h"
#include "display.h"
#include "hm01b0.h"
#include "mem_report.h"

#include "fake_camera.h"

static fake_camera_script script;
static fake_camera_stats stats = {.orientation = 0xFF};
static pthread_mutex_t stats_lock = PTHREAD_MUTEX_INITIALIZER;
#define LOCKED(stmt) do { pthread_mutex_lock(&stats_lock); stmt; pthread_mutex_unlock(&stats_lock); } while (0)

void fake_camera_set_script(const fake_camera_script *s) { LOCKED(script = *s); }

fake_camera_stats fake_camera_get_stats(void) {
    fake_camera_stats s;
    LOCKED(s = stats);
    return s;
}

/* Driver state: only core 1 (one thread) calls the driver. */
static uint8_t *target;
static size_t target_len;
static bool capturing, ready;
static hm01b0_mode mode;
static hm01b0_capture_info last;

int hm01b0_init(const hm01b0_config *c) {
    int calls, fail;
    LOCKED(calls = ++stats.init_calls; fail = script.fail_inits);
    ready = capturing = false;
    if (c->mode != HM01B0_MODE_BINNED && c->mode != HM01B0_MODE_FULL) return HM01B0_ERR_CONFIG;
    if (c->i2c_hz != 100000 || c->reset_pin != 2) return HM01B0_ERR_CONFIG;  /* board/pico4ml.h */
    if (calls <= fail) return HM01B0_ERR_I2C;
    mode = c->mode;
    ready = true;
    LOCKED(stats.inits++; stats.inits_in_mode[mode]++; stats.mode = mode);
    return HM01B0_OK;
}

void hm01b0_deinit(void) { ready = capturing = false; }

int hm01b0_capture_start(uint8_t *buf, size_t len) {
    if (!ready) return HM01B0_ERR_STATE;
    if (capturing) {
        LOCKED(stats.double_starts++);
        return HM01B0_ERR_STATE;
    }
    if (len != HM01B0_FRAME_BYTES || ((uintptr_t)buf & 3u)) return HM01B0_ERR_CONFIG;
    target = buf;
    target_len = len;
    capturing = true;
    return HM01B0_OK;
}

int hm01b0_capture_wait(uint32_t vsync_timeout_us, uint32_t frame_timeout_us) {
    (void)vsync_timeout_us; (void)frame_timeout_us;
    if (!capturing) return HM01B0_ERR_STATE;
    capturing = false;
    int n;
    fake_camera_script sc;
    LOCKED(n = ++stats.captures; stats.captures_in_mode[mode]++; sc = script);
    uint16_t lines = mode == HM01B0_MODE_FULL ? 324 : 162;
    last = (hm01b0_capture_info){.vsync_early = false, .lines = lines, .lines_expected = lines};
    if (sc.no_vsync_from && n >= sc.no_vsync_from && n < sc.no_vsync_from + 3) {
        usleep(200);
        last.lines = 0;
        return HM01B0_ERR_NO_VSYNC;
    }
    if (sc.short_mode == mode) {  /* the sensor sends a third fewer lines in this mode */
        usleep(200);
        last.lines = (uint16_t)(lines * 2 / 3);
        last.vsync_early = true;
        return HM01B0_ERR_SHORT_FRAME;
    }
    last.vsync_early = n >= sc.vsync_early_from && n < sc.vsync_early_to;
    last.vsync_fall_line = last.vsync_early ? (uint16_t)(lines - 1) : 0;
    uint32_t id = (uint32_t)n;
    size_t chunk = target_len / 8;
    for (size_t off = 0; off < target_len; off += chunk) {
        size_t k = off + chunk <= target_len ? chunk : target_len - off;
        memset(target + off, (int)(id & 0xFF), k);
        usleep(60);
    }
    memcpy(target, &id, sizeof id);
    return HM01B0_OK;
}

void hm01b0_last_capture(hm01b0_capture_info *info) { *info = last; }
int hm01b0_set_orientation(uint8_t flags) {
    LOCKED(stats.orientation = flags; stats.orientation_sets++);
    return ready ? HM01B0_OK : HM01B0_ERR_STATE;
}
int hm01b0_set_exposure(const hm01b0_exposure *e) {
    LOCKED(stats.exposure = *e; stats.exposure_sets++);
    return ready ? HM01B0_OK : HM01B0_ERR_STATE;
}
uint32_t hm01b0_frame_period_us(void) { return ready ? 1000 : 0; }
hm01b0_mode hm01b0_get_mode(void) { return ready ? mode : (hm01b0_mode)0; }
const char *hm01b0_mode_name(hm01b0_mode m) {
    return m == HM01B0_MODE_FULL ? "FULL" : m == HM01B0_MODE_BINNED ? "BINNED" : "NONE";
}
uint16_t hm01b0_model_id(void) { return 0x01B0; }
int hm01b0_read_reg(uint16_t reg, uint8_t *value) { (void)reg; *value = 0; return HM01B0_OK; }
int hm01b0_write_reg(uint16_t reg, uint8_t value) { (void)reg; (void)value; return HM01B0_OK; }
const char *hm01b0_strerror(int err) { return err ? "camera: fake error" : "ok"; }

/* LCD, memory report and model name: nothing to show on the host. */
#ifndef FAKE_CAMERA_REAL_CLASSIFIER /* test_firmware_main.c links the real core/classifier.c */
const char *classifier_model_name(void) { return "fake"; }
#endif
int display_init(void) { return 0; }
void display_clear(void) {}
void display_camera(const uint8_t *frame, int width, int height, int stride) {
    (void)frame; (void)width; (void)height; (void)stride;
}
void display_input28(const uint8_t *in28) { (void)in28; }
void display_result(int digit, int score_pct, int status, int dark_on_light) {
    (void)digit; (void)score_pct; (void)status; (void)dark_on_light;
}
void display_status(const char *line1, const char *line2, bool error) { (void)line1; (void)line2; (void)error; }
void display_text_screen(const char *const *lines, int n, bool error) { (void)lines; (void)n; (void)error; }
void mem_paint_stacks(void) {}
void mem_usage_get(mem_usage *m) { memset(m, 0, sizeof *m); }

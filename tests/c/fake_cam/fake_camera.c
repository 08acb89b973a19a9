/* A fake HM01B0 (the real hm01b0.h API), LCD and memory report, for running
 * app/camera_task.c on the host (tests/c/test_camera_task.c).
 *
 * The "DMA" fills a capture buffer in eight chunks with pauses in between, each
 * frame with its own byte (id & 0xFF) after a 4-byte id, so a buffer written while
 * core 0 holds it shows up as changing content (and as a data race under TSan).
 * The first FAIL_INITS inits fail; captures FAIL_FROM..FAIL_FROM+2 time out. */
#define _DEFAULT_SOURCE  /* usleep */
#include <pthread.h>
#include <string.h>
#include <unistd.h>

#include "classifier.h"
#include "display.h"
#include "hm01b0.h"
#include "mem_report.h"

#define FAIL_INITS 2
#define FAIL_FROM 40

#include "fake_camera.h"

static fake_camera_stats stats = {.orientation = 0xFF};
static pthread_mutex_t stats_lock = PTHREAD_MUTEX_INITIALIZER;
#define LOCKED(stmt) do { pthread_mutex_lock(&stats_lock); stmt; pthread_mutex_unlock(&stats_lock); } while (0)

fake_camera_stats fake_camera_get_stats(void) {
    fake_camera_stats s;
    LOCKED(s = stats);
    return s;
}
static uint8_t *target;
static size_t target_len;
static bool capturing;

int hm01b0_init(const hm01b0_config *c) {
    int calls;
    LOCKED(calls = ++stats.init_calls);
    if (c->width != 162 || c->height != 162 || !c->binning_2x2) return HM01B0_ERR_CONFIG;
    if (calls <= FAIL_INITS) return HM01B0_ERR_I2C;
    LOCKED(stats.inits++);
    capturing = false;
    return HM01B0_OK;
}

void hm01b0_deinit(void) {}

int hm01b0_capture_start(uint8_t *buf, size_t len) {
    if (capturing) {
        LOCKED(stats.double_starts++);
        return HM01B0_ERR_STATE;
    }
    if (len != 162 * 162 || ((uintptr_t)buf & 3u)) return HM01B0_ERR_CONFIG;
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
    LOCKED(n = ++stats.captures);
    if (n >= FAIL_FROM && n < FAIL_FROM + 3) {
        usleep(200);
        return HM01B0_ERR_NO_VSYNC;
    }
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

bool hm01b0_capture_done(void) { return !capturing; }
int hm01b0_set_orientation(uint8_t flags) { LOCKED(stats.orientation = flags); return HM01B0_OK; }
int hm01b0_set_exposure(const hm01b0_exposure *e) { LOCKED(stats.exposure = *e); return HM01B0_OK; }
uint32_t hm01b0_frame_period_us(void) { return 1000; }
uint16_t hm01b0_model_id(void) { return 0x01B0; }
int hm01b0_read_reg(uint16_t reg, uint8_t *value) { (void)reg; *value = 0; return HM01B0_OK; }
int hm01b0_write_reg(uint16_t reg, uint8_t value) { (void)reg; (void)value; return HM01B0_OK; }
const char *hm01b0_strerror(int err) { return err ? "camera: fake error" : "ok"; }

/* LCD, memory report and model name: nothing to show on the host. */
const char *classifier_model_name(void) { return "fake"; }
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

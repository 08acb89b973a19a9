/* Core 1: capture -> preprocess -> LCD, and lending frames to core 0.
 * See camera_task.h for who owns which buffer when. */
#include "camera_task.h"

#include <stdio.h>
#include <string.h>

#include "display.h"
#include "hm01b0.h"
#include "mem_report.h"
#include "pico/flash.h"
#include "pico/multicore.h"
#include "pico/mutex.h"
#include "pico/time.h"
#include "pico/util/queue.h"
#include "pico4ml.h"
#include "reader.h"

#define FRAME_BYTES (CAMERA_WIDTH * CAMERA_HEIGHT)
_Static_assert(FRAME_BYTES == HM01B0_FRAME_BYTES, "the camera driver delivers the frame size the app uses");
#define ERRORS_BEFORE_REINIT 3
#define TIMEOUTS_BEFORE_FALLBACK 3
#define REINIT_DELAY_MS 1000
#define VSYNC_LOG_PERIOD_US (10u * 1000u * 1000u)

/* Readout mode at boot (CMake PICO4ML_CAM_MODE): FULL, the board vendor's
 * running mode, unless built otherwise. */
#ifndef PICO4ML_CAM_MODE_DEFAULT
#define PICO4ML_CAM_MODE_DEFAULT PROTO_CAM_MODE_FULL
#endif
_Static_assert((int)PROTO_CAM_MODE_BINNED == (int)HM01B0_MODE_BINNED &&
                   (int)PROTO_CAM_MODE_FULL == (int)HM01B0_MODE_FULL,
               "protocol and driver number the modes alike");

typedef struct {
    uint8_t slot;
    classifier_result result;
    uint32_t t_net_us;
    bool second_reading;
} done_msg;

typedef struct {
    proto_camera_opts camera;
} ctrl_msg;

static uint8_t frames[2][FRAME_BYTES] __attribute__((aligned(4)));
static uint8_t inputs[2][PP_OUT * PP_OUT];
/* Stages only for the frame lent to core 0 (13 KB: one, not one per buffer). */
static pp_stages lent_stages;

static queue_t ready_q;  /* core 1 -> core 0: camera_frame (a lent buffer) */
static queue_t done_q;   /* core 0 -> core 1: done_msg (the buffer comes back) */
static queue_t ctrl_q;   /* core 0 -> core 1: ctrl_msg (camera options) */
static queue_t event_q;  /* core 1 -> core 0: camera_event */
auto_init_mutex(pp_mutex);
/* core 0 -> core 1: the newest parameters and their number (guarded by params_mutex). A
 * mailbox, not ctrl_q: a full queue once dropped parameters the host had been told were
 * in force. */
auto_init_mutex(params_mutex);
static struct {
    pp_params params;
    uint32_t generation;
} params_box;

void camera_task_pp_lock(void) { mutex_enter_blocking(&pp_mutex); }
void camera_task_pp_unlock(void) { mutex_exit(&pp_mutex); }

int camera_task_pp_run(void *ctx, const uint8_t *frame, int width, int height, int stride, const pp_params *p,
                       uint8_t out28[PP_OUT * PP_OUT], pp_stages *stages) {
    (void)ctx;
    camera_task_pp_lock();
    int rc = pp_run(frame, width, height, stride, p, out28, stages);
    camera_task_pp_unlock();
    return rc;
}

/* ---- core 0 side ---- */

bool camera_task_take(camera_frame *f) {
    return queue_try_remove(&ready_q, f);
}

void camera_task_release(const camera_frame *f, const classifier_result *r, uint32_t t_net_us) {
    done_msg m = {.slot = f->slot, .result = *r, .t_net_us = t_net_us, .second_reading = f->second_reading};
    queue_add_blocking(&done_q, &m);  /* capacity 2 = buffers: never full */
}

void camera_task_set_params(const pp_params *p) {
    mutex_enter_blocking(&params_mutex);
    params_box.params = *p;
    params_box.generation++;
    mutex_exit(&params_mutex);
}

int camera_task_set_camera(const proto_camera_opts *o) {
    if (o->analog_gain > 3 || (!(o->flags & PROTO_CAM_AUTO_EXPOSURE) && o->exposure < 1) ||
        o->mode > PROTO_CAM_MODE_FULL)
        return -1;
    ctrl_msg m = {.camera = *o};
    return queue_try_add(&ctrl_q, &m) ? 0 : -1;
}

bool camera_task_poll_event(camera_event *e) {
    return queue_try_remove(&event_q, e);
}

/* Counters: written by core 1 only, each field loaded and stored whole. */
static camera_counters counters;
#define COUNTER_ADD(field) __atomic_store_n(&counters.field, counters.field + 1u, __ATOMIC_RELAXED)

void camera_task_get_counters(camera_counters *c) {
    c->frames = __atomic_load_n(&counters.frames, __ATOMIC_RELAXED);
    c->short_frames = __atomic_load_n(&counters.short_frames, __ATOMIC_RELAXED);
    c->timeouts = __atomic_load_n(&counters.timeouts, __ATOMIC_RELAXED);
    c->vsync_mismatch = __atomic_load_n(&counters.vsync_mismatch, __ATOMIC_RELAXED);
    c->mode_fallbacks = __atomic_load_n(&counters.mode_fallbacks, __ATOMIC_RELAXED);
    c->mode = __atomic_load_n(&counters.mode, __ATOMIC_RELAXED);
}

/* ---- core 1 ---- */

/* Core 1's camera config; the mode and orientation change at run time. */
static hm01b0_config cam_cfg = {
    .i2c = PICO4ML_CAM_I2C,
    .i2c_hz = PICO4ML_CAM_I2C_HZ,
    .i2c_addr = PICO4ML_CAM_I2C_ADDR,
    .sda_pin = PICO4ML_CAM_SDA_PIN,
    .scl_pin = PICO4ML_CAM_SCL_PIN,
    .reset_pin = PICO4ML_CAM_RESET_PIN,
    .mclk_pin = PICO4ML_CAM_MCLK_PIN,
    .mclk_hz = PICO4ML_CAM_MCLK_HZ,
    .d0_pin = PICO4ML_CAM_D0_PIN,
    .pclk_pin = PICO4ML_CAM_PCLK_PIN,
    .hsync_pin = PICO4ML_CAM_HSYNC_PIN,
    .vsync_pin = PICO4ML_CAM_VSYNC_PIN,
    .mode = (hm01b0_mode)PICO4ML_CAM_MODE_DEFAULT,
    .orientation = PICO4ML_CAM_ORIENTATION,
};

static struct {
    bool own[2];          /* core 1 holds this buffer */
    bool core0_idle;      /* core 0 holds no buffer: the next frame goes to it */
    int capturing;        /* buffer being filled, or -1 */
    uint64_t capture_start_us;
    uint32_t frame_id;
    uint32_t skipped;
    pp_params params;
    int last_error;
    int consecutive_errors;   /* any capture error, this mode */
    int timeouts_in_row;      /* capture timeouts, this mode */
    bool have_cam_opts;       /* the host sent camera options: re-applied after every init */
    proto_camera_opts cam_opts;
    uint64_t vsync_logged_us;
    uint32_t vsync_logged;    /* counters.vsync_mismatch at the last LOG */
    uint32_t lcd_fps_x10;
    uint64_t last_frame_us;
    uint32_t last_net_ms;
    int pp_status[2];
} st;

static void report(int code, const char *text) {
    camera_event e = {.code = code};
    snprintf(e.text, sizeof e.text, "%s", text);
    (void)queue_try_add(&event_q, &e);  /* full: core 0 is behind; the LCD still shows it */
}

static const char *mode_name(void) {
    return hm01b0_mode_name(cam_cfg.mode);
}

/* The LCD fits 13 characters a line. */
static void show_error(int err) {
    const char *why;
    switch (err) {
    case HM01B0_ERR_I2C: why = "NO I2C ANSWER"; break;
    case HM01B0_ERR_MODEL_ID: why = "WRONG ID"; break;
    case HM01B0_ERR_RESET: why = "RESET FAILED"; break;
    case HM01B0_ERR_NO_PIO: why = "NO FREE PIO"; break;
    case HM01B0_ERR_NO_DMA: why = "NO FREE DMA"; break;
    case HM01B0_ERR_NO_VSYNC: why = "NO VSYNC"; break;
    case HM01B0_ERR_FRAME_TIMEOUT: why = "FRAME TIMEOUT"; break;
    case HM01B0_ERR_SHORT_FRAME: why = "SHORT FRAME"; break;
    case HM01B0_ERR_OVERRUN: why = "OVERRUN"; break;
    default: why = "ERROR"; break;
    }
    display_status("CAMERA FAIL", why, true);
}

static bool is_timeout(int err) {
    return err == HM01B0_ERR_NO_VSYNC || err == HM01B0_ERR_FRAME_TIMEOUT || err == HM01B0_ERR_SHORT_FRAME;
}

static int apply_cam_opts(const proto_camera_opts *o) {
    int err = hm01b0_set_orientation((uint8_t)((o->flags & PROTO_CAM_MIRROR ? HM01B0_MIRROR : 0) |
                                               (o->flags & PROTO_CAM_FLIP ? HM01B0_FLIP : 0)));
    hm01b0_exposure e = {
        .auto_exposure = o->flags & PROTO_CAM_AUTO_EXPOSURE,
        .ae_target_mean = 0x5F,
        .integration_lines = o->exposure,
        .analog_gain_log2 = o->analog_gain,
        .digital_gain_q6 = (uint16_t)(o->digital_gain_q8 >> 2),
    };
    return err ? err : hm01b0_set_exposure(&e);
}

/* Bring the camera up in cam_cfg.mode, retrying until it answers; the LCD
 * says why not at every try, USB when the reason changes and then every 10th
 * try. Any capture under way is dropped. */
static void camera_start(void) {
    __atomic_store_n(&counters.mode, (uint8_t)0, __ATOMIC_RELAXED);
    st.capturing = -1;
    for (unsigned attempt = 0;; attempt++) {
        int err = hm01b0_init(&cam_cfg);
        if (!err && st.have_cam_opts)
            err = apply_cam_opts(&st.cam_opts);
        if (!err)
            break;
        char t[96];
        if (err == HM01B0_ERR_MODEL_ID)
            snprintf(t, sizeof t, "camera: model id 0x%04X, want 0x01B0", hm01b0_model_id());
        else
            snprintf(t, sizeof t, "%s (retrying)", hm01b0_strerror(err));
        if (err != st.last_error || attempt % 10 == 0)
            report(err, t);
        show_error(err);
        st.last_error = err;
        sleep_ms(REINIT_DELAY_MS);
    }
    if (st.last_error) {
        report(CAMERA_EVENT_INFO, "camera: recovered");
        st.last_error = 0;
    }
    st.consecutive_errors = 0;
    st.timeouts_in_row = 0;
    __atomic_store_n(&counters.mode, (uint8_t)cam_cfg.mode, __ATOMIC_RELAXED);
    char t[96];
    snprintf(t, sizeof t, "camera: %s mode, %lu us a frame", mode_name(), (unsigned long)hm01b0_frame_period_us());
    report(CAMERA_EVENT_INFO, t);
    display_status("CAMERA OK", mode_name(), false);
}

/* Three timeouts in a row: this mode does not run on this sensor; try the other. */
static void fall_back(void) {
    hm01b0_mode from = cam_cfg.mode;
    cam_cfg.mode = from == HM01B0_MODE_FULL ? HM01B0_MODE_BINNED : HM01B0_MODE_FULL;
    COUNTER_ADD(mode_fallbacks);
    char t[96];
    snprintf(t, sizeof t, "camera: %s mode timed out %d times, falling back to %s", hm01b0_mode_name(from),
             TIMEOUTS_BEFORE_FALLBACK, mode_name());
    report(CAMERA_EVENT_WARN, t);
    camera_start();
}

static void capture_failed(int err) {
    char t[96];
    hm01b0_capture_info info;
    hm01b0_last_capture(&info);
    if (err == HM01B0_ERR_SHORT_FRAME)
        snprintf(t, sizeof t, "camera: short frame, %u of %u lines (%s mode)", info.lines, info.lines_expected,
                 mode_name());
    else
        snprintf(t, sizeof t, "%s (%s mode)", hm01b0_strerror(err), mode_name());
    st.last_error = err;
    report(err, t);
    show_error(err);
    st.consecutive_errors++;
    if (err == HM01B0_ERR_SHORT_FRAME)
        COUNTER_ADD(short_frames);
    if (is_timeout(err)) {
        COUNTER_ADD(timeouts);
        if (++st.timeouts_in_row >= TIMEOUTS_BEFORE_FALLBACK) {
            fall_back();
            return;
        }
    }
    if (st.consecutive_errors >= ERRORS_BEFORE_REINIT) {
        sleep_ms(REINIT_DELAY_MS);
        camera_start();
    }
}

/* A frame arrived: clear the error streaks, count a VSYNC mismatch, and LOG
 * it (where VSYNC fell, how many so far) at the first one and then at most
 * every 10 s. */
static void capture_ok(void) {
    COUNTER_ADD(frames);
    st.consecutive_errors = 0;
    st.timeouts_in_row = 0;
    if (st.last_error) {
        report(CAMERA_EVENT_INFO, "camera: recovered");
        st.last_error = 0;
    }
    hm01b0_capture_info info;
    hm01b0_last_capture(&info);
    if (!info.vsync_early)
        return;
    COUNTER_ADD(vsync_mismatch);
    uint64_t now = time_us_64();
    if (st.vsync_logged == 0 || now - st.vsync_logged_us >= VSYNC_LOG_PERIOD_US) {
        st.vsync_logged = counters.vsync_mismatch;
        st.vsync_logged_us = now;
        char t[96];
        snprintf(t, sizeof t, "camera: VSYNC fell after %u of %u lines, %lu frames so far (%s mode, frames kept)",
                 info.vsync_fall_line, info.lines_expected, (unsigned long)st.vsync_logged, mode_name());
        report(CAMERA_EVENT_INFO, t);
    }
}

static void apply_ctrl(void) {
    static uint32_t params_seen;
    mutex_enter_blocking(&params_mutex);
    if (params_box.generation != params_seen) {
        params_seen = params_box.generation;
        st.params = params_box.params;
    }
    mutex_exit(&params_mutex);
    ctrl_msg m;
    while (queue_try_remove(&ctrl_q, &m)) {
        const proto_camera_opts *o = &m.camera;
        st.cam_opts = *o;
        st.have_cam_opts = true;
        cam_cfg.orientation = (uint8_t)((o->flags & PROTO_CAM_MIRROR ? HM01B0_MIRROR : 0) |
                                        (o->flags & PROTO_CAM_FLIP ? HM01B0_FLIP : 0));
        if (o->mode != PROTO_CAM_MODE_KEEP && o->mode != (uint8_t)cam_cfg.mode) {
            cam_cfg.mode = (hm01b0_mode)o->mode;
            char t[96];
            snprintf(t, sizeof t, "camera: switching to %s mode (host)", mode_name());
            report(CAMERA_EVENT_INFO, t);
            camera_start();  /* applies the options too */
            continue;
        }
        int err = apply_cam_opts(o);
        if (err) {
            st.last_error = err;
            report(err, hm01b0_strerror(err));
            show_error(err);
        }
    }
}

static void take_back(void) {
    done_msg m;
    while (queue_try_remove(&done_q, &m)) {
        st.own[m.slot] = true;
        st.core0_idle = true;
        st.last_net_ms = m.t_net_us / 1000u;
        /* core 0 set the status (classifier_set_status); lent_stages are still this frame's:
         * core 1 lends the next frame only after this */
        if (m.second_reading)
            display_input28(inputs[m.slot]);
        display_result(m.result.argmax, (int)(m.result.score * 100.0f + 0.5f), m.result.status,
                       lent_stages.dark_on_light);
    }
}

static int start_capture(int slot) {
    st.capturing = slot;
    st.capture_start_us = time_us_64();
    return hm01b0_capture_start(frames[slot], FRAME_BYTES);
}

static void show_fps(void) {
    uint64_t now = time_us_64();
    if (st.last_frame_us) {
        uint32_t inst = (uint32_t)(10000000ull / (now - st.last_frame_us + 1));
        st.lcd_fps_x10 = st.lcd_fps_x10 ? (st.lcd_fps_x10 * 7u + inst) / 8u : inst;
    }
    st.last_frame_us = now;
    char l1[24], l2[16];
    snprintf(l1, sizeof l1, "%s %lu.%luFPS", cam_cfg.mode == HM01B0_MODE_FULL ? "FULL" : "BIN",
             (unsigned long)(st.lcd_fps_x10 / 10), (unsigned long)(st.lcd_fps_x10 % 10));
    snprintf(l2, sizeof l2, "NET %luMS", (unsigned long)st.last_net_ms);
    display_status(l1, l2, false);
}

/* One captured frame in buffer `slot`: preprocess, show, maybe lend to core 0. */
static void process(int slot, uint32_t t_capture_us) {
    uint64_t t0 = time_us_64();
    /* Only a frame that goes to core 0 needs its stages; core 0 holds no
     * buffer (and so not lent_stages) exactly when core0_idle is set. */
    bool lend = st.core0_idle;
    camera_task_pp_lock();
    int rc = pp_run(frames[slot], CAMERA_WIDTH, CAMERA_HEIGHT, CAMERA_WIDTH, &st.params, inputs[slot],
                    lend ? &lent_stages : NULL);
    camera_task_pp_unlock();
    uint32_t t_pp = (uint32_t)(time_us_64() - t0);
    st.pp_status[slot] = rc;
    st.frame_id++;

    display_camera(frames[slot], CAMERA_WIDTH, CAMERA_HEIGHT, CAMERA_WIDTH);
    display_input28(inputs[slot]);
    /* "no digit" at once, unless a second reading may still find one: then the LCD waits for
     * core 0's answer (a frame core 0 does not get would otherwise flash "-" between two digits) */
    if (rc != PP_OK && !reader_wants_second(&st.params, CLASSIFIER_NO_DIGIT))
        display_result(-1, 0, CLASSIFIER_NO_DIGIT, lend ? lent_stages.dark_on_light : -1);
    show_fps();

    if (!lend) {
        st.skipped++;
        return;
    }
    camera_frame f = {
        .slot = (uint8_t)slot,
        .frame_id = st.frame_id,
        .pixels = frames[slot],
        .in28 = inputs[slot],
        .stages = &lent_stages,
        .pp_status = rc,
        .t_capture_us = t_capture_us,
        .t_preprocess_us = t_pp,
        .skipped = st.skipped,
    };
    if (queue_try_add(&ready_q, &f)) {
        st.own[slot] = false;
        st.core0_idle = false;
        st.skipped = 0;
    }
}

/* Boot screen: what is running and how much of the chip it takes. */
static void show_boot_screen(void) {
    mem_usage m;
    mem_usage_get(&m);
    char model[24], flash[24], ram[24];  /* the LCD shows the first 13 characters */
    snprintf(model, sizeof model, "%s", classifier_model_name());
    snprintf(flash, sizeof flash, "FLASH %luK", (unsigned long)(m.flash_bytes / 1024));
    snprintf(ram, sizeof ram, "RAM %luK", (unsigned long)(m.ram_static_bytes / 1024));
    const char *const lines[] = {"PICO4ML MNIST", "FW " PICO4ML_FIRMWARE_VERSION, "", "MODEL", model, "", flash, ram};
    display_text_screen(lines, (int)(sizeof lines / sizeof lines[0]), false);
    /* Colour check for bring-up: the LCD draws only grey, except errors in red. */
    display_status("RED TEXT: OK", "BLUE: BGR OFF", true);
    sleep_ms(1500);
    display_clear();
}

static void core1_main(void) {
    /* let core 0 park this core in RAM while it writes an uploaded model to flash (model_store.c) */
    flash_safe_execute_core_init();
    if (display_init() == 0)  /* no LCD: keep going, USB still reports everything */
        show_boot_screen();
    int err;
    pp_default_params(&st.params);
    st.own[0] = st.own[1] = true;
    st.core0_idle = true;
    st.capturing = -1;
    camera_start();

    for (;;) {
        take_back();
        apply_ctrl();
        if (st.capturing < 0) {
            int slot = st.own[0] ? 0 : 1;  /* at most one buffer is lent, so one is ours */
            err = start_capture(slot);
            if (err) {
                st.capturing = -1;
                capture_failed(err);
                continue;
            }
        }
        /* A capture waits up to a frame for the next VSYNC, then a frame. */
        uint32_t period = hm01b0_frame_period_us();
        err = hm01b0_capture_wait(2 * period + 20000, 3 * period + 20000);
        int done = st.capturing;
        st.capturing = -1;
        if (err) {
            capture_failed(err);
            continue;
        }
        capture_ok();
        uint32_t t_capture = (uint32_t)(time_us_64() - st.capture_start_us);
        /* Double buffering: fill the other buffer while this one is worked on. */
        int other = 1 - done;
        if (st.own[other] && (err = start_capture(other)) != 0) {
            st.capturing = -1;
            capture_failed(err);
        }
        process(done, t_capture);
    }
}

void camera_task_launch(void) {
    queue_init(&ready_q, sizeof(camera_frame), 1);
    queue_init(&done_q, sizeof(done_msg), 2);
    queue_init(&ctrl_q, sizeof(ctrl_msg), 4);
    queue_init(&event_q, sizeof(camera_event), 8);
    multicore_launch_core1(core1_main);
}

/* Core 1: camera capture (double-buffered), preprocessing, LCD. And the
 * hand-off between the cores.
 *
 * Buffer ownership: there are two frame buffers, each with its 28x28 input
 * and preprocessing stages. Core 1 owns both, except that it may lend one
 * (the newest preprocessed frame) to core 0 through a queue; core 0 reads its
 * pixels only (and may replace its 28x28 and stages by a second reading,
 * core/reader.h), then gives it back with camera_task_release() (after net(), or
 * once a full-resolution FRAME of it has gone out over USB). Core 1 never writes a
 * lent buffer, so core 0 never sees a torn frame or input, and a slow net() or
 * a slow link only makes core 1 capture into the other buffer alone. */
#ifndef PICO4ML_CAMERA_TASK_H
#define PICO4ML_CAMERA_TASK_H

#include <stdbool.h>
#include <stdint.h>

#include "classifier.h"
#include "preprocess.h"
#include "protocol.h"

/* Every camera mode delivers 162x162 gray: the 324x324 array binned 2x2 by
 * the sensor, or read in full and averaged 2x2 (see README.md, camera modes). */
#define CAMERA_WIDTH 162
#define CAMERA_HEIGHT 162

/* Camera health, for STATS (protocol v2) and the LOG lines. */
typedef struct {
    uint32_t frames;          /* frames captured whole (each ends on the DMA count) */
    uint32_t short_frames;    /* captures cut short: the next VSYNC came before the DMA count */
    uint32_t timeouts;        /* captures that failed for time: no VSYNC, short frame, frame timeout */
    uint32_t vsync_mismatch;  /* frames kept whose VSYNC fell before their last line (a diagnostic) */
    uint32_t mode_fallbacks;  /* switches to the other mode after 3 timeouts in a row */
    uint8_t mode;             /* PROTO_CAM_MODE_BINNED / _FULL running, 0 while the camera is down */
} camera_counters;

typedef struct {
    uint8_t slot;             /* which buffer (give it back with camera_task_release) */
    uint32_t frame_id;
    const uint8_t *pixels;    /* CAMERA_WIDTH x CAMERA_HEIGHT, stride CAMERA_WIDTH */
    uint8_t *in28;            /* 784 bytes the network must see */
    pp_stages *stages;
    int pp_status;            /* PP_OK, PP_NO_DIGIT or < 0 */
    bool second_reading;      /* core 0: in28 and stages now hold the second reading (LCD redraws it) */
    uint32_t t_capture_us, t_preprocess_us;
    uint32_t skipped;         /* frames core 1 processed but could not lend since the last one */
} camera_frame;

typedef struct {
    int code;                 /* HM01B0_ERR_* (< 0: an ERROR), or a CAMERA_EVENT_* (a LOG) */
    char text[96];
} camera_event;
enum { CAMERA_EVENT_INFO = 0, CAMERA_EVENT_WARN = 1 };

/* Core 0: create the queues and start core 1. */
void camera_task_launch(void);
/* Core 0: borrow the newest frame if there is one (never blocks). */
bool camera_task_take(camera_frame *f);
/* Core 0: give the buffer back, with what net() made of it for the LCD. */
void camera_task_release(const camera_frame *f, const classifier_result *r, uint32_t t_net_us);
/* Core 0: new preprocessing parameters / camera options, applied by core 1
 * before its next frame. Parameters go through a one-slot mailbox, never a
 * queue: the newest always arrives, however many come while core 1 is busy
 * (the host has been told they are in force). set_camera returns 0, or < 0 if
 * they are invalid or core 1's queue is full (the host gets an ERROR). */
void camera_task_set_params(const pp_params *p);
int camera_task_set_camera(const proto_camera_opts *o);
/* Core 0: camera errors and recoveries to report over USB. */
bool camera_task_poll_event(camera_event *e);
/* Either core: a consistent-enough snapshot (each field read atomically). */
void camera_task_get_counters(camera_counters *c);
/* Either core: pp_run() has static work buffers, so both cores take this
 * lock around it and nothing else (core 0 runs it for INJECT commands; its
 * net() must not hold core 1 off). camera_task_pp_run() is pp_run() inside it,
 * in the device's preprocess hook's shape. */
void camera_task_pp_lock(void);
void camera_task_pp_unlock(void);
int camera_task_pp_run(void *ctx, const uint8_t *frame, int width, int height, int stride, const pp_params *p,
                       uint8_t out28[PP_OUT * PP_OUT], pp_stages *stages);

#endif

/* The device side of the USB protocol, shared by the firmware and the host twin.
 *
 * Owns the stream options, the camera options and the preprocessing parameters;
 * answers host commands (PING, SET_PARAMS, GET_PARAMS, SET_STREAM, SET_CAMERA,
 * INJECT) and turns each processed frame into FRAME / INPUT28 / STAGE / CANDIDATES /
 * RESULT / STATS messages. It never blocks: before each message it asks the sink for its
 * free space and drops the whole message (and counts it) when it does not fit.
 * The one exception is a FRAME image larger than the sink's free space: its row
 * bands are sent by later device_poll() calls as the sink drains, and its owner
 * keeps the pixels unchanged while device_frame_pending() says so.
 *
 * Portable C11, no heap, no SDK headers. Not thread-safe: the firmware calls it
 * from core 0 only (core 1 reads the params through device_params_copy()).
 */
#ifndef PICO4ML_DEVICE_H
#define PICO4ML_DEVICE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "classifier.h"
#include "preprocess.h"
#include "protocol.h"

/* Where encoded bytes go (USB CDC on the board, a pty/socket in the twin).
 * write() gets pieces of one message back to back, only after space()
 * reported room for the whole message; it returns 0, or < 0 on failure. */
typedef struct {
    int (*write)(void *ctx, const uint8_t *data, size_t len);
    size_t (*space)(void *ctx);
    void *ctx;
} device_sink;

typedef struct {
    uint64_t (*now_us)(void *ctx); /* monotonic clock, required */
    /* Apply camera options; 0 or < 0 (reported as ERROR CAMERA). NULL: not supported. */
    int (*set_camera)(void *ctx, const proto_camera_opts *opts);
    /* Preprocessing for device_process() (INJECT, the twin's frames), same contract as
     * pp_run. NULL: pp_run itself. pp_run is not reentrant, so a firmware whose core 1
     * also runs it passes a wrapper that serialises the two (e.g. a mutex). */
    int (*preprocess)(void *ctx, const uint8_t *frame, int width, int height, int stride, const pp_params *p,
                      uint8_t out28[PP_OUT * PP_OUT], pp_stages *stages);
    /* Model upload (PROTO_BLOB_BEGIN..QUERY, core/blob_store.h): handle one command and fill
     * status (PROTO_BLOB_STATUS_SIZE bytes, sent as BLOB_STATUS); return 1 when the model that
     * runs changed (the device then sends HELLO), else 0. NULL: ERR_UNSUPPORTED. */
    int (*blob_command)(void *ctx, uint8_t type, const uint8_t *payload, size_t len, uint8_t *status);
    void *ctx;
} device_hooks;

typedef struct {
    const char *firmware_version;
    const char *build_info;
    uint16_t capture_width, capture_height; /* reported in HELLO */
    uint8_t *rx_buf;         /* decoded-command buffer: its size caps INJECT (HELLO says how much) */
    size_t rx_cap;
    size_t frame_band_bytes; /* FRAME pixels per message (bigger images go in row bands); 0: 8192 */
    uint32_t hello_period_ms; /* HELLO again this often from device_poll(); 0: never */
    /* A FRAME whose bands do not fit waits for the sink to drain, keeping this much room free
     * for the small messages of later frames (INPUT28, RESULT, STATS); 0: DEVICE_FRAME_RESERVE. */
    size_t frame_reserve_bytes;
    /* ... and is given up when no band could go out for this long (a host that stopped
     * reading); 0: DEVICE_FRAME_STALL_MS. */
    uint32_t frame_stall_ms;
} device_config;

#define DEVICE_DEFAULT_STREAM_MASK \
    (PROTO_STREAM_FRAME | PROTO_STREAM_INPUT28 | PROTO_STREAM_RESULT | PROTO_STREAM_STATS | PROTO_STREAM_LOG)
#define DEVICE_DEFAULT_MAX_SIDE 81 /* 324x324 -> 81x81: 6.6 KB a frame */
#define DEVICE_RX_ERRORS_PER_S 10  /* ERROR replies to bad packets (garbage) per second, at most */
#define DEVICE_FRAME_RESERVE 1024  /* INPUT28 (800 B on the wire) + RESULT (82) + STATS (50) */
#define DEVICE_FRAME_STALL_MS 250

/* The camera's health as the firmware's camera task counts it (STATS v2, HELLO's mode). */
typedef struct {
    uint32_t frames;       /* frames captured whole (each ends on the DMA count) */
    uint32_t vsync_early;  /* frames kept whose VSYNC fell before their last line */
    uint32_t short_frames; /* captures cut short by the next VSYNC */
    uint32_t timeouts;     /* captures that failed for time */
    uint32_t fallbacks;    /* switches to the other readout mode */
    uint8_t mode;          /* PROTO_CAM_MODE_* running, NONE while down (or no modes) */
} device_camera_status;

/* One processed frame, as the firmware's core 0 has it after net(). */
typedef struct {
    uint32_t frame_id;
    uint8_t flags;              /* PROTO_FLAG_INJECTED */
    const uint8_t *pixels;      /* camera frame (NULL: no FRAME message) */
    uint16_t width, height, stride;
    const uint8_t *in28;        /* 784 bytes the network saw */
    const pp_stages *stages;    /* optional, for STAGE messages */
    const classifier_result *result; /* status set (classifier_set_status) */
    uint8_t min_score_pct;      /* the UNSURE threshold status was decided with (RESULT v2) */
    uint32_t t_capture_us, t_preprocess_us, t_net_us;
} device_frame;

/* The FRAME image being sent in row bands (see device_frame_pending()). */
typedef struct {
    bool active;
    bool caller_pixels;         /* pix is the owner's frame (not the device's downscaled copy) */
    const uint8_t *pix;
    uint16_t stride, rows_per;
    proto_frame_hdr hdr;        /* y0 = the next band's first row */
    uint64_t progress_us;       /* when the last band went out (or the frame started) */
} device_pending_frame;

typedef struct {
    device_config cfg;
    device_sink sink;
    device_hooks hooks;
    proto_decoder rx;
    pp_params params;
    uint32_t params_generation; /* bumped on every SET_PARAMS */
    proto_stream_opts stream;
    proto_camera_opts camera;
    device_camera_status cam;   /* as last reported by the camera's owner */
    proto_stats stats;
    uint16_t tx_seq;
    uint32_t frames_published;
    uint64_t last_frame_us;     /* for fps */
    uint32_t fps_x100;
    uint32_t last_send_us;      /* time spent sending the previous frame's messages */
    uint64_t last_hello_us;
    uint64_t rx_err_window_us;  /* rate limit of ERROR replies to garbage */
    uint32_t rx_err_in_window;
    device_pending_frame pending;
    uint32_t frames_abandoned;  /* FRAME images not sent whole (superseded, stalled, no host) */
    uint8_t small[PROTO_MAX_SMALL_SIDE * PROTO_MAX_SMALL_SIDE]; /* downscaled FRAME */
    uint8_t in28[784];          /* inject path */
} device;

void device_init(device *d, const device_config *cfg, const device_sink *sink, const device_hooks *hooks);
/* Bytes from the host, any amount, any garbage: complete commands are answered. */
void device_receive(device *d, const uint8_t *data, size_t len);
/* Periodic work: HELLO every hello_period_ms, and the pending FRAME bands that now fit
 * (whole messages only; never waits). Call it often while device_frame_pending(). */
void device_poll(device *d);
void device_send_hello(device *d);
/* LOG message (if the stream mask has PROTO_STREAM_LOG); printf-style, cut to PROTO_MAX_TEXT. */
void device_log(device *d, uint8_t level, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
/* Send the messages for one processed frame, as the stream options ask. A frame with
 * pixels whose FRAME is due supersedes an unfinished one (which is then abandoned). */
void device_publish(device *d, const device_frame *f);
/* True while bands of the last published frame's own pixels are still to be sent: its
 * owner must keep those pixels unchanged until this turns false (device_poll() sends
 * them as the sink drains). False for a downscaled FRAME (the device sends its own copy). */
static inline bool device_frame_pending(const device *d) { return d->pending.active && d->pending.caller_pixels; }
/* Give up the unfinished FRAME now (its pixels are about to change): its unsent bands are
 * counted as dropped messages and use up their sequence numbers. */
void device_frame_abandon(device *d);
static inline uint32_t device_frames_abandoned(const device *d) { return d->frames_abandoned; }
/* Preprocess + classify + publish: the twin's camera path and the inject path.
 * Returns the pp_run status (0 ok, PP_NO_DIGIT, or < 0 when preprocessing refused the frame). */
int device_process(device *d, uint32_t frame_id, uint8_t flags, const uint8_t *pixels, uint16_t width,
                   uint16_t height, uint16_t stride, uint32_t t_capture_us);

void device_params_copy(const device *d, pp_params *out);
static inline uint32_t device_params_generation(const device *d) { return d->params_generation; }
static inline const proto_stream_opts *device_stream_opts(const device *d) { return &d->stream; }
static inline const proto_stats *device_stats(const device *d) { return &d->stats; }
/* Counters the firmware's camera path feeds (reported in STATS). */
static inline void device_count_camera_error(device *d) { d->stats.camera_errors++; }
static inline void device_count_skipped(device *d) { d->stats.frames_skipped++; }
/* The camera's counters and mode, for STATS, HELLO and CAMERA (call it whenever they may have changed). */
void device_set_camera_status(device *d, const device_camera_status *cs);
/* Send an ERROR (e.g. PROTO_ERR_CAMERA with cmd_type 0 when the camera fails). */
void device_send_error(device *d, uint16_t code, uint8_t cmd_type, uint16_t cmd_seq, const char *text);

#endif

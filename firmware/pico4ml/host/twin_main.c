/* pico4ml-twin: the board's portable C (preprocessing, net(), protocol, device
 * logic) built for the host, speaking the USB protocol on a pseudo-terminal, a
 * TCP socket on 127.0.0.1, or stdin/stdout. Frames come from PGM files, a
 * directory of PGM files (looped), a live feed of PGM images on a file descriptor
 * (a webcam or video file read by pico4ml-twin --camera), or synthetic digits drawn
 * in C, each held for --hold seconds. SET_CAMERA's exposure, gain, mirror and flip
 * are applied to every frame by camera_model.c.
 *
 * Usage: see --help. Prints one line on stderr when ready:
 *   pico4ml-twin: ready pty /dev/pts/N   |   pico4ml-twin: ready tcp 127.0.0.1 PORT
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "camera_model.h"
#include "device.h"
#include "feed.h"
#include "pgm.h"
#include "synth.h"
#include "twin_blob.h"
#include "twin_link.h"

#ifndef PICO4ML_MODEL_ID
#define PICO4ML_MODEL_ID "?" /* the twin's build passes the manifest entry it built in */
#endif

#define TWIN_VERSION "twin-0.1.0"
#define QUEUE_BYTES (64u * 1024u) /* like a firmware TX ring: FRAME bands are <= 8 KiB */

static volatile sig_atomic_t stop_requested;
static void on_signal(int sig) {
    (void)sig;
    stop_requested = 1;
}

/* Microseconds since the twin started (the board's uptime). */
static uint64_t clock_us(void *ctx) {
    (void)ctx;
    static uint64_t start;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    uint64_t now = (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
    if (!start) start = now - 1;
    return now - start;
}

typedef struct {
    char **paths; /* files, in order */
    int count;
    int next;
    bool from_dir;
    frame_feed *feed; /* frames pushed by another process (a camera), or NULL */
    int synth_w, synth_h;
    uint32_t rng;
    uint8_t *synth_buf;
    uint64_t hold_us;      /* a synthetic digit stays this long (0: a new one every frame) */
    uint64_t held_since;   /* when the digit on show was drawn (0: none yet) */
    int held_digit;
    uint32_t held_shape;   /* generator state its place, size and light come from */
} frame_source;

static void synth_frame(frame_source *s, uint64_t now) {
    if (s->hold_us == 0) { /* a new digit every frame */
        synth_digit(s->synth_buf, s->synth_w, s->synth_h, (int)(s->rng % 10u), &s->rng);
        return;
    }
    if (s->held_since == 0 || now - s->held_since >= s->hold_us) {
        s->held_digit = (int)(s->rng % 10u);
        s->held_shape = synth_rand(&s->rng);
        s->held_since = now ? now : 1;
    }
    uint32_t shape = s->held_shape; /* same digit, same place: only the sensor noise moves */
    synth_digit_shaped(s->synth_buf, s->synth_w, s->synth_h, s->held_digit, &shape, &s->rng);
}

/* Next frame into *pixels (owned: the caller frees it). 0 or -1 (no usable frame). */
static int next_frame(frame_source *s, uint64_t now, uint8_t **pixels, int *w, int *h, bool *owned, char *err,
                      size_t errlen) {
    if (s->feed) {
        if (feed_take(s->feed, pixels, w, h, err, errlen) < 0) return -1;
        *owned = true;
        return 0;
    }
    if (s->count == 0) {
        synth_frame(s, now);
        *pixels = s->synth_buf;
        *w = s->synth_w;
        *h = s->synth_h;
        *owned = false;
        return 0;
    }
    for (int tries = 0; tries < s->count; tries++) {
        const char *path = s->paths[s->next];
        s->next = (s->next + 1) % s->count;
        if (pgm_read(path, pixels, w, h, err, errlen) == 0) {
            *owned = true;
            return 0;
        }
        fprintf(stderr, "pico4ml-twin: skipping %s\n", err);
    }
    snprintf(err, errlen, "none of the %d frame files could be read", s->count);
    return -1;
}

/* A frame that passes by unprocessed (the board's camera keeps running): the next file is next. */
static void skip_frame(frame_source *s) {
    if (s->count) s->next = (s->next + 1) % s->count;
}

static void on_rx(void *ctx, const uint8_t *data, size_t len) { device_receive(ctx, data, len); }

/* Move FRAME bands out until the frame is sent or the host's side is full. A socket takes
 * the whole queue at once: without this the twin would wait for the next frame with bands
 * left and an empty queue (nothing for POLLOUT to wake it for), capping a 105 KB FULLRES
 * frame at one queue (64 KB) per frame period. */
static void pump_bands(twin_link *link, device *dev) {
    for (int i = 0; i < 64 && dev->pending.active && link->connected; i++) {
        link_flush(link);
        if (link->len) return; /* full: link_service() waits for POLLOUT */
        device_poll(dev);
    }
}

static void usage(FILE *f) {
    fprintf(f,
            "usage: pico4ml-twin-bin [options] [FRAME.pgm ...]\n"
            "The Pico4ML firmware's portable C on the host, speaking docs/protocol.md.\n"
            "  --pty            serve on a new pseudo-terminal (default); its path is printed\n"
            "  --tcp PORT       serve on 127.0.0.1:PORT (0: any free port)\n"
            "  --stdio          serve on stdin/stdout\n"
            "  --dir DIR        frames: the *.pgm files of DIR, in name order, looped\n"
            "  FRAME.pgm ...    frames: these 8-bit PGM files, looped\n"
            "                   (no frames given: synthetic digits drawn in C)\n"
            "  --feed-fd FD     frames: binary PGM images written to file descriptor FD by another\n"
            "                   process (a camera); the newest whole one is taken each frame\n"
            "  --size WxH       size of synthetic frames (default 324x324)\n"
            "  --hold S         a synthetic digit stays S seconds (default 2; 0: a new one every frame)\n"
            "  --fps F          frame rate (default 10; 0: as fast as possible)\n"
            "  --count N        stop streaming after N frames, keep answering commands\n"
            "  --once           stream each file once (same as --count <number of files>)\n"
            "  --seed S         seed of the synthetic digits (default 1)\n"
            "  --hello-ms MS    HELLO period in ms (default 2000; 0: only on start/request)\n"
            "  --model-region F the model store: the board's reserved flash region, kept in file F\n"
            "                   (created if missing); uploaded blobs (BLOB_* commands) go there and\n"
            "                   the last committed valid one runs, from start-up on\n");
}

int main(int argc, char **argv) {
    link_mode mode = LINK_PTY;
    int port = 0;
    double fps = 10.0;
    long count = 0;
    bool once = false;
    const char *dir = NULL;
    const char *region_path = NULL; /* --model-region: the model store file */
    uint32_t hello_ms = 2000;
    int feed_arg = -1;
    double hold_s = 2.0;
    frame_source src = {.synth_w = 324, .synth_h = 324, .rng = 1};
    char **files = calloc((size_t)argc, sizeof *files);
    int nfiles = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        bool has = i + 1 < argc;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(a, "--pty")) {
            mode = LINK_PTY;
        } else if (!strcmp(a, "--stdio")) {
            mode = LINK_STDIO;
        } else if (!strcmp(a, "--tcp") && has) {
            mode = LINK_TCP;
            port = atoi(argv[++i]);
        } else if (!strcmp(a, "--dir") && has) {
            dir = argv[++i];
        } else if (!strcmp(a, "--size") && has) {
            if (sscanf(argv[++i], "%dx%d", &src.synth_w, &src.synth_h) != 2 || src.synth_w < 8 || src.synth_h < 8 ||
                src.synth_w > 1024 || src.synth_h > 1024) {
                fprintf(stderr, "pico4ml-twin: --size wants WxH, 8..1024 each\n");
                return 2;
            }
        } else if (!strcmp(a, "--fps") && has) {
            fps = atof(argv[++i]);
        } else if (!strcmp(a, "--hold") && has) {
            hold_s = atof(argv[++i]);
        } else if (!strcmp(a, "--feed-fd") && has) {
            feed_arg = atoi(argv[++i]);
        } else if (!strcmp(a, "--count") && has) {
            count = atol(argv[++i]);
        } else if (!strcmp(a, "--once")) {
            once = true;
        } else if (!strcmp(a, "--seed") && has) {
            src.rng = (uint32_t)strtoul(argv[++i], NULL, 0) * 2654435761u + 1u;
        } else if (!strcmp(a, "--model-region") && has) {
            region_path = argv[++i];
        } else if (!strcmp(a, "--hello-ms") && has) {
            hello_ms = (uint32_t)atol(argv[++i]);
        } else if (a[0] == '-') {
            fprintf(stderr, "pico4ml-twin: unknown or incomplete option %s\n", a);
            usage(stderr);
            return 2;
        } else {
            files[nfiles++] = argv[i];
        }
    }
    if (port < 0 || port > 65535 || !(fps >= 0 && fps <= 1000) || !(hold_s >= 0 && hold_s <= 3600) || count < 0) {
        fprintf(stderr, "pico4ml-twin: port 0..65535, fps 0..1000, hold 0..3600 s, count >= 0\n");
        return 2;
    }
    src.hold_us = (uint64_t)(hold_s * 1e6);
    char err[512];
    if (feed_arg >= 0) {
        src.feed = feed_open(feed_arg, err, sizeof err);
        if (!src.feed) {
            fprintf(stderr, "pico4ml-twin: %s\n", err);
            return 2;
        }
        if (feed_wait_first(src.feed, 10000, err, sizeof err) < 0) { /* it fixes the capture size */
            fprintf(stderr, "pico4ml-twin: %s\n", err);
            return 2;
        }
    } else if (dir) {
        int n = pgm_list_dir(dir, &src.paths, err, sizeof err);
        if (n < 0) {
            fprintf(stderr, "pico4ml-twin: %s\n", err);
            return 2;
        }
        src.count = n;
        src.from_dir = true;
    } else if (nfiles) {
        src.paths = files;
        src.count = nfiles;
    }
    if (once && src.count) count = src.count;
    src.synth_buf = malloc((size_t)src.synth_w * (size_t)src.synth_h);

    /* The first frame fixes the capture size HELLO reports. */
    uint8_t *pixels;
    int w, h;
    bool owned;
    if (src.feed) {
        feed_size(src.feed, &w, &h);
    } else {
        if (next_frame(&src, 0, &pixels, &w, &h, &owned, err, sizeof err) < 0) {
            fprintf(stderr, "pico4ml-twin: %s\n", err);
            return 2;
        }
        if (owned) free(pixels);
    }
    src.next = 0;
    src.held_since = 0;

    twin_link link;
    if (link_open(&link, mode, port, QUEUE_BYTES, err, sizeof err) < 0) {
        fprintf(stderr, "pico4ml-twin: %s\n", err);
        return 1;
    }
    if (src.feed) link.watch_fd = feed_fd(src.feed); /* a camera frame arriving ends the wait */
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    signal(SIGPIPE, SIG_IGN);

    static uint8_t rx_buf[PROTO_MAX_PACKET];
    static device dev;
    device_config cfg = {
        .firmware_version = TWIN_VERSION,
        .build_info = "host twin, gcc " __VERSION__ ", model " PICO4ML_MODEL_ID, /* as main.c's: the GUI reads it */
        .capture_width = (uint16_t)w,
        .capture_height = (uint16_t)h,
        .rx_buf = rx_buf,
        .rx_cap = sizeof rx_buf,
        .hello_period_ms = hello_ms,
    };
    device_sink sink = {link_write, link_space, &link};
    static camera_model camera;
    camera_model_init(&camera, src.rng ^ 0x5DEECE66u);
    /* the camera model takes SET_CAMERA; pp_run directly (one thread) */
    device_hooks hooks = {.now_us = clock_us, .set_camera = camera_model_set, .ctx = &camera};
    if (region_path) {
        int active = twin_blob_open(region_path);
        if (active < 0) {
            fprintf(stderr, "pico4ml-twin: --model-region %s: %s\n", region_path,
                    errno == EINVAL ? "not a model region file (wrong size)" : strerror(errno));
            return 2;
        }
        hooks.blob_command = twin_blob_command;
    }
    device_init(&dev, &cfg, &sink, &hooks);

    if (mode == LINK_PTY) fprintf(stderr, "pico4ml-twin: ready pty %s\n", link.path);
    else if (mode == LINK_TCP) fprintf(stderr, "pico4ml-twin: ready tcp 127.0.0.1 %d\n", link.port);
    else fprintf(stderr, "pico4ml-twin: ready stdio\n");
    fflush(stderr);

    device_send_hello(&dev);
    device_log(&dev, PROTO_LOG_INFO, "host twin up: %dx%d frames from %s, %.1f fps", w, h,
               src.feed ? "a camera feed" : src.count ? (src.from_dir ? "a directory" : "files") : "synthetic digits",
               fps);

    uint64_t period = fps > 0 ? (uint64_t)(1e6 / fps) : 0;
    uint64_t next_at = clock_us(NULL);
    uint32_t frame_id = 0;
    int exit_code = 0;
    /* The frame whose FRAME bands are still going out (device_frame_pending()): like the
     * board's buffer lent to core 0, it is kept unchanged and no new frame is processed
     * until the device is done with it (or gives it up when the host stops reading). */
    uint8_t *held = NULL;
    bool held_owned = false;
    device_camera_status cam_status = {.mode = PROTO_CAM_MODE_NONE}; /* no readout modes */
    while (!stop_requested && !(mode == LINK_STDIO && link.input_closed)) {
        uint64_t now = clock_us(NULL);
        bool streaming = count == 0 || (long)frame_id < count;
        int timeout = 50;
        if (streaming) timeout = now >= next_at ? 0 : (int)((next_at - now + 999) / 1000);
        pump_bands(&link, &dev);
        link_service(&link, timeout > 50 ? 50 : timeout, on_rx, &dev);
        if (src.feed && feed_pump(src.feed, err, sizeof err) < 0) { /* the camera process went away */
            fprintf(stderr, "pico4ml-twin: %s\n", err);
            exit_code = 1;
            break;
        }
        if (link.new_host) {
            link.new_host = false;
            device_send_hello(&dev); /* what DTR rising does on the board */
        }
        device_poll(&dev); /* HELLO, and the FRAME bands that fit now */
        if (held && !device_frame_pending(&dev)) {
            if (held_owned) free(held);
            held = NULL;
        }
        now = clock_us(NULL);
        if (!streaming || now < next_at) continue;
        next_at = (now - next_at > period) ? now + period : next_at + period; /* fall behind, don't burst */
        if (held) { /* the buffer is still lent out: this frame passes by, as on the board */
            skip_frame(&src);
            device_count_skipped(&dev);
            frame_id++;
            continue;
        }
        uint64_t t0 = clock_us(NULL);
        if (next_frame(&src, t0, &pixels, &w, &h, &owned, err, sizeof err) < 0) {
            device_log(&dev, PROTO_LOG_ERROR, "%s", err);
            dev.stats.camera_errors++;
            frame_id++;
            continue;
        }
        if (!camera_model_is_identity(&camera)) { /* exposure, gain, mirror, flip as SET_CAMERA asked */
            uint8_t *shot = malloc((size_t)w * (size_t)h);
            if (shot) {
                camera_model_apply(&camera, pixels, shot, w, h);
                if (owned) free(pixels);
                pixels = shot;
                owned = true;
            }
        }
        uint32_t t_capture = (uint32_t)(clock_us(NULL) - t0);
        cam_status.frames++; /* STATS' camera counters: frames only, the twin's camera never times out */
        device_set_camera_status(&dev, &cam_status);
        int rc = device_process(&dev, ++frame_id, 0, pixels, (uint16_t)w, (uint16_t)h, (uint16_t)w, t_capture);
        if (rc < 0) device_log(&dev, PROTO_LOG_WARN, "frame %u: preprocessing refused it (%d)", frame_id, rc);
        if (device_frame_pending(&dev)) {
            held = pixels;
            held_owned = owned;
        } else if (owned) {
            free(pixels);
        }
    }
    /* Let what is queued reach the host (bounded), then go. */
    for (int i = 0; i < 20 && (link.len || device_frame_pending(&dev)) && link.connected; i++) {
        link_service(&link, 10, on_rx, &dev);
        device_poll(&dev);
    }
    device_frame_abandon(&dev);
    if (held && held_owned) free(held);
    if (device_frames_abandoned(&dev))
        fprintf(stderr, "pico4ml-twin: %u camera frame(s) not sent whole (host too slow, or gone)\n",
                (unsigned)device_frames_abandoned(&dev));
    link_close(&link);
    twin_blob_close();
    if (src.from_dir) pgm_free_list(src.paths, src.count);
    feed_close(src.feed);
    free(files);
    free(src.synth_buf);
    return exit_code;
}

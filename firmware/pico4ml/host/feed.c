/* Frames from a pipe (see feed.h): a small header parser, then the pixels straight into a
 * buffer that becomes the newest frame when whole. */
#define _POSIX_C_SOURCE 200809L
#include "feed.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pgm.h"

#define FEED_HDR_MAX 64
#define FEED_READS_PER_PUMP 32 /* at most 2 MiB per call, so a fast writer cannot starve the link */

struct frame_feed {
    int fd;
    char hdr[FEED_HDR_MAX + 1]; /* header of the frame being received */
    size_t hdr_len;
    int tokens;                 /* whole header tokens seen: P5, width, height, maxval */
    bool in_token;
    int w, h;                   /* size of every frame (fixed by the first) */
    int in_w, in_h;             /* size announced by the header being received */
    uint8_t *incoming, *latest;
    size_t got;                 /* pixel bytes of the incoming frame received */
    bool receiving_pixels, have_frame;
};

frame_feed *feed_open(int fd, char *err, size_t errlen) {
    frame_feed *f = calloc(1, sizeof *f);
    int fl = fcntl(fd, F_GETFL);
    if (!f || fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0) {
        snprintf(err, errlen, "camera feed (fd %d): %s", fd, f ? strerror(errno) : "out of memory");
        free(f);
        return NULL;
    }
    f->fd = fd;
    return f;
}

int feed_fd(const frame_feed *f) { return f->fd; }

void feed_close(frame_feed *f) {
    if (!f) return;
    close(f->fd);
    free(f->incoming);
    free(f->latest);
    free(f);
}

/* The header is complete: check it and make room for its pixels. */
static int header_done(frame_feed *f, char *err, size_t errlen) {
    char magic[3] = {0};
    int w = 0, h = 0, maxval = 0;
    f->hdr[f->hdr_len] = '\0';
    if (sscanf(f->hdr, "%2s %d %d %d", magic, &w, &h, &maxval) != 4 || strcmp(magic, "P5") != 0 || maxval != 255 ||
        w < 1 || h < 1 || w > PGM_MAX_DIM || h > PGM_MAX_DIM) {
        snprintf(err, errlen, "camera feed: not a binary 8-bit PGM header: \"%.40s\"", f->hdr);
        return -1;
    }
    if (f->w && (w != f->w || h != f->h)) {
        snprintf(err, errlen, "camera feed: frame size changed from %dx%d to %dx%d", f->w, f->h, w, h);
        return -1;
    }
    if (!f->w) {
        f->incoming = malloc((size_t)w * (size_t)h);
        f->latest = malloc((size_t)w * (size_t)h);
        if (!f->incoming || !f->latest) {
            snprintf(err, errlen, "camera feed: out of memory for %dx%d frames", w, h);
            return -1;
        }
        f->w = w;
        f->h = h;
    }
    f->in_w = w;
    f->in_h = h;
    f->got = 0;
    f->receiving_pixels = true;
    return 0;
}

static int header_byte(frame_feed *f, uint8_t c, char *err, size_t errlen) {
    if (f->hdr_len >= FEED_HDR_MAX) {
        snprintf(err, errlen, "camera feed: header longer than %d bytes", FEED_HDR_MAX);
        return -1;
    }
    f->hdr[f->hdr_len++] = (char)c;
    if (isspace(c)) {
        if (f->in_token && ++f->tokens == 4) { /* the single whitespace after maxval ends it */
            int rc = header_done(f, err, errlen);
            f->in_token = false;
            f->tokens = 0;
            f->hdr_len = 0;
            return rc;
        }
        f->in_token = false;
    } else {
        f->in_token = true;
    }
    return 0;
}

static int consume(frame_feed *f, const uint8_t *p, size_t n, char *err, size_t errlen) {
    while (n > 0) {
        if (!f->receiving_pixels) {
            if (header_byte(f, *p, err, errlen) < 0) return -1;
            p++;
            n--;
            continue;
        }
        size_t need = (size_t)f->in_w * (size_t)f->in_h - f->got;
        size_t take = n < need ? n : need;
        memcpy(f->incoming + f->got, p, take);
        f->got += take;
        p += take;
        n -= take;
        if (f->got == (size_t)f->in_w * (size_t)f->in_h) { /* whole: it is the newest frame now */
            uint8_t *t = f->latest;
            f->latest = f->incoming;
            f->incoming = t;
            f->have_frame = true;
            f->receiving_pixels = false;
        }
    }
    return 0;
}

int feed_pump(frame_feed *f, char *err, size_t errlen) {
    static uint8_t buf[65536];
    for (int i = 0; i < FEED_READS_PER_PUMP; i++) {
        ssize_t n = read(f->fd, buf, sizeof buf);
        if (n > 0) {
            if (consume(f, buf, (size_t)n, err, errlen) < 0) return -1;
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) return 0;
        snprintf(err, errlen, "camera feed closed%s%s", n < 0 ? ": " : " (the camera process stopped)",
                 n < 0 ? strerror(errno) : "");
        return -1;
    }
    return 0;
}

int feed_wait_first(frame_feed *f, int timeout_ms, char *err, size_t errlen) {
    for (int waited = 0; !f->have_frame; waited += 20) {
        if (waited >= timeout_ms) {
            snprintf(err, errlen, "camera feed: no frame within %d ms", timeout_ms);
            return -1;
        }
        struct pollfd p = {f->fd, POLLIN, 0};
        poll(&p, 1, 20);
        if (feed_pump(f, err, errlen) < 0) return -1;
    }
    return 0;
}

void feed_size(const frame_feed *f, int *width, int *height) {
    *width = f->w;
    *height = f->h;
}

int feed_take(frame_feed *f, uint8_t **pixels, int *width, int *height, char *err, size_t errlen) {
    if (!f->have_frame) {
        snprintf(err, errlen, "camera feed: no frame yet");
        return -1;
    }
    size_t n = (size_t)f->w * (size_t)f->h;
    *pixels = malloc(n);
    if (!*pixels) {
        snprintf(err, errlen, "camera feed: out of memory");
        return -1;
    }
    memcpy(*pixels, f->latest, n);
    *width = f->w;
    *height = f->h;
    return 0;
}

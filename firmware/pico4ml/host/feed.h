/* A live camera for the host twin: binary PGM images (P5, maxval 255, no comments) written
 * one after another to a pipe by another process (pico4ml-twin --camera reads a webcam or a
 * video file with OpenCV and writes them). Like a sensor, the feed always offers its newest
 * whole frame; the first one fixes the capture size and later ones must keep it. */
#ifndef PICO4ML_HOST_FEED_H
#define PICO4ML_HOST_FEED_H

#include <stddef.h>
#include <stdint.h>

typedef struct frame_feed frame_feed;

/* Takes over fd (made non-blocking). NULL with err on failure. */
frame_feed *feed_open(int fd, char *err, size_t errlen);
void feed_close(frame_feed *f);
/* The descriptor to wait on for more frame bytes. */
int feed_fd(const frame_feed *f);
/* Read what the writer has sent so far, without blocking. 0, or -1 with err when the
 * writer closed the pipe or sent something that is not a frame of the right size. */
int feed_pump(frame_feed *f, char *err, size_t errlen);
/* Wait up to timeout_ms for the first whole frame. 0 or -1 with err. */
int feed_wait_first(frame_feed *f, int timeout_ms, char *err, size_t errlen);
void feed_size(const frame_feed *f, int *width, int *height);
/* A malloc'ed copy of the newest whole frame (the caller frees it). 0 or -1 with err. */
int feed_take(frame_feed *f, uint8_t **pixels, int *width, int *height, char *err, size_t errlen);

#endif

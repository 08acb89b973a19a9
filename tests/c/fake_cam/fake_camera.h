/* What the fake HM01B0 (fake_camera.c) saw, read under its lock. */
#ifndef FAKE_CAMERA_H
#define FAKE_CAMERA_H
#include "hm01b0.h"
typedef struct {
    int inits, init_calls, double_starts, captures;
    uint8_t orientation;
    hm01b0_exposure exposure;
} fake_camera_stats;
fake_camera_stats fake_camera_get_stats(void);
#endif

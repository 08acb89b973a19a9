/* What the fake HM01B0 (fake_camera.c) saw, read under its lock, and the script
 * of sensor faults it plays (set before camera_task_launch or between phases). */
#ifndef FAKE_CAMERA_H
#define FAKE_CAMERA_H
#include "hm01b0.h"
typedef struct {
    int fail_inits;             /* the first N inits fail (no I2C answer) */
    int vsync_early_from;       /* captures [from, to) arrive with VSYNC early (0: none) */
    int vsync_early_to;
    int no_vsync_from;          /* captures [from, from + 3) see no VSYNC (0: none) */
    hm01b0_mode short_mode;     /* every capture in this mode ends short (0: none) */
} fake_camera_script;
typedef struct {
    int inits, init_calls, double_starts, captures;
    int inits_in_mode[3];       /* successful inits per hm01b0_mode */
    int captures_in_mode[3];
    hm01b0_mode mode;           /* of the last successful init */
    int orientation_sets, exposure_sets;
    uint8_t orientation;
    hm01b0_exposure exposure;
} fake_camera_stats;
void fake_camera_set_script(const fake_camera_script *s);
fake_camera_stats fake_camera_get_stats(void);
#endif

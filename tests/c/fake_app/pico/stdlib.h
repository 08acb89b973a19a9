/* Fake pico/stdlib.h for app/main.c on the host (tests/c/test_firmware_main.c): the
 * time calls are fake_cores.c's real-time ones. */
#ifndef FAKE_STDLIB_H
#define FAKE_STDLIB_H
#include "pico/time.h"
#endif

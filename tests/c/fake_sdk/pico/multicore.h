/* Fake pico/multicore.h: core 1 is a POSIX thread (fake_cores.c). */
#ifndef FAKE_MULTICORE_H
#define FAKE_MULTICORE_H
#include "fake_sdk.h"
void multicore_launch_core1(void (*entry)(void));
#endif

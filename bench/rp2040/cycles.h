/* Cycle counter for the Cortex-M0+ (which has no DWT): SysTick on the processor
 * clock, counting down from 2^24, with its interrupt counting the wraps. */
#ifndef BENCH_CYCLES_H
#define BENCH_CYCLES_H
#include <stdint.h>

void cycles_start(void);
uint32_t cycles_now(void); /* cycles since cycles_start(); wraps after 2^32 (34 s at 125 MHz) */

#endif

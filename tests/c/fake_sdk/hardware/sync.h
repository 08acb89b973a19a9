/* Fake hardware/sync.h: see fake_sdk.h. */
#ifndef FAKE_SYNC_H
#define FAKE_SYNC_H
#include "fake_sdk.h"
#define __compiler_memory_barrier() __asm__ volatile("" ::: "memory")
static inline uint32_t save_and_disable_interrupts(void) { return 0; }
static inline void restore_interrupts(uint32_t status) { (void)status; }
#endif

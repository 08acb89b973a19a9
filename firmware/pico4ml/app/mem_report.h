/* Memory use of the running image, from the linker script's symbols, and the
 * stack high-water marks (stacks are painted at boot and checked later). */
#ifndef PICO4ML_MEM_REPORT_H
#define PICO4ML_MEM_REPORT_H

#include <stdint.h>

typedef struct {
    uint32_t flash_bytes;       /* the image in flash (code, constants, weights, .data image) */
    uint32_t ram_static_bytes;  /* vector table + .data + .bss in main SRAM */
    uint32_t heap_free_bytes;   /* main SRAM left above .bss (malloc: only queue_init uses it) */
    uint32_t stack0_bytes, stack1_bytes; /* core 0 (scratch Y) and core 1 (scratch X) stacks */
    uint32_t stack0_unused, stack1_unused; /* never touched since boot */
} mem_usage;

/* Core 0, first thing in main() and before core 1 starts. */
void mem_paint_stacks(void);
void mem_usage_get(mem_usage *m);

#endif

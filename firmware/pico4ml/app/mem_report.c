/* Memory report: see mem_report.h. Symbols from the SDK's memmap_default.ld. */
#include "mem_report.h"

#include <stdint.h>

#define PAINT 0xC0DEFACEu
#define SRAM_BASE 0x20000000u
#define SP_MARGIN 64u  /* leave the words just below the live stack pointer alone */

extern uint32_t __flash_binary_start, __flash_binary_end;
extern uint32_t __bss_end__, __end__, __HeapLimit;
extern uint32_t __StackBottom, __StackTop, __StackOneBottom, __StackOneTop;

static uint32_t addr(const void *p) { return (uint32_t)(uintptr_t)p; }

static uint32_t current_sp(void) {
    uint32_t sp;
    __asm volatile("mov %0, sp" : "=r"(sp));
    return sp;
}

static void paint(uint32_t *from, uint32_t *to) {
    for (volatile uint32_t *p = from; p < to; p++)
        *p = PAINT;
}

static uint32_t unused(const uint32_t *from, const uint32_t *to) {
    const volatile uint32_t *p = from;
    while (p < to && *p == PAINT)
        p++;
    return (uint32_t)((uintptr_t)p - (uintptr_t)from);
}

void mem_paint_stacks(void) {
    paint(&__StackBottom, (uint32_t *)(uintptr_t)((current_sp() - SP_MARGIN) & ~3u));
    paint(&__StackOneBottom, &__StackOneTop);
}

void mem_usage_get(mem_usage *m) {
    m->flash_bytes = addr(&__flash_binary_end) - addr(&__flash_binary_start);
    m->ram_static_bytes = addr(&__bss_end__) - SRAM_BASE;
    m->heap_free_bytes = addr(&__HeapLimit) - addr(&__end__);
    m->stack0_bytes = addr(&__StackTop) - addr(&__StackBottom);
    m->stack1_bytes = addr(&__StackOneTop) - addr(&__StackOneBottom);
    m->stack0_unused = unused(&__StackBottom, &__StackTop);
    m->stack1_unused = unused(&__StackOneBottom, &__StackOneTop);
}

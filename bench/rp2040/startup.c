/* Bare-metal start-up for the benchmark image: vector table, .data copy, .bss
 * zeroing, then main(). No Pico SDK: the image must build and run in CI with only
 * arm-none-eabi-gcc. Exceptions we do not expect end in a breakpoint the emulator
 * driver reports as a fault. */
#include <stdint.h>

extern uint32_t __data_load[], __data_start[], __data_end[], __bss_start[], __bss_end[], __stack_top[];
int main(void);
void systick_handler(void);

/* BKPT codes the emulator driver understands: main returned, or a fault. */
#define halt(code) for (;;) __asm volatile("bkpt %0" ::"i"(code))
#define BKPT_DONE 0x01
#define BKPT_FAULT 0xee

void reset_handler(void) {
    for (uint32_t *src = __data_load, *dst = __data_start; dst < __data_end;) {
        *dst++ = *src++;
    }
    for (uint32_t *dst = __bss_start; dst < __bss_end;) {
        *dst++ = 0;
    }
    main();
    halt(BKPT_DONE);
}

static void fault_handler(void) {
    halt(BKPT_FAULT);
}

__attribute__((section(".vectors"), used)) static void (*const vectors[16])(void) = {
    (void (*)(void))__stack_top,
    reset_handler,
    fault_handler, /* NMI */
    fault_handler, /* HardFault */
    0, 0, 0, 0, 0, 0, 0,
    fault_handler, /* SVCall */
    0, 0,
    fault_handler, /* PendSV */
    systick_handler,
};

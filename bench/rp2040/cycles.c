/* SysTick-based cycle counter; see cycles.h. */
#include "cycles.h"

#define SYST_CSR (*(volatile uint32_t *)0xe000e010)
#define SYST_RVR (*(volatile uint32_t *)0xe000e014)
#define SYST_CVR (*(volatile uint32_t *)0xe000e018)
#define SYST_CSR_ENABLE_TICKINT_CPUCLK 0x7u
#define SYST_PERIOD (1u << 24)

static volatile uint32_t wraps;

void systick_handler(void) {
    wraps++;
}

void cycles_start(void) {
    SYST_CSR = 0;
    SYST_RVR = SYST_PERIOD - 1;
    SYST_CVR = 0;
    wraps = 0;
    SYST_CSR = SYST_CSR_ENABLE_TICKINT_CPUCLK;
}

uint32_t cycles_now(void) {
    uint32_t w, v;
    do { /* re-read if a wrap lands between the two reads */
        w = wraps;
        v = SYST_CVR;
    } while (w != wraps);
    return w * SYST_PERIOD + (SYST_PERIOD - 1 - v);
}

/* Fake pico/time.h: see fake_sdk.h. */
#ifndef FAKE_TIME_H
#define FAKE_TIME_H
#include "fake_sdk.h"
typedef struct repeating_timer repeating_timer_t;
typedef bool (*repeating_timer_callback_t)(repeating_timer_t *rt);
struct repeating_timer {
    int64_t delay_us;
    repeating_timer_callback_t callback;
};
bool add_repeating_timer_us(int64_t delay_us, repeating_timer_callback_t callback, void *user_data,
                            repeating_timer_t *out);
/* Real time, for the two-thread tests (fake_cores.c). */
uint64_t time_us_64(void);
void sleep_ms(uint32_t ms);
void sleep_us(uint64_t us);
#endif

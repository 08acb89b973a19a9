/* net_int8_fast.h: hand-written int8 forward pass for the Cortex-M0+ (see net_int8_fast.c).
 * Same inputs, outputs and constants as net_int8() in model_int8.h, bit for bit. */
#ifndef NET_INT8_FAST_H
#define NET_INT8_FAST_H

#include <stdint.h>

void net_int8_fast(const uint8_t *input, int32_t *output);

#endif

/* int8_words.h: four int8 weights in one aligned 32-bit load, for the integer kernels
 * (core/blob.c, core/model/net_int8_fast.c; kept beside the model headers, which every build
 * of a model includes). On the M0+ a word load takes 2 cycles, four byte loads 8 to 12.
 * Callers keep the weights _Alignas(4) and rows a multiple of 4 long. */
#ifndef PICO4ML_INT8_WORDS_H
#define PICO4ML_INT8_WORDS_H

#include <stdint.h>
#include <string.h>

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "load_word() takes weight j+k from bits 8k..8k+7: little-endian only (RP2040, x86, arm64)"
#endif
#if defined(__GNUC__) /* gcc, clang: one aligned ldr, even in freestanding builds */
#define COPY_WORD(dst, src) __builtin_memcpy((dst), __builtin_assume_aligned((src), 4), 4)
#else
#define COPY_WORD(dst, src) memcpy((dst), (src), 4)
#endif

static inline uint32_t load_word(const int8_t *p) {
    uint32_t v;
    COPY_WORD(&v, p);
    return v;
}

/* Byte k of a word as a signed weight (conversions to int8_t wrap modulo 2^8 in gcc/clang). */
#define W0(v) ((int32_t)(int8_t)(v))
#define W1(v) ((int32_t)(int8_t)((v) >> 8))
#define W2(v) ((int32_t)(int8_t)((v) >> 16))
#define W3(v) ((int32_t)(int8_t)((v) >> 24))

#endif

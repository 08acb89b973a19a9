/* net_int8_fast.c: the int8 model's forward pass, hand-written for the Cortex-M0+.
 *
 * Computes exactly what the TinyGrad-rendered net_int8() (model_int8.c) computes, on the
 * same constants (declared in model_int8.h), bit for bit; a test holds the two equal on all
 * 10,000 MNIST test images. It is faster on the M0+ (no SIMD, 1-cycle multiplier, 2-cycle
 * loads) because it walks the weights input-major and skips zero inputs: about 80 % of a
 * preprocessed digit's pixels and about half of the hidden units are zero, and a zero adds
 * nothing to any sum. Each non-zero input adds x * its weight row to all the accumulators;
 * inputs are taken two at a time so each accumulator is loaded and stored once per pair,
 * and weights are read four per 32-bit load (the constants are _Alignas(4)). Rows are read
 * front to back, which suits the RP2040's XIP flash cache. Timing depends on the image
 * (cycles grow with the number of non-zero pixels; see bench/rp2040.py for measured figures).
 * Portable C11, no heap, static buffers (not reentrant).
 */
#include <stdint.h>

#include "int8_words.h"
#include "model_int8.h"
#include "net_int8_fast.h"

#if MODEL_INT8_LAYERS != 2
#error "net_int8_fast supports the one-hidden-layer MLP only"
#endif

#define N_IN MODEL_INT8_INPUT_SIZE
#define N_HID MODEL_INT8_HIDDEN_SIZE
#define N_OUT MODEL_INT8_OUTPUT_SIZE

static int32_t s_acc[N_HID];
static uint16_t s_nonzero[N_IN > N_HID ? N_IN : N_HID];

/* acc[j] += x * w[j] for all n accumulators. */
static void add_row(int32_t *restrict acc, const int8_t *restrict w, int32_t x, int n) {
    for (int j = 0; j < n; j++) {
        acc[j] += x * w[j];
    }
}

/* acc[j] += xa * wa[j] + xb * wb[j]: one load and store of each accumulator for two inputs. */
static void add_row_pair(int32_t *restrict acc, const int8_t *restrict wa, const int8_t *restrict wb,
                         int32_t xa, int32_t xb, int n) {
    if (n % 4 == 0) { /* word-aligned rows: four weights per load */
        for (int j = 0; j < n; j += 4) {
            uint32_t a = load_word(wa + j), b = load_word(wb + j);
            acc[j] += xa * W0(a) + xb * W0(b);
            acc[j + 1] += xa * W1(a) + xb * W1(b);
            acc[j + 2] += xa * W2(a) + xb * W2(b);
            acc[j + 3] += xa * W3(a) + xb * W3(b);
        }
        return;
    }
    for (int j = 0; j < n; j++) {
        acc[j] += xa * wa[j] + xb * wb[j];
    }
}

/* acc = bias + sum over the non-zero x[i] of x[i] * w[i][.] (w input-major, n_out wide). */
static void dense_sparse_input(int32_t *restrict acc, const uint8_t *restrict x, int n_in, const int8_t *w,
                               const int32_t *bias, int n_out) {
    int n = 0;
    for (int i = 0; i < n_in; i++) {
        if (x[i]) {
            s_nonzero[n++] = (uint16_t)i;
        }
    }
    for (int j = 0; j < n_out; j++) {
        acc[j] = bias ? bias[j] : 0;
    }
    int k = 0;
    for (; k + 1 < n; k += 2) {
        int ia = s_nonzero[k], ib = s_nonzero[k + 1];
        add_row_pair(acc, w + ia * n_out, w + ib * n_out, x[ia], x[ib], n_out);
    }
    if (k < n) {
        add_row(acc, w + s_nonzero[k] * n_out, x[s_nonzero[k]], n_out);
    }
}


void net_int8_fast(const uint8_t *input, int32_t *output) {
    static uint8_t hidden[N_HID];
    dense_sparse_input(s_acc, input, N_IN, model_int8_l0_weight, model_int8_l0_bias, N_HID);
    for (int j = 0; j < N_HID; j++) {
        /* ReLU + requantise + saturate, as in pico4ml.train.quantize.hidden_forward */
        int32_t a = s_acc[j] < 0 ? 0 : s_acc[j];
        a = a > model_int8_l0_cap[j] ? model_int8_l0_cap[j] : a;
        hidden[j] = (uint8_t)((a * model_int8_l0_mult[j] + (1 << (MODEL_INT8_SHIFT - 1))) >> MODEL_INT8_SHIFT);
    }
    int32_t acc[N_OUT];
    dense_sparse_input(acc, hidden, N_HID, model_int8_l1_weight, 0, N_OUT);
    for (int k = 0; k < N_OUT; k++) {
        output[k] = acc[k] * model_int8_l1_mult[k] + model_int8_l1_bias[k];
    }
}

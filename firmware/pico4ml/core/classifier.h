/* classifier.h: the 28x28 input -> logits, top class and its score.
 *
 * Hides which exported model is built in: the float model (core/model/model_float.h,
 * the default) or, with -DPICO4ML_MODEL_INT8=1, the int8 model (model_int8.h).
 * Portable C11, no heap; not reentrant (one static input buffer).
 */
#ifndef PICO4ML_CLASSIFIER_H
#define PICO4ML_CLASSIFIER_H

#include <stdint.h>

#define CLASSIFIER_INPUT_SIZE 784
#define CLASSIFIER_CLASSES 10

typedef struct {
    float logits[CLASSIFIER_CLASSES];
    int argmax;   /* 0..9, first maximum */
    float score;  /* softmax probability of argmax, 0..1 */
} classifier_result;

void classifier_run(const uint8_t in28[CLASSIFIER_INPUT_SIZE], classifier_result *r);

const char *classifier_model_name(void);
const char *classifier_weights_sha256(void);

#endif

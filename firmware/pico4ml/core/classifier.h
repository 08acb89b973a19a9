/* classifier.h: the 28x28 input -> logits, top class and its score.
 *
 * Hides which exported model is built in: the float model (core/model/model_float.h,
 * the default) or, with -DPICO4ML_MODEL_INT8=1, the int8 model (model_int8.h).
 * Portable C11, no heap; not reentrant (one static input buffer). Also decides whether
 * an answer is a digit, no digit or unsure (classifier_set_status).
 */
#ifndef PICO4ML_CLASSIFIER_H
#define PICO4ML_CLASSIFIER_H

#include <stdint.h>

#define CLASSIFIER_INPUT_SIZE 784
#define CLASSIFIER_CLASSES 10

/* What the answer is worth (classifier_result.status; RESULT carries it). */
enum {
    CLASSIFIER_DIGIT = 0,    /* a digit, read with confidence */
    CLASSIFIER_NO_DIGIT = 1, /* preprocessing found nothing digit-like */
    CLASSIFIER_UNSURE = 2,   /* a digit-like input, but the score is below min_score_pct */
};

typedef struct {
    float logits[CLASSIFIER_CLASSES];
    int argmax;     /* 0..9, first maximum */
    float score;    /* softmax probability of argmax, 0..1 */
    uint8_t status; /* CLASSIFIER_*: DIGIT after classifier_run, set by classifier_set_status */
} classifier_result;

void classifier_run(const uint8_t in28[CLASSIFIER_INPUT_SIZE], classifier_result *r);

/* The one rule for r->status: NO_DIGIT unless preprocessing returned PP_OK (pp_status),
 * UNSURE when the score in percent is below min_score_pct (pp_params.min_score_pct),
 * else DIGIT. */
void classifier_set_status(classifier_result *r, int pp_status, int min_score_pct);

const char *classifier_model_name(void);
const char *classifier_weights_sha256(void);

#endif

/* classifier.h: the 28x28 input -> logits, top class and its score.
 *
 * Hides which exported model is built in: one entry of core/model/manifest.json,
 * chosen at build time by its define (-DPICO4ML_MODEL_MLP_INT8_FAST=1, the firmware's
 * default, and so on).
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

enum { CLASSIFIER_KIND_FLOAT = 0, CLASSIFIER_KIND_INT8 = 1 }; /* = PROTO_MODEL_FLOAT / _INT8 */

const char *classifier_model_name(void);
int classifier_model_kind(void);
unsigned long classifier_weight_bytes(void); /* bytes of constant weights (flash) */
const char *classifier_weights_sha256(void);

#endif

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

/* A model that runs instead of the built-in one (an uploaded blob, core/blob_store.h):
 * run() fills ten int32 logits in units of output_scale and returns 0 (else the answer is
 * the built-in model's). classifier_use() with NULL goes back to the built-in model. The
 * caller keeps *m alive while it is in use and switches between inferences. */
typedef struct {
    int (*run)(void *ctx, const uint8_t in28[CLASSIFIER_INPUT_SIZE], int32_t logits[CLASSIFIER_CLASSES]);
    void *ctx;
    float output_scale;
    const char *name;          /* HELLO's model_name */
    const char *weights_sha256; /* hex, HELLO's weights hash */
    unsigned long weight_bytes;
} classifier_model;

void classifier_use(const classifier_model *m);
int classifier_builtin(void); /* 1 while the built-in model runs */

const char *classifier_model_name(void);
int classifier_model_kind(void);
unsigned long classifier_weight_bytes(void); /* bytes of constant weights (flash) */
const char *classifier_weights_sha256(void);

#endif

/* classifier.c: runs the built-in model on a 28x28 input and scores its answer.
 *
 * The softmax is computed in float: ten values, so its cost is nothing next to net().
 */
#include "classifier.h"

#include <math.h>
#include <stddef.h>

#include "preprocess.h"

/* Which built-in model: one define per entry of core/model/manifest.json, which CMake
 * (PICO4ML_MODEL) and the host builds (common/manifest.py) pass. */
#if defined(PICO4ML_MODEL_MLP_INT8_FAST) || defined(PICO4ML_MODEL_MLP_INT8)
/* The int8 MLP over TinyGrad's exported int8 weights. */
#include "model/model_int8.h"
#define MODEL_NAME_STR MODEL_INT8_NAME
#define MODEL_HASH_STR MODEL_INT8_WEIGHTS_SHA256
#define MODEL_BYTES MODEL_INT8_WEIGHT_BYTES
#define MODEL_INPUT_SIZE MODEL_INT8_INPUT_SIZE
#define MODEL_OUTPUT_SIZE MODEL_INT8_OUTPUT_SIZE
#define MODEL_OUTPUT_SCALE MODEL_INT8_OUTPUT_SCALE
#if defined(PICO4ML_MODEL_MLP_INT8_FAST)
#include "model/net_int8_fast.h"
/* the hand-written kernel: bit-identical to the TinyGrad-rendered net_int8()
 * (tests/test_int8.py) and several times faster on the M0+ (bench/rp2040.py) */
#define RUN_INT net_int8_fast
#else
#define RUN_INT net_int8 /* TinyGrad's own rendering of the int8 forward pass */
#endif
#elif defined(PICO4ML_MODEL_CNN_INT8)
/* The small int8 CNN (TinyGrad-rendered net_cnn_int8). */
#include "model/model_cnn_int8.h"
#define MODEL_NAME_STR MODEL_CNN_INT8_NAME
#define MODEL_HASH_STR MODEL_CNN_INT8_WEIGHTS_SHA256
#define MODEL_BYTES MODEL_CNN_INT8_WEIGHT_BYTES
#define MODEL_INPUT_SIZE MODEL_CNN_INT8_INPUT_SIZE
#define MODEL_OUTPUT_SIZE MODEL_CNN_INT8_OUTPUT_SIZE
#define MODEL_OUTPUT_SCALE MODEL_CNN_INT8_OUTPUT_SCALE
#define RUN_INT net_cnn_int8
#elif defined(PICO4ML_MODEL_MLP_Q4)
/* The 4-bit MLP (pico4ml-qat): its model blob built in as const data and run by core/blob.c,
 * the runtime uploaded blobs use. */
#include "model/model_q4.h"
#define MODEL_NAME_STR MODEL_Q4_NAME
#define MODEL_HASH_STR MODEL_Q4_WEIGHTS_SHA256
#define MODEL_BYTES MODEL_Q4_WEIGHT_BYTES
#define MODEL_INPUT_SIZE MODEL_Q4_INPUT_SIZE
#define MODEL_OUTPUT_SIZE MODEL_Q4_OUTPUT_SIZE
#define MODEL_OUTPUT_SCALE MODEL_Q4_OUTPUT_SCALE
#define RUN_INT net_q4
#elif defined(PICO4ML_MODEL_MLP_FLOAT)
#include "model/model_float.h"
#define MODEL_NAME_STR MODEL_FLOAT_NAME
#define MODEL_HASH_STR MODEL_FLOAT_WEIGHTS_SHA256
#define MODEL_KIND CLASSIFIER_KIND_FLOAT
#define MODEL_BYTES MODEL_FLOAT_WEIGHT_BYTES
_Static_assert(MODEL_FLOAT_INPUT_SIZE == CLASSIFIER_INPUT_SIZE, "model must take 28x28");
_Static_assert(MODEL_FLOAT_OUTPUT_SIZE == CLASSIFIER_CLASSES, "model must give 10 logits");

static float s_input[CLASSIFIER_INPUT_SIZE]; /* static: 3 KB is too much for a core's stack */

static void run_model(const uint8_t *in28, float *logits) {
    for (size_t i = 0; i < CLASSIFIER_INPUT_SIZE; i++) {
        s_input[i] = (float)in28[i] * MODEL_FLOAT_INPUT_SCALE;
    }
    net(s_input, logits);
}
#else
#error "no model selected: build with -DPICO4ML_MODEL_<NAME>=1 for an entry of core/model/manifest.json"
#endif

#if defined(RUN_INT)
/* The integer models take the u8 image as is and give int32 logits in units of
 * MODEL_OUTPUT_SCALE. */
#define MODEL_KIND CLASSIFIER_KIND_INT8
_Static_assert(MODEL_INPUT_SIZE == CLASSIFIER_INPUT_SIZE, "model must take 28x28");
_Static_assert(MODEL_OUTPUT_SIZE == CLASSIFIER_CLASSES, "model must give 10 logits");

static int32_t s_logits_q[CLASSIFIER_CLASSES];

static void run_model(const uint8_t *in28, float *logits) {
    RUN_INT(in28, s_logits_q);
    for (int i = 0; i < CLASSIFIER_CLASSES; i++) {
        logits[i] = (float)s_logits_q[i] * MODEL_OUTPUT_SCALE;
    }
}
#endif

static const classifier_model *s_override; /* an uploaded model, or NULL */

void classifier_use(const classifier_model *m) { s_override = m; }

int classifier_builtin(void) { return s_override == NULL; }

/* The uploaded model, or the built-in one if there is none (or it fails). */
static void run_any(const uint8_t *in28, float *logits) {
    const classifier_model *m = s_override;
    int32_t q[CLASSIFIER_CLASSES];
    if (m && m->run(m->ctx, in28, q) == 0) {
        for (int i = 0; i < CLASSIFIER_CLASSES; i++) {
            logits[i] = (float)q[i] * m->output_scale;
        }
        return;
    }
    run_model(in28, logits);
}

void classifier_run(const uint8_t in28[CLASSIFIER_INPUT_SIZE], classifier_result *r) {
    if (!in28 || !r) {
        return;
    }
    run_any(in28, r->logits);
    int best = 0;
    for (int i = 1; i < CLASSIFIER_CLASSES; i++) {
        if (r->logits[i] > r->logits[best]) {
            best = i;
        }
    }
    float sum = 0.0f;
    for (int i = 0; i < CLASSIFIER_CLASSES; i++) {
        sum += expf(r->logits[i] - r->logits[best]); /* <= 1 each: no overflow */
    }
    r->argmax = best;
    r->score = sum >= 1.0f ? 1.0f / sum : 0.0f;      /* NaN logits give score 0 */
    r->status = CLASSIFIER_DIGIT;
}

void classifier_set_status(classifier_result *r, int pp_status, int min_score_pct) {
    if (!r) {
        return;
    }
    if (pp_status != PP_OK) {
        r->status = CLASSIFIER_NO_DIGIT;
    } else if (r->score * 100.0f < (float)min_score_pct) {
        r->status = CLASSIFIER_UNSURE;
    } else {
        r->status = CLASSIFIER_DIGIT;
    }
}

const char *classifier_model_name(void) {
    return s_override ? s_override->name : MODEL_NAME_STR;
}

const char *classifier_weights_sha256(void) {
    return s_override ? s_override->weights_sha256 : MODEL_HASH_STR;
}

int classifier_model_kind(void) {
    return s_override ? CLASSIFIER_KIND_INT8 : MODEL_KIND; /* blobs are int8 */
}

unsigned long classifier_weight_bytes(void) {
    return s_override ? s_override->weight_bytes : (unsigned long)MODEL_BYTES;
}

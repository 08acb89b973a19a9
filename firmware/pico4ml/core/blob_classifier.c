/* blob_classifier.c: see blob_classifier.h. */
#include "blob_classifier.h"

#include <string.h>

static int run_blob(void *ctx, const uint8_t *in28, int32_t *logits) {
    const blob_classifier *bc = ctx;
    const blob_model *m = bc->blob;
    if (m->input_bytes != CLASSIFIER_INPUT_SIZE || m->output_count != CLASSIFIER_CLASSES) {
        return -1; /* a blob for another input or output: the built-in model answers */
    }
    int rc = blob_run(m, in28, CLASSIFIER_INPUT_SIZE, logits, CLASSIFIER_CLASSES, bc->scratch, bc->scratch_bytes);
    return rc == BLOB_OK ? 0 : -1;
}

void blob_classifier_use(blob_classifier *bc, const blob_model *m, uint32_t *scratch, size_t scratch_bytes) {
    if (!bc || !m) {
        classifier_use(NULL);
        return;
    }
    static const char hex[] = "0123456789abcdef";
    for (int i = 0; i < 32; i++) {
        bc->hash[2 * i] = hex[m->sha256[i] >> 4];
        bc->hash[2 * i + 1] = hex[m->sha256[i] & 15];
    }
    bc->hash[64] = '\0';
    memcpy(bc->name, m->name, BLOB_NAME_BYTES); /* blob_open() checked that it ends within the field */
    bc->name[BLOB_NAME_BYTES] = '\0';
    bc->blob = m;
    bc->scratch = scratch;
    bc->scratch_bytes = scratch_bytes;
    bc->model = (classifier_model){.run = run_blob, .ctx = bc, .output_scale = m->output_scale,
                                   .name = bc->name, .weights_sha256 = bc->hash, .weight_bytes = m->total_bytes};
    classifier_use(&bc->model);
}

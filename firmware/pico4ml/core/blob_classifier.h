/* blob_classifier.h: a validated model blob as the classifier's model (classifier_use), the
 * one adapter the board's model store (app/model_store.c) and the host twin's
 * (host/twin_blob.c) share. Portable C11, no heap. */
#ifndef PICO4ML_BLOB_CLASSIFIER_H
#define PICO4ML_BLOB_CLASSIFIER_H

#include <stddef.h>
#include <stdint.h>

#include "blob.h"
#include "classifier.h"

typedef struct {
    classifier_model model;          /* what classifier_use() points at */
    const blob_model *blob;
    uint32_t *scratch;               /* blob_run's scratch */
    size_t scratch_bytes;
    char hash[65];                   /* the blob's SHA-256 in hex: HELLO's weights hash */
    char name[BLOB_NAME_BYTES + 1];  /* HELLO's model name */
} blob_classifier;

/* Makes the classifier run blob m (NULL: the built-in model again). bc, m and scratch must
 * stay valid while it runs. A blob whose input is not the 28x28 or whose output is not the
 * ten scores fails each run, and the classifier answers with the built-in model. */
void blob_classifier_use(blob_classifier *bc, const blob_model *m, uint32_t *scratch, size_t scratch_bytes);

#endif

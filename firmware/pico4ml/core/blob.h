/* blob.h: validate and run an int8 (or low-bit) model blob (docs/model-format.md) from memory.
 *
 * The blob stays where it is (memory-mapped flash on the board, any buffer on the host):
 * blob_open() checks every rule of the format once, so blob_run() can trust it, and refuses
 * anything else with a reason code and a one-line message. No heap, no static state: the
 * caller gives the scratch buffer (blob_model.scratch_bytes of it, 4-byte aligned).
 * Little-endian targets only (RP2040, x86, arm64), like the format.
 */
#ifndef BLOB_H
#define BLOB_H

#include <stddef.h>
#include <stdint.h>

#define BLOB_FORMAT_VERSION 2 /* the newest this runtime reads; version 1 blobs stay valid */
#define BLOB_HEADER_BYTES 96
#define BLOB_LAYER_BYTES 32
#define BLOB_NAME_BYTES 20
#define BLOB_MAX_BYTES (1u << 20)
#define BLOB_MAX_LAYERS 32
#define BLOB_MAX_DIM 4096
#define BLOB_MAX_ACT 65536
#define BLOB_ABSENT 0xFFFFFFFFu

enum blob_layer_type { BLOB_DENSE = 1, BLOB_CONV2D = 2, BLOB_MAXPOOL = 3, BLOB_FLATTEN = 4 };
enum blob_mode { BLOB_RELU_U8 = 1, BLOB_LOGITS_I32 = 2 };

typedef enum {
    BLOB_OK = 0,
    BLOB_E_ARG = 1,        /* NULL pointer, misaligned data or scratch, wrong buffer size */
    BLOB_E_TRUNCATED = 2,  /* fewer bytes than the header or than total_bytes */
    BLOB_E_MAGIC = 3,
    BLOB_E_VERSION = 4,
    BLOB_E_TOO_BIG = 5,    /* total_bytes or n_layers beyond the format's limits */
    BLOB_E_HEADER = 6,     /* any other header rule */
    BLOB_E_CRC = 7,
    BLOB_E_SHA = 8,
    BLOB_E_LAYER = 9,      /* unknown type/mode, bad shift/pad/weight bits, non-zero unused field */
    BLOB_E_SHAPE = 10,     /* shapes that do not chain or break the layer's rule */
    BLOB_E_TENSOR = 11,    /* tensor offset missing, misaligned or outside the payload */
    BLOB_E_OVERFLOW = 12,  /* constants that could make an int32 sum wrap */
    BLOB_E_SCRATCH = 13,   /* scratch_bytes wrong, or beyond the caller's budget */
} blob_status;

typedef struct {
    blob_status status;
    int layer;             /* the layer at fault, -1 for the header */
    char message[96];
} blob_error;

typedef struct {
    const uint8_t *base;   /* the blob itself (not copied) */
    uint32_t total_bytes;
    uint16_t n_layers;
    uint16_t input_shape[3];   /* H, W, C */
    uint16_t output_shape[3];
    uint32_t input_bytes;      /* H * W * C of the input */
    uint32_t output_count;     /* int32 outputs */
    uint32_t scratch_bytes;
    uint32_t act_slot;         /* bytes of each of the two activation buffers in the scratch */
    float output_scale;        /* logit = output * output_scale */
    char name[BLOB_NAME_BYTES];
    uint8_t sha256[32];
} blob_model;

/* Check a blob of len bytes at data (4-byte aligned). scratch_budget: the most scratch the
 * caller can give. check_sha: also hash the payload (about 20 M cycles for 320 KB on the M0+;
 * the CRC catches damage, the hash proves identity). On success fills m and returns BLOB_OK;
 * otherwise fills err (if not NULL) and returns the reason. Never reads outside [data, data+len). */
blob_status blob_open(blob_model *m, const void *data, size_t len, size_t scratch_budget, int check_sha,
                      blob_error *err);

/* Run an opened model: input of m->input_bytes uint8, output of m->output_count int32,
 * scratch of at least m->scratch_bytes (4-byte aligned). Returns BLOB_OK or BLOB_E_ARG. */
blob_status blob_run(const blob_model *m, const uint8_t *input, size_t input_len, int32_t *output,
                     size_t output_count, void *scratch, size_t scratch_len);

const char *blob_status_name(blob_status s);

#endif

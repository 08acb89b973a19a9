/* blob.c: validate, then run, an int8 model blob from memory (docs/model-format.md).
 *
 * blob_open() proves everything blob_run() relies on: sizes, CRC-32, SHA-256, a known
 * layer list whose shapes chain, tensors inside the payload and 4-byte aligned, constants
 * that cannot make an int32 sum wrap, a scratch need within the caller's budget. Header
 * fields are read byte by byte (no unaligned access whatever the blob claims); tensors are
 * then read in place with word loads, so the weights can stay in XIP flash.
 *
 * Dense layers of a version 2 blob may hold packed 4- or 2-bit weights; the kernels unpack
 * them as they go (no copy, no heap).
 *
 * The kernels compute what pico4ml.export.blob.reference_forward computes. Like
 * net_int8_fast() they skip zero inputs and take inputs in pairs (integer sums do not depend
 * on order once overflow is ruled out), so an MLP blob equals the built-in net bit for bit.
 */
#include "blob.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "int8_words.h"
#include "protocol.h" /* proto_crc32: the one CRC-32 of the firmware */
#include "sha256.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the blob's tensors are little-endian and read in place"
#endif

#define INT32_MAX_64 ((int64_t)2147483647)

static uint16_t rd16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static uint32_t rd32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static uint32_t align4(uint32_t n) { return (n + 3u) & ~3u; }

static blob_status fail(blob_error *err, blob_status s, int layer, const char *fmt, ...) {
    if (err) {
        err->status = s;
        err->layer = layer;
#ifdef BLOB_NO_MESSAGES /* bare-metal images without printf: the format string is the message */
        size_t n = strlen(fmt) < sizeof err->message - 1 ? strlen(fmt) : sizeof err->message - 1;
        memcpy(err->message, fmt, n);
        err->message[n] = 0;
#else
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->message, sizeof err->message, fmt, ap);
        va_end(ap);
#endif
    }
    return s;
}

const char *blob_status_name(blob_status s) {
    static const char *const names[] = {"ok", "bad argument", "truncated", "bad magic", "unsupported version",
                                        "too big", "bad header", "CRC mismatch", "SHA-256 mismatch",
                                        "bad layer", "bad shape", "bad tensor", "could overflow",
                                        "scratch beyond budget"};
    return (unsigned)s < sizeof names / sizeof names[0] ? names[s] : "unknown";
}

/* One layer record, decoded. */
typedef struct {
    uint8_t type, mode, shift, pad;
    uint8_t wcode; /* weight-bits code, byte 3's high nibble: 0 int8, 4 or 2 packed (version 2) */
    uint8_t wbits; /* 8, 4 or 2 once validated */
    uint32_t in[3], out[3];
    uint32_t off[4]; /* weight, bias, mult, cap */
} layer_rec;

static void read_layer(const uint8_t *blob, int i, layer_rec *l) {
    const uint8_t *p = blob + BLOB_HEADER_BYTES + BLOB_LAYER_BYTES * i;
    l->type = p[0];
    l->mode = p[1];
    l->shift = p[2];
    l->pad = p[3] & 15u;
    l->wcode = p[3] >> 4;
    l->wbits = l->wcode ? l->wcode : 8;
    for (int k = 0; k < 3; k++) {
        l->in[k] = rd16(p + 4 + 2 * k);
        l->out[k] = rd16(p + 10 + 2 * k);
    }
    for (int k = 0; k < 4; k++) {
        l->off[k] = rd32(p + 16 + 4 * k);
    }
}

static int has_weights(const layer_rec *l) { return l->type == BLOB_DENSE || l->type == BLOB_CONV2D; }

static uint32_t fan_in(const layer_rec *l) { return l->type == BLOB_DENSE ? l->in[2] : 9u * l->in[2]; }

/* The layer's own rules: known type and mode, unused fields zero. */
static blob_status check_fields(const layer_rec *l, int i, int last, unsigned version, blob_error *err) {
    if (l->type < BLOB_DENSE || l->type > BLOB_FLATTEN) {
        return fail(err, BLOB_E_LAYER, i, "layer %d: unknown type %u", i, l->type);
    }
    if (l->wcode != 0 && (version < 2 || l->type != BLOB_DENSE || (l->wcode != 4 && l->wcode != 2))) {
        return fail(err, BLOB_E_LAYER, i, "layer %d: weight-bits code %u (dense, version 2: 4 or 2)", i, l->wcode);
    }
    if (has_weights(l)) {
        if (l->mode != BLOB_RELU_U8 && l->mode != BLOB_LOGITS_I32) {
            return fail(err, BLOB_E_LAYER, i, "layer %d: unknown mode %u", i, l->mode);
        }
        if ((l->mode == BLOB_LOGITS_I32) != last) {
            return fail(err, BLOB_E_LAYER, i, "layer %d: the last layer, and only it, must be LOGITS_I32", i);
        }
        if (l->mode == BLOB_RELU_U8 ? (l->shift < 1 || l->shift > 30) : l->shift != 0) {
            return fail(err, BLOB_E_LAYER, i, "layer %d: shift %u out of range", i, l->shift);
        }
        if (l->type == BLOB_DENSE ? l->pad != 0 : l->pad > 1) {
            return fail(err, BLOB_E_LAYER, i, "layer %d: pad %u out of range", i, l->pad);
        }
        if (l->mode == BLOB_LOGITS_I32 && l->off[3] != BLOB_ABSENT) {
            return fail(err, BLOB_E_LAYER, i, "layer %d: a LOGITS_I32 layer has no cap", i);
        }
    } else {
        if (last) {
            return fail(err, BLOB_E_LAYER, i, "layer %d: the last layer must be dense or conv2d", i);
        }
        if (l->mode || l->shift || l->pad || l->off[0] != BLOB_ABSENT || l->off[1] != BLOB_ABSENT ||
            l->off[2] != BLOB_ABSENT || l->off[3] != BLOB_ABSENT) {
            return fail(err, BLOB_E_LAYER, i, "layer %d: pool/flatten with non-zero fields or tensors", i);
        }
    }
    return BLOB_OK;
}

/* Shapes: in == previous out, out == what the layer makes of in, sizes within limits. */
static blob_status check_shape(const layer_rec *l, int i, const uint32_t prev[3], blob_error *err) {
    for (int k = 0; k < 3; k++) {
        if (l->in[k] != prev[k]) {
            return fail(err, BLOB_E_SHAPE, i, "layer %d: input %ux%ux%u does not chain from %ux%ux%u", i,
                        (unsigned)l->in[0], (unsigned)l->in[1], (unsigned)l->in[2], (unsigned)prev[0],
                        (unsigned)prev[1], (unsigned)prev[2]);
        }
        if (l->out[k] < 1 || l->out[k] > BLOB_MAX_DIM) {
            return fail(err, BLOB_E_SHAPE, i, "layer %d: output dimension %u outside 1..%d", i,
                        (unsigned)l->out[k], BLOB_MAX_DIM);
        }
    }
    int64_t h = l->in[0], w = l->in[1], c = l->in[2], want[3];
    switch (l->type) {
    case BLOB_DENSE:
        if (h != 1 || w != 1) {
            return fail(err, BLOB_E_SHAPE, i, "layer %d: dense needs a flat 1x1xN input", i);
        }
        want[0] = 1, want[1] = 1, want[2] = l->out[2];
        break;
    case BLOB_CONV2D:
        want[0] = h + 2 * l->pad - 2, want[1] = w + 2 * l->pad - 2, want[2] = l->out[2];
        break;
    case BLOB_MAXPOOL:
        want[0] = h / 2, want[1] = w / 2, want[2] = c;
        break;
    default: /* flatten */
        want[0] = 1, want[1] = 1, want[2] = h * w * c;
        break;
    }
    for (int k = 0; k < 3; k++) {
        if (want[k] != (int64_t)l->out[k]) {
            return fail(err, BLOB_E_SHAPE, i, "layer %d: output %ux%ux%u, the layer gives %ldx%ldx%ld", i,
                        (unsigned)l->out[0], (unsigned)l->out[1], (unsigned)l->out[2], (long)want[0],
                        (long)want[1], (long)want[2]);
        }
    }
    if (l->mode != BLOB_LOGITS_I32 && (uint64_t)l->out[0] * l->out[1] * l->out[2] > BLOB_MAX_ACT) {
        return fail(err, BLOB_E_SHAPE, i, "layer %d: activation larger than %d bytes", i, BLOB_MAX_ACT);
    }
    return BLOB_OK;
}

/* Tensors inside the payload and aligned, then the no-overflow bounds per channel. */
static blob_status check_tensors(const layer_rec *l, int i, const uint8_t *payload, uint32_t payload_bytes,
                                 blob_error *err) {
    static const char *const what[4] = {"weight", "bias", "mult", "cap"};
    uint32_t k = l->out[2];
    uint64_t size[4] = {((uint64_t)fan_in(l) * k * l->wbits + 7) / 8, 4ull * k, 4ull * k, 4ull * k};
    int n = l->mode == BLOB_RELU_U8 ? 4 : 3;
    for (int t = 0; t < n; t++) {
        if (l->off[t] == BLOB_ABSENT || l->off[t] % 4 || (uint64_t)l->off[t] + size[t] > payload_bytes) {
            return fail(err, BLOB_E_TENSOR, i, "layer %d: %s tensor missing, misaligned or outside the payload", i,
                        what[t]);
        }
    }
    const int32_t *bias = (const int32_t *)(payload + l->off[1]);
    const int32_t *mult = (const int32_t *)(payload + l->off[2]);
    const int32_t *cap = n == 4 ? (const int32_t *)(payload + l->off[3]) : 0;
    /* |sum x * w| for uint8 x and w of wbits bits: int8 down to -128, 4-bit to -8, 2-bit to -2 */
    int64_t sum_bound = (int64_t)fan_in(l) * 255 * ((int64_t)1 << (l->wbits - 1));
    for (uint32_t j = 0; j < k; j++) {
        int64_t b = bias[j] < 0 ? -(int64_t)bias[j] : bias[j], m = mult[j];
        int ok;
        if (cap) {
            ok = m >= 0 && cap[j] >= 0 && cap[j] * m + (1 << (l->shift - 1)) <= INT32_MAX_64 &&
                 sum_bound + b <= INT32_MAX_64;
        } else {
            ok = sum_bound * (m < 0 ? -m : m) + b <= INT32_MAX_64;
        }
        if (!ok) {
            return fail(err, BLOB_E_OVERFLOW, i, "layer %d: constants of channel %u could overflow int32", i,
                        (unsigned)j);
        }
    }
    return BLOB_OK;
}

blob_status blob_open(blob_model *m, const void *data, size_t len, size_t scratch_budget, int check_sha,
                      blob_error *err) {
    const uint8_t *p = data;
    if (!m || !p || ((uintptr_t)p & 3u)) {
        return fail(err, BLOB_E_ARG, -1, "no blob, or blob not 4-byte aligned");
    }
    if (len < BLOB_HEADER_BYTES + 4) {
        return fail(err, BLOB_E_TRUNCATED, -1, "truncated: %lu bytes, a header needs %d", (unsigned long)len,
                    BLOB_HEADER_BYTES + 4);
    }
    if (memcmp(p, "P4MB", 4) != 0) {
        return fail(err, BLOB_E_MAGIC, -1, "not a model blob (magic %02x%02x%02x%02x)", p[0], p[1], p[2], p[3]);
    }
    unsigned version = rd16(p + 4);
    if (version < 1 || version > BLOB_FORMAT_VERSION || rd16(p + 6) != BLOB_HEADER_BYTES) {
        return fail(err, BLOB_E_VERSION, -1, "format version %u (header %u bytes); this runtime reads 1..%d",
                    version, rd16(p + 6), BLOB_FORMAT_VERSION);
    }
    uint32_t total = rd32(p + 8), n_layers = rd16(p + 12), payload_off = rd32(p + 32), payload_bytes = rd32(p + 36);
    if (total > BLOB_MAX_BYTES || n_layers > BLOB_MAX_LAYERS) {
        return fail(err, BLOB_E_TOO_BIG, -1, "%lu bytes, %u layers: limits are %u bytes, %d layers",
                    (unsigned long)total, (unsigned)n_layers, BLOB_MAX_BYTES, BLOB_MAX_LAYERS);
    }
    if (total > len) {
        return fail(err, BLOB_E_TRUNCATED, -1, "truncated: header says %lu bytes, have %lu", (unsigned long)total,
                    (unsigned long)len);
    }
    if (n_layers == 0 || rd16(p + 14) != 0 || total % 4 || payload_off != BLOB_HEADER_BYTES + BLOB_LAYER_BYTES * n_layers ||
        (uint64_t)payload_off + payload_bytes + 4 != total || payload_bytes % 4 ||
        memchr(p + 40, 0, BLOB_NAME_BYTES) == NULL) {
        return fail(err, BLOB_E_HEADER, -1, "inconsistent header (layers, flags, sizes, offsets or name)");
    }
    uint32_t scale_bits = rd32(p + 60);
    if (scale_bits == 0 || scale_bits >= 0x7F800000u) { /* zero, negative, infinite or NaN */
        return fail(err, BLOB_E_HEADER, -1, "output scale %08lx is not a finite float > 0", (unsigned long)scale_bits);
    }
    uint32_t crc = proto_crc32(0, p, total - 4);
    if (crc != rd32(p + total - 4)) {
        return fail(err, BLOB_E_CRC, -1, "CRC-32 %08lx, blob says %08lx: damaged", (unsigned long)crc,
                    (unsigned long)rd32(p + total - 4));
    }
    const uint8_t *payload = p + payload_off;
    if (check_sha) {
        uint8_t digest[SHA256_DIGEST_SIZE];
        sha256(payload, payload_bytes, digest);
        if (memcmp(digest, p + 64, SHA256_DIGEST_SIZE) != 0) {
            return fail(err, BLOB_E_SHA, -1, "SHA-256 of the weights does not match the header");
        }
    }
    uint32_t shape[3] = {rd16(p + 16), rd16(p + 18), rd16(p + 20)};
    for (int k = 0; k < 3; k++) {
        if (shape[k] < 1 || shape[k] > BLOB_MAX_DIM) {
            return fail(err, BLOB_E_SHAPE, -1, "input dimension %u outside 1..%d", (unsigned)shape[k], BLOB_MAX_DIM);
        }
    }
    uint32_t input_bytes = shape[0] * shape[1] * shape[2], max_act = 0, max_acc = 0;
    for (int i = 0; i < (int)n_layers; i++) {
        layer_rec l;
        read_layer(p, i, &l);
        blob_status s = check_fields(&l, i, i == (int)n_layers - 1, version, err);
        if (s == BLOB_OK) {
            s = check_shape(&l, i, shape, err);
        }
        if (s == BLOB_OK && has_weights(&l)) {
            s = check_tensors(&l, i, payload, payload_bytes, err);
        }
        if (s != BLOB_OK) {
            return s;
        }
        int fused = 0; /* a conv2d that a max pool follows: its output is never stored (blob_run) */
        if (l.type == BLOB_CONV2D && i + 1 < (int)n_layers) {
            layer_rec next;
            read_layer(p, i + 1, &next);
            fused = next.type == BLOB_MAXPOOL;
        }
        if (l.type != BLOB_FLATTEN && l.mode != BLOB_LOGITS_I32 && !fused) {
            uint32_t a = l.out[0] * l.out[1] * l.out[2];
            max_act = a > max_act ? a : max_act;
        }
        if (has_weights(&l) && l.out[2] > max_acc) {
            max_acc = l.out[2];
        }
        memcpy(shape, l.out, sizeof shape);
    }
    for (int k = 0; k < 3; k++) {
        if (shape[k] != rd16(p + 22 + 2 * k)) {
            return fail(err, BLOB_E_SHAPE, -1, "header output shape is not the last layer's %ux%ux%u",
                        (unsigned)shape[0], (unsigned)shape[1], (unsigned)shape[2]);
        }
    }
    uint32_t need = 2 * align4(max_act) + 4 * max_acc;
    if (need != rd32(p + 28)) {
        return fail(err, BLOB_E_SCRATCH, -1, "scratch_bytes %lu, the layers need %lu", (unsigned long)rd32(p + 28),
                    (unsigned long)need);
    }
    if (need > scratch_budget) {
        return fail(err, BLOB_E_SCRATCH, -1, "needs %lu bytes of scratch, the budget is %lu", (unsigned long)need,
                    (unsigned long)scratch_budget);
    }
    memset(m, 0, sizeof *m);
    m->base = p;
    m->total_bytes = total;
    m->n_layers = (uint16_t)n_layers;
    for (int k = 0; k < 3; k++) {
        m->input_shape[k] = rd16(p + 16 + 2 * k);
        m->output_shape[k] = (uint16_t)shape[k];
    }
    m->input_bytes = input_bytes;
    m->output_count = shape[0] * shape[1] * shape[2];
    m->scratch_bytes = need;
    m->act_slot = align4(max_act);
    memcpy(&m->output_scale, &scale_bits, sizeof m->output_scale);
    memcpy(m->name, p + 40, BLOB_NAME_BYTES);
    memcpy(m->sha256, p + 64, sizeof m->sha256);
    if (err) {
        fail(err, BLOB_OK, -1, "ok");
    }
    return BLOB_OK;
}

/* ---------------------------------------------------------------- kernels */

/* acc[j] += x * w[j]; w is word-aligned when n % 4 == 0 (offsets and rows are). */
static void add_row(int32_t *restrict acc, const int8_t *restrict w, int32_t x, uint32_t n) {
    if (n % 4 == 0) {
        for (uint32_t j = 0; j < n; j += 4) {
            uint32_t a = load_word(w + j);
            acc[j] += x * W0(a);
            acc[j + 1] += x * W1(a);
            acc[j + 2] += x * W2(a);
            acc[j + 3] += x * W3(a);
        }
        return;
    }
    for (uint32_t j = 0; j < n; j++) {
        acc[j] += x * w[j];
    }
}

/* Two inputs at once: each accumulator loaded and stored once per pair. */
static void add_row_pair(int32_t *restrict acc, const int8_t *restrict wa, const int8_t *restrict wb, int32_t xa,
                         int32_t xb, uint32_t n) {
    if (n % 4 == 0) {
        for (uint32_t j = 0; j < n; j += 4) {
            uint32_t a = load_word(wa + j), b = load_word(wb + j);
            acc[j] += xa * W0(a) + xb * W0(b);
            acc[j + 1] += xa * W1(a) + xb * W1(b);
            acc[j + 2] += xa * W2(a) + xb * W2(b);
            acc[j + 3] += xa * W3(a) + xb * W3(b);
        }
        return;
    }
    for (uint32_t j = 0; j < n; j++) {
        acc[j] += xa * wa[j] + xb * wb[j];
    }
}

/* Packed low-bit weights. A 4-bit weight k of word v (bits 4k..4k+3) sign-extends with one
 * shift left to the top and an arithmetic shift right (GCC and Clang define both); so does
 * a 2-bit one. Two's complement is the only representation C23 allows, and every target here. */
#define N4(v, k) ((int32_t)((v) << (28 - 4 * (k))) >> 28)
#define N2(v, k) ((int32_t)((v) << (30 - 2 * (k))) >> 30)

/* acc[j] += x * w4[j] for n % 8 == 0 (rows word-aligned): eight weights per word load. */
static void add_row4(int32_t *restrict acc, const uint8_t *restrict w, int32_t x, uint32_t n) {
    for (uint32_t j = 0; j < n; j += 8) {
        uint32_t a = load_word((const int8_t *)w + j / 2);
        acc[j] += x * N4(a, 0); /* written out: constant shifts, no inner loop on the M0+ */
        acc[j + 1] += x * N4(a, 1);
        acc[j + 2] += x * N4(a, 2);
        acc[j + 3] += x * N4(a, 3);
        acc[j + 4] += x * N4(a, 4);
        acc[j + 5] += x * N4(a, 5);
        acc[j + 6] += x * N4(a, 6);
        acc[j + 7] += x * N4(a, 7);
    }
}

static void add_row4_pair(int32_t *restrict acc, const uint8_t *restrict wa, const uint8_t *restrict wb,
                          int32_t xa, int32_t xb, uint32_t n) {
    for (uint32_t j = 0; j < n; j += 8) {
        uint32_t a = load_word((const int8_t *)wa + j / 2), b = load_word((const int8_t *)wb + j / 2);
        acc[j] += xa * N4(a, 0) + xb * N4(b, 0);
        acc[j + 1] += xa * N4(a, 1) + xb * N4(b, 1);
        acc[j + 2] += xa * N4(a, 2) + xb * N4(b, 2);
        acc[j + 3] += xa * N4(a, 3) + xb * N4(b, 3);
        acc[j + 4] += xa * N4(a, 4) + xb * N4(b, 4);
        acc[j + 5] += xa * N4(a, 5) + xb * N4(b, 5);
        acc[j + 6] += xa * N4(a, 6) + xb * N4(b, 6);
        acc[j + 7] += xa * N4(a, 7) + xb * N4(b, 7);
    }
}

/* acc[j] += x * w2[j] for n % 16 == 0: sixteen 2-bit weights per word load (a half word at a
 * time, written out so every shift is a constant). */
#define ADD2(k) acc[j + (k)] += x * N2(a, k)
#define ADD2P(k) acc[j + (k)] += xa * N2(a, k) + xb * N2(b, k)
static void add_row2(int32_t *restrict acc, const uint8_t *restrict w, int32_t x, uint32_t n) {
    for (uint32_t j = 0; j < n; j += 16) {
        uint32_t a = load_word((const int8_t *)w + j / 4);
        ADD2(0), ADD2(1), ADD2(2), ADD2(3), ADD2(4), ADD2(5), ADD2(6), ADD2(7);
        ADD2(8), ADD2(9), ADD2(10), ADD2(11), ADD2(12), ADD2(13), ADD2(14), ADD2(15);
    }
}

static void add_row2_pair(int32_t *restrict acc, const uint8_t *restrict wa, const uint8_t *restrict wb,
                          int32_t xa, int32_t xb, uint32_t n) {
    for (uint32_t j = 0; j < n; j += 16) {
        uint32_t a = load_word((const int8_t *)wa + j / 4), b = load_word((const int8_t *)wb + j / 4);
        ADD2P(0), ADD2P(1), ADD2P(2), ADD2P(3), ADD2P(4), ADD2P(5), ADD2P(6), ADD2P(7);
        ADD2P(8), ADD2P(9), ADD2P(10), ADD2P(11), ADD2P(12), ADD2P(13), ADD2P(14), ADD2P(15);
    }
}

/* Any packed width and row length: weight e of the stream is bits [e*bits, (e+1)*bits). */
static void add_row_bits(int32_t *restrict acc, const uint8_t *restrict w, uint32_t e0, int32_t x, uint32_t n,
                         uint32_t bits) {
    uint32_t mask = (1u << bits) - 1, half = 1u << (bits - 1);
    for (uint32_t j = 0; j < n; j++) {
        uint32_t bit = (e0 + j) * bits;
        uint32_t u = (uint32_t)(w[bit >> 3] >> (bit & 7u)) & mask;
        acc[j] += x * ((int32_t)(u ^ half) - (int32_t)half);
    }
}

/* Layer constants, resolved from a validated record. */
typedef struct {
    layer_rec r;
    const int8_t *w;
    const int32_t *bias, *mult, *cap;
} layer_ptrs;

static void init_acc(int32_t *acc, const layer_ptrs *l) {
    for (uint32_t j = 0; j < l->r.out[2]; j++) {
        acc[j] = l->r.mode == BLOB_RELU_U8 ? l->bias[j] : 0;
    }
}

/* Requantise k accumulators by the layer's mode into uint8 out8 or int32 out32; with
 * keep_max, out8 keeps the larger of what it holds and the new value (fused 2x2 pooling). */
static void requant(const int32_t *acc, const layer_ptrs *l, uint8_t *out8, int32_t *out32, int keep_max) {
    uint32_t k = l->r.out[2];
    if (l->r.mode == BLOB_RELU_U8) {
        int32_t round = 1 << (l->r.shift - 1);
        for (uint32_t j = 0; j < k; j++) {
            int32_t a = acc[j] < 0 ? 0 : acc[j];
            a = a > l->cap[j] ? l->cap[j] : a;
            uint8_t v = (uint8_t)((a * l->mult[j] + round) >> l->r.shift);
            out8[j] = keep_max && out8[j] > v ? out8[j] : v;
        }
    } else {
        for (uint32_t j = 0; j < k; j++) {
            out32[j] = acc[j] * l->mult[j] + l->bias[j];
        }
    }
}

/* The non-zero inputs of x, two at a time, each pair's rows added by PAIR, an odd last one by ONE
 * (a macro, so each width gets its own loop with constant shifts). */
#define WALK_PAIRS(PAIR, ONE)                                                                   \
    do {                                                                                        \
        int32_t pending = -1;                                                                   \
        for (uint32_t i = 0; i < n_in; i++) {                                                   \
            if (!x[i]) {                                                                        \
                continue;                                                                       \
            }                                                                                   \
            if (pending < 0) {                                                                  \
                pending = (int32_t)i;                                                           \
                continue;                                                                       \
            }                                                                                   \
            PAIR(acc, w + (uint32_t)pending * row, w + i * row, x[pending], x[i], n_out);       \
            pending = -1;                                                                       \
        }                                                                                       \
        if (pending >= 0) {                                                                     \
            ONE(acc, w + (uint32_t)pending * row, x[pending], n_out);                           \
        }                                                                                       \
    } while (0)

/* Word-aligned rows of row bytes (n_in x n_out weights at w), 4 and 2 bits: one loop each. */
static void dense_words4(const uint8_t *x, const uint8_t *w, int32_t *acc, uint32_t n_in, uint32_t n_out,
                         uint32_t row) {
    WALK_PAIRS(add_row4_pair, add_row4);
}

static void dense_words2(const uint8_t *x, const uint8_t *w, int32_t *acc, uint32_t n_in, uint32_t n_out,
                         uint32_t row) {
    WALK_PAIRS(add_row2_pair, add_row2);
}

/* Dense with packed weights over the non-zero inputs; rows that start on a word take the
 * word-at-a-time path, anything else the per-weight one. */
static void dense_packed(const uint8_t *x, const layer_ptrs *l, int32_t *acc, uint8_t *out8, int32_t *out32) {
    uint32_t n_in = l->r.in[2], n_out = l->r.out[2], bits = l->r.wbits;
    const uint8_t *w = (const uint8_t *)l->w;
    init_acc(acc, l);
    uint32_t row = (n_out * bits) >> 3; /* bytes per row (no division: the M0+ has no divider) */
    if ((n_out * bits) % 32 == 0) {     /* every row starts on a word */
        (bits == 4 ? dense_words4 : dense_words2)(x, w, acc, n_in, n_out, row);
    } else {
        for (uint32_t i = 0; i < n_in; i++) {
            if (x[i]) {
                add_row_bits(acc, w, i * n_out, x[i], n_out, bits);
            }
        }
    }
    requant(acc, l, out8, out32, 0);
}

/* Dense over the non-zero inputs, two at a time (as net_int8_fast). */
static void dense(const uint8_t *x, const layer_ptrs *l, int32_t *acc, uint8_t *out8, int32_t *out32) {
    uint32_t n_in = l->r.in[2], n_out = l->r.out[2];
    init_acc(acc, l);
    int32_t pending = -1;
    for (uint32_t i = 0; i < n_in; i++) {
        if (!x[i]) {
            continue;
        }
        if (pending < 0) {
            pending = (int32_t)i;
        } else {
            add_row_pair(acc, l->w + (uint32_t)pending * n_out, l->w + i * n_out, x[pending], x[i], n_out);
            pending = -1;
        }
    }
    if (pending >= 0) {
        add_row(acc, l->w + (uint32_t)pending * n_out, x[pending], n_out);
    }
    requant(acc, l, out8, out32, 0);
}

/* acc = one output pixel (oy, ox) of a 3x3 convolution, stride 1, zero padding pad: the MLP's
 * dense step over the 9 * C inputs under the kernel (weights [ky][kx][c][k], so each input
 * has a row of k), zero inputs skipped. */
static void conv_pixel(const uint8_t *x, const layer_ptrs *l, int32_t *acc, uint32_t oy, uint32_t ox) {
    uint32_t h = l->r.in[0], w = l->r.in[1], c = l->r.in[2], k = l->r.out[2], pad = l->r.pad;
    init_acc(acc, l);
    for (uint32_t ky = 0; ky < 3; ky++) {
        uint32_t iy = oy + ky - pad; /* wraps to a huge value above the top edge */
        if (iy >= h) {
            continue;
        }
        for (uint32_t kx = 0; kx < 3; kx++) {
            uint32_t ix = ox + kx - pad;
            if (ix >= w) {
                continue;
            }
            const uint8_t *px = x + (iy * w + ix) * c;
            const int8_t *wrow = l->w + (ky * 3 + kx) * c * k;
            for (uint32_t ic = 0; ic < c; ic++) {
                if (px[ic]) {
                    add_row(acc, wrow + ic * k, px[ic], k);
                }
            }
        }
    }
}

static void conv2d(const uint8_t *x, const layer_ptrs *l, int32_t *acc, uint8_t *out8, int32_t *out32) {
    uint32_t k = l->r.out[2], oh = l->r.out[0], ow = l->r.out[1];
    for (uint32_t oy = 0; oy < oh; oy++) {
        for (uint32_t ox = 0; ox < ow; ox++) {
            conv_pixel(x, l, acc, oy, ox);
            uint32_t o = (oy * ow + ox) * k;
            requant(acc, l, out8 ? out8 + o : 0, out32 ? out32 + o : 0, 0);
        }
    }
}

/* A RELU_U8 conv2d and the 2x2 max pool after it (pool: its record), in one pass: each pooled
 * value is the largest of its four requantised conv pixels, so the conv's output is never stored. */
static void conv2d_pool(const uint8_t *x, const layer_ptrs *l, const layer_rec *pool, int32_t *acc, uint8_t *out8) {
    uint32_t k = l->r.out[2];
    for (uint32_t py = 0; py < pool->out[0]; py++) {
        for (uint32_t px = 0; px < pool->out[1]; px++) {
            uint8_t *o = out8 + (py * pool->out[1] + px) * k;
            for (uint32_t d = 0; d < 4; d++) {
                conv_pixel(x, l, acc, 2 * py + d / 2, 2 * px + d % 2);
                requant(acc, l, o, 0, d != 0);
            }
        }
    }
}

static void maxpool(const uint8_t *x, const layer_rec *r, uint8_t *out) {
    uint32_t w = r->in[1], c = r->in[2];
    for (uint32_t oy = 0; oy < r->out[0]; oy++) {
        for (uint32_t ox = 0; ox < r->out[1]; ox++) {
            const uint8_t *a = x + (2 * oy * w + 2 * ox) * c, *b = a + w * c;
            for (uint32_t ch = 0; ch < c; ch++) {
                uint8_t m = a[ch] > a[c + ch] ? a[ch] : a[c + ch];
                m = b[ch] > m ? b[ch] : m;
                m = b[c + ch] > m ? b[c + ch] : m;
                *out++ = m;
            }
        }
    }
}

blob_status blob_run(const blob_model *m, const uint8_t *input, size_t input_len, int32_t *output,
                     size_t output_count, void *scratch, size_t scratch_len) {
    if (!m || !m->base || !input || !output || !scratch || ((uintptr_t)scratch & 3u) || input_len != m->input_bytes ||
        output_count != m->output_count || scratch_len < m->scratch_bytes) {
        return BLOB_E_ARG;
    }
    uint8_t *buf[2] = {scratch, (uint8_t *)scratch + m->act_slot};
    int32_t *acc = (int32_t *)((uint8_t *)scratch + 2 * m->act_slot);
    const uint8_t *payload = m->base + BLOB_HEADER_BYTES + BLOB_LAYER_BYTES * m->n_layers;
    const uint8_t *x = input;
    int next = 0;
    for (int i = 0; i < m->n_layers; i++) {
        layer_ptrs l;
        read_layer(m->base, i, &l.r);
        if (l.r.type == BLOB_FLATTEN) {
            continue; /* channels-last data is already flat */
        }
        uint8_t *out8 = l.r.mode == BLOB_LOGITS_I32 ? 0 : buf[next];
        int32_t *out32 = l.r.mode == BLOB_LOGITS_I32 ? output : 0;
        if (l.r.type == BLOB_MAXPOOL) {
            maxpool(x, &l.r, out8);
        } else {
            l.w = (const int8_t *)(payload + l.r.off[0]);
            l.bias = (const int32_t *)(payload + l.r.off[1]);
            l.mult = (const int32_t *)(payload + l.r.off[2]);
            l.cap = l.r.mode == BLOB_RELU_U8 ? (const int32_t *)(payload + l.r.off[3]) : 0;
            layer_rec pool;
            if (l.r.type == BLOB_DENSE && l.r.wbits != 8) {
                dense_packed(x, &l, acc, out8, out32); /* kept apart: the int8 kernel's code stays as it was */
            } else if (l.r.type == BLOB_DENSE) {
                dense(x, &l, acc, out8, out32);
            } else if (i + 1 < m->n_layers && (read_layer(m->base, i + 1, &pool), pool.type == BLOB_MAXPOOL)) {
                conv2d_pool(x, &l, &pool, acc, out8); /* validated: a conv before a pool is RELU_U8 */
                i++;
            } else {
                conv2d(x, &l, acc, out8, out32);
            }
        }
        x = out8;
        next ^= 1;
    }
    return BLOB_OK;
}

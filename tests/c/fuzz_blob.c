/* Fuzz test of core/blob.c, run under ASan + UBSan by tests/test_blob.py (a crash, a
 * sanitizer report or a broken invariant fails).
 *
 * Random damage mostly stops at the CRC, so most mutants are *resealed*: header, layer
 * table or constants changed, then the SHA-256 and CRC-32 recomputed, so the layer,
 * shape, tensor, overflow and scratch checks see them. Every mutant lives in a buffer of
 * exactly its length (ASan catches any read past it); an accepted mutant is run on a
 * random input (UBSan catches any int32 overflow the validation missed).
 * Usage: fuzz_blob BLOB_FILE [iterations] [seed]; prints a one-line summary.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "blob.h"
#include "protocol.h"
#include "sha256.h"

static uint32_t rng;
static uint32_t rnd(void) {
    rng ^= rng << 13;
    rng ^= rng >> 17;
    rng ^= rng << 5;
    return rng;
}
static uint32_t below(uint32_t n) { return n ? rnd() % n : 0; }

static uint32_t rd32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static void wr32(uint8_t *p, uint32_t v) {
    for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> 8 * i);
}

/* Recompute the CRC (and the SHA-256 of the payload, when the header still says where it is). */
static void reseal_crc(uint8_t *b, size_t len, int sha) {
    if (len < BLOB_HEADER_BYTES + 4) return;
    uint32_t off = rd32(b + 32), n = rd32(b + 36);
    if (sha && (uint64_t)off + n <= len) sha256(b + off, n, b + 64);
    uint32_t total = rd32(b + 8);
    if (total >= 4 && total <= len) wr32(b + total - 4, proto_crc32(0, b, total - 4));
}
static void reseal(uint8_t *b, size_t len) { reseal_crc(b, len, 1); }

static const uint32_t interesting[] = {0, 1, 2, 3, 4, 0x7F, 0x80, 0xFF, 0x100, 0x7FFF, 0x8000, 0xFFFF,
                                       0x10000, 0x7FFFFFFF, 0x80000000u, 0xFFFFFFFFu, 4096, 4097, 65536};

static void poke(uint8_t *b, size_t at, size_t len) {
    uint32_t v = below(3) ? interesting[below(sizeof interesting / sizeof interesting[0])] : rnd();
    int width = 1 << below(3); /* 1, 2 or 4 bytes */
    for (int i = 0; i < width && at + i < len; i++) b[at + i] = (uint8_t)(v >> 8 * i);
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: fuzz_blob BLOB_FILE [iterations] [seed]\n");
        return 2;
    }
    FILE *f = fopen(argv[1], "rb");
    if (!f) {
        perror(argv[1]);
        return 2;
    }
    static uint8_t seed_blob[BLOB_MAX_BYTES + 64];
    size_t seed_len = fread(seed_blob, 1, sizeof seed_blob, f);
    fclose(f);
    long iterations = argc > 2 ? strtol(argv[2], 0, 0) : 10000;
    rng = argc > 3 ? (uint32_t)strtoul(argv[3], 0, 0) : 0xB10B;
    if (!rng) rng = 1;

    blob_model m;
    blob_error e;
    int invariants_ok = 1;
    if (blob_open(&m, seed_blob, seed_len, 1u << 20, 1, &e) != BLOB_OK) {
        fprintf(stderr, "seed blob refused: %s\n", e.message);
        return 2;
    }
    uint32_t table_end = BLOB_HEADER_BYTES + BLOB_LAYER_BYTES * m.n_layers, need = m.scratch_bytes;
    long counts[16] = {0}, runs = 0;
    for (long it = 0; it < iterations; it++) {
        size_t len = seed_len;
        uint8_t *b = malloc(seed_len + 64);
        memcpy(b, seed_blob, seed_len);
        switch (below(8)) {
        case 0: /* truncated (or longer: total_bytes is then within the buffer) */
            len = below((uint32_t)seed_len + 8);
            break;
        case 1: /* bit flips anywhere, not resealed */
            for (int k = 1 + below(8); k > 0; k--) b[below((uint32_t)len)] ^= (uint8_t)(1u << below(8));
            break;
        case 2: /* header fields, resealed */
            for (int k = 1 + below(3); k > 0; k--) poke(b, below(64), len);
            reseal(b, len);
            break;
        case 3: /* layer table fields, resealed */
            for (int k = 1 + below(3); k > 0; k--) poke(b, BLOB_HEADER_BYTES + below(table_end - BLOB_HEADER_BYTES), len);
            reseal(b, len);
            break;
        case 4: /* constants (biases, multipliers, caps sit after the weights), resealed */
            for (int k = 1 + below(4); k > 0; k--) poke(b, table_end + below((uint32_t)len - table_end - 4), len);
            reseal(b, len);
            break;
        case 5: /* random bytes with a valid magic */
            for (size_t i = 4; i < len; i++) b[i] = (uint8_t)rnd();
            reseal(b, len);
            break;
        case 6: /* weights changed, CRC recomputed but not the SHA-256 */
            b[table_end + below((uint32_t)len - table_end - 4)] ^= (uint8_t)(1u << below(8));
            reseal_crc(b, len, 0);
            break;
        default: /* untouched, but a random scratch budget */
            break;
        }
        /* exactly len bytes, 4-aligned (malloc is), so ASan sees any over-read */
        uint8_t *exact = malloc(len ? len : 1);
        memcpy(exact, b, len);
        free(b);
        size_t budget = below(4) ? (1u << 20) : need - 1 + below(3);
        blob_status s = blob_open(&m, exact, len, budget, (int)below(2), &e);
        counts[(unsigned)s < 16 ? s : 15]++;
        if (s != BLOB_OK) {
            if (e.status != s || e.message[0] == 0 || strlen(e.message) >= sizeof e.message) invariants_ok = 0;
        } else {
            if (m.scratch_bytes > budget || m.input_bytes == 0 || m.output_count == 0) invariants_ok = 0;
            uint8_t *in = malloc(m.input_bytes);
            int32_t *out = malloc(4u * m.output_count);
            uint32_t *scratch = malloc(m.scratch_bytes + 4);
            for (uint32_t i = 0; i < m.input_bytes; i++) in[i] = below(3) ? (uint8_t)rnd() : 0;
            if (blob_run(&m, in, m.input_bytes, out, m.output_count, scratch, m.scratch_bytes) != BLOB_OK) {
                invariants_ok = 0;
            }
            runs++;
            free(in);
            free(out);
            free(scratch);
        }
        free(exact);
    }
    printf("iterations=%ld runs=%ld", iterations, runs);
    for (int s = 0; s < 14; s++) printf(" s%d=%ld", s, counts[s]);
    printf(" invariants=%s\n", invariants_ok ? "ok" : "BROKEN");
    return invariants_ok ? 0 : 1;
}

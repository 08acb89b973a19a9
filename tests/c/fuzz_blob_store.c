/* Fuzz test of core/blob_store.c under ASan + UBSan (tests/test_blob_store.py): random
 * sequences of BLOB_* commands (valid uploads of two seed blobs, cut uploads, random and
 * mutated payloads), flash that fails at random, and power cuts (a fresh store over the same
 * flash). Invariants after every step: the model that runs is one that was committed whole,
 * it still validates, and it changes only on a COMMIT that answered OK; after a power cut the
 * last committed model runs.
 * Usage: fuzz_blob_store BLOB_A BLOB_B [iterations] [seed]; prints a one-line summary.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "blob_store.h"
#include "protocol.h"

#define REGION (2u * 256u * 1024u) /* two 256 KiB slots */

static uint32_t rng;
static uint32_t rnd(void) {
    rng ^= rng << 13;
    rng ^= rng >> 17;
    rng ^= rng << 5;
    return rng;
}
static uint32_t below(uint32_t n) { return n ? rnd() % n : 0; }

static uint8_t *flash_mem;
static long fail_in = -1; /* operations until one fails (-1: none) */
static long erases, programs, failures;

static int failing(void) {
    if (fail_in < 0) return 0;
    if (fail_in-- == 0) {
        failures++;
        return 1;
    }
    return 0;
}
static int f_erase(void *ctx, uint32_t off, uint32_t len) {
    (void)ctx;
    if (off % BLOB_STORE_SECTOR || len % BLOB_STORE_SECTOR || off + len > REGION || failing()) return -1;
    memset(flash_mem + off, 0xFF, len);
    erases++;
    return 0;
}
static int f_program(void *ctx, uint32_t off, const uint8_t *d, uint32_t len) {
    (void)ctx;
    if (off % BLOB_STORE_PAGE || len % BLOB_STORE_PAGE || off + len > REGION || failing()) return -1;
    for (uint32_t i = 0; i < len; i++) flash_mem[off + i] &= d[i];
    programs++;
    return 0;
}

static uint8_t *slurp(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        perror(path);
        exit(2);
    }
    fseek(f, 0, SEEK_END);
    *len = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *b = malloc(*len);
    if (fread(b, 1, *len, f) != *len) exit(2);
    fclose(f);
    return b;
}
static void wr32(uint8_t *p, uint32_t v) {
    for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}

static blob_store store;
static void power_cycle(void) {
    blob_flash fl = {flash_mem, REGION, f_erase, f_program, NULL};
    blob_store_init(&store, &fl, 65536);
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: fuzz_blob_store BLOB_A BLOB_B [iterations] [seed]\n");
        return 2;
    }
    size_t len[2];
    uint8_t *blob[2] = {slurp(argv[1], &len[0]), slurp(argv[2], &len[1])};
    long iterations = argc > 3 ? strtol(argv[3], 0, 0) : 20000;
    rng = argc > 4 ? (uint32_t)strtoul(argv[4], 0, 0) : 0x5107E;
    if (!rng) rng = 1;
    flash_mem = malloc(REGION);
    memset(flash_mem, 0xFF, REGION);
    power_cycle();

    int expect = -1; /* which seed blob must run (-1: the built-in model) */
    int uploading = -1;
    long commits = 0, refused = 0, cuts = 0, ok = 1;
    static uint8_t p[4 + 8192];
    for (long it = 0; it < iterations && ok; it++) {
        uint32_t before = store.generation;
        int rebooted = 0;
        blob_up_result r = BLOB_UP_OK;
        uint8_t type = 0;
        switch (below(11)) {
        case 10: { /* a whole upload in one go (the flash may still fail under it) */
            int k = (int)below(2);
            wr32(p, (uint32_t)len[k]);
            memcpy(p + 4, blob[k] + 64, 32);
            r = blob_store_command(&store, BLOB_CMD_BEGIN, p, 36);
            for (uint32_t off = 0; r == BLOB_UP_OK && off < len[k]; off += 4096) {
                uint32_t n = len[k] - off < 4096 ? (uint32_t)(len[k] - off) : 4096;
                wr32(p, off);
                memcpy(p + 4, blob[k] + off, n);
                r = blob_store_command(&store, BLOB_CMD_CHUNK, p, 4 + n);
            }
            uploading = -1;
            if (r != BLOB_UP_OK) break;
            wr32(p, proto_crc32(0, blob[k], len[k]));
            type = BLOB_CMD_COMMIT;
            r = blob_store_command(&store, type, p, 4);
            if (r == BLOB_UP_OK) {
                commits++;
                expect = k;
            } else {
                refused++;
            }
            break;
        }
        case 0: case 1: { /* BEGIN one of the seeds (sometimes with a wrong size or hash) */
            uploading = (int)below(2);
            wr32(p, below(8) ? (uint32_t)len[uploading] : rnd());
            memcpy(p + 4, blob[uploading] + 64, 32);
            if (!below(8)) p[4 + below(32)] ^= 1;
            type = BLOB_CMD_BEGIN;
            r = blob_store_command(&store, type, p, 36);
            break;
        }
        case 2: case 3: case 4: { /* the next chunk of the upload (sometimes off or damaged) */
            if (uploading < 0) break;
            uint32_t off = store.received, n = 1 + below(8192);
            if (off >= len[uploading]) break;
            if (n > len[uploading] - off) n = (uint32_t)(len[uploading] - off);
            if (!below(64)) off = below((uint32_t)len[uploading]);
            wr32(p, off);
            memcpy(p + 4, blob[uploading] + (off < len[uploading] ? off : 0),
                   off + n <= len[uploading] ? n : 0);
            if (!below(256)) p[4 + below(n)] ^= 0x80;
            type = BLOB_CMD_CHUNK;
            r = blob_store_command(&store, type, p, 4 + n);
            break;
        }
        case 5: { /* COMMIT with the right CRC (mostly) */
            if (uploading < 0) break;
            wr32(p, proto_crc32(0, blob[uploading], len[uploading]) ^ (below(8) ? 0 : 1));
            type = BLOB_CMD_COMMIT;
            r = blob_store_command(&store, type, p, 4);
            if (r == BLOB_UP_OK) {
                commits++;
                expect = uploading;
            } else {
                refused++;
            }
            break;
        }
        case 6: { /* random command and payload */
            uint32_t n = below(64);
            for (uint32_t i = 0; i < n; i++) p[i] = (uint8_t)rnd();
            type = (uint8_t)(below(2) ? BLOB_CMD_BEGIN + below(5) : rnd());
            r = blob_store_command(&store, type, p, n);
            break;
        }
        case 7: /* the flash starts failing soon */
            fail_in = below(4) ? -1 : (long)below(40);
            break;
        case 8: /* power cut: whatever was under way is lost */
            if (!below(4)) {
                power_cycle();
                uploading = -1;
                rebooted = 1;
                cuts++;
            }
            break;
        default: /* a query */
            type = BLOB_CMD_QUERY;
            r = blob_store_command(&store, type, 0, 0);
            break;
        }
        (void)r;
        /* invariants */
        const blob_model *m = blob_store_active(&store);
        if (!rebooted && store.generation != before && type != BLOB_CMD_COMMIT) ok = 0; /* only a commit switches */
        if ((m == NULL) != (expect < 0)) ok = 0;
        if (m && memcmp(m->sha256, blob[expect] + 64, 32) != 0) ok = 0;
        if (m) {
            blob_model again;
            if (blob_open(&again, m->base, m->total_bytes, 65536, 1, 0) != BLOB_OK) ok = 0;
        }
        uint8_t st[BLOB_STORE_STATUS_SIZE];
        blob_store_status_pack(&store, st);
        if (st[3] != (m != NULL)) ok = 0;
        if (!ok) fprintf(stderr, "invariant broken at iteration %ld (type %u, result %d)\n", it, type, r);
    }
    fail_in = -1;
    power_cycle(); /* the last commit survives a final power cut */
    const blob_model *m = blob_store_active(&store);
    if ((m == NULL) != (expect < 0) || (m && memcmp(m->sha256, blob[expect] + 64, 32) != 0)) ok = 0;
    printf("iterations=%ld commits=%ld refused=%ld cuts=%ld erases=%ld programs=%ld flash_failures=%ld invariants=%s\n",
           iterations, commits, refused, cuts, erases, programs, failures, ok ? "ok" : "BROKEN");
    free(blob[0]);
    free(blob[1]);
    free(flash_mem);
    return ok ? 0 : 1;
}

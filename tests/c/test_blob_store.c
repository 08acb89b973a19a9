/* Unit tests of core/blob_store.c over a file-backed flash region (host/blob_region_file.c),
 * run under ASan + UBSan by tests/test_blob_store.py: uploads in chunks, commit, "reboots"
 * (a fresh store on the reopened file), uploads cut at every stage, bad commands, a damaged
 * slot, failing flash.
 * Usage: test_blob_store REGION_FILE BLOB_A BLOB_B (two different valid blobs).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "blob_region_file.h"
#include "blob_store.h"
#include "check.h"
#include "protocol.h"

#define REGION_BYTES (2u * 1024u * 1024u) /* two 1 MiB slots */
#define BUDGET 65536

static const char *region_path;
static blob_region_file region;
static blob_store store;

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

/* Power cycle: close the file, reopen it, and find the model to run from scratch. */
static int reboot(void) {
    blob_region_file_close(&region);
    blob_flash flash;
    if (blob_region_file_open(&region, region_path, REGION_BYTES, &flash) != 0) {
        perror(region_path);
        exit(2);
    }
    return blob_store_init(&store, &flash, BUDGET);
}

static blob_up_result begin(const uint8_t *blob, size_t len) {
    uint8_t p[36];
    wr32(p, (uint32_t)len);
    memcpy(p + 4, blob + 64, 32); /* the weights hash the header carries */
    return blob_store_command(&store, BLOB_CMD_BEGIN, p, sizeof p);
}

/* Send bytes [from, to) in chunks of 1..max bytes; stops at the first refusal. */
static blob_up_result send(const uint8_t *blob, size_t from, size_t to, size_t max) {
    static uint8_t p[4 + 4096];
    static uint32_t r = 12345;
    for (size_t off = from; off < to;) {
        r = r * 1103515245u + 12345u;
        size_t n = 1 + (r >> 8) % max;
        n = n > to - off ? to - off : n;
        wr32(p, (uint32_t)off);
        memcpy(p + 4, blob + off, n);
        blob_up_result res = blob_store_command(&store, BLOB_CMD_CHUNK, p, 4 + n);
        if (res != BLOB_UP_OK) return res;
        off += n;
    }
    return BLOB_UP_OK;
}

static blob_up_result commit(uint32_t crc) {
    uint8_t p[4];
    wr32(p, crc);
    return blob_store_command(&store, BLOB_CMD_COMMIT, p, 4);
}

static blob_up_result upload(const uint8_t *blob, size_t len) {
    blob_up_result r = begin(blob, len);
    if (r == BLOB_UP_OK) r = send(blob, 0, len, 3000);
    if (r == BLOB_UP_OK) r = commit(proto_crc32(0, blob, len));
    return r;
}

static int runs(const uint8_t *blob) {
    const blob_model *m = blob_store_active(&store);
    return m && memcmp(m->sha256, blob + 64, 32) == 0;
}

int main(int argc, char **argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: test_blob_store REGION_FILE BLOB_A BLOB_B\n");
        return 2;
    }
    region_path = argv[1];
    remove(region_path);
    size_t la, lb;
    uint8_t *a = slurp(argv[2], &la), *b = slurp(argv[3], &lb);
    region.fd = -1;

    /* a new region: erased, nothing committed, the built-in model runs */
    CHECK(reboot() == 0);
    CHECK(blob_store_active(&store) == NULL);
    CHECK(blob_store_capacity(&store) == REGION_BYTES / 2 - BLOB_STORE_SECTOR);

    /* upload A, it runs at once and after a reboot */
    CHECK(upload(a, la) == BLOB_UP_OK);
    CHECK(runs(a) && store.active_seq == 1 && store.generation == 1);
    CHECK(reboot() == 1 && runs(a));

    /* B cut at each stage: after BEGIN, mid-way, before COMMIT: A still runs, also after a reboot */
    size_t cuts[] = {0, 1, 4095, 4096, 4097, lb / 2, lb - 1, lb};
    for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
        CHECK(begin(b, lb) == BLOB_UP_OK);
        CHECK(send(b, 0, cuts[i], 700) == BLOB_UP_OK);
        CHECK(runs(a));
        CHECK(reboot() == 1 && runs(a));
    }

    /* B whole: it replaces A in the other slot, with the next sequence number */
    CHECK(upload(b, lb) == BLOB_UP_OK);
    CHECK(runs(b) && store.active == 1 && store.active_seq == 2);
    CHECK(reboot() == 1 && runs(b) && store.active_seq == 2);

    /* refusals, each leaving B running */
    uint8_t status[BLOB_STORE_STATUS_SIZE];
    CHECK(commit(0) == BLOB_UP_NOT_STARTED);
    CHECK(blob_store_command(&store, BLOB_CMD_CHUNK, (const uint8_t *)"\0\0\0\0x", 5) == BLOB_UP_NOT_STARTED);
    CHECK(blob_store_command(&store, BLOB_CMD_BEGIN, a, 35) == BLOB_UP_LENGTH);
    CHECK(blob_store_command(&store, BLOB_CMD_QUERY, a, 1) == BLOB_UP_LENGTH);
    CHECK(blob_store_command(&store, 0x77, a, 0) == BLOB_UP_UNKNOWN);
    CHECK(begin(a, BLOB_MAX_BYTES + 4) == BLOB_UP_TOO_BIG);
    CHECK(begin(a, 0) == BLOB_UP_TOO_BIG);
    CHECK(begin(a, la) == BLOB_UP_OK);
    CHECK(send(a, 0, 1000, 100) == BLOB_UP_OK);
    CHECK(send(a, 500, 600, 100) == BLOB_UP_OFFSET); /* a repeat: refused, the upload goes on */
    blob_store_status_pack(&store, status);
    CHECK(status[0] == 1 && status[1] == BLOB_UP_OFFSET && status[4] == (1000 & 0xFF) && status[5] == 1000 >> 8);
    CHECK(commit(proto_crc32(0, a, la)) == BLOB_UP_INCOMPLETE);
    CHECK(begin(a, la) == BLOB_UP_OK && send(a, 0, la, 4096) == BLOB_UP_OK);
    CHECK(commit(proto_crc32(0, a, la) ^ 1) == BLOB_UP_CRC);
    CHECK(runs(b));
    uint8_t *bad = malloc(la);
    memcpy(bad, a, la);
    bad[la / 2] ^= 0x10; /* damaged in the weights: the host's CRC agrees, the blob's own does not */
    CHECK(upload(bad, la) == BLOB_UP_INVALID && store.last_blob_status == BLOB_E_CRC);
    uint8_t p[36];
    wr32(p, (uint32_t)la);
    memset(p + 4, 0xAB, 32); /* BEGIN announced other weights */
    CHECK(blob_store_command(&store, BLOB_CMD_BEGIN, p, 36) == BLOB_UP_OK && send(a, 0, la, 4096) == BLOB_UP_OK);
    CHECK(commit(proto_crc32(0, a, la)) == BLOB_UP_SHA);
    CHECK(begin(a, la) == BLOB_UP_OK && send(a, 0, la + 0, 4096) == BLOB_UP_OK);
    uint8_t extra[5] = {0};
    wr32(extra, (uint32_t)la);
    CHECK(blob_store_command(&store, BLOB_CMD_CHUNK, extra, 5) == BLOB_UP_OVERRUN);
    CHECK(runs(b) && reboot() == 1 && runs(b));

    /* the flash fails in the middle: refused, B still runs */
    for (long k = 0; k < 6; k++) {
        region.fail_after = k * 17;
        blob_up_result r = upload(a, la);
        region.fail_after = -1;
        CHECK(r == BLOB_UP_FLASH);
        CHECK(runs(b) && reboot() == 1 && runs(b));
    }

    /* A again (slot 0, seq 3); then damage slot 0 in the file: the boot falls back to B */
    CHECK(upload(a, la) == BLOB_UP_OK && runs(a) && store.active == 0 && store.active_seq == 3);
    blob_store_status_pack(&store, status);
    CHECK(status[3] == 1 && status[12] == 3 && memcmp(status + 44, a + 64, 32) == 0 &&
          memcmp(status + 20, a + 40, 20) == 0);
    region.mem[BLOB_STORE_SECTOR + 200] ^= 1;
    uint8_t keep = region.mem[BLOB_STORE_SECTOR + 200];
    FILE *f = fopen(region_path, "r+b");
    fseek(f, BLOB_STORE_SECTOR + 200, SEEK_SET);
    fputc(keep, f);
    fclose(f);
    CHECK(reboot() == 1 && runs(b) && store.active_seq == 2);
    /* and with both slots damaged, the built-in model */
    f = fopen(region_path, "r+b");
    fseek(f, REGION_BYTES / 2 + BLOB_STORE_SECTOR + 300, SEEK_SET);
    fputc(region.mem[REGION_BYTES / 2 + BLOB_STORE_SECTOR + 300] ^ 1, f);
    fclose(f);
    CHECK(reboot() == 0 && blob_store_active(&store) == NULL);
    blob_store_status_pack(&store, status);
    CHECK(status[3] == 0);
    /* an upload recovers */
    CHECK(upload(b, lb) == BLOB_UP_OK && runs(b) && reboot() == 1 && runs(b));

    blob_region_file_close(&region);
    free(a);
    free(b);
    free(bad);
    if (failures) {
        fprintf(stderr, "%d checks failed\n", failures);
        return 1;
    }
    printf("test_blob_store: all checks passed\n");
    return 0;
}

/* blob_store.h: a model blob kept in a reserved flash region, uploaded in chunks without
 * reflashing (docs/model-format.md, "Upload").
 *
 * The region holds two slots. An upload erases and fills the slot that is NOT running,
 * and only a commit that validates the whole blob (blob_open with its SHA-256, the host's
 * CRC-32 and hash) writes that slot's commit record, last, with a higher sequence number.
 * So an upload cut at any point leaves the running model (and the one found at the next
 * boot) as it was, and boot picks the valid slot with the highest sequence number, else
 * the built-in model. Flash access goes through callbacks (erase a 4 KB sector, program
 * 256-byte pages) over a memory-mapped view: the board's hardware_flash / XIP, a file in
 * the host twin. Portable C11, no heap.
 */
#ifndef BLOB_STORE_H
#define BLOB_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "blob.h"

#define BLOB_STORE_SECTOR 4096u
#define BLOB_STORE_PAGE 256u
#define BLOB_STORE_STATUS_SIZE 76

/* Protocol codes (docs/protocol.md): commands host -> device, and the one answer. */
#define BLOB_CMD_BEGIN 0x10  /* u32 total_bytes, u8[32] weights_sha256 */
#define BLOB_CMD_CHUNK 0x11  /* u32 offset, then 1.. bytes of the blob */
#define BLOB_CMD_COMMIT 0x12 /* u32 crc32 of the whole blob */
#define BLOB_CMD_QUERY 0x13  /* empty */
#define BLOB_MSG_STATUS 0x90 /* BLOB_STORE_STATUS_SIZE bytes, blob_store_status_pack() */

typedef struct {
    const uint8_t *view; /* the region as the CPU reads it */
    uint32_t size;       /* bytes: two slots, each a whole number of sectors */
    int (*erase)(void *ctx, uint32_t offset, uint32_t len);                       /* 0 = ok */
    int (*program)(void *ctx, uint32_t offset, const uint8_t *data, uint32_t len); /* whole pages */
    void *ctx;
} blob_flash;

typedef enum {
    BLOB_UP_OK = 0,
    BLOB_UP_LENGTH = 1,      /* command payload of the wrong size */
    BLOB_UP_NOT_STARTED = 2, /* CHUNK or COMMIT without a BEGIN */
    BLOB_UP_TOO_BIG = 3,     /* total_bytes beyond a slot or the format's limit, or 0 */
    BLOB_UP_OFFSET = 4,      /* CHUNK not at the next expected offset (STATUS says which) */
    BLOB_UP_OVERRUN = 5,     /* CHUNK past total_bytes */
    BLOB_UP_INCOMPLETE = 6,  /* COMMIT before every byte arrived */
    BLOB_UP_CRC = 7,         /* COMMIT's CRC-32 is not that of the bytes in flash */
    BLOB_UP_INVALID = 8,     /* blob_open refused the blob (blob_status in the status) */
    BLOB_UP_SHA = 9,         /* the blob's weights hash is not the one BEGIN announced */
    BLOB_UP_FLASH = 10,      /* erase or program failed */
    BLOB_UP_UNKNOWN = 11,    /* not an upload command */
} blob_up_result;

typedef struct {
    blob_flash flash;
    size_t scratch_budget;
    /* the model that runs: active < 0 means none (the built-in model) */
    int active;
    uint32_t active_seq;
    blob_model model;
    /* the upload in progress */
    int receiving;
    int target;
    uint32_t total, received;
    uint8_t sha256[32];
    uint8_t page[BLOB_STORE_PAGE];
    /* last command's outcome */
    blob_up_result last_result;
    blob_status last_blob_status;
    uint32_t generation; /* counts model switches, so the app sees a commit */
} blob_store;

/* Find the committed blob to run (the valid slot with the highest sequence number).
 * Returns 1 if one runs, 0 if the built-in model does, -1 for a bad region description. */
int blob_store_init(blob_store *s, const blob_flash *flash, size_t scratch_budget);

/* The model to run, or NULL for the built-in one. */
const blob_model *blob_store_active(const blob_store *s);

/* Largest blob a slot holds. */
uint32_t blob_store_capacity(const blob_store *s);

/* Handle one upload command (BLOB_CMD_*); the answer is blob_store_status_pack(). */
blob_up_result blob_store_command(blob_store *s, uint8_t type, const uint8_t *payload, size_t len);

/* BLOB_MSG_STATUS payload:
 *   0 u8 receiving, 1 u8 last_result, 2 u8 last_blob_status, 3 u8 active (0 built-in, 1 blob),
 *   4 u32 received, 8 u32 total, 12 u32 active_seq, 16 u32 capacity,
 *   20 char[24] active name (NUL-padded), 44 u8[32] active weights sha256 (zeros when built-in). */
void blob_store_status_pack(const blob_store *s, uint8_t out[BLOB_STORE_STATUS_SIZE]);

#endif

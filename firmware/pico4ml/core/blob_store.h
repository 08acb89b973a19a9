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
#include "protocol.h"

#define BLOB_STORE_SECTOR 4096u
#define BLOB_STORE_PAGE 256u
#define BLOB_STORE_STATUS_SIZE PROTO_BLOB_STATUS_SIZE

/* The protocol's commands (docs/protocol.md), each answered by PROTO_BLOB_STATUS. */
#define BLOB_CMD_BEGIN PROTO_BLOB_BEGIN   /* u32 total_bytes, u8[32] weights_sha256 */
#define BLOB_CMD_CHUNK PROTO_BLOB_CHUNK   /* u32 offset, then 1.. bytes of the blob */
#define BLOB_CMD_COMMIT PROTO_BLOB_COMMIT /* u32 crc32 of the whole blob */
#define BLOB_CMD_QUERY PROTO_BLOB_QUERY   /* empty */

typedef struct {
    const uint8_t *view; /* the region as the CPU reads it */
    uint32_t size;       /* bytes: two slots, each a whole number of sectors */
    int (*erase)(void *ctx, uint32_t offset, uint32_t len);                       /* 0 = ok */
    int (*program)(void *ctx, uint32_t offset, const uint8_t *data, uint32_t len); /* whole pages */
    void *ctx;
} blob_flash;

typedef enum { /* the wire's codes (protocol.h says what each means) */
    BLOB_UP_OK = PROTO_BLOB_UP_OK,
    BLOB_UP_LENGTH = PROTO_BLOB_UP_LENGTH,
    BLOB_UP_NOT_STARTED = PROTO_BLOB_UP_NOT_STARTED,
    BLOB_UP_TOO_BIG = PROTO_BLOB_UP_TOO_BIG,
    BLOB_UP_OFFSET = PROTO_BLOB_UP_OFFSET,
    BLOB_UP_OVERRUN = PROTO_BLOB_UP_OVERRUN,
    BLOB_UP_INCOMPLETE = PROTO_BLOB_UP_INCOMPLETE,
    BLOB_UP_CRC = PROTO_BLOB_UP_CRC,
    BLOB_UP_INVALID = PROTO_BLOB_UP_INVALID,
    BLOB_UP_SHA = PROTO_BLOB_UP_SHA,
    BLOB_UP_FLASH = PROTO_BLOB_UP_FLASH,
    BLOB_UP_UNKNOWN = PROTO_BLOB_UP_UNKNOWN,
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

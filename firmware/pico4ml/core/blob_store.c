/* blob_store.c: two-slot model store in flash with a commit record written last
 * (see blob_store.h for the why). Slot layout: one sector for the commit record, then
 * the blob. Sectors are erased as the upload reaches them, so BEGIN answers at once and
 * no single command blocks the USB link for the seconds a whole slot's erase takes.
 */
#include "blob_store.h"

#include <string.h>

#include "protocol.h" /* proto_crc32 */

#define RECORD_MAGIC 0x434D3450u /* "P4MC" little-endian */
#define RECORD_BYTES 20

static uint32_t rd32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static void wr32(uint8_t *p, uint32_t v) {
    for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t slot_size(const blob_store *s) { return s->flash.size / 2; }
static uint32_t slot_base(const blob_store *s, int slot) { return (uint32_t)slot * slot_size(s); }
static const uint8_t *slot_blob(const blob_store *s, int slot) {
    return s->flash.view + slot_base(s, slot) + BLOB_STORE_SECTOR;
}

uint32_t blob_store_capacity(const blob_store *s) {
    uint32_t cap = slot_size(s) - BLOB_STORE_SECTOR;
    return cap < BLOB_MAX_BYTES ? cap : BLOB_MAX_BYTES;
}

/* A slot's committed blob, if its record and the blob both check out: returns its seq (> 0) or 0.
 * check_sha: also hash the weights (boot; after a commit that just hashed them, the CRC will do). */
static uint32_t slot_valid(const blob_store *s, int slot, blob_model *m, int check_sha) {
    const uint8_t *r = s->flash.view + slot_base(s, slot);
    uint32_t len = rd32(r + 8);
    if (rd32(r) != RECORD_MAGIC || proto_crc32(0, r, 16) != rd32(r + 16) || rd32(r + 4) == 0 ||
        len > blob_store_capacity(s) || len < 4) {
        return 0;
    }
    const uint8_t *b = slot_blob(s, slot);
    if (rd32(b + len - 4) != rd32(r + 12) || blob_open(m, b, len, s->scratch_budget, check_sha, 0) != BLOB_OK) {
        return 0;
    }
    return rd32(r + 4);
}

int blob_store_init(blob_store *s, const blob_flash *flash, size_t scratch_budget) {
    memset(s, 0, sizeof *s);
    s->active = -1;
    if (!flash || !flash->view || !flash->erase || !flash->program || ((uintptr_t)flash->view & 3u) ||
        flash->size % (2 * BLOB_STORE_SECTOR) || flash->size < 4 * BLOB_STORE_SECTOR) {
        return -1;
    }
    s->flash = *flash;
    s->scratch_budget = scratch_budget;
    blob_model m;
    for (int slot = 0; slot < 2; slot++) {
        uint32_t seq = slot_valid(s, slot, &m, 1);
        if (seq && (s->active < 0 || seq > s->active_seq)) {
            s->active = slot;
            s->active_seq = seq;
            s->model = m;
        }
    }
    return s->active >= 0;
}

const blob_model *blob_store_active(const blob_store *s) { return s->active >= 0 ? &s->model : 0; }

/* Program one page of the target slot's blob area at blob offset off (page-aligned),
 * erasing its sector first when the page opens one. */
static int program_page(blob_store *s, uint32_t off, const uint8_t *page) {
    uint32_t at = slot_base(s, s->target) + BLOB_STORE_SECTOR + off;
    if (off % BLOB_STORE_SECTOR == 0 && s->flash.erase(s->flash.ctx, at, BLOB_STORE_SECTOR) != 0) {
        return -1;
    }
    return s->flash.program(s->flash.ctx, at, page, BLOB_STORE_PAGE);
}

static blob_up_result result(blob_store *s, blob_up_result r) {
    s->last_result = r;
    if (r != BLOB_UP_OK && r != BLOB_UP_OFFSET) {
        s->receiving = 0; /* any other failure ends the upload; the host starts again with BEGIN */
    }
    return r;
}

static blob_up_result begin(blob_store *s, const uint8_t *p, size_t len) {
    if (len != 36) {
        return result(s, BLOB_UP_LENGTH);
    }
    uint32_t total = rd32(p);
    if (total == 0 || total > blob_store_capacity(s) || total % 4) {
        return result(s, BLOB_UP_TOO_BIG);
    }
    s->receiving = 0;
    s->target = s->active == 0 ? 1 : 0;
    /* invalidate the target slot first: from here on a cut upload leaves no commit record */
    if (s->flash.erase(s->flash.ctx, slot_base(s, s->target), BLOB_STORE_SECTOR) != 0) {
        return result(s, BLOB_UP_FLASH);
    }
    s->total = total;
    s->received = 0;
    memcpy(s->sha256, p + 4, 32);
    s->receiving = 1;
    return result(s, BLOB_UP_OK);
}

static blob_up_result chunk(blob_store *s, const uint8_t *p, size_t len) {
    if (len < 5) {
        return result(s, BLOB_UP_LENGTH);
    }
    if (!s->receiving) {
        return result(s, BLOB_UP_NOT_STARTED);
    }
    uint32_t off = rd32(p);
    size_t n = len - 4;
    if (off != s->received) {
        return result(s, BLOB_UP_OFFSET);
    }
    if (n > s->total - s->received) {
        return result(s, BLOB_UP_OVERRUN);
    }
    for (size_t i = 0; i < n; i++) {
        uint32_t at = s->received % BLOB_STORE_PAGE;
        s->page[at] = p[4 + i];
        s->received++;
        if (at == BLOB_STORE_PAGE - 1 && program_page(s, s->received - BLOB_STORE_PAGE, s->page) != 0) {
            return result(s, BLOB_UP_FLASH);
        }
    }
    return result(s, BLOB_UP_OK);
}

static blob_up_result commit(blob_store *s, const uint8_t *p, size_t len) {
    if (len != 4) {
        return result(s, BLOB_UP_LENGTH);
    }
    if (!s->receiving) {
        return result(s, BLOB_UP_NOT_STARTED);
    }
    if (s->received != s->total) {
        return result(s, BLOB_UP_INCOMPLETE);
    }
    uint32_t tail = s->total % BLOB_STORE_PAGE;
    if (tail) { /* the last, partial page, padded as erased flash reads */
        memset(s->page + tail, 0xFF, BLOB_STORE_PAGE - tail);
        if (program_page(s, s->total - tail, s->page) != 0) {
            return result(s, BLOB_UP_FLASH);
        }
    }
    const uint8_t *b = slot_blob(s, s->target);
    if (proto_crc32(0, b, s->total) != rd32(p)) {
        return result(s, BLOB_UP_CRC);
    }
    blob_error err;
    blob_model m;
    s->last_blob_status = blob_open(&m, b, s->total, s->scratch_budget, 1, &err);
    if (s->last_blob_status != BLOB_OK) {
        return result(s, BLOB_UP_INVALID);
    }
    if (memcmp(m.sha256, s->sha256, 32) != 0) {
        return result(s, BLOB_UP_SHA);
    }
    uint8_t rec[BLOB_STORE_PAGE];
    memset(rec, 0xFF, sizeof rec);
    uint32_t seq = (s->active >= 0 ? s->active_seq : 0) + 1;
    wr32(rec, RECORD_MAGIC);
    wr32(rec + 4, seq);
    wr32(rec + 8, s->total);
    wr32(rec + 12, rd32(b + s->total - 4));
    wr32(rec + 16, proto_crc32(0, rec, 16));
    if (s->flash.program(s->flash.ctx, slot_base(s, s->target), rec, BLOB_STORE_PAGE) != 0 ||
        slot_valid(s, s->target, &m, 0) != seq) { /* the record reads back and points at the blob */
        return result(s, BLOB_UP_FLASH);
    }
    s->active = s->target;
    s->active_seq = seq;
    s->model = m;
    s->receiving = 0;
    s->generation++;
    return result(s, BLOB_UP_OK);
}

blob_up_result blob_store_command(blob_store *s, uint8_t type, const uint8_t *payload, size_t len) {
    if (!payload && len) {
        return result(s, BLOB_UP_LENGTH);
    }
    switch (type) {
    case BLOB_CMD_BEGIN: return begin(s, payload, len);
    case BLOB_CMD_CHUNK: return chunk(s, payload, len);
    case BLOB_CMD_COMMIT: return commit(s, payload, len);
    case BLOB_CMD_QUERY:
        s->last_result = len == 0 ? BLOB_UP_OK : BLOB_UP_LENGTH; /* a query never ends an upload */
        return s->last_result;
    default: return result(s, BLOB_UP_UNKNOWN);
    }
}

void blob_store_status_pack(const blob_store *s, uint8_t out[BLOB_STORE_STATUS_SIZE]) {
    memset(out, 0, BLOB_STORE_STATUS_SIZE);
    out[0] = (uint8_t)s->receiving;
    out[1] = (uint8_t)s->last_result;
    out[2] = (uint8_t)s->last_blob_status;
    out[3] = s->active >= 0;
    wr32(out + 4, s->received);
    wr32(out + 8, s->total);
    wr32(out + 12, s->active >= 0 ? s->active_seq : 0);
    wr32(out + 16, blob_store_capacity(s));
    if (s->active >= 0) {
        memcpy(out + 20, s->model.name, BLOB_NAME_BYTES);
        memcpy(out + 44, s->model.sha256, 32);
    }
}

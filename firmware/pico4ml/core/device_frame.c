/* device_frame.c: the FRAME image sender.
 *
 * A FRAME image is the exception to "fits now or is dropped": it can be larger than
 * the sink (26 KB at 162x162 against the firmware's 16 KiB USB ring, 105 KB at
 * 324x324 against the twin's 64 KiB queue), so its row bands wait in
 * `pending` and device_poll() sends each one once it fits, leaving room for the small
 * messages of later frames. Its owner keeps the pixels while device_frame_pending().
 */
#include "device.h"
#include "device_internal.h"

#include <string.h>

#define DEFAULT_BAND_BYTES 8192u

/* Area-average by an integer factor so the longest side is <= max_side. */
static void downscale(const uint8_t *src, uint16_t w, uint16_t h, uint16_t stride, uint16_t max_side,
                      uint8_t *dst, uint16_t *ow, uint16_t *oh, uint16_t *factor) {
    uint16_t longest = w > h ? w : h;
    uint16_t f = (uint16_t)((longest + max_side - 1) / max_side);
    if (f < 1) f = 1;
    uint16_t dw = (uint16_t)(w / f), dh = (uint16_t)(h / f);
    if (dw == 0) dw = 1;
    if (dh == 0) dh = 1;
    for (uint16_t y = 0; y < dh; y++) {
        for (uint16_t x = 0; x < dw; x++) {
            uint32_t sum = 0, cnt = 0;
            for (uint16_t j = 0; j < f && (uint32_t)y * f + j < h; j++) {
                const uint8_t *row = src + ((size_t)y * f + j) * stride + (size_t)x * f;
                for (uint16_t i = 0; i < f && (uint32_t)x * f + i < w; i++, cnt++) sum += row[i];
            }
            dst[(size_t)y * dw + x] = (uint8_t)(cnt ? (sum + cnt / 2) / cnt : 0);
        }
    }
    *ow = dw;
    *oh = dh;
    *factor = f;
}

/* ---- FRAME images, in row bands sent as the sink has room ---- */

static size_t frame_reserve(const device *d) {
    return d->cfg.frame_reserve_bytes ? d->cfg.frame_reserve_bytes : DEVICE_FRAME_RESERVE;
}

/* Rows [y0, y0 + rows) of the pending image as message pieces (one per row when strided). */
static size_t band_pieces(const device_pending_frame *pf, uint8_t hdr[PROTO_FRAME_HDR_SIZE],
                          proto_piece pieces[1 + 64]) {
    proto_pack_frame_hdr(hdr, &pf->hdr);
    size_t np = 0;
    pieces[np++] = (proto_piece){hdr, PROTO_FRAME_HDR_SIZE};
    const uint8_t *first = pf->pix + (size_t)pf->hdr.y0 * pf->stride;
    if (pf->stride == pf->hdr.width) {
        pieces[np++] = (proto_piece){first, (size_t)pf->hdr.rows * pf->hdr.width};
    } else {
        for (uint16_t r = 0; r < pf->hdr.rows; r++)
            pieces[np++] = (proto_piece){first + (size_t)r * pf->stride, pf->hdr.width};
    }
    return np;
}

static uint16_t bands_left(const device_pending_frame *pf) {
    return (uint16_t)((pf->hdr.height - pf->hdr.y0 + pf->rows_per - 1) / pf->rows_per);
}

void device_frame_abandon(device *d) {
    device_pending_frame *pf = &d->pending;
    if (!pf->active) return;
    /* The unsent bands count as dropped and use up their numbers, like any dropped
     * message, so the host's count of missing sequence numbers still adds up. */
    uint16_t n = bands_left(pf);
    d->stats.msgs_dropped += n;
    d->tx_seq = (uint16_t)(d->tx_seq + n);
    d->frames_abandoned++;
    pf->active = false;
}

/* Send the pending image's next bands while each fits with the reserve left over. */
void device_frame_pump(device *d) {
    device_pending_frame *pf = &d->pending;
    while (pf->active) {
        size_t space = d->sink.space(d->sink.ctx);
        if (space == 0) { /* no host (port closed, DTR low): nothing will drain */
            device_frame_abandon(d);
            return;
        }
        pf->hdr.rows = (uint16_t)(pf->hdr.height - pf->hdr.y0 < pf->rows_per ? pf->hdr.height - pf->hdr.y0
                                                                             : pf->rows_per);
        uint8_t hdr[PROTO_FRAME_HDR_SIZE];
        proto_piece pieces[1 + 64];
        size_t np = band_pieces(pf, hdr, pieces);
        if (space < PROTO_COBS_MAX(proto_packet_size(pieces, np)) + frame_reserve(d)) {
            if (device_now_us(d) - pf->progress_us >= (uint64_t)(d->cfg.frame_stall_ms ? d->cfg.frame_stall_ms
                                                                                  : DEVICE_FRAME_STALL_MS) * 1000u)
                device_frame_abandon(d); /* the host stopped reading: give the pixels back */
            return;
        }
        if (device_send(d, PROTO_FRAME, pieces, np) < 0) { /* the sink failed although it had room */
            device_frame_abandon(d);
            return;
        }
        pf->progress_us = device_now_us(d);
        pf->hdr.y0 = (uint16_t)(pf->hdr.y0 + pf->hdr.rows);
        if (pf->hdr.y0 >= pf->hdr.height) pf->active = false;
    }
}

/* Start sending an image in row bands of at most frame_band_bytes pixels each; what does
 * not fit now goes out from device_poll(). A frame still unfinished is given up first. */
void device_frame_start(device *d, const device_frame *f) {
    device_frame_abandon(d); /* before the downscale below overwrites d->small */
    const uint8_t *pix = f->pixels;
    uint16_t w = f->width, h = f->height, stride = f->stride ? f->stride : f->width, scale = 1;
    uint8_t flags = f->flags;
    bool caller_pixels = true;
    if (d->stream.flags & PROTO_STREAM_FLAG_FULLRES) {
        flags |= PROTO_FLAG_FULLRES;
    } else {
        uint16_t longest = w > h ? w : h;
        if (longest > d->stream.max_side) {
            downscale(f->pixels, w, h, stride, d->stream.max_side, d->small, &w, &h, &scale);
            pix = d->small;
            stride = w;
            caller_pixels = false;
        } else {
            flags |= PROTO_FLAG_FULLRES;
        }
    }
    size_t band = d->cfg.frame_band_bytes ? d->cfg.frame_band_bytes : DEFAULT_BAND_BYTES;
    /* rows a band holds, 1..h: computed in size_t, a band larger than the image is one band */
    size_t rows = band / w;
    if (rows < 1) rows = 1;
    if (rows > h) rows = h;
    if (stride != w && rows > 64) rows = 64; /* one piece per row then */
    uint16_t rows_per = (uint16_t)rows;
    d->pending = (device_pending_frame){
        .active = true,
        .caller_pixels = caller_pixels,
        .pix = pix,
        .stride = stride,
        .rows_per = rows_per,
        .hdr = {f->frame_id, w, h, 0, 0, f->width, f->height, PROTO_FRAME_FMT_GRAY8, flags, scale},
        .progress_us = device_now_us(d),
    };
    device_frame_pump(d);
}


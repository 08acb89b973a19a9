/* USB link protocol between the Pico4ML (or its host twin) and the desktop.
 *
 * Every message is one packet, COBS-encoded and ended by a single 0x00 byte,
 * so a reader resyncs at the next 0x00 after any garbage. Decoded packet:
 *   [version u8][type u8][seq u16 LE][payload...][CRC-32 u32 LE]
 * The CRC is zlib's CRC-32 over every byte before it. Payloads are fixed
 * little-endian layouts; docs/protocol.md gives every field and number.
 *
 * Portable C11: no heap, no SDK headers. Keep in sync with common/protocol.py
 * (tests/test_protocol_constants.py checks every constant here against it,
 * tests/test_protocol_c_python.py the encoded bytes against literal golden vectors).
 */
#ifndef PICO4ML_PROTOCOL_H
#define PICO4ML_PROTOCOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PROTOCOL_VERSION 2  /* keep in sync with common/protocol.py */

/* Sizes of the decoded packet. */
#define PROTO_HEADER_SIZE 4
#define PROTO_CRC_SIZE 4
#define PROTO_OVERHEAD (PROTO_HEADER_SIZE + PROTO_CRC_SIZE)
#define PROTO_MAX_PACKET (110u * 1024u)  /* a full 324x324 frame + headers fits */
#define PROTO_MAX_PAYLOAD (PROTO_MAX_PACKET - PROTO_OVERHEAD)
/* Worst-case COBS size of n decoded bytes, including the 0x00 terminator. */
#define PROTO_COBS_MAX(n) ((n) + (n) / 254u + 2u)

/* Message types: host -> device 0x01..0x7F, device -> host 0x81..0xFF. */
enum proto_type {
    PROTO_PING = 0x01,
    PROTO_SET_PARAMS = 0x02,
    PROTO_GET_PARAMS = 0x03,
    PROTO_SET_STREAM = 0x04,
    PROTO_SET_CAMERA = 0x05,
    PROTO_INJECT = 0x06,
    /* model upload (docs/model-format.md): the reserved 0x90..0x97 range, with the direction bit
     * clear for the commands; each is answered by BLOB_STATUS */
    PROTO_BLOB_BEGIN = 0x10,
    PROTO_BLOB_CHUNK = 0x11,
    PROTO_BLOB_COMMIT = 0x12,
    PROTO_BLOB_QUERY = 0x13,

    PROTO_HELLO = 0x81,
    PROTO_FRAME = 0x82,
    PROTO_INPUT28 = 0x83,
    PROTO_STAGE = 0x84,
    PROTO_RESULT = 0x85,
    PROTO_STATS = 0x86,
    PROTO_LOG = 0x87,
    PROTO_ERROR = 0x88,
    PROTO_PONG = 0x89,
    PROTO_ACK = 0x8A,
    PROTO_PARAMS = 0x8B,
    PROTO_STREAM = 0x8C,
    PROTO_CAMERA = 0x8D,
    PROTO_CANDIDATES = 0x8E, /* v2: the digit candidates, with the STAGE mask bit */
    PROTO_BLOB_STATUS = 0x90, /* the model store's state, answer to every BLOB_* command */
};

/* ERROR codes. */
enum proto_error {
    PROTO_ERR_FRAMING = 1,      /* COBS error or packet shorter than header + CRC */
    PROTO_ERR_CRC = 2,          /* CRC-32 mismatch */
    PROTO_ERR_VERSION = 3,      /* first byte is not PROTOCOL_VERSION */
    PROTO_ERR_UNKNOWN_TYPE = 4, /* type not a host -> device command */
    PROTO_ERR_LENGTH = 5,       /* payload length wrong for the type */
    PROTO_ERR_VALUE = 6,        /* a field out of range */
    PROTO_ERR_TOO_LARGE = 7,    /* packet longer than the device's receive buffer */
    PROTO_ERR_CAMERA = 8,       /* camera failure (cmd_type 0) or camera option refused */
    PROTO_ERR_UNSUPPORTED = 9,  /* command understood but not available on this build */
};

/* Flags and enums used inside payloads. */
#define PROTO_PING_WANT_HELLO 0x01u

#define PROTO_FRAME_FMT_GRAY8 0u
#define PROTO_FLAG_FULLRES 0x01u  /* FRAME: not downscaled */
#define PROTO_FLAG_INJECTED 0x02u /* FRAME/INPUT28/STAGE/RESULT: from an INJECT command */
#define PROTO_FLAG_SECOND_READING 0x04u /* INPUT28/STAGE/RESULT (and FRAME): the answer of the second reading */

#define PROTO_MODEL_FLOAT 0u
#define PROTO_MODEL_INT8 1u

/* SET_STREAM enable mask bits: which messages the device sends per frame. */
#define PROTO_STREAM_FRAME 0x0001u
#define PROTO_STREAM_INPUT28 0x0002u
#define PROTO_STREAM_STAGE 0x0004u
#define PROTO_STREAM_RESULT 0x0008u
#define PROTO_STREAM_STATS 0x0010u
#define PROTO_STREAM_LOG 0x0020u
#define PROTO_STREAM_ALL 0x003Fu
#define PROTO_STREAM_FLAG_FULLRES 0x01u

/* SET_CAMERA flags. */
#define PROTO_CAM_MIRROR 0x01u
#define PROTO_CAM_FLIP 0x02u
#define PROTO_CAM_AUTO_EXPOSURE 0x04u
/* SET_CAMERA mode (v2): the readout to switch to, KEEP the running one. HELLO, STATS and
 * CAMERA carry the mode running, NONE while the camera is down or has no modes (the twin). */
enum { PROTO_CAM_MODE_KEEP = 0, PROTO_CAM_MODE_NONE = 0, PROTO_CAM_MODE_BINNED = 1, PROTO_CAM_MODE_FULL = 2 };

/* RESULT status (v2): CLASSIFIER_DIGIT / _NO_DIGIT / _UNSURE (classifier_set_status). */
enum { PROTO_STATUS_DIGIT = 0, PROTO_STATUS_NO_DIGIT = 1, PROTO_STATUS_UNSURE = 2 };
/* RESULT polarity (v2): how preprocessing read the frame (PP_POLARITY_* values). */
enum { PROTO_POLARITY_DARK_ON_LIGHT = 0, PROTO_POLARITY_LIGHT_ON_DARK = 1, PROTO_POLARITY_UNKNOWN = 0xFF };

enum proto_log_level { PROTO_LOG_DEBUG = 0, PROTO_LOG_INFO = 1, PROTO_LOG_WARN = 2, PROTO_LOG_ERROR = 3 };

/* Fixed payload sizes (bytes); variable parts follow where noted. */
#define PROTO_PING_SIZE 5         /* flags u8, nonce u32 */
#define PROTO_SET_STREAM_SIZE 8   /* mask u16, decimation u8, flags u8, max_side u16, stats_every u8, rsvd u8 */
#define PROTO_SET_CAMERA_SIZE 8   /* flags u8, analog_gain u8, exposure u16, digital_gain_q8 u16, mode u8, rsvd u8 */
#define PROTO_INJECT_HDR_SIZE 4   /* width u16, height u16, then width*height pixels */
#define PROTO_HELLO_HDR_SIZE 36   /* see docs/protocol.md, then 3 strings (u8 len + bytes) */
#define PROTO_FRAME_HDR_SIZE 20   /* then rows*width pixels */
#define PROTO_INPUT28_SIZE 789    /* frame_id u32, flags u8, 784 pixels */
#define PROTO_STAGE_HDR_SIZE 28   /* then width*height pixels */
#define PROTO_RESULT_SIZE 76
#define PROTO_STATS_SIZE 64
#define PROTO_CANDIDATES_HDR_SIZE 12 /* then count x PROTO_CANDIDATE_SIZE */
#define PROTO_CANDIDATE_SIZE 8       /* x, y, w, h, reason, score u8; mass u16 */
#define PROTO_MAX_CANDIDATES 16      /* = PP_MAX_CANDIDATES */
#define PROTO_CANDIDATES_MAX_SIZE (PROTO_CANDIDATES_HDR_SIZE + PROTO_MAX_CANDIDATES * PROTO_CANDIDATE_SIZE)
#define PROTO_LOG_HDR_SIZE 1      /* level u8, then UTF-8 text */
#define PROTO_ERROR_HDR_SIZE 5    /* code u16, cmd_type u8, cmd_seq u16, then UTF-8 text */
#define PROTO_PONG_SIZE 8         /* nonce u32, uptime_ms u32 */
#define PROTO_ACK_SIZE 3          /* cmd_type u8, cmd_seq u16 */
#define PROTO_BLOB_BEGIN_SIZE 36     /* total_bytes u32, weights_sha256 u8[32] */
#define PROTO_BLOB_CHUNK_HDR_SIZE 4  /* offset u32, then the blob's bytes from there */
#define PROTO_BLOB_COMMIT_SIZE 4     /* crc32 u32 of the whole blob */
#define PROTO_BLOB_QUERY_SIZE 0
#define PROTO_BLOB_STATUS_SIZE 76    /* core/blob_store.h, blob_store_status_pack() */

/* BLOB_STATUS result: what became of the last BLOB_* command (core/blob_store.h). */
enum proto_blob_result {
    PROTO_BLOB_UP_OK = 0,
    PROTO_BLOB_UP_LENGTH = 1,      /* command payload of the wrong size */
    PROTO_BLOB_UP_NOT_STARTED = 2, /* CHUNK or COMMIT without a BEGIN */
    PROTO_BLOB_UP_TOO_BIG = 3,     /* total_bytes 0, not a multiple of 4, or beyond a slot */
    PROTO_BLOB_UP_OFFSET = 4,      /* CHUNK not at the next expected offset (received says it) */
    PROTO_BLOB_UP_OVERRUN = 5,     /* CHUNK past total_bytes */
    PROTO_BLOB_UP_INCOMPLETE = 6,  /* COMMIT before every byte arrived */
    PROTO_BLOB_UP_CRC = 7,         /* COMMIT's CRC-32 is not that of the bytes stored */
    PROTO_BLOB_UP_INVALID = 8,     /* the runtime refused the blob (blob_status says why) */
    PROTO_BLOB_UP_SHA = 9,         /* the blob's weights hash is not the one BEGIN announced */
    PROTO_BLOB_UP_FLASH = 10,      /* erase or program failed */
    PROTO_BLOB_UP_UNKNOWN = 11,    /* not an upload command */
};
#define PROTO_MAX_TEXT 200        /* LOG / ERROR text bytes */
#define PROTO_MAX_PSTR 64         /* bytes of each HELLO string */

/* ---- CRC-32 (IEEE 802.3, reflected 0xEDB88320, same as zlib.crc32) ---- */
/* Start with crc = 0; chain calls to cover several pieces. */
uint32_t proto_crc32(uint32_t crc, const uint8_t *data, size_t len);

/* ---- COBS ---- */
/* Encode n bytes into out (room for PROTO_COBS_MAX(n) - 1 bytes, no terminator
 * written). Returns the encoded length. */
size_t cobs_encode(const uint8_t *in, size_t n, uint8_t *out);
/* Decode one COBS block sequence (without the 0x00 terminator). Returns the
 * decoded length, or -1 on a malformed input or if it would exceed cap. */
long cobs_decode(const uint8_t *in, size_t n, uint8_t *out, size_t cap);

/* ---- Little-endian field helpers ---- */
static inline void proto_put_u16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); }
static inline void proto_put_u32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); p[2] = (uint8_t)(v >> 16); p[3] = (uint8_t)(v >> 24);
}
static inline uint16_t proto_get_u16(const uint8_t *p) { return (uint16_t)(p[0] | (p[1] << 8)); }
static inline uint32_t proto_get_u32(const uint8_t *p) {
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}
void proto_put_f32(uint8_t *p, float v);
float proto_get_f32(const uint8_t *p);

/* ---- Streaming encoder ----
 * A packet is given as a list of pieces (a small header struct, then pixels
 * straight from a frame buffer) so no full copy is ever made. The encoder emits
 * COBS output in chunks through `write`; the caller checks the space first. */
typedef struct {
    const uint8_t *data;
    size_t len;
} proto_piece;

typedef int (*proto_write_fn)(void *ctx, const uint8_t *data, size_t len);

/* Sum of piece lengths + PROTO_OVERHEAD: the decoded packet size. */
size_t proto_packet_size(const proto_piece *pieces, size_t npieces);
/* Encode [version][type][seq][pieces...][crc] as COBS + 0x00 through write.
 * Returns the number of bytes written, or -1 if write failed or the packet is
 * larger than PROTO_MAX_PACKET (nothing is written in that case). */
long proto_encode(uint8_t type, uint16_t seq, const proto_piece *pieces, size_t npieces,
                  proto_write_fn write, void *ctx);
/* Same into a flat buffer (for tests and small messages). Returns the length
 * including the 0x00 terminator, or -1 if cap is too small. */
long proto_encode_buf(uint8_t type, uint16_t seq, const uint8_t *payload, size_t len, uint8_t *out, size_t cap);

/* ---- Streaming decoder ----
 * Feed it any bytes; it decodes COBS on the fly into buf and calls on_packet for
 * every packet with a good CRC and version. Bad packets are counted and passed to
 * on_error (may be NULL) so the device can answer with ERROR. Never reads or
 * writes outside buf, never allocates. */
typedef struct {
    uint8_t type;
    uint16_t seq;
    const uint8_t *payload;
    size_t len;
} proto_packet;

typedef struct {
    uint32_t packets;         /* good packets delivered */
    uint32_t framing_errors;  /* COBS errors, runts */
    uint32_t crc_errors;
    uint32_t version_errors;
    uint32_t overflows;       /* packets longer than the buffer */
    uint32_t bytes_discarded; /* bytes of packets that were dropped */
} proto_decoder_stats;

typedef void (*proto_packet_fn)(void *ctx, const proto_packet *pkt);
/* code: PROTO_ERR_FRAMING / _CRC / _VERSION / _TOO_LARGE; type/seq are the
 * packet's header fields when known (else 0). */
typedef void (*proto_error_fn)(void *ctx, int code, uint8_t type, uint16_t seq);

typedef struct {
    uint8_t *buf;
    size_t cap;
    size_t len;
    uint8_t code;      /* current COBS block code */
    uint8_t remaining; /* data bytes left in the current block */
    bool in_packet;    /* saw bytes since the last 0x00 */
    bool bad;          /* this packet is already known bad: skip to the next 0x00 */
    int bad_code;
    size_t raw_len;    /* encoded bytes of the current packet */
    proto_decoder_stats stats;
} proto_decoder;

void proto_decoder_init(proto_decoder *d, uint8_t *buf, size_t cap);
void proto_decoder_feed(proto_decoder *d, const uint8_t *data, size_t n, proto_packet_fn on_packet,
                        proto_error_fn on_error, void *ctx);

/* ---- Message structs: packed to / parsed from the payload layouts ----
 * Device -> host messages are packed (proto_pack_*: returns bytes written);
 * host -> device commands are parsed (proto_parse_*: 0, or -PROTO_ERR_LENGTH /
 * -PROTO_ERR_VALUE). Field order and units: docs/protocol.md. */
typedef struct {
    uint8_t flags; /* PROTO_PING_WANT_HELLO */
    uint32_t nonce;
} proto_ping;

typedef struct {
    uint16_t mask;       /* PROTO_STREAM_* */
    uint8_t decimation;  /* FRAME every Nth processed frame, 1..255 */
    uint8_t flags;       /* PROTO_STREAM_FLAG_FULLRES */
    uint16_t max_side;   /* longest side of a downscaled FRAME, 16..PROTO_MAX_SMALL_SIDE */
    uint8_t stats_every; /* STATS every N processed frames, 1..255 */
} proto_stream_opts;
#define PROTO_MAX_SMALL_SIDE 128
#define PROTO_MIN_SMALL_SIDE 16

typedef struct {
    uint8_t flags;            /* PROTO_CAM_* */
    uint8_t analog_gain;      /* log2: 0..3 = 1x..8x */
    uint16_t exposure;        /* integration lines, >= 1 (manual exposure) */
    uint16_t digital_gain_q8; /* 256 (1x) .. 1023 */
    uint8_t mode;             /* PROTO_CAM_MODE_*: SET_CAMERA 0 keeps the mode; CAMERA: the mode running */
} proto_camera_opts;

typedef struct {
    uint16_t width, height;
    const uint8_t *pixels; /* width*height bytes inside the received packet */
} proto_inject;

typedef struct {
    uint8_t model_kind;
    uint16_t capture_width, capture_height;
    uint16_t params_size;
    uint32_t max_command_bytes;
    uint32_t uptime_ms;
    const char *weights_hash; /* hex; first 16 characters are sent */
    uint8_t camera_mode;      /* PROTO_CAM_MODE_* running (v2) */
    uint8_t params_version;   /* PP_PARAMS_VERSION (v2) */
    const char *firmware_version, *model_name, *build_info; /* up to 64 bytes each */
} proto_hello;
#define PROTO_HELLO_MAX_SIZE (PROTO_HELLO_HDR_SIZE + 3 * (1 + PROTO_MAX_PSTR))

typedef struct {
    uint32_t frame_id;
    uint16_t width, height, y0, rows;
    uint16_t src_width, src_height;
    uint8_t format, flags;
    uint16_t scale;
} proto_frame_hdr;

typedef struct {
    uint32_t frame_id;
    uint8_t stage_id, flags;
    uint16_t width, height;
    uint16_t bbox[4]; /* digit box x0, y0, x1, y1 (exclusive) in this image; all 0: none */
    uint8_t value;    /* stage-specific, see enum proto_stage_id */
    uint16_t roi[4];  /* ROI used, in capture pixels: x, y, w, h */
} proto_stage_hdr;
enum proto_stage_id {
    PROTO_STAGE_WORK = 1, /* ROI area-downscaled onto the work grid; value: 1 if read as dark ink on light */
    PROTO_STAGE_INK = 2,  /* after polarity + background removal, white ink; value: background level */
    PROTO_STAGE_NORM = 3, /* after contrast normalisation + threshold; value: threshold level */
    PROTO_STAGE_BOX = 4,  /* the digit resampled into the box (before placement in 28x28) */
};

typedef struct {
    uint32_t frame_id;
    uint8_t argmax, model_kind, flags;
    float score;
    float logits[10];
    uint32_t t_capture_us, t_preprocess_us, t_net_us, t_send_us;
    uint32_t fps_x100;
    uint8_t status;        /* PROTO_STATUS_* (v2) */
    uint8_t polarity;      /* PROTO_POLARITY_* (v2) */
    uint8_t min_score_pct; /* the UNSURE threshold status was decided with (v2) */
} proto_result;

typedef struct {
    uint32_t uptime_ms, frames, msgs_sent, msgs_dropped, bytes_sent;
    uint32_t camera_errors, cmds_ok, cmds_rejected, rx_errors, frames_skipped;
    /* v2: the camera's own counters (the firmware's camera_task_get_counters()) */
    uint32_t cam_frames;       /* frames captured whole (each ends on the DMA count) */
    uint32_t cam_vsync_early;  /* frames kept whose VSYNC fell before their last line (a diagnostic) */
    uint32_t cam_short_frames; /* captures cut short: the next VSYNC came before the DMA count */
    uint32_t cam_timeouts;     /* captures that failed for time (no VSYNC, short frame, frame timeout) */
    uint32_t cam_fallbacks;    /* switches to the other readout mode */
    uint32_t cam_mode;         /* PROTO_CAM_MODE_* running */
} proto_stats;

/* CANDIDATES (v2): the candidates preprocessing weighed on the work grid. */
typedef struct {
    uint8_t x, y, w, h;
    uint8_t reason;  /* PP_CAND_* */
    uint8_t score;   /* digit-likeness relative to the chosen one (255) */
    uint16_t mass;   /* ink summed over its pixels, / 16 */
} proto_candidate;

typedef struct {
    uint32_t frame_id;
    uint8_t flags;          /* PROTO_FLAG_INJECTED */
    uint8_t count;          /* entries in cand[], <= PROTO_MAX_CANDIDATES */
    int8_t chosen;          /* index of the digit in cand[], -1: none */
    uint8_t no_digit;       /* PP_ND_*: why there is no digit */
    uint8_t n_components;   /* components found (cand[] holds the first PROTO_MAX_CANDIDATES) */
    uint8_t work_w, work_h; /* the grid the boxes are on */
    proto_candidate cand[PROTO_MAX_CANDIDATES];
} proto_candidates;

int proto_parse_ping(const uint8_t *p, size_t n, proto_ping *out);
int proto_parse_stream(const uint8_t *p, size_t n, proto_stream_opts *out);
int proto_parse_camera(const uint8_t *p, size_t n, proto_camera_opts *out);
int proto_parse_inject(const uint8_t *p, size_t n, proto_inject *out);

size_t proto_pack_hello(uint8_t out[PROTO_HELLO_MAX_SIZE], const proto_hello *h);
size_t proto_pack_frame_hdr(uint8_t out[PROTO_FRAME_HDR_SIZE], const proto_frame_hdr *f);
size_t proto_pack_input28_hdr(uint8_t out[5], uint32_t frame_id, uint8_t flags); /* then 784 pixels */
size_t proto_pack_stage_hdr(uint8_t out[PROTO_STAGE_HDR_SIZE], const proto_stage_hdr *s);
size_t proto_pack_result(uint8_t out[PROTO_RESULT_SIZE], const proto_result *r);
size_t proto_pack_stats(uint8_t out[PROTO_STATS_SIZE], const proto_stats *s);
size_t proto_pack_candidates(uint8_t out[PROTO_CANDIDATES_MAX_SIZE], const proto_candidates *c);
size_t proto_pack_stream(uint8_t out[PROTO_SET_STREAM_SIZE], const proto_stream_opts *o);
size_t proto_pack_camera(uint8_t out[PROTO_SET_CAMERA_SIZE], const proto_camera_opts *o);
size_t proto_pack_pong(uint8_t out[PROTO_PONG_SIZE], uint32_t nonce, uint32_t uptime_ms);
size_t proto_pack_ack(uint8_t out[PROTO_ACK_SIZE], uint8_t cmd_type, uint16_t cmd_seq);
/* ERROR and LOG: text is cut to PROTO_MAX_TEXT bytes (on a UTF-8 boundary). */
size_t proto_pack_error(uint8_t out[PROTO_ERROR_HDR_SIZE + PROTO_MAX_TEXT], uint16_t code, uint8_t cmd_type,
                        uint16_t cmd_seq, const char *text);
size_t proto_pack_log(uint8_t out[PROTO_LOG_HDR_SIZE + PROTO_MAX_TEXT], uint8_t level, const char *text);

#endif

/* Cross-language check of the protocol (tests/test_protocol_c_python.py).
 *   proto_vectors emit   prints "<NAME> <hex of the wire bytes>" for one message of each
 *                        device->host type, packed by core/protocol.c with fixed values
 *   proto_vectors parse  reads hex lines (wire bytes of host->device commands, encoded by
 *                        common/protocol.py), decodes and parses them, prints the fields
 *   proto_vectors cobs   reads hex lines, prints cobs_encode() of each (no terminator) and
 *                        whether cobs_decode() gives the input back ("ok" / "bad")
 *   proto_vectors crc S  prints proto_crc32() of the bytes of the string S, in hex
 *   proto_vectors version
 */
#include <stdio.h>
#include <string.h>

#include "blob_store.h"
#include "preprocess.h"
#include "protocol.h"

static int hex_write(void *ctx, const uint8_t *d, size_t n) {
    (void)ctx;
    for (size_t i = 0; i < n; i++) printf("%02x", d[i]);
    return 0;
}

static void emit(const char *name, uint8_t type, uint16_t seq, const proto_piece *pieces, size_t np) {
    printf("%s ", name);
    proto_encode(type, seq, pieces, np, hex_write, NULL);
    printf("\n");
}

static void emit1(const char *name, uint8_t type, uint16_t seq, const uint8_t *p, size_t n) {
    proto_piece piece = {p, n};
    emit(name, type, seq, &piece, 1);
}

static void emit_all(void) {
    uint8_t buf[512];
    proto_hello h = {PROTO_MODEL_INT8, 324, 244, 32, 112640, 123456, "0123456789abcdef0123", PROTO_CAM_MODE_FULL, 2,
                     "fw-1.2.3", "mlp784", "gcc 12 / unit"};
    emit1("HELLO", PROTO_HELLO, 0, buf, proto_pack_hello(buf, &h));

    uint8_t hdr[32], pix[12];
    for (int i = 0; i < 12; i++) pix[i] = (uint8_t)(i * 20);
    proto_frame_hdr f = {77, 4, 6, 2, 3, 324, 324, PROTO_FRAME_FMT_GRAY8, PROTO_FLAG_FULLRES, 1};
    proto_piece fp[2] = {{hdr, proto_pack_frame_hdr(hdr, &f)}, {pix, 12}};
    emit("FRAME", PROTO_FRAME, 1, fp, 2);

    static uint8_t in28[784];
    for (int i = 0; i < 784; i++) in28[i] = (uint8_t)(i * 7);
    proto_piece ip[2] = {{hdr, proto_pack_input28_hdr(hdr, 0xDEADBEEFu, PROTO_FLAG_INJECTED)}, {in28, 784}};
    emit("INPUT28", PROTO_INPUT28, 2, ip, 2);

    proto_stage_hdr s = {78, PROTO_STAGE_NORM, 0, 3, 2, {1, 0, 3, 2}, 99, {10, 20, 300, 280}};
    proto_piece sp[2] = {{hdr, proto_pack_stage_hdr(hdr, &s)}, {pix, 6}};
    emit("STAGE", PROTO_STAGE, 3, sp, 2);

    proto_result r = {79, 7, PROTO_MODEL_FLOAT, 0, 0.875f, {0}, 1000, 2000, 3000, 4000, 1525,
                      PROTO_STATUS_UNSURE, PROTO_POLARITY_LIGHT_ON_DARK, 62};
    for (int i = 0; i < 10; i++) r.logits[i] = (float)i * 0.5f - 2.0f;
    emit1("RESULT", PROTO_RESULT, 4, buf, proto_pack_result(buf, &r));

    proto_stats st = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, PROTO_CAM_MODE_BINNED};
    emit1("STATS", PROTO_STATS, 5, buf, proto_pack_stats(buf, &st));
    emit1("LOG", PROTO_LOG, 6, buf, proto_pack_log(buf, PROTO_LOG_WARN, "camera: VSYNC timeout, retrying"));
    emit1("ERROR", PROTO_ERROR, 7, buf, proto_pack_error(buf, PROTO_ERR_LENGTH, PROTO_PING, 513, "PING payload"));
    emit1("PONG", PROTO_PONG, 8, buf, proto_pack_pong(buf, 0x12345678u, 42));
    emit1("ACK", PROTO_ACK, 9, buf, proto_pack_ack(buf, PROTO_SET_STREAM, 65535));
    uint8_t params[PP_PARAMS_SIZE];
    for (int i = 0; i < PP_PARAMS_SIZE; i++) params[i] = (uint8_t)(i + 1);
    emit1("PARAMS", PROTO_PARAMS, 10, params, PP_PARAMS_SIZE);
    proto_stream_opts so = {0x2B, 3, 1, 64, 20};
    emit1("STREAM", PROTO_STREAM, 11, buf, proto_pack_stream(buf, &so));
    proto_camera_opts co = {PROTO_CAM_MIRROR | PROTO_CAM_AUTO_EXPOSURE, 2, 300, 512, PROTO_CAM_MODE_FULL};
    emit1("CAMERA", PROTO_CAMERA, 65535, buf, proto_pack_camera(buf, &co));
    proto_candidates c = {80, PROTO_FLAG_INJECTED, 2, 1, 0, 5, 64, 48,
                          {{2, 3, 6, 6, 3, 10, 30}, {20, 10, 20, 30, 0, 255, 900}}};
    emit1("CANDIDATES", PROTO_CANDIDATES, 12, buf, proto_pack_candidates(buf, &c));
    static blob_store bs; /* the model store's answer, packed by core/blob_store.c */
    bs.receiving = 1;
    bs.last_result = BLOB_UP_OFFSET;
    bs.last_blob_status = BLOB_E_CRC;
    bs.active = 1;
    bs.active_seq = 7;
    bs.received = 4096;
    bs.total = 322676;
    bs.flash.size = 1u << 20;
    memcpy(bs.model.name, "mlp-test", 9);
    for (int i = 0; i < 32; i++) bs.model.sha256[i] = (uint8_t)i;
    blob_store_status_pack(&bs, buf);
    emit1("BLOB_STATUS", PROTO_BLOB_STATUS, 13, buf, PROTO_BLOB_STATUS_SIZE);
}

static void on_packet(void *ctx, const proto_packet *p) {
    (void)ctx;
    printf("type=%u seq=%u len=%u", p->type, p->seq, (unsigned)p->len);
    int rc = 0;
    switch (p->type) {
    case PROTO_PING: {
        proto_ping v;
        if ((rc = proto_parse_ping(p->payload, p->len, &v)) == 0) printf(" flags=%u nonce=%u", v.flags, v.nonce);
        break;
    }
    case PROTO_SET_STREAM: {
        proto_stream_opts v;
        if ((rc = proto_parse_stream(p->payload, p->len, &v)) == 0)
            printf(" mask=%u decimation=%u flags=%u max_side=%u stats_every=%u", v.mask, v.decimation, v.flags,
                   v.max_side, v.stats_every);
        break;
    }
    case PROTO_SET_CAMERA: {
        proto_camera_opts v;
        if ((rc = proto_parse_camera(p->payload, p->len, &v)) == 0)
            printf(" flags=%u analog_gain=%u exposure=%u digital_gain_q8=%u mode=%u", v.flags, v.analog_gain,
                   v.exposure, v.digital_gain_q8, v.mode);
        break;
    }
    case PROTO_INJECT: {
        proto_inject v;
        if ((rc = proto_parse_inject(p->payload, p->len, &v)) == 0) {
            unsigned sum = 0;
            for (size_t i = 0; i < (size_t)v.width * v.height; i++) sum += v.pixels[i];
            printf(" width=%u height=%u sum=%u", v.width, v.height, sum);
        }
        break;
    }
    default: /* SET_PARAMS, GET_PARAMS: raw bytes */
        printf(" crc=%u", proto_crc32(0, p->payload, p->len));
        break;
    }
    printf(" rc=%d\n", rc);
}

static void on_error(void *ctx, int code, uint8_t type, uint16_t seq) {
    (void)ctx;
    printf("error=%d type=%u seq=%u\n", code, type, seq);
}

static int parse_stdin(void) {
    static uint8_t buf[PROTO_MAX_PACKET], bytes[PROTO_COBS_MAX(PROTO_MAX_PACKET)];
    static char line[2 * sizeof bytes + 16];
    proto_decoder d;
    proto_decoder_init(&d, buf, sizeof buf);
    while (fgets(line, sizeof line, stdin)) {
        size_t n = 0;
        for (char *c = line; c[0] && c[1] && c[0] != '\n'; c += 2) {
            unsigned v;
            if (sscanf(c, "%2x", &v) != 1) return 2;
            bytes[n++] = (uint8_t)v;
        }
        proto_decoder_feed(&d, bytes, n, on_packet, on_error, NULL);
    }
    return 0;
}

static int hex_line(const char *line, uint8_t *out, size_t cap) {
    size_t n = 0;
    for (const char *c = line; c[0] && c[1] && c[0] != '\n'; c += 2) {
        unsigned v;
        if (n >= cap || sscanf(c, "%2x", &v) != 1) return -1;
        out[n++] = (uint8_t)v;
    }
    return (int)n;
}

static int cobs_stdin(void) {
    static uint8_t in[4096], enc[PROTO_COBS_MAX(4096)], dec[4096];
    static char line[2 * sizeof in + 16];
    while (fgets(line, sizeof line, stdin)) {
        int n = hex_line(line, in, sizeof in);
        if (n < 0) return 2;
        size_t m = cobs_encode(in, (size_t)n, enc);
        for (size_t i = 0; i < m; i++) printf("%02x", enc[i]);
        long back = cobs_decode(enc, m, dec, sizeof dec);
        printf(" %s\n", back == n && memcmp(dec, in, (size_t)n) == 0 ? "ok" : "bad");
    }
    return 0;
}

int main(int argc, char **argv) {
    if (argc > 1 && !strcmp(argv[1], "cobs")) return cobs_stdin();
    if (argc > 2 && !strcmp(argv[1], "crc")) {
        printf("%08x\n", (unsigned)proto_crc32(0, (const uint8_t *)argv[2], strlen(argv[2])));
        return 0;
    }
    if (argc > 1 && !strcmp(argv[1], "emit")) {
        emit_all();
        return 0;
    }
    if (argc > 1 && !strcmp(argv[1], "parse")) return parse_stdin();
    if (argc > 1 && !strcmp(argv[1], "version")) {
        printf("%d %u %u\n", PROTOCOL_VERSION, (unsigned)PROTO_MAX_PACKET, (unsigned)PROTO_HELLO_HDR_SIZE);
        return 0;
    }
    fprintf(stderr, "usage: proto_vectors emit|parse|cobs|crc S|version\n");
    return 2;
}

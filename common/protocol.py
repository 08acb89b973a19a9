"""The USB link protocol of the Pico4ML firmware: messages, encoder, streaming decoder.

The one Python implementation of docs/protocol.md. Every message is one packet,
COBS-encoded and ended by 0x00:  [version u8][type u8][seq u16][payload][CRC-32 u32],
little-endian, CRC as zlib.crc32 over everything before it.

The decoder never raises on any input: it resyncs at the next 0x00 and counts what
it dropped. It imports neither pyserial nor Dear PyGui.
"""
from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass, field
from typing import ClassVar, Iterable

PROTOCOL_VERSION = 1  # keep in sync with firmware/pico4ml/core/protocol.h

HEADER_SIZE = 4
CRC_SIZE = 4
OVERHEAD = HEADER_SIZE + CRC_SIZE
MAX_PACKET = 110 * 1024


def cobs_max(n: int) -> int:
    """Worst-case COBS size of n decoded bytes including the 0x00 terminator."""
    return n + n // 254 + 2


MAX_ENCODED = cobs_max(MAX_PACKET)

# Error codes (ERROR message), as in protocol.h.
ERR_FRAMING = 1
ERR_CRC = 2
ERR_VERSION = 3
ERR_UNKNOWN_TYPE = 4
ERR_LENGTH = 5
ERR_VALUE = 6
ERR_TOO_LARGE = 7
ERR_CAMERA = 8
ERR_UNSUPPORTED = 9
ERROR_NAMES = {ERR_FRAMING: "framing", ERR_CRC: "crc", ERR_VERSION: "version", ERR_UNKNOWN_TYPE: "unknown type",
               ERR_LENGTH: "length", ERR_VALUE: "value", ERR_TOO_LARGE: "too large", ERR_CAMERA: "camera",
               ERR_UNSUPPORTED: "unsupported"}

PING_WANT_HELLO = 0x01
FRAME_FMT_GRAY8 = 0
FLAG_FULLRES = 0x01
FLAG_INJECTED = 0x02
MODEL_FLOAT = 0
MODEL_INT8 = 1
MODEL_KIND_NAMES = {MODEL_FLOAT: "float", MODEL_INT8: "int8"}

STREAM_FRAME = 0x0001
STREAM_INPUT28 = 0x0002
STREAM_STAGE = 0x0004
STREAM_RESULT = 0x0008
STREAM_STATS = 0x0010
STREAM_LOG = 0x0020
STREAM_ALL = 0x003F
STREAM_FLAG_FULLRES = 0x01

CAM_MIRROR = 0x01
CAM_FLIP = 0x02
CAM_AUTO_EXPOSURE = 0x04

LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR = 0, 1, 2, 3
LOG_LEVEL_NAMES = {LOG_DEBUG: "debug", LOG_INFO: "info", LOG_WARN: "warn", LOG_ERROR: "error"}

STAGE_WORK = 1   # ROI area-downscaled onto the work grid; value: 1 if read as dark ink on light
STAGE_INK = 2    # after polarity + background removal (white ink); value: background level
STAGE_NORM = 3   # after contrast normalisation + threshold; value: threshold level
STAGE_BOX = 4    # the digit resampled into the box, before placement in the 28x28
STAGE_NAMES = {STAGE_WORK: "work", STAGE_INK: "ink", STAGE_NORM: "norm", STAGE_BOX: "box"}


def crc32(data: bytes) -> int:
    return zlib.crc32(data) & 0xFFFFFFFF


def cobs_encode(data: bytes) -> bytes:
    """COBS without the terminator; byte-identical to cobs_encode() in protocol.c."""
    out = bytearray()
    for part in bytes(data).split(b"\0"):
        while len(part) >= 254:
            out.append(0xFF)
            out += part[:254]
            part = part[254:]
        out.append(len(part) + 1)
        out += part
    return bytes(out)


def cobs_decode(enc: bytes) -> bytes | None:
    """Inverse of cobs_encode (no terminator); None if malformed."""
    out = bytearray()
    i, n = 0, len(enc)
    while i < n:
        code = enc[i]
        end = i + code
        if code == 0 or end > n:
            return None
        block = enc[i + 1:end]
        if 0 in block:
            return None
        out += block
        i = end
        if code != 0xFF and i < n:
            out.append(0)
    return bytes(out)


class Message:
    """Base of all messages. `seq` is the packet's sequence number (set by the decoder)."""

    TYPE: ClassVar[int] = 0
    seq: int

    def payload(self) -> bytes:
        raise NotImplementedError

    @classmethod
    def parse(cls, payload: bytes) -> "Message":
        raise NotImplementedError


def _fixed(payload: bytes, size: int, name: str) -> None:
    if len(payload) != size:
        raise ValueError(f"{name}: payload is {len(payload)} bytes, expected {size}")


def _cut_text(text: str, limit: int = 200) -> bytes:
    """UTF-8 bytes cut to `limit` without splitting a character (as put_text in protocol.c)."""
    b = text.encode("utf-8")
    if len(b) <= limit:
        return b
    n = limit
    while n > 0 and (b[n] & 0xC0) == 0x80:
        n -= 1
    return b[:n]


def _text(payload: bytes) -> str:
    return payload.decode("utf-8", errors="replace")


def _pstr(s: str) -> bytes:
    b = s.encode("utf-8")[:64]
    return bytes([len(b)]) + b


def _read_pstrs(payload: bytes, offset: int, count: int) -> list[str]:
    out = []
    for _ in range(count):
        if offset >= len(payload):
            raise ValueError("HELLO: string table truncated")
        n = payload[offset]
        if offset + 1 + n > len(payload):
            raise ValueError("HELLO: string truncated")
        out.append(_text(payload[offset + 1:offset + 1 + n]))
        offset += 1 + n
    return out


# ---------------------------------------------------------------- host -> device

@dataclass
class Ping(Message):
    TYPE: ClassVar[int] = 0x01
    flags: int = 0
    nonce: int = 0
    seq: int = field(default=0, kw_only=True, compare=False)

    def payload(self) -> bytes:
        return struct.pack("<BI", self.flags, self.nonce)

    @classmethod
    def parse(cls, payload: bytes) -> "Ping":
        _fixed(payload, 5, "PING")
        return cls(*struct.unpack("<BI", payload))


@dataclass
class SetParams(Message):
    """Preprocessing parameters: the bytes of pico4ml.train.preprocess.PreprocessParams.to_bytes()."""
    TYPE: ClassVar[int] = 0x02
    data: bytes = b""
    seq: int = field(default=0, kw_only=True, compare=False)

    def payload(self) -> bytes:
        return bytes(self.data)

    @classmethod
    def parse(cls, payload: bytes) -> "SetParams":
        return cls(bytes(payload))


@dataclass
class GetParams(Message):
    TYPE: ClassVar[int] = 0x03
    seq: int = field(default=0, kw_only=True, compare=False)

    def payload(self) -> bytes:
        return b""

    @classmethod
    def parse(cls, payload: bytes) -> "GetParams":
        _fixed(payload, 0, "GET_PARAMS")
        return cls()


_STREAM_FMT = "<HBBHBB"


@dataclass
class SetStream(Message):
    """Which messages the device sends and how (see docs/protocol.md, SET_STREAM)."""
    TYPE: ClassVar[int] = 0x04
    mask: int = STREAM_ALL & ~STREAM_STAGE
    decimation: int = 1      # send a FRAME every Nth processed frame (1..255)
    flags: int = 0           # STREAM_FLAG_FULLRES: FRAME at capture size
    max_side: int = 81       # longest side of a downscaled FRAME (16..128)
    stats_every: int = 10    # STATS every N processed frames (1..255)
    reserved: int = 0
    seq: int = field(default=0, kw_only=True, compare=False)

    def payload(self) -> bytes:
        return struct.pack(_STREAM_FMT, self.mask, self.decimation, self.flags, self.max_side, self.stats_every,
                           self.reserved)

    @classmethod
    def parse(cls, payload: bytes) -> "SetStream":
        _fixed(payload, 8, cls.__name__)
        return cls(*struct.unpack(_STREAM_FMT, payload))

    @property
    def full_res(self) -> bool:
        return bool(self.flags & STREAM_FLAG_FULLRES)


_CAMERA_FMT = "<BBHHH"


@dataclass
class SetCamera(Message):
    TYPE: ClassVar[int] = 0x05
    flags: int = CAM_AUTO_EXPOSURE  # CAM_MIRROR | CAM_FLIP | CAM_AUTO_EXPOSURE
    analog_gain: int = 0            # log2 of the analog gain: 0..3 = 1x, 2x, 4x, 8x
    exposure: int = 0x0100          # integration time in lines (used when auto exposure is off)
    digital_gain_q8: int = 256      # 256 = 1x .. 1023 (~4x)
    reserved: int = 0
    seq: int = field(default=0, kw_only=True, compare=False)

    def payload(self) -> bytes:
        return struct.pack(_CAMERA_FMT, self.flags, self.analog_gain, self.exposure, self.digital_gain_q8,
                           self.reserved)

    @classmethod
    def parse(cls, payload: bytes) -> "SetCamera":
        _fixed(payload, 8, cls.__name__)
        return cls(*struct.unpack(_CAMERA_FMT, payload))


@dataclass
class Inject(Message):
    """An 8-bit grayscale image for the device's own preprocessing and net()."""
    TYPE: ClassVar[int] = 0x06
    width: int = 0
    height: int = 0
    pixels: bytes = b""
    seq: int = field(default=0, kw_only=True, compare=False)

    def payload(self) -> bytes:
        return struct.pack("<HH", self.width, self.height) + bytes(self.pixels)

    @classmethod
    def parse(cls, payload: bytes) -> "Inject":
        if len(payload) < 4:
            raise ValueError("INJECT: payload shorter than its header")
        w, h = struct.unpack_from("<HH", payload)
        if len(payload) != 4 + w * h:
            raise ValueError(f"INJECT: {len(payload) - 4} pixel bytes for {w}x{h}")
        return cls(w, h, bytes(payload[4:]))

    @classmethod
    def from_array(cls, image) -> "Inject":
        """From a 2-D uint8 numpy array."""
        import numpy as np
        a = np.ascontiguousarray(image, dtype=np.uint8)
        return cls(a.shape[1], a.shape[0], a.tobytes())


# ---------------------------------------------------------------- device -> host

_HELLO_FMT = "<BBHHHII16s"


@dataclass
class Hello(Message):
    TYPE: ClassVar[int] = 0x81
    protocol_version: int = PROTOCOL_VERSION
    model_kind: int = MODEL_FLOAT
    capture_width: int = 0
    capture_height: int = 0
    params_size: int = 0          # sizeof(pp_params) on the device: SET_PARAMS must match
    max_command_bytes: int = 0    # largest decoded packet the device accepts (limits INJECT)
    uptime_ms: int = 0
    weights_hash: str = ""        # first 16 hex digits of the weights' SHA-256
    firmware_version: str = ""
    model_name: str = ""
    build_info: str = ""
    seq: int = field(default=0, kw_only=True, compare=False)

    def payload(self) -> bytes:
        head = struct.pack(_HELLO_FMT, self.protocol_version, self.model_kind, self.capture_width,
                           self.capture_height, self.params_size, self.max_command_bytes, self.uptime_ms,
                           self.weights_hash.encode("ascii", errors="replace")[:16])
        return head + _pstr(self.firmware_version) + _pstr(self.model_name) + _pstr(self.build_info)

    @classmethod
    def parse(cls, payload: bytes) -> "Hello":
        if len(payload) < 32:
            raise ValueError("HELLO: payload shorter than its header")
        v, kind, cw, ch, psize, maxcmd, up, h = struct.unpack_from(_HELLO_FMT, payload)
        fw, model, build = _read_pstrs(payload, 32, 3)
        return cls(v, kind, cw, ch, psize, maxcmd, up, h.rstrip(b"\0").decode("ascii", errors="replace"),
                   fw, model, build)

    @property
    def model_kind_name(self) -> str:
        return MODEL_KIND_NAMES.get(self.model_kind, f"kind {self.model_kind}")


_FRAME_FMT = "<IHHHHHHBBH"


@dataclass
class Frame(Message):
    """Camera pixels, rows y0..y0+rows of a width x height image (a band when the image is big)."""
    TYPE: ClassVar[int] = 0x82
    frame_id: int = 0
    width: int = 0
    height: int = 0
    y0: int = 0
    rows: int = 0
    src_width: int = 0     # capture size the image was downscaled from
    src_height: int = 0
    format: int = FRAME_FMT_GRAY8
    flags: int = 0
    scale: int = 1         # each pixel averages scale x scale capture pixels
    pixels: bytes = b""
    seq: int = field(default=0, kw_only=True, compare=False)

    def payload(self) -> bytes:
        return struct.pack(_FRAME_FMT, self.frame_id, self.width, self.height, self.y0, self.rows, self.src_width,
                           self.src_height, self.format, self.flags, self.scale) + bytes(self.pixels)

    @classmethod
    def parse(cls, payload: bytes) -> "Frame":
        if len(payload) < 20:
            raise ValueError("FRAME: payload shorter than its header")
        f = struct.unpack_from(_FRAME_FMT, payload)
        _, w, h, y0, rows = f[:5]
        if f[7] != FRAME_FMT_GRAY8:
            raise ValueError(f"FRAME: unknown pixel format {f[7]}")
        if y0 + rows > h or len(payload) != 20 + w * rows:
            raise ValueError(f"FRAME: {len(payload) - 20} pixel bytes for rows {y0}+{rows} of {w}x{h}")
        return cls(*f, bytes(payload[20:]))

    @property
    def complete(self) -> bool:
        return self.y0 == 0 and self.rows == self.height


@dataclass
class Input28(Message):
    TYPE: ClassVar[int] = 0x83
    frame_id: int = 0
    flags: int = 0
    pixels: bytes = bytes(784)
    seq: int = field(default=0, kw_only=True, compare=False)

    def payload(self) -> bytes:
        return struct.pack("<IB", self.frame_id, self.flags) + bytes(self.pixels)

    @classmethod
    def parse(cls, payload: bytes) -> "Input28":
        _fixed(payload, 789, "INPUT28")
        fid, flags = struct.unpack_from("<IB", payload)
        return cls(fid, flags, bytes(payload[5:]))

    @property
    def injected(self) -> bool:
        return bool(self.flags & FLAG_INJECTED)

    def to_array(self):
        import numpy as np
        return np.frombuffer(self.pixels, dtype=np.uint8).reshape(28, 28)


_STAGE_FMT = "<IBBHHHHHHBB4H"


@dataclass
class Stage(Message):
    """An intermediate preprocessing image (stage_id: STAGE_WORK, STAGE_INK, STAGE_NORM, STAGE_BOX)."""
    TYPE: ClassVar[int] = 0x84
    frame_id: int = 0
    stage_id: int = STAGE_WORK
    flags: int = 0
    width: int = 0
    height: int = 0
    bbox: tuple[int, int, int, int] = (0, 0, 0, 0)  # digit box x0, y0, x1, y1 (exclusive) in this image
    value: int = 0       # stage-specific, see STAGE_*
    reserved: int = 0
    roi: tuple[int, int, int, int] = (0, 0, 0, 0)   # ROI used, in capture pixels: x, y, w, h
    pixels: bytes = b""
    seq: int = field(default=0, kw_only=True, compare=False)

    def payload(self) -> bytes:
        return struct.pack(_STAGE_FMT, self.frame_id, self.stage_id, self.flags, self.width, self.height,
                           *self.bbox, self.value, self.reserved, *self.roi) + bytes(self.pixels)

    @classmethod
    def parse(cls, payload: bytes) -> "Stage":
        if len(payload) < 28:
            raise ValueError("STAGE: payload shorter than its header")
        f = struct.unpack_from(_STAGE_FMT, payload)
        if len(payload) != 28 + f[3] * f[4]:
            raise ValueError("STAGE: pixel bytes do not match width x height")
        return cls(f[0], f[1], f[2], f[3], f[4], tuple(f[5:9]), f[9], f[10], tuple(f[11:15]), bytes(payload[28:]))

    def to_array(self):
        import numpy as np
        return np.frombuffer(self.pixels, dtype=np.uint8).reshape(self.height, self.width)


_RESULT_FMT = "<IBBBBf10fIIIII"


@dataclass
class Result(Message):
    TYPE: ClassVar[int] = 0x85
    frame_id: int = 0
    argmax: int = 0
    model_kind: int = MODEL_FLOAT
    flags: int = 0
    reserved: int = 0
    score: float = 0.0                      # softmax probability of argmax
    logits: tuple[float, ...] = (0.0,) * 10
    t_capture_us: int = 0
    t_preprocess_us: int = 0
    t_net_us: int = 0
    t_send_us: int = 0                      # time spent sending the previous frame's messages
    fps_x100: int = 0
    seq: int = field(default=0, kw_only=True, compare=False)

    def payload(self) -> bytes:
        return struct.pack(_RESULT_FMT, self.frame_id, self.argmax, self.model_kind, self.flags, self.reserved,
                           self.score, *self.logits, self.t_capture_us, self.t_preprocess_us, self.t_net_us,
                           self.t_send_us, self.fps_x100)

    @classmethod
    def parse(cls, payload: bytes) -> "Result":
        _fixed(payload, 72, "RESULT")
        f = struct.unpack(_RESULT_FMT, payload)
        if f[1] > 9:
            raise ValueError(f"RESULT: argmax {f[1]} out of range")
        return cls(*f[:6], tuple(f[6:16]), *f[16:])

    @property
    def injected(self) -> bool:
        return bool(self.flags & FLAG_INJECTED)

    @property
    def fps(self) -> float:
        return self.fps_x100 / 100.0

    def scores(self) -> list[float]:
        """softmax(logits), as users see them."""
        import math
        m = max(self.logits)
        e = [math.exp(v - m) if math.isfinite(v) else 0.0 for v in self.logits]
        s = sum(e) or 1.0
        return [v / s for v in e]


_STATS_FMT = "<10I"


@dataclass
class Stats(Message):
    TYPE: ClassVar[int] = 0x86
    uptime_ms: int = 0
    frames: int = 0           # frames processed (camera + injected)
    msgs_sent: int = 0
    msgs_dropped: int = 0     # whole messages dropped for lack of USB buffer space
    bytes_sent: int = 0
    camera_errors: int = 0
    cmds_ok: int = 0
    cmds_rejected: int = 0
    rx_errors: int = 0        # framing/CRC/version errors in what the device received
    frames_skipped: int = 0   # camera frames not processed because the pipeline was busy
    seq: int = field(default=0, kw_only=True, compare=False)

    def payload(self) -> bytes:
        return struct.pack(_STATS_FMT, self.uptime_ms, self.frames, self.msgs_sent, self.msgs_dropped,
                           self.bytes_sent, self.camera_errors, self.cmds_ok, self.cmds_rejected, self.rx_errors,
                           self.frames_skipped)

    @classmethod
    def parse(cls, payload: bytes) -> "Stats":
        _fixed(payload, 40, "STATS")
        return cls(*struct.unpack(_STATS_FMT, payload))


@dataclass
class Log(Message):
    TYPE: ClassVar[int] = 0x87
    level: int = LOG_INFO
    text: str = ""
    seq: int = field(default=0, kw_only=True, compare=False)

    def payload(self) -> bytes:
        return bytes([self.level]) + _cut_text(self.text)

    @classmethod
    def parse(cls, payload: bytes) -> "Log":
        if len(payload) < 1:
            raise ValueError("LOG: empty payload")
        return cls(payload[0], _text(payload[1:]))


@dataclass
class Error(Message):
    TYPE: ClassVar[int] = 0x88
    code: int = 0
    cmd_type: int = 0
    cmd_seq: int = 0
    text: str = ""
    seq: int = field(default=0, kw_only=True, compare=False)

    def payload(self) -> bytes:
        return struct.pack("<HBH", self.code, self.cmd_type, self.cmd_seq) + _cut_text(self.text)

    @classmethod
    def parse(cls, payload: bytes) -> "Error":
        if len(payload) < 5:
            raise ValueError("ERROR: payload shorter than its header")
        code, t, s = struct.unpack_from("<HBH", payload)
        return cls(code, t, s, _text(payload[5:]))

    @property
    def code_name(self) -> str:
        return ERROR_NAMES.get(self.code, f"error {self.code}")


@dataclass
class Pong(Message):
    TYPE: ClassVar[int] = 0x89
    nonce: int = 0
    uptime_ms: int = 0
    seq: int = field(default=0, kw_only=True, compare=False)

    def payload(self) -> bytes:
        return struct.pack("<II", self.nonce, self.uptime_ms)

    @classmethod
    def parse(cls, payload: bytes) -> "Pong":
        _fixed(payload, 8, "PONG")
        return cls(*struct.unpack("<II", payload))


@dataclass
class Ack(Message):
    TYPE: ClassVar[int] = 0x8A
    cmd_type: int = 0
    cmd_seq: int = 0
    seq: int = field(default=0, kw_only=True, compare=False)

    def payload(self) -> bytes:
        return struct.pack("<BH", self.cmd_type, self.cmd_seq)

    @classmethod
    def parse(cls, payload: bytes) -> "Ack":
        _fixed(payload, 3, "ACK")
        return cls(*struct.unpack("<BH", payload))


@dataclass
class Params(Message):
    """The device's current preprocessing parameters (answer to GET_PARAMS and SET_PARAMS)."""
    TYPE: ClassVar[int] = 0x8B
    data: bytes = b""
    seq: int = field(default=0, kw_only=True, compare=False)

    def payload(self) -> bytes:
        return bytes(self.data)

    @classmethod
    def parse(cls, payload: bytes) -> "Params":
        return cls(bytes(payload))


class Stream(SetStream):
    """The device's current stream options (answer to SET_STREAM and GET_PARAMS)."""
    TYPE: ClassVar[int] = 0x8C


class Camera(SetCamera):
    """The device's current camera options (answer to SET_CAMERA and GET_PARAMS)."""
    TYPE: ClassVar[int] = 0x8D


MESSAGE_TYPES: dict[int, type[Message]] = {
    cls.TYPE: cls for cls in (Ping, SetParams, GetParams, SetStream, SetCamera, Inject, Hello, Frame, Input28,
                              Stage, Result, Stats, Log, Error, Pong, Ack, Params, Stream, Camera)
}
HOST_TO_DEVICE = frozenset(t for t in MESSAGE_TYPES if t < 0x80)


def encode(msg: Message, seq: int | None = None) -> bytes:
    """One message as bytes on the wire (COBS + 0x00). seq defaults to msg.seq."""
    seq = msg.seq if seq is None else seq
    packet = struct.pack("<BBH", PROTOCOL_VERSION, msg.TYPE, seq & 0xFFFF) + msg.payload()
    if len(packet) + CRC_SIZE > MAX_PACKET:
        raise ValueError(f"{type(msg).__name__}: packet of {len(packet) + CRC_SIZE} bytes exceeds {MAX_PACKET}")
    packet += struct.pack("<I", crc32(packet))
    return cobs_encode(packet) + b"\0"


class Encoder:
    """Numbers outgoing messages with a per-direction u16 sequence counter."""

    def __init__(self) -> None:
        self.seq = 0

    def encode(self, msg: Message) -> bytes:
        data = encode(msg, self.seq)
        msg.seq = self.seq
        self.seq = (self.seq + 1) & 0xFFFF
        return data


@dataclass
class DecoderStats:
    bytes_in: int = 0
    packets: int = 0
    crc_errors: int = 0
    framing_errors: int = 0
    version_errors: int = 0
    unknown_types: int = 0
    length_errors: int = 0   # right CRC, payload not valid for its type
    overflows: int = 0       # more than MAX_ENCODED bytes without a 0x00
    bytes_discarded: int = 0
    lost: int = 0            # messages missing according to sequence numbers

    @property
    def errors(self) -> int:
        return (self.crc_errors + self.framing_errors + self.version_errors + self.unknown_types
                + self.length_errors + self.overflows)


class Decoder:
    """Streaming decoder: feed() any bytes, get the complete messages. Never raises."""

    def __init__(self, max_encoded: int = MAX_ENCODED) -> None:
        self.max_encoded = max_encoded
        self.stats = DecoderStats()
        self._buf = bytearray()
        self._skipping = False   # inside an over-long packet: drop until the next 0x00
        self._expect_seq: int | None = None

    def reset(self) -> None:
        """Forget partial input and sequence state (after a reconnect)."""
        self._buf.clear()
        self._skipping = False
        self._expect_seq = None

    def feed(self, data: bytes | bytearray | memoryview) -> list[Message]:
        out: list[Message] = []
        try:
            data = bytes(data)
        except Exception:  # not bytes-like: nothing to decode
            return out
        self.stats.bytes_in += len(data)
        start = 0
        while start < len(data):
            end = data.find(b"\0", start)
            if end < 0:
                self._append(data[start:])
                break
            self._append(data[start:end])
            if self._skipping:
                self._skipping = False
                self.stats.bytes_discarded += 1
            elif self._buf:
                msg = self._packet(bytes(self._buf))
                if msg is not None:
                    out.append(msg)
            self._buf.clear()
            start = end + 1
        return out

    def _append(self, chunk: bytes) -> None:
        if self._skipping:
            self.stats.bytes_discarded += len(chunk)
            return
        self._buf += chunk
        if len(self._buf) > self.max_encoded:
            self.stats.overflows += 1
            self.stats.bytes_discarded += len(self._buf)
            self._buf.clear()
            self._skipping = True

    def _drop(self, enc: bytes) -> None:
        self.stats.bytes_discarded += len(enc) + 1

    def _packet(self, enc: bytes) -> Message | None:
        pkt = cobs_decode(enc)
        if pkt is None or len(pkt) < OVERHEAD:
            self.stats.framing_errors += 1
            return self._drop(enc)
        body = pkt[:-CRC_SIZE]
        if crc32(body) != int.from_bytes(pkt[-CRC_SIZE:], "little"):
            self.stats.crc_errors += 1
            return self._drop(enc)
        if body[0] != PROTOCOL_VERSION:
            self.stats.version_errors += 1
            return self._drop(enc)
        mtype, seq = body[1], body[2] | (body[3] << 8)
        cls = MESSAGE_TYPES.get(mtype)
        if cls is None:
            self.stats.unknown_types += 1
            return self._drop(enc)
        try:
            msg = cls.parse(body[HEADER_SIZE:])
        except (ValueError, struct.error, UnicodeError):
            self.stats.length_errors += 1
            return self._drop(enc)
        msg.seq = seq
        self._track_seq(msg)
        self.stats.packets += 1
        return msg

    def _track_seq(self, msg: Message) -> None:
        if isinstance(msg, Hello) and msg.seq == 0:
            self._expect_seq = None  # the device (re)started
        if self._expect_seq is not None:
            gap = (msg.seq - self._expect_seq) & 0xFFFF
            if gap < 0x8000:
                self.stats.lost += gap
        self._expect_seq = (msg.seq + 1) & 0xFFFF


def decode_all(data: bytes) -> list[Message]:
    """Every message in a byte string (e.g. a recording)."""
    return Decoder().feed(data)


class FrameAssembler:
    """Joins the row bands of a FRAME into whole images; a band lost in transit drops that frame."""

    def __init__(self) -> None:
        self._key: tuple | None = None
        self._buf = bytearray()
        self._rows_done = 0

    def add(self, frame: Frame) -> Frame | None:
        """Feed a FRAME band; returns a complete Frame when its last band arrives."""
        if frame.complete:
            self._key = None
            return frame
        key = (frame.frame_id, frame.width, frame.height, frame.flags)
        if frame.y0 == 0:
            self._key = key
            self._buf = bytearray(frame.width * frame.height)
            self._rows_done = 0
        if key != self._key or frame.y0 != self._rows_done:
            self._key = None  # a band went missing: wait for the next frame's first band
            return None
        w = frame.width
        self._buf[frame.y0 * w:(frame.y0 + frame.rows) * w] = frame.pixels
        self._rows_done += frame.rows
        if self._rows_done < frame.height:
            return None
        self._key = None
        return Frame(frame.frame_id, w, frame.height, 0, frame.height, frame.src_width, frame.src_height,
                     frame.format, frame.flags, frame.scale, bytes(self._buf), seq=frame.seq)


def iter_messages(chunks: Iterable[bytes], decoder: Decoder | None = None) -> Iterable[Message]:
    """Decode an iterable of byte chunks lazily."""
    decoder = decoder or Decoder()
    for chunk in chunks:
        yield from decoder.feed(chunk)

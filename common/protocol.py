"""The USB link protocol of the Pico4ML firmware: messages, encoder, streaming decoder.

The one Python implementation of docs/protocol.md. Every message is one packet,
COBS-encoded and ended by 0x00:  [version u8][type u8][seq u16][payload][CRC-32 u32],
little-endian, CRC as zlib.crc32 over everything before it.

Every constant shared with the C (message ids, flags, sizes, codes) is cross-checked
against the C headers by tests/test_protocol_constants.py.

The decoder never raises on any input: it resyncs at the next 0x00 and counts what
it dropped. It imports neither pyserial nor Dear PyGui.
"""
from __future__ import annotations

import functools
import struct
import zlib
from dataclasses import dataclass, field, fields
from typing import Any, ClassVar, Iterable, NamedTuple

from .pp_params import PARAMS_SIZE, PARAMS_VERSION, PreprocessParams

PROTOCOL_VERSION = 2  # keep in sync with firmware/pico4ml/core/protocol.h

HEADER_SIZE = 4
CRC_SIZE = 4
OVERHEAD = HEADER_SIZE + CRC_SIZE
MAX_PACKET = 110 * 1024
MAX_PAYLOAD = MAX_PACKET - OVERHEAD
MAX_TEXT = 200   # LOG / ERROR text bytes
MAX_PSTR = 64    # bytes of each HELLO string


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
FLAG_SECOND_READING = 0x04   # the answer is the second reading's (pp_params.retry_radius, core/reader.h)
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
STREAM_DEFAULT = STREAM_ALL & ~STREAM_STAGE  # DEVICE_DEFAULT_STREAM_MASK
STREAM_FLAG_FULLRES = 0x01
MIN_SMALL_SIDE, MAX_SMALL_SIDE = 16, 128  # SET_STREAM max_side range

CAM_MIRROR = 0x01
CAM_FLIP = 0x02
CAM_AUTO_EXPOSURE = 0x04
# SET_CAMERA mode (v2): the readout to switch to; 0 keeps the running one. In HELLO, STATS
# and CAMERA the mode running, 0 (NONE) when the camera is down or has no modes (the twin).
CAM_MODE_KEEP = CAM_MODE_NONE = 0
CAM_MODE_BINNED = 1  # 162x162 binned 2x2 by the sensor
CAM_MODE_FULL = 2    # 324x324 read in full, averaged 2x2 to 162x162
CAM_MODE_NAMES = {CAM_MODE_NONE: "none", CAM_MODE_BINNED: "BINNED", CAM_MODE_FULL: "FULL"}

# RESULT status (v2): classifier_set_status() in core/classifier.c decides it
STATUS_DIGIT = 0      # a digit, read with confidence
STATUS_NO_DIGIT = 1   # preprocessing found nothing digit-like
STATUS_UNSURE = 2     # digit-like, but the score is below min_score_pct
STATUS_NAMES = {STATUS_DIGIT: "digit", STATUS_NO_DIGIT: "no digit", STATUS_UNSURE: "unsure"}
# RESULT polarity (v2): what preprocessing read the frame as (PP_POLARITY_* of the frame)
POLARITY_DARK_ON_LIGHT = 0
POLARITY_LIGHT_ON_DARK = 1
POLARITY_UNKNOWN = 0xFF  # preprocessing stopped before it decided (or the frame had no stages)

# CANDIDATES (v2): why each candidate was (not) the digit, PP_CAND_* in core/preprocess.h
CAND_CHOSEN, CAND_MERGED, CAND_BORDER, CAND_SMALL, CAND_LARGE, CAND_THIN, CAND_OFF_CENTRE, CAND_WEAKER = range(8)
CAND_REASON_NAMES = {CAND_CHOSEN: "chosen", CAND_MERGED: "merged", CAND_BORDER: "border", CAND_SMALL: "small",
                     CAND_LARGE: "large", CAND_THIN: "thin", CAND_OFF_CENTRE: "off centre", CAND_WEAKER: "weaker"}
# ... and why there is no digit, PP_ND_*
ND_NONE, ND_LOW_CONTRAST, ND_NO_CANDIDATE, ND_FAINT, ND_CLUTTERED, ND_EMPTY = range(6)
ND_NAMES = {ND_NONE: "", ND_LOW_CONTRAST: "low contrast", ND_NO_CANDIDATE: "no candidate", ND_FAINT: "faint",
            ND_CLUTTERED: "cluttered", ND_EMPTY: "empty"}
MAX_CANDIDATES = 16  # PP_MAX_CANDIDATES

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
    """COBS without the terminator, as Cheshire & Baker define it (a full 254-byte block that
    ends the data is not followed by an empty one); byte-identical to cobs_encode() in protocol.c."""
    out = bytearray()
    parts = bytes(data).split(b"\0")
    for i, part in enumerate(parts):
        while len(part) >= 254:
            out.append(0xFF)
            out += part[:254]
            part = part[254:]
            if not part and i == len(parts) - 1:
                return bytes(out)
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


# ---------------------------------------------------------------- messages, from one table of layouts
#
# Every message is a dataclass whose fields, in order, fill the struct layout HEAD (tuple
# fields take as many items as their default has); a variable part after it (pixels, text,
# strings, candidates) is the class's TAIL. pack/parse below are generic: a message type is
# its row of MESSAGES plus, where it has one, its tail and its checks.

def _seq() -> Any:
    return field(default=0, kw_only=True, compare=False)


@functools.cache
def _layout(cls: type) -> struct.Struct:
    return struct.Struct("<" + cls.HEAD)


@functools.cache
def _head_fields(cls: type) -> list:
    """The dataclass fields of the fixed part, in order (cached: the decoder asks per packet)."""
    return [f for f in fields(cls) if f.name not in ("seq", cls.TAIL)]


class Message:
    """Base of all messages. `seq` is the packet's sequence number (set by the decoder)."""

    TYPE: ClassVar[int] = 0
    NAME: ClassVar[str] = ""
    HEAD: ClassVar[str] = ""          # struct layout of the fixed part (little-endian)
    TAIL: ClassVar[str | None] = None  # name of the field holding the variable part, if any
    seq: int

    @classmethod
    def _layout(cls) -> struct.Struct:
        return _layout(cls)

    @classmethod
    def fixed_size(cls) -> int | None:
        """The payload size when it has no variable part, else None."""
        return None if cls.TAIL else cls._layout().size

    @classmethod
    def _head_fields(cls) -> list:
        return _head_fields(cls)

    def _head_values(self) -> list:
        out: list = []
        for f in self._head_fields():
            v = getattr(self, f.name)
            out.extend(v) if isinstance(v, tuple) else out.append(v)
        return out

    def _tail(self) -> bytes:
        return bytes(getattr(self, self.TAIL)) if self.TAIL else b""

    @classmethod
    def _from(cls, values: tuple, rest: bytes) -> "Message":
        kw, i = {}, 0
        for f in cls._head_fields():
            n = len(f.default) if isinstance(f.default, tuple) else 0
            kw[f.name] = tuple(values[i:i + n]) if n else values[i]
            i += n or 1
        if cls.TAIL:
            kw[cls.TAIL] = bytes(rest)
        return cls(**kw)

    def _check(self) -> None:
        """Raise ValueError when the fields are not valid for this type (after parsing)."""

    def payload(self) -> bytes:
        return self._layout().pack(*self._head_values()) + self._tail()

    @classmethod
    def parse(cls, payload: bytes) -> "Message":
        layout = cls._layout()
        if cls.TAIL is None and len(payload) != layout.size:
            raise ValueError(f"{cls.NAME}: payload is {len(payload)} bytes, expected {layout.size}")
        if len(payload) < layout.size:
            raise ValueError(f"{cls.NAME}: payload shorter than its {layout.size}-byte header")
        msg = cls._from(layout.unpack_from(payload), payload[layout.size:])
        msg._check()
        return msg


def _cut_text(text: str, limit: int = MAX_TEXT) -> bytes:
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


class _Text(Message):
    """A message whose tail is UTF-8 text (LOG, ERROR)."""
    TAIL: ClassVar[str] = "text"

    def _tail(self) -> bytes:
        return _cut_text(self.text)

    @classmethod
    def _from(cls, values: tuple, rest: bytes) -> "Message":
        return cls(*values, _text(rest))


# ---------------------------------------------------------------- host -> device

@dataclass
class Ping(Message):
    TYPE: ClassVar[int] = 0x01
    NAME: ClassVar[str] = "PING"
    HEAD: ClassVar[str] = "BI"
    flags: int = 0       # PING_WANT_HELLO
    nonce: int = 0       # echoed in PONG
    seq: int = _seq()


@dataclass
class SetParams(Message):
    """Preprocessing parameters: the bytes of pico4ml.common.pp_params.PreprocessParams.to_bytes()."""
    TYPE: ClassVar[int] = 0x02
    NAME: ClassVar[str] = "SET_PARAMS"
    TAIL: ClassVar[str] = "data"
    data: bytes = b""
    seq: int = _seq()

    @classmethod
    def of(cls, params: PreprocessParams) -> "SetParams":
        return cls(params.to_bytes())

    @property
    def params(self) -> PreprocessParams:
        """The parameters (ValueError if the payload is not PARAMS_SIZE bytes)."""
        return PreprocessParams.from_bytes(self.data)


@dataclass
class GetParams(Message):
    TYPE: ClassVar[int] = 0x03
    NAME: ClassVar[str] = "GET_PARAMS"
    seq: int = _seq()


@dataclass
class SetStream(Message):
    """Which messages the device sends and how (see docs/protocol.md, SET_STREAM)."""
    TYPE: ClassVar[int] = 0x04
    NAME: ClassVar[str] = "SET_STREAM"
    HEAD: ClassVar[str] = "HBBHBB"
    mask: int = STREAM_DEFAULT
    decimation: int = 1      # send a FRAME every Nth processed frame (1..255)
    flags: int = 0           # STREAM_FLAG_FULLRES: FRAME at capture size
    max_side: int = 81       # longest side of a downscaled FRAME (16..128)
    stats_every: int = 10    # STATS every N processed frames (1..255)
    reserved: int = 0
    seq: int = _seq()

    @property
    def full_res(self) -> bool:
        return bool(self.flags & STREAM_FLAG_FULLRES)


@dataclass
class SetCamera(Message):
    TYPE: ClassVar[int] = 0x05
    NAME: ClassVar[str] = "SET_CAMERA"
    HEAD: ClassVar[str] = "BBHHBB"
    flags: int = CAM_AUTO_EXPOSURE  # CAM_MIRROR | CAM_FLIP | CAM_AUTO_EXPOSURE
    analog_gain: int = 0            # log2 of the analog gain: 0..3 = 1x, 2x, 4x, 8x
    exposure: int = 0x0100          # integration time in lines (used when auto exposure is off)
    digital_gain_q8: int = 256      # 256 = 1x .. 1023 (~4x)
    mode: int = CAM_MODE_KEEP       # readout: CAM_MODE_KEEP, CAM_MODE_BINNED, CAM_MODE_FULL (v2)
    reserved: int = 0
    seq: int = _seq()

    @property
    def mode_name(self) -> str:
        return CAM_MODE_NAMES.get(self.mode, f"mode {self.mode}")


@dataclass
class Inject(Message):
    """An 8-bit grayscale image for the device's own preprocessing and net()."""
    TYPE: ClassVar[int] = 0x06
    NAME: ClassVar[str] = "INJECT"
    HEAD: ClassVar[str] = "HH"
    TAIL: ClassVar[str] = "pixels"
    width: int = 0
    height: int = 0
    pixels: bytes = b""
    seq: int = _seq()

    def _check(self) -> None:
        if len(self.pixels) != self.width * self.height:
            raise ValueError(f"INJECT: {len(self.pixels)} pixel bytes for {self.width}x{self.height}")

    @classmethod
    def from_array(cls, image) -> "Inject":
        """From a 2-D uint8 numpy array."""
        import numpy as np
        a = np.ascontiguousarray(image, dtype=np.uint8)
        return cls(a.shape[1], a.shape[0], a.tobytes())


# ---------------------------------------------------------------- device -> host

def _pstr(s: str) -> bytes:
    b = s.encode("utf-8")[:MAX_PSTR]
    return bytes([len(b)]) + b


def _read_pstrs(payload: bytes, count: int) -> list[str]:
    out, offset = [], 0
    for _ in range(count):
        if offset >= len(payload):
            raise ValueError("HELLO: string table truncated")
        n = payload[offset]
        if offset + 1 + n > len(payload):
            raise ValueError("HELLO: string truncated")
        out.append(_text(payload[offset + 1:offset + 1 + n]))
        offset += 1 + n
    return out


@functools.cache
def _hello_head_fields(cls: type) -> list:
    return [f for f in fields(cls) if f.name not in ("seq", "firmware_version", "model_name", "build_info")]


@dataclass
class Hello(Message):
    TYPE: ClassVar[int] = 0x81
    NAME: ClassVar[str] = "HELLO"
    HEAD: ClassVar[str] = "BBHHHII16sBBH"
    TAIL: ClassVar[str] = "strings"  # firmware_version, model_name, build_info (u8 length + UTF-8 each)
    protocol_version: int = PROTOCOL_VERSION
    model_kind: int = MODEL_FLOAT
    capture_width: int = 0
    capture_height: int = 0
    params_size: int = PARAMS_SIZE  # sizeof(pp_params) on the device: SET_PARAMS must match
    max_command_bytes: int = 0      # largest decoded packet the device accepts (limits INJECT)
    uptime_ms: int = 0
    weights_hash: str = ""          # first 16 hex digits of the weights' SHA-256
    camera_mode: int = CAM_MODE_NONE  # readout running: CAM_MODE_BINNED / _FULL, NONE (down, or the twin) (v2)
    params_version: int = PARAMS_VERSION  # pp_params version the device speaks
    reserved: int = 0
    firmware_version: str = ""
    model_name: str = ""
    build_info: str = ""
    seq: int = _seq()

    @classmethod
    def _head_fields(cls) -> list:
        return _hello_head_fields(cls)

    def _head_values(self) -> list:
        v = super()._head_values()
        v[7] = self.weights_hash.encode("ascii", errors="replace")[:16]
        return v

    def _tail(self) -> bytes:
        return _pstr(self.firmware_version) + _pstr(self.model_name) + _pstr(self.build_info)

    @classmethod
    def _from(cls, values: tuple, rest: bytes) -> "Hello":
        v = list(values)
        v[7] = v[7].rstrip(b"\0").decode("ascii", errors="replace")
        return cls(*v, *_read_pstrs(rest, 3))

    @property
    def model_kind_name(self) -> str:
        return MODEL_KIND_NAMES.get(self.model_kind, f"kind {self.model_kind}")

    @property
    def builtin_model(self) -> str:
        """The built-in model's id in core/model/manifest.json: build_info ends in ", model <id>"
        (firmware and twin); "" when it does not say (model_name is the running model's own
        name, a blob's when one runs)."""
        head, sep, tail = self.build_info.rpartition(", model ")
        return tail.strip() if sep and tail.strip() and " " not in tail.strip() else ""

    @property
    def camera_mode_name(self) -> str:
        return CAM_MODE_NAMES.get(self.camera_mode, f"mode {self.camera_mode}")


@dataclass
class Frame(Message):
    """Camera pixels, rows y0..y0+rows of a width x height image (a band when the image is big)."""
    TYPE: ClassVar[int] = 0x82
    NAME: ClassVar[str] = "FRAME"
    HEAD: ClassVar[str] = "IHHHHHHBBH"
    TAIL: ClassVar[str] = "pixels"
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
    seq: int = _seq()

    def _check(self) -> None:
        if self.format != FRAME_FMT_GRAY8:
            raise ValueError(f"FRAME: unknown pixel format {self.format}")
        if self.y0 + self.rows > self.height or len(self.pixels) != self.width * self.rows:
            raise ValueError(f"FRAME: {len(self.pixels)} pixel bytes for rows {self.y0}+{self.rows} of "
                             f"{self.width}x{self.height}")

    @property
    def complete(self) -> bool:
        return self.y0 == 0 and self.rows == self.height


@dataclass
class Input28(Message):
    TYPE: ClassVar[int] = 0x83
    NAME: ClassVar[str] = "INPUT28"
    HEAD: ClassVar[str] = "IB784s"
    frame_id: int = 0
    flags: int = 0
    pixels: bytes = bytes(784)
    seq: int = _seq()

    @property
    def injected(self) -> bool:
        return bool(self.flags & FLAG_INJECTED)

    def to_array(self):
        import numpy as np
        return np.frombuffer(self.pixels, dtype=np.uint8).reshape(28, 28)


@dataclass
class Stage(Message):
    """An intermediate preprocessing image (stage_id: STAGE_WORK, STAGE_INK, STAGE_NORM, STAGE_BOX)."""
    TYPE: ClassVar[int] = 0x84
    NAME: ClassVar[str] = "STAGE"
    HEAD: ClassVar[str] = "IBBHH4HBB4H"
    TAIL: ClassVar[str] = "pixels"
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
    seq: int = _seq()

    def _check(self) -> None:
        if len(self.pixels) != self.width * self.height:
            raise ValueError("STAGE: pixel bytes do not match width x height")

    def to_array(self):
        import numpy as np
        return np.frombuffer(self.pixels, dtype=np.uint8).reshape(self.height, self.width)


@dataclass
class Result(Message):
    TYPE: ClassVar[int] = 0x85
    NAME: ClassVar[str] = "RESULT"
    HEAD: ClassVar[str] = "IBBBBf10fIIIIIBBH"
    frame_id: int = 0
    argmax: int = 0
    model_kind: int = MODEL_FLOAT
    flags: int = 0
    status: int = STATUS_DIGIT              # STATUS_DIGIT, STATUS_NO_DIGIT, STATUS_UNSURE (v2)
    score: float = 0.0                      # softmax probability of argmax
    logits: tuple[float, ...] = (0.0,) * 10
    t_capture_us: int = 0
    t_preprocess_us: int = 0
    t_net_us: int = 0
    t_send_us: int = 0                      # time spent sending the previous frame's messages
    fps_x100: int = 0
    polarity: int = POLARITY_UNKNOWN        # POLARITY_DARK_ON_LIGHT / _LIGHT_ON_DARK used (v2)
    min_score_pct: int = 0                  # the UNSURE threshold the status was decided with (v2)
    reserved: int = 0
    seq: int = _seq()

    def _check(self) -> None:
        if self.argmax > 9:
            raise ValueError(f"RESULT: argmax {self.argmax} out of range")

    @property
    def injected(self) -> bool:
        return bool(self.flags & FLAG_INJECTED)

    @property
    def second_reading(self) -> bool:
        """The answer is the frame's second reading (a smaller closing window, core/reader.h)."""
        return bool(self.flags & FLAG_SECOND_READING)

    @property
    def fps(self) -> float:
        return self.fps_x100 / 100.0

    @property
    def status_name(self) -> str:
        return STATUS_NAMES.get(self.status, f"status {self.status}")

    def scores(self) -> list[float]:
        """softmax(logits), as users see them."""
        import math
        m = max(self.logits)
        e = [math.exp(v - m) if math.isfinite(v) else 0.0 for v in self.logits]
        s = sum(e) or 1.0
        return [v / s for v in e]


@dataclass
class Stats(Message):
    TYPE: ClassVar[int] = 0x86
    NAME: ClassVar[str] = "STATS"
    HEAD: ClassVar[str] = "16I"
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
    # the camera's own counters (v2): camera_task_get_counters() on the board
    cam_frames: int = 0       # frames captured whole (each ends on the DMA count)
    cam_vsync_early: int = 0  # frames kept whose VSYNC fell before their last line (a diagnostic)
    cam_short_frames: int = 0  # captures cut short: the next VSYNC came before the DMA count
    cam_timeouts: int = 0     # captures that failed for time (no VSYNC, short frame, frame timeout)
    cam_fallbacks: int = 0    # switches to the other readout mode after repeated timeouts
    cam_mode: int = CAM_MODE_NONE  # readout running: CAM_MODE_BINNED / _FULL, NONE (down, or the twin)
    seq: int = _seq()

    @property
    def cam_mode_name(self) -> str:
        return CAM_MODE_NAMES.get(self.cam_mode, f"mode {self.cam_mode}")


@dataclass
class Log(_Text):
    TYPE: ClassVar[int] = 0x87
    NAME: ClassVar[str] = "LOG"
    HEAD: ClassVar[str] = "B"
    level: int = LOG_INFO
    text: str = ""
    seq: int = _seq()


@dataclass
class Error(_Text):
    TYPE: ClassVar[int] = 0x88
    NAME: ClassVar[str] = "ERROR"
    HEAD: ClassVar[str] = "HBH"
    code: int = 0
    cmd_type: int = 0
    cmd_seq: int = 0
    text: str = ""
    seq: int = _seq()

    @property
    def code_name(self) -> str:
        return ERROR_NAMES.get(self.code, f"error {self.code}")


@dataclass
class Pong(Message):
    TYPE: ClassVar[int] = 0x89
    NAME: ClassVar[str] = "PONG"
    HEAD: ClassVar[str] = "II"
    nonce: int = 0
    uptime_ms: int = 0
    seq: int = _seq()


@dataclass
class Ack(Message):
    TYPE: ClassVar[int] = 0x8A
    NAME: ClassVar[str] = "ACK"
    HEAD: ClassVar[str] = "BH"
    cmd_type: int = 0
    cmd_seq: int = 0
    seq: int = _seq()


@dataclass
class Params(SetParams):
    """The device's current preprocessing parameters (answer to GET_PARAMS and SET_PARAMS)."""
    TYPE: ClassVar[int] = 0x8B
    NAME: ClassVar[str] = "PARAMS"


class Stream(SetStream):
    """The device's current stream options (answer to SET_STREAM and GET_PARAMS)."""
    TYPE: ClassVar[int] = 0x8C
    NAME: ClassVar[str] = "STREAM"


class Camera(SetCamera):
    """The device's current camera options (answer to SET_CAMERA and GET_PARAMS); mode is the
    readout running (CAM_MODE_NONE: down, or no camera modes)."""
    TYPE: ClassVar[int] = 0x8D
    NAME: ClassVar[str] = "CAMERA"


class Candidate(NamedTuple):
    """One candidate of the digit on the work grid (pp_candidate in core/preprocess.h)."""
    x: int
    y: int
    w: int
    h: int
    reason: int   # CAND_*: why it was (not) the digit
    score: int    # digit-likeness relative to the chosen one (255)
    mass: int     # ink summed over its pixels, / 16

    @property
    def reason_name(self) -> str:
        return CAND_REASON_NAMES.get(self.reason, f"reason {self.reason}")


_CANDIDATE = struct.Struct("<BBBBBBH")
CANDIDATE_SIZE = _CANDIDATE.size


@dataclass
class Candidates(Message):
    """The digit candidates preprocessing weighed for one frame (v2; sent with the STAGE mask bit)."""
    TYPE: ClassVar[int] = 0x8E
    NAME: ClassVar[str] = "CANDIDATES"
    HEAD: ClassVar[str] = "IBBbBBBBB"
    TAIL: ClassVar[str] = "candidates"
    frame_id: int = 0
    flags: int = 0             # FLAG_INJECTED
    count: int = 0             # entries that follow (set from candidates when packing)
    chosen: int = -1           # index of the digit in candidates, -1: none
    no_digit: int = ND_NONE    # ND_*: why there is no digit
    n_components: int = 0      # components found (candidates holds the first MAX_CANDIDATES)
    work_w: int = 0            # the work grid the boxes are on
    work_h: int = 0
    reserved: int = 0
    candidates: tuple[Candidate, ...] = ()
    seq: int = _seq()

    def _head_values(self) -> list:
        v = super()._head_values()
        v[2] = len(self.candidates)
        return v

    def _tail(self) -> bytes:
        return b"".join(_CANDIDATE.pack(*c) for c in self.candidates)

    @classmethod
    def _from(cls, values: tuple, rest: bytes) -> "Candidates":
        count = values[2]
        if count > MAX_CANDIDATES or len(rest) != count * _CANDIDATE.size:
            raise ValueError(f"CANDIDATES: {len(rest)} bytes for {count} entries (at most {MAX_CANDIDATES})")
        cands = tuple(Candidate(*_CANDIDATE.unpack_from(rest, i * _CANDIDATE.size)) for i in range(count))
        return cls(*values, cands)

    def __post_init__(self) -> None:
        self.candidates = tuple(Candidate(*c) for c in self.candidates)
        self.count = len(self.candidates)

    def _check(self) -> None:
        if not -1 <= self.chosen < self.count:
            raise ValueError(f"CANDIDATES: chosen {self.chosen} of {self.count}")


# ---------------------------------------------------------------- model upload (docs/model-format.md)
# The reserved 0x90..0x97 range: commands with the direction bit clear, each answered by BLOB_STATUS.

BLOB_UP_OK = 0
BLOB_UP_LENGTH = 1
BLOB_UP_NOT_STARTED = 2
BLOB_UP_TOO_BIG = 3
BLOB_UP_OFFSET = 4
BLOB_UP_OVERRUN = 5
BLOB_UP_INCOMPLETE = 6
BLOB_UP_CRC = 7
BLOB_UP_INVALID = 8
BLOB_UP_SHA = 9
BLOB_UP_FLASH = 10
BLOB_UP_UNKNOWN = 11
BLOB_UP_NAMES = {BLOB_UP_OK: "ok", BLOB_UP_LENGTH: "wrong payload length", BLOB_UP_NOT_STARTED: "no upload started",
                 BLOB_UP_TOO_BIG: "size 0, not a multiple of 4, or larger than a slot",
                 BLOB_UP_OFFSET: "chunk not at the expected offset", BLOB_UP_OVERRUN: "chunk past the announced size",
                 BLOB_UP_INCOMPLETE: "commit before every byte arrived",
                 BLOB_UP_CRC: "CRC-32 of the stored bytes differs", BLOB_UP_INVALID: "the runtime refused the blob",
                 BLOB_UP_SHA: "weights hash differs from the one announced", BLOB_UP_FLASH: "flash erase/program failed",
                 BLOB_UP_UNKNOWN: "not an upload command"}


@dataclass
class BlobBegin(Message):
    """Start an upload of total_bytes into the slot that is not running; weights_sha256 is the
    blob header's (checked at COMMIT)."""
    TYPE: ClassVar[int] = 0x10
    NAME: ClassVar[str] = "BLOB_BEGIN"
    HEAD: ClassVar[str] = "I32s"
    total_bytes: int = 0
    weights_sha256: bytes = bytes(32)
    seq: int = _seq()


@dataclass
class BlobChunk(Message):
    """The blob's bytes from offset on (the next expected offset: BLOB_STATUS.received)."""
    TYPE: ClassVar[int] = 0x11
    NAME: ClassVar[str] = "BLOB_CHUNK"
    HEAD: ClassVar[str] = "I"
    TAIL: ClassVar[str] = "data"
    offset: int = 0
    data: bytes = b""
    seq: int = _seq()


@dataclass
class BlobCommit(Message):
    """Check the whole upload (CRC-32 of every byte, the runtime's validation, the hash) and switch to it."""
    TYPE: ClassVar[int] = 0x12
    NAME: ClassVar[str] = "BLOB_COMMIT"
    HEAD: ClassVar[str] = "I"
    crc32: int = 0
    seq: int = _seq()


@dataclass
class BlobQuery(Message):
    TYPE: ClassVar[int] = 0x13
    NAME: ClassVar[str] = "BLOB_QUERY"
    seq: int = _seq()


@dataclass
class BlobStatus(Message):
    """The model store after a BLOB_* command (blob_store_status_pack in core/blob_store.c)."""
    TYPE: ClassVar[int] = 0x90
    NAME: ClassVar[str] = "BLOB_STATUS"
    HEAD: ClassVar[str] = "BBBBIIII24s32s"
    receiving: int = 0         # 1 while an upload is under way
    result: int = BLOB_UP_OK   # BLOB_UP_*: what became of the last command
    blob_status: int = 0       # BLOB_E_* of core/blob.h when result is BLOB_UP_INVALID
    active: int = 0            # 1: an uploaded blob runs, 0: the built-in model
    received: int = 0          # bytes of the upload so far (the next CHUNK's offset)
    total: int = 0
    active_seq: int = 0        # commit sequence number of the blob that runs
    capacity: int = 0          # the largest blob a slot holds
    name: bytes = bytes(24)    # of the blob that runs, NUL-padded
    weights_sha256: bytes = bytes(32)
    seq: int = _seq()

    @property
    def model_name(self) -> str:
        return self.name.split(b"\0")[0].decode("utf-8", errors="replace")

    @property
    def result_name(self) -> str:
        return BLOB_UP_NAMES.get(self.result, f"result {self.result}")


CANDIDATES_MAX_SIZE = Candidates._layout().size + MAX_CANDIDATES * CANDIDATE_SIZE
HELLO_MAX_SIZE = Hello._layout().size + 3 * (1 + MAX_PSTR)

# The one table: type code -> message class (its NAME, HEAD and TAIL give the layout).
MESSAGES: tuple[type[Message], ...] = (Ping, SetParams, GetParams, SetStream, SetCamera, Inject, Hello, Frame,
                                       Input28, Stage, Result, Stats, Log, Error, Pong, Ack, Params, Stream, Camera,
                                       Candidates, BlobBegin, BlobChunk, BlobCommit, BlobQuery, BlobStatus)
MESSAGE_TYPES: dict[int, type[Message]] = {cls.TYPE: cls for cls in MESSAGES}
MESSAGE_NAMES: dict[str, type[Message]] = {cls.NAME: cls for cls in MESSAGES}
HOST_TO_DEVICE = frozenset(t for t in MESSAGE_TYPES if t < 0x80)
assert len(MESSAGE_TYPES) == len(MESSAGE_NAMES) == len(MESSAGES)


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

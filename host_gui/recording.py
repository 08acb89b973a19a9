"""Record the raw byte stream from the board with timestamps, and read it back.

Raw bytes, not decoded messages, so a recording replays through the very decoder the live
link uses (and a decoder bug can be reproduced from a user's file). Layout:

    b"P4MLREC1"  u32 LE header length  JSON header (utf-8, padded with spaces)
    then records: f64 LE host time (s since epoch)  u32 LE length  bytes

The header (format 2) holds what the board said and was set to when the recording began:
"hello" (the HELLO fields), "params" (PreprocessParams fields), "stream" and "camera". It
is written with room to spare and rewritten in place once the board's HELLO arrives, so
a recording started before the board answered still names it. Format 1 recordings (no
such fields) are read as before; a newer format is refused with a clear message.

A recording cut short (app killed, disk full) is read up to its last whole record.
"""
from __future__ import annotations

import json
import struct
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, Callable, Iterator

MAGIC = b"P4MLREC1"
FORMAT = 2
READABLE_FORMATS = (1, 2)
HEADER_ROOM = 4096  # bytes reserved for the JSON header so it can be rewritten in place
_RECORD = struct.Struct("<dI")
MAX_CHUNK = 1 << 24


class RecordingError(ValueError):
    """Not a recording, or unreadable."""


class Recorder:
    """Append raw chunks to a file; safe to call write() from the reader thread."""

    def __init__(self, path: str | Path, header: dict | None = None) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.header = {"format": FORMAT, "created": time.time(), **(header or {})}
        meta = self._meta()
        self._room = max(HEADER_ROOM, len(meta))
        self._f: BinaryIO | None = open(self.path, "wb")
        self._f.write(MAGIC + struct.pack("<I", self._room) + meta.ljust(self._room))
        self._lock = threading.Lock()
        self.bytes = 0
        self.chunks = 0

    def _meta(self) -> bytes:
        return json.dumps(self.header).encode()

    def update_header(self, **fields: Any) -> bool:
        """Add fields to the header in place (e.g. the HELLO once the board answered).
        False when they do not fit in the room reserved for it (the header is unchanged)."""
        with self._lock:
            if self._f is None:
                return False
            new = {**self.header, **fields}
            meta = json.dumps(new).encode()
            if len(meta) > self._room:
                return False
            self.header = new
            end = self._f.tell()
            self._f.seek(len(MAGIC) + 4)
            self._f.write(meta.ljust(self._room))
            self._f.seek(end)
            return True

    def write(self, t: float, data: bytes) -> None:
        with self._lock:
            if self._f is None:
                return
            self._f.write(_RECORD.pack(t, len(data)))
            self._f.write(data)
            self.bytes += len(data)
            self.chunks += 1

    __call__ = write  # so a Recorder is directly a Link recorder callback

    def close(self) -> None:
        with self._lock:
            if self._f is not None:
                self._f.close()
                self._f = None

    @property
    def closed(self) -> bool:
        return self._f is None


def read_header(f: BinaryIO, path: Path) -> dict:
    if f.read(len(MAGIC)) != MAGIC:
        raise RecordingError(f"{path}: not a pico4ml recording (missing {MAGIC.decode()} header)")
    raw = f.read(4)
    if len(raw) < 4:
        raise RecordingError(f"{path}: recording header is truncated")
    (n,) = struct.unpack("<I", raw)
    try:
        header = json.loads(f.read(n).decode())
    except (ValueError, UnicodeDecodeError) as e:
        raise RecordingError(f"{path}: recording header is damaged ({e})") from e
    if not isinstance(header, dict):
        raise RecordingError(f"{path}: recording header is damaged (not a JSON object)")
    fmt = header.get("format", 1)
    if fmt not in READABLE_FORMATS:
        raise RecordingError(f"{path}: recording format {fmt!r} is not one this pico4ml reads "
                             f"({', '.join(map(str, READABLE_FORMATS))}): update pico4ml-mnist to open it")
    return header


def iter_chunks(path: str | Path) -> Iterator[tuple[float, bytes]]:
    """(time, bytes) for every whole record; silently stops at a truncated tail."""
    path = Path(path)
    try:
        f = open(path, "rb")
    except OSError as e:
        raise RecordingError(f"{path}: {e.strerror or e}") from e
    with f:
        read_header(f, path)
        while True:
            head = f.read(_RECORD.size)
            if len(head) < _RECORD.size:
                return
            t, n = _RECORD.unpack(head)
            if n > MAX_CHUNK:
                return  # garbage length: the file is damaged from here on
            data = f.read(n)
            if len(data) < n:
                return
            yield t, data


@dataclass
class Replay:
    """A decoded recording: every message with the host time its bytes arrived."""
    path: Path
    header: dict
    events: list[tuple[float, Any]] = field(default_factory=list)
    bytes: int = 0
    decoder: Any = None

    @property
    def start(self) -> float:
        return self.events[0][0] if self.events else 0.0

    @property
    def duration(self) -> float:
        return self.events[-1][0] - self.events[0][0] if self.events else 0.0

    def index_at(self, t_rel: float) -> int:
        """Index of the last event at or before start + t_rel."""
        import bisect

        return max(0, bisect.bisect_right(self.times, self.start + t_rel) - 1)

    @property
    def times(self) -> list[float]:
        if getattr(self, "_times", None) is None or len(self._times) != len(self.events):
            self._times = [t for t, _ in self.events]
        return self._times


def load_replay(path: str | Path, decoder_factory: Callable[[], Any] | None = None) -> Replay:
    """Decode a whole recording into timed messages (what scrubbing needs)."""
    if decoder_factory is None:
        from pico4ml.common.protocol import Decoder as decoder_factory  # noqa: N813
    path = Path(path)
    if not path.is_file():
        raise RecordingError(f"{path}: no such recording")
    with open(path, "rb") as f:
        header = read_header(f, path)
    from pico4ml.common.protocol import PROTOCOL_VERSION
    version = header.get("protocol_version", PROTOCOL_VERSION)
    if version != PROTOCOL_VERSION:  # every packet would be dropped as a version error
        raise RecordingError(f"{path}: recorded with protocol version {version}; this build reads version "
                             f"{PROTOCOL_VERSION} (docs/protocol.md, versioning)")
    replay = Replay(path, header)
    decoder = decoder_factory()
    replay.decoder = decoder
    fresh = True
    for t, data in iter_chunks(path):
        replay.bytes += len(data)
        if fresh:  # a recording started mid-stream begins with the tail of a packet: not a decode error
            msgs, fresh = _first_chunk(decoder, data)
        else:
            msgs = decoder.feed(data)
        replay.events.extend((t, msg) for msg in msgs)
    return replay


def _first_chunk(decoder: Any, data: bytes) -> tuple[list, bool]:
    """Decode the start of a recording. The bytes up to the first 0x00 are the tail of a packet
    when recording began mid-stream: if they decode to nothing, their error counts are undone
    (as the live link forgives a packet cut by opening the port)."""
    end = data.find(b"\0")
    if end < 0:
        return decoder.feed(data), True
    stats = getattr(decoder, "stats", None)
    before = dict(vars(stats)) if stats is not None else {}
    head = decoder.feed(data[:end + 1])
    if not head and stats is not None:
        for name, value in before.items():
            if name not in ("bytes_in", "packets", "lost", "bytes_discarded"):
                setattr(stats, name, value)
    return head + decoder.feed(data[end + 1:]), False

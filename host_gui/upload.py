"""pico4ml-upload: send a model blob to the board (or its host twin) and switch to it, without
reflashing.

    pico4ml-upload model.blob                         # the first Pico found on USB
    pico4ml-upload models/mlp784_400_10_int8.safetensors --port /dev/pts/5
    pico4ml-upload cnn.blob --port socket://127.0.0.1:5555

MODEL is a blob (pico4ml-export-blob) or an int8 checkpoint, exported on the fly. The blob is
checked here first (docs/model-format.md), then sent with the BLOB_* commands of
docs/protocol.md: BEGIN, chunks that each wait for their BLOB_STATUS (a lost answer is
recovered from the device's `received`), and COMMIT, on which the device checks the CRC-32,
validates the blob and switches to it. A cut upload leaves the model that ran. Exit code 0:
the new model runs; 1: the device refused it (the reason is printed); 2: bad input or no link.
"""
from __future__ import annotations

import argparse
import sys
import time
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from pico4ml.common import protocol as P


class UploadError(RuntimeError):
    """The device refused the upload, or did not answer."""


@dataclass
class UploadResult:
    status: P.BlobStatus
    hello: P.Hello | None     # the HELLO that followed the commit (names the model)
    seconds: float
    chunks: int


class UploadJob:
    """The upload as a state machine, one BLOB_STATUS in, the next command out, so the command
    line (stop-and-wait on the port) and the GUI (its render loop) drive the same steps."""

    def __init__(self, data: bytes, chunk: int = 4096, max_command_bytes: int = 0):
        self.data = bytes(data)
        limit = max_command_bytes - P.OVERHEAD - 4 if max_command_bytes else chunk
        self.chunk = max(1, min(chunk, limit))  # a chunk must fit the device's receive buffer
        self.stage = "begin"           # begin -> chunks -> commit -> done | failed
        self.status: P.BlobStatus | None = None
        self.error = ""
        self.chunks = 0

    @property
    def done(self) -> bool:
        return self.stage in ("done", "failed")

    @property
    def progress(self) -> float:
        if self.stage == "done":
            return 1.0
        return 0.0 if self.status is None else min(self.status.received, len(self.data)) / max(len(self.data), 1)

    def first(self) -> P.Message:
        return P.BlobBegin(len(self.data), self.data[64:96])

    def _fail(self, text: str) -> None:
        self.stage, self.error = "failed", text

    def _next_chunk(self, st: P.BlobStatus) -> P.Message:
        off = st.received
        self.chunks += 1
        return P.BlobChunk(off, self.data[off:off + self.chunk])

    def on_status(self, st: P.BlobStatus) -> P.Message | None:
        """The answer to the last command; returns the next command, or None when done/failed."""
        self.status = st
        if self.stage == "begin":
            if st.result != P.BLOB_UP_OK:
                self._fail(f"BLOB_BEGIN refused: {st.result_name} (capacity {st.capacity} bytes)")
                return None
            self.stage = "chunks"
        elif self.stage == "chunks":
            if st.result not in (P.BLOB_UP_OK, P.BLOB_UP_OFFSET):
                self._fail(f"BLOB_CHUNK refused: {st.result_name}")
                return None
        elif self.stage == "commit":
            if st.result != P.BLOB_UP_OK:
                detail = f" (runtime reason {st.blob_status})" if st.result == P.BLOB_UP_INVALID else ""
                self._fail(f"BLOB_COMMIT refused: {st.result_name}{detail}; the previous model still runs")
            else:
                self.stage = "done"
            return None
        else:
            return None
        if st.received < len(self.data):
            return self._next_chunk(st)
        self.stage = "commit"
        return P.BlobCommit(zlib.crc32(self.data))


class _Session:
    """Stop-and-wait exchange of commands and their answers on an open serial port."""

    def __init__(self, ser, timeout: float):
        self.ser, self.timeout = ser, timeout
        self.enc, self.dec = P.Encoder(), P.Decoder()
        self.pending: list[P.Message] = []

    def send(self, msg: P.Message) -> None:
        self.ser.write(self.enc.encode(msg))
        self.ser.flush()

    def wait(self, kind: type, cmd: P.Message | None = None) -> P.Message:
        """The next message of `kind`; an ERROR about `cmd` raises UploadError."""
        deadline = time.monotonic() + self.timeout
        while True:
            while self.pending:
                m = self.pending.pop(0)
                if isinstance(m, kind):
                    return m
                if isinstance(m, P.Error) and cmd is not None and m.cmd_type == cmd.TYPE and m.cmd_seq == cmd.seq:
                    raise UploadError(f"device refused {cmd.NAME}: {P.ERROR_NAMES.get(m.code, m.code)}: {m.text}")
            if time.monotonic() > deadline:
                raise UploadError(f"no {kind.NAME} from the device within {self.timeout:g} s")
            data = self.ser.read(65536)
            if data:
                self.pending += self.dec.feed(data)

    def ask(self, msg: P.Message) -> P.BlobStatus:
        self.send(msg)
        return self.wait(P.BlobStatus, msg)


def upload(ser, data: bytes, chunk: int = 4096, timeout: float = 5.0,
           progress: Callable[[int, int], None] | None = None) -> UploadResult:
    """Send blob bytes over an open port and commit them; UploadError if the device refuses."""
    t0 = time.monotonic()
    s = _Session(ser, timeout)
    s.send(P.Ping(P.PING_WANT_HELLO, 0x55504C44))
    hello = s.wait(P.Hello)
    job = UploadJob(data, chunk, hello.max_command_bytes)
    msg = job.first()
    while msg is not None:
        msg = job.on_status(s.ask(msg))
        if progress and job.status is not None:
            progress(job.status.received, len(data))
    if job.stage != "done":
        raise UploadError(job.error)
    try:
        after = s.wait(P.Hello)
    except UploadError:
        after = None
    return UploadResult(job.status, after, time.monotonic() - t0, job.chunks)


def load_model(path: Path) -> bytes:
    """A blob file as is (checked), or an int8 checkpoint as a blob."""
    from pico4ml.export import blob as B
    path = Path(path)
    if not path.is_file():
        raise B.BlobError(f"{path}: no such file")
    if path.suffix == ".safetensors":
        return B.to_bytes(B.load_checkpoint(path))
    data = path.read_bytes()
    B.from_bytes(data)  # refuse here what the device would refuse there
    return data


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="pico4ml-upload", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("model", type=Path, help="a .blob file, or an int8 checkpoint (.safetensors + .json)")
    p.add_argument("--port", help="device path or pyserial URL (default: the first Pico on USB)")
    p.add_argument("--chunk", type=int, default=4096, help="bytes per BLOB_CHUNK (default %(default)s; "
                                                           "capped by the device's max_command_bytes)")
    p.add_argument("--timeout", type=float, default=5.0, help="seconds to wait for each answer")
    p.add_argument("--quiet", action="store_true", help="no progress lines")
    args = p.parse_args(argv)
    if args.chunk < 1 or args.timeout <= 0:
        p.error("--chunk must be >= 1 and --timeout > 0")
    from pico4ml.export.blob import BlobError
    try:
        data = load_model(args.model)
    except (BlobError, OSError) as e:
        print(f"pico4ml-upload: {e}", file=sys.stderr)
        return 2
    from pico4ml.host_gui.link import find_boards, open_port
    port = args.port
    if port is None:
        boards = find_boards()
        if not boards:
            print("pico4ml-upload: no Pico4ML on USB; pass --port (a device, a pty or socket://HOST:PORT)",
                  file=sys.stderr)
            return 2
        port = boards[0].device
    try:
        ser = open_port(port)
    except (OSError, ValueError) as e:
        print(f"pico4ml-upload: cannot open {port}: {e}", file=sys.stderr)
        return 2
    last = [-1]

    def progress(done: int, total: int) -> None:
        pct = 100 * done // total
        if not args.quiet and (pct >= last[0] + 10 or done == total):
            last[0] = pct
            print(f"  {done:>8}/{total} bytes ({pct} %)", flush=True)

    print(f"uploading {args.model} ({len(data)} bytes) to {port}", flush=True)
    try:
        r = upload(ser, data, args.chunk, args.timeout, progress)
    except UploadError as e:
        print(f"pico4ml-upload: {e}", file=sys.stderr)
        return 1
    finally:
        ser.close()
    st = r.status
    print(f"model {st.model_name!r} (weights sha256 {st.weights_sha256.hex()[:16]}...) runs on the device, "
          f"commit #{st.active_seq}; {len(data)} bytes in {r.chunks} chunks, {r.seconds:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""pico4ml-twin: the board without the board.

Builds the host twin (firmware/pico4ml/host/twin_main.c with the firmware's portable
C: preprocessing, net(), protocol, device logic) with gcc through cbuild, converts
PNG/JPG frames to PGM with OpenCV, and starts it on a pseudo-terminal (default), a
TCP port on 127.0.0.1 or stdin/stdout. It speaks docs/protocol.md exactly as the
firmware does, so the GUI, the monitor and the tests need no hardware.

Like the firmware it builds in the default model of core/model/manifest.json (the int8
MLP with the hand-written kernel) unless told otherwise: `--model float` /
`start_twin(model="mlp_float")` (any manifest name or alias).

Python API (tests, `pico4ml-gui --sim`):
    with start_twin(frames=[...], port="pty") as twin:
        serial.serial_for_url(twin.url) ...
"""
from __future__ import annotations

import argparse
import collections
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Iterable, Sequence

from pico4ml.common import manifest
from pico4ml.common.cbuild import SANITIZE_FLAGS, BuildError, build
from pico4ml.common.paths import CORE_DIR, FIRMWARE_DIR

HOST_DIR = FIRMWARE_DIR / "host"
IMAGE_SUFFIXES = {".pgm", ".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff"}


def twin_sources(model: str | None = None) -> list[Path]:
    """All C files of the twin: its own host/ files and the firmware's portable core with
    the manifest's model (None: the firmware's default)."""
    return [HOST_DIR / "twin_main.c", HOST_DIR / "twin_link.c", HOST_DIR / "pgm.c", HOST_DIR / "synth.c",
            CORE_DIR / "device.c", CORE_DIR / "protocol.c", CORE_DIR / "preprocess.c",
            *manifest.get(model).classifier_sources()]


def build_twin(sanitize: bool = False, model: str | None = None) -> Path:
    """Compile the twin (cached by cbuild); sanitize adds ASan + UBSan; model picks the built-in net()."""
    entry = manifest.get(model)
    flags = (list(SANITIZE_FLAGS) if sanitize else ["-O2"]) + entry.defines()
    name = f"pico4ml-twin-{entry.name}" + ("-san" if sanitize else "")
    return build(name, twin_sources(entry.name), flags=flags, include_dirs=[HOST_DIR])


def write_pgm(path: Path, image: Any) -> None:
    """An 8-bit grayscale array as binary PGM (P5)."""
    import numpy as np
    a = np.ascontiguousarray(image, dtype=np.uint8)
    if a.ndim != 2:
        raise ValueError(f"frames must be 2-D grayscale, got shape {a.shape}")
    with open(path, "wb") as f:
        f.write(f"P5\n{a.shape[1]} {a.shape[0]}\n255\n".encode() + a.tobytes())


def _to_pgm(src: Path, dst: Path) -> None:
    import cv2
    img = cv2.imread(str(src), cv2.IMREAD_GRAYSCALE)
    if img is None:
        raise ValueError(f"{src}: not an image OpenCV can read")
    write_pgm(dst, img)


def prepare_frames(frames: Any, workdir: Path) -> list[str]:
    """Twin arguments for `frames`: None (synthetic digits), a file, a directory, a list of
    files, or a list/array of 2-D uint8 images. Non-PGM images are converted into workdir."""
    if frames is None:
        return []
    if isinstance(frames, (str, os.PathLike)):
        p = Path(frames)
        if p.is_dir():
            files = sorted(f for f in p.iterdir() if f.suffix.lower() in IMAGE_SUFFIXES)
            if not files:
                raise ValueError(f"{p}: no images ({', '.join(sorted(IMAGE_SUFFIXES))}) in this directory")
            if all(f.suffix.lower() == ".pgm" for f in files):
                return ["--dir", str(p)]
            frames = files
        elif p.is_file():
            frames = [p]
        else:
            raise FileNotFoundError(f"{p}: no such file or directory")
    items = list(frames)
    if not items:
        raise ValueError("an empty list of frames")
    args = []
    for i, item in enumerate(items):
        if isinstance(item, (str, os.PathLike)):
            p = Path(item)
            if not p.is_file():
                raise FileNotFoundError(f"{p}: no such file")
            if p.suffix.lower() == ".pgm":
                args.append(str(p))
                continue
            dst = workdir / f"{i:06d}_{p.stem}.pgm"
            _to_pgm(p, dst)
        else:
            dst = workdir / f"{i:06d}.pgm"
            write_pgm(dst, item)
        args.append(str(dst))
    return args


class TwinHandle:
    """A running twin. `url` is what pyserial opens (pty path or socket://127.0.0.1:PORT)."""

    def __init__(self, proc: subprocess.Popen, mode: str, where: str, workdir: Path | None) -> None:
        self.proc = proc
        self.mode = mode
        self.path: str | None = where if mode == "pty" else None
        self.tcp_port: int | None = int(where) if mode == "tcp" else None
        self.url = self.path if mode == "pty" else (f"socket://127.0.0.1:{self.tcp_port}" if mode == "tcp" else "")
        self._workdir = workdir
        self.stderr_lines: collections.deque[str] = collections.deque(maxlen=200)

    @property
    def port(self) -> str:
        """Same as url (the name pico4ml-gui uses)."""
        return self.url

    @property
    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self, timeout: float = 5.0) -> int | None:
        """SIGTERM, then SIGKILL after timeout; removes converted frames. Returns the exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        for stream in (self.proc.stdin, self.proc.stdout):
            if stream:
                stream.close()
        if self._workdir is not None:
            shutil.rmtree(self._workdir, ignore_errors=True)
            self._workdir = None
        return self.proc.returncode

    def __enter__(self) -> "TwinHandle":
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"TwinHandle({self.mode} {self.url or 'stdio'}, pid {self.proc.pid})"


def _drain(stream, sink: collections.deque) -> None:
    for line in stream:
        sink.append(line.rstrip("\n"))


def start_twin(frames: Any = None, port: int | str | None = None, *, source: Any = None, fps: float = 10.0,
               count: int | None = None, once: bool = False, seed: int = 1, size: tuple[int, int] | None = None,
               hello_ms: int = 2000, sanitize: bool = False, model: str | None = None,
               timeout: float = 60.0) -> TwinHandle:
    """Build (cached) and start the twin.

    frames (or source): None = synthetic digits; a PGM/PNG/JPG file or directory; a list
    of files; or a list/array of 2-D uint8 images. port: None or "pty" = a new
    pseudo-terminal; an int = TCP on 127.0.0.1 (0: any free port); "stdio" = the
    handle's proc.stdin/proc.stdout carry the protocol. model: the built-in model, a name
    or alias of core/model/manifest.json (None: the firmware's default).
    """
    frames = source if frames is None else frames
    binary = build_twin(sanitize, model)
    workdir = Path(tempfile.mkdtemp(prefix="pico4ml-twin-"))
    try:
        args = [str(binary), *prepare_frames(frames, workdir), "--fps", str(fps), "--seed", str(seed),
                "--hello-ms", str(hello_ms)]
    except Exception:
        shutil.rmtree(workdir, ignore_errors=True)
        raise
    if count is not None:
        args += ["--count", str(count)]
    if once:
        args.append("--once")
    if size is not None:
        args += ["--size", f"{size[0]}x{size[1]}"]
    if port is None or port == "pty":
        mode = "pty"
    elif port == "stdio":
        mode = "stdio"
        args.append("--stdio")
    else:
        mode = "tcp"
        args += ["--tcp", str(int(port))]
    stdio = subprocess.PIPE if mode == "stdio" else subprocess.DEVNULL
    env = dict(os.environ, ASAN_OPTIONS=os.environ.get("ASAN_OPTIONS", "detect_leaks=0"))
    proc = subprocess.Popen(args, stdin=stdio, stdout=stdio, stderr=subprocess.PIPE, text=False, env=env)
    assert proc.stderr is not None
    deadline = time.monotonic() + timeout
    first: list[str] = []
    while time.monotonic() < deadline:
        raw = proc.stderr.readline()
        if not raw:
            break
        line = raw.decode(errors="replace").rstrip("\n")
        first.append(line)
        if line.startswith("pico4ml-twin: ready"):
            words = line.split()
            where = words[3] if mode == "pty" else (words[4] if mode == "tcp" else "")
            handle = TwinHandle(proc, mode, where, workdir)
            handle.stderr_lines.extend(first)
            text_stderr = (b.decode(errors="replace") for b in proc.stderr)
            threading.Thread(target=_drain, args=(text_stderr, handle.stderr_lines), daemon=True).start()
            return handle
    proc.kill()
    proc.wait()
    shutil.rmtree(workdir, ignore_errors=True)
    raise RuntimeError("host twin did not start: " + ("; ".join(first) or f"exit code {proc.returncode}"))


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="pico4ml-twin",
        description="Run the Pico4ML firmware's portable C (preprocessing, net(), USB protocol) on this machine, "
                    "behaving like the board on a pseudo-terminal (default), a TCP port on 127.0.0.1, or "
                    "stdin/stdout. Connect pico4ml-gui or pico4ml-monitor to the printed port.")
    ap.add_argument("frames", nargs="*", help="camera frames: image files (PGM, PNG, JPG; converted to 8-bit gray) "
                    "or directories of them, looped; none: synthetic digits drawn in C")
    where = ap.add_mutually_exclusive_group()
    where.add_argument("--tcp", type=int, metavar="PORT", help="listen on 127.0.0.1:PORT (0: any free port)")
    where.add_argument("--stdio", action="store_true", help="speak the protocol on stdin/stdout")
    ap.add_argument("--fps", type=float, default=10.0, help="frames per second (default 10; 0: as fast as possible)")
    ap.add_argument("--count", type=int, help="stop streaming after this many frames (commands are still answered)")
    ap.add_argument("--once", action="store_true", help="stream each frame file once")
    ap.add_argument("--seed", type=int, default=1, help="seed of the synthetic digits")
    ap.add_argument("--size", metavar="WxH", help="size of synthetic frames (default 324x324)")
    ap.add_argument("--hello-ms", type=int, default=2000, help="HELLO period in ms (0: only at start and on request)")
    ap.add_argument("--model", choices=manifest.choices(), default=None,
                    help="built-in model from core/model/manifest.json (default: the firmware's, "
                         f"{manifest.default_name()}; 'float' is the float MLP)")
    ap.add_argument("--sanitize", action="store_true", help="build with AddressSanitizer + UBSan (debugging)")
    args = ap.parse_args(argv)

    size = None
    if args.size:
        try:
            w, h = (int(v) for v in args.size.lower().split("x"))
            size = (w, h)
        except ValueError:
            ap.error("--size wants WxH, e.g. 162x162")
    frames: Any = None
    if args.frames:
        frames = iter_frames_from(args.frames)
    model = args.model
    port: Any = "stdio" if args.stdio else ("pty" if args.tcp is None else args.tcp)
    try:
        if port == "stdio":
            # The protocol owns stdout: run the binary in our place.
            workdir = Path(tempfile.mkdtemp(prefix="pico4ml-twin-"))
            cmd = [str(build_twin(args.sanitize, model)), *prepare_frames(frames, workdir), "--stdio", "--fps",
                   str(args.fps), "--seed", str(args.seed), "--hello-ms", str(args.hello_ms)]
            cmd += ["--count", str(args.count)] if args.count is not None else []
            cmd += ["--once"] if args.once else []
            cmd += ["--size", f"{size[0]}x{size[1]}"] if size else []
            os.execv(cmd[0], cmd)
        twin = start_twin(frames, port, fps=args.fps, count=args.count, once=args.once, seed=args.seed, size=size,
                          hello_ms=args.hello_ms, sanitize=args.sanitize, model=model)
    except (BuildError, OSError, ValueError, RuntimeError) as e:
        print(f"pico4ml-twin: {e}", file=sys.stderr)
        return 2
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt))  # stop the twin too
    print(f"pico4ml-twin: serving on {twin.url}   (e.g. pico4ml-gui --port {twin.url}); Ctrl-C stops",
          flush=True)
    try:
        while twin.alive:
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        code = twin.stop()
    for line in list(twin.stderr_lines)[1:]:
        print(line, file=sys.stderr)
    return 0 if code in (0, -signal.SIGTERM, None) else 1


def iter_frames_from(paths: Iterable[str | os.PathLike]) -> list[Path]:
    """The image files among paths (directories expanded, sorted)."""
    out: list[Path] = []
    for p in map(Path, paths):
        out += sorted(f for f in p.iterdir() if f.suffix.lower() in IMAGE_SUFFIXES) if p.is_dir() else [p]
    return out


if __name__ == "__main__":
    sys.exit(main())

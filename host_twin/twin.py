"""pico4ml-twin: the board without the board.

Builds the host twin (firmware/pico4ml/host/twin_main.c with the firmware's portable
C: preprocessing, net(), protocol, device logic) with gcc through cbuild, converts
PNG/JPG frames to PGM with OpenCV, and starts it on a pseudo-terminal (default), a
TCP port on 127.0.0.1 or stdin/stdout. It speaks docs/protocol.md exactly as the
firmware does, so the GUI, the monitor and the tests need no hardware.

Its camera is one of: synthetic digits drawn in C, each held for `hold` seconds (default
2, so a digit can be studied and sliders tuned against it); image files; or a real camera,
`camera=0` (a webcam) or `camera="clip.mp4"` (a video file, looped), read with OpenCV
(host_twin/camera.py). Whatever the source, SET_CAMERA's exposure, gain, mirror and flip
are applied to the frames as firmware/pico4ml/host/camera_model.h describes: auto exposure
leaves them as they are, manual exposure brightens or darkens them, and gain adds noise.

Like the firmware it builds in the default model of core/model/manifest.json (the int8
MLP with the hand-written kernel) unless told otherwise: `--model float` /
`start_twin(model="mlp_float")` (any manifest name or alias).

Python API (tests, `pico4ml-gui --sim`):
    with start_twin(frames=[...], port="pty") as twin:
        serial.serial_for_url(twin.url) ...
"""
from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Iterable, Sequence

from pico4ml.common import manifest
from pico4ml.common.argtypes import existing_path, positive_int, ranged
from pico4ml.common.cbuild import SANITIZE_FLAGS, BuildError, build
from pico4ml.common.child_process import ChildHandle
from pico4ml.common.paths import FIRMWARE_DIR

HOST_DIR = FIRMWARE_DIR / "host"
IMAGE_SUFFIXES = {".pgm", ".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff"}


def twin_sources(model: str | None = None) -> list[Path]:
    """All C files of the twin: its own host/ files and the firmware's portable core with
    the manifest's model (None: the firmware's default)."""
    return [HOST_DIR / "twin_main.c", HOST_DIR / "twin_link.c", HOST_DIR / "pgm.c", HOST_DIR / "synth.c",
            HOST_DIR / "feed.c", HOST_DIR / "camera_model.c", HOST_DIR / "twin_blob.c", HOST_DIR / "blob_region_file.c",
            *manifest.get(model).portable_sources()]


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


class TwinHandle(ChildHandle):
    """A running twin. `url` is what pyserial opens (pty path or socket://127.0.0.1:PORT)."""

    def __init__(self, proc: subprocess.Popen, mode: str, where: str, workdir: Path | None,
                 feeder: Any = None) -> None:
        self.mode = mode
        self.path: str | None = where if mode == "pty" else None
        self.tcp_port: int | None = int(where) if mode == "tcp" else None
        super().__init__(proc, self.path if mode == "pty" else (
            f"socket://127.0.0.1:{self.tcp_port}" if mode == "tcp" else ""), workdir)
        self.feeder = feeder  # the camera thread writing frames to the twin, or None

    def _release(self) -> None:
        """The camera feeder and the stdio pipes; stop() also removes converted frames."""
        if self.feeder is not None:
            self.feeder.stop()
            self.feeder = None
        for stream in (self.proc.stdin, self.proc.stdout):
            if stream:
                stream.close()

    def __repr__(self) -> str:
        return f"TwinHandle({self.mode} {self.url or 'stdio'}, pid {self.proc.pid})"


def start_twin(frames: Any = None, port: int | str | None = None, *, source: Any = None, fps: float = 10.0,
               count: int | None = None, once: bool = False, seed: int = 1, size: tuple[int, int] | None = None,
               hello_ms: int = 2000, sanitize: bool = False, model: str | None = None, hold: float = 0.0,
               camera: int | str | os.PathLike | None = None, model_region: str | os.PathLike | None = None,
               timeout: float = 60.0) -> TwinHandle:
    """Build (cached) and start the twin.

    frames (or source): None = synthetic digits (each held `hold` seconds; 0, the default
    here for tests and benches: a new one every frame; the command lines default to 2 s);
    a PGM/PNG/JPG file or directory; a list of files; or a list/array of 2-D
    uint8 images. camera: instead of frames, a webcam index or a video file (CameraError
    if it cannot be opened). port: None or "pty" = a new pseudo-terminal; an int = TCP on
    127.0.0.1 (0: any free port); "stdio" = the handle's proc.stdin/proc.stdout carry the
    protocol. model: the built-in model, a name or alias of core/model/manifest.json (None:
    the firmware's default). model_region: the file that stands for the board's reserved
    model flash region (created if missing): uploads (pico4ml-upload) go there and its last
    committed blob runs from start-up on.
    """
    frames = source if frames is None else frames
    if camera is not None and frames is not None:
        raise ValueError("give frames or a camera, not both")
    binary = build_twin(sanitize, model)
    cam = None
    if camera is not None:
        from pico4ml.host_twin.camera import Camera
        cam = Camera(camera)  # fails here, with its reason, before any process starts
    workdir = Path(tempfile.mkdtemp(prefix="pico4ml-twin-"))
    try:
        args = [str(binary), *prepare_frames(frames, workdir), "--fps", str(fps), "--seed", str(seed),
                "--hello-ms", str(hello_ms), "--hold", str(hold)]
    except Exception:
        shutil.rmtree(workdir, ignore_errors=True)
        if cam is not None:
            cam.close()
        raise
    feed_r = feed_w = -1
    if cam is not None:
        feed_r, feed_w = os.pipe()
        args += ["--feed-fd", str(feed_r)]
    if count is not None:
        args += ["--count", str(count)]
    if model_region is not None:
        args += ["--model-region", str(model_region)]
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
    proc = subprocess.Popen(args, stdin=stdio, stdout=stdio, stderr=subprocess.PIPE, text=False, env=env,
                            pass_fds=(feed_r,) if cam is not None else ())
    feeder = None
    if cam is not None:
        from pico4ml.host_twin.camera import CameraFeeder
        os.close(feed_r)
        feeder = CameraFeeder(cam, feed_w).start()
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
            handle = TwinHandle(proc, mode, where, workdir, feeder)
            handle.stderr_lines.extend(first)
            handle.drain_stderr(b.decode(errors="replace") for b in proc.stderr)
            return handle
    proc.kill()
    proc.wait()
    if feeder is not None:
        feeder.stop()
    shutil.rmtree(workdir, ignore_errors=True)
    raise RuntimeError("host twin did not start: " + ("; ".join(first) or f"exit code {proc.returncode}"))


def parse_size(text: str) -> tuple[int, int]:
    """--size WxH, 8..1024 each (what the C twin accepts)."""
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"wants WxH, e.g. 162x162, got {text!r}") from None
    if not (8 <= w <= 1024 and 8 <= h <= 1024):
        raise argparse.ArgumentTypeError(f"width and height must be 8..1024, got {text}")
    return w, h


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(
        prog="pico4ml-twin",
        description="Run the Pico4ML firmware's portable C (preprocessing, net(), USB protocol) on this machine, "
                    "behaving like the board on a pseudo-terminal (default), a TCP port on 127.0.0.1, or "
                    "stdin/stdout. Connect pico4ml-gui or pico4ml-monitor to the printed port.")
    ap.add_argument("frames", nargs="*", type=existing_path,
                    help="camera frames: image files (PGM, PNG, JPG; converted to 8-bit gray) or directories of "
                         "them, looped; none: synthetic digits drawn in C")
    ap.add_argument("--camera", metavar="N|FILE",
                    help="a real camera instead: webcam number N (0 is /dev/video0) or a video file (looped), read "
                         "with OpenCV as gray, the centre square resized to 324x324")
    where = ap.add_mutually_exclusive_group()
    where.add_argument("--tcp", type=ranged(int, 0, 65535), metavar="PORT",
                       help="listen on 127.0.0.1:PORT (0: any free port)")
    where.add_argument("--stdio", action="store_true", help="speak the protocol on stdin/stdout")
    ap.add_argument("--fps", type=ranged(float, 0, 1000), default=10.0,
                    help="frames per second, 0..1000 (default 10; 0: as fast as possible)")
    ap.add_argument("--hold", type=ranged(float, 0, 3600), default=2.0, metavar="S",
                    help="seconds each synthetic digit stays in view (default 2; 0: a new digit every frame)")
    ap.add_argument("--count", type=positive_int, help="stop streaming after this many frames "
                                                       "(commands are still answered)")
    ap.add_argument("--once", action="store_true", help="stream each frame file once")
    ap.add_argument("--seed", type=ranged(int, 0, 2**32 - 1), default=1, help="seed of the synthetic digits")
    ap.add_argument("--size", metavar="WxH", type=parse_size, help="size of synthetic frames (default 324x324)")
    ap.add_argument("--hello-ms", type=ranged(int, 0, 3_600_000), default=2000,
                    help="HELLO period in ms (0: only at start and on request)")
    ap.add_argument("--model", choices=manifest.choices(), default=None,
                    help="built-in model from core/model/manifest.json (default: the firmware's, "
                         f"{manifest.default_name()}; 'float' is the float MLP)")
    ap.add_argument("--model-region", metavar="FILE", type=Path,
                    help="keep the board's model flash region in FILE (created if missing): "
                         "pico4ml-upload sends blobs there and the last committed one runs")
    ap.add_argument("--sanitize", action="store_true", help="build with AddressSanitizer + UBSan (debugging)")
    return ap


def main(argv: Sequence[str] | None = None) -> int:
    ap = parser()
    args = ap.parse_args(argv)
    if args.camera is not None and args.frames:
        ap.error("give frames or --camera, not both")
    if args.camera is not None and args.stdio:
        ap.error("--camera needs the pty (default) or --tcp: with --stdio this process cannot feed the camera")
    frames: Any = None
    if args.frames:
        frames = iter_frames_from(args.frames)
        if not frames:
            ap.error(f"no image files ({', '.join(sorted(IMAGE_SUFFIXES))}) in {' '.join(map(str, args.frames))}")
    model = args.model
    port: Any = "stdio" if args.stdio else ("pty" if args.tcp is None else args.tcp)
    try:
        if port == "stdio":
            # The protocol owns stdout: run the binary in our place.
            workdir = Path(tempfile.mkdtemp(prefix="pico4ml-twin-"))
            cmd = [str(build_twin(args.sanitize, model)), *prepare_frames(frames, workdir), "--stdio", "--fps",
                   str(args.fps), "--seed", str(args.seed), "--hello-ms", str(args.hello_ms), "--hold", str(args.hold)]
            cmd += ["--count", str(args.count)] if args.count is not None else []
            cmd += ["--once"] if args.once else []
            cmd += ["--size", f"{args.size[0]}x{args.size[1]}"] if args.size else []
            cmd += ["--model-region", str(args.model_region)] if args.model_region else []
            os.execv(cmd[0], cmd)
        twin = start_twin(frames, port, fps=args.fps, count=args.count, once=args.once, seed=args.seed,
                          size=args.size, hello_ms=args.hello_ms, sanitize=args.sanitize, model=model,
                          hold=args.hold, camera=args.camera, model_region=args.model_region)
    except (BuildError, OSError, ValueError, RuntimeError) as e:  # CameraError is a ValueError
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

"""Command-line pieces shared by pico4ml-gui and pico4ml-monitor (no Dear PyGui here).

Both tools take the same way of reaching the board (--port / --sim / --replay), record the
same way (--record) and run the same device-vs-host check.
"""
from __future__ import annotations

import argparse
import contextlib
import signal
import tempfile
from pathlib import Path
from typing import Any, Iterator

from pico4ml.common.argtypes import existing_file, existing_path, non_negative_float, positive_int, ranged
from .link import BOOTLOADER_BAUD, DEFAULT_BAUD


def add_common(ap: argparse.ArgumentParser) -> argparse.ArgumentParser:
    src = ap.add_mutually_exclusive_group()
    src.add_argument("--port", help="serial device or pyserial URL: /dev/ttyACM0, COM5, /dev/cu.usbmodem1101, "
                                    "a pty path, socket://127.0.0.1:5555 (default: find the board by USB "
                                    "vendor id 0x2E8A and follow it by serial number across resets)")
    src.add_argument("--sim", action="store_true", help="start the firmware's host twin and connect to it "
                                                         "(no board needed)")
    src.add_argument("--emulate", action="store_true",
                     help="start the emulated board (the real firmware image on an emulated RP2040, "
                          "pico4ml-emulate; slow: about 1/50 of real time) and connect to it")
    src.add_argument("--replay", metavar="FILE", help="open a recording (from --record) instead of a board")
    ap.add_argument("--record", metavar="FILE", help="record the raw stream with timestamps to FILE")
    ap.add_argument("--baud", type=positive_int, default=DEFAULT_BAUD,
                    help=f"baud rate (USB CDC ignores it; {BOOTLOADER_BAUD} is refused: it reboots a Pico "
                         "into its bootloader)")
    ap.add_argument("--sim-source", metavar="PATH", default=None, type=existing_path,
                    help="with --sim: image file or folder the twin feeds (default: built-in synthetic digits); "
                         "with --emulate: what the emulated camera sees (default: a grey card)")
    ap.add_argument("--camera", metavar="N|FILE", default=None,
                    help="with --sim: feed the twin from webcam N (0 is /dev/video0) or a video file (looped), "
                         "read with OpenCV: gray, the centre square resized to 324x324")
    ap.add_argument("--hold", type=ranged(float, 0, 3600), default=2.0, metavar="S",
                    help="with --sim: seconds each synthetic digit stays in view (default 2; 0: a new one "
                         "every frame)")
    ap.add_argument("--sim-fps", type=ranged(float, 0, 1000), default=15.0,
                    help="with --sim: frames per second of the twin (0..1000; 0: as fast as it can)")
    ap.add_argument("--sim-model", choices=("int8", "float"), default="int8",
                    help="with --sim: the twin's net(), int8 (default, as the firmware) or float")
    ap.add_argument("--sim-model-region", metavar="FILE", type=Path, default=None,
                    help="with --sim: keep the twin's model flash region in FILE, so the 'model' panel's "
                         "uploads stay across runs (default: a fresh one per session, kept across twin restarts)")
    ap.add_argument("--checkpoint", metavar="FILE", type=existing_file,
                    help="model for the device-vs-host check (default: the committed models/*.safetensors)")
    ap.add_argument("--tolerance", type=non_negative_float, default=0.02,
                    help="largest score difference device vs host before a mismatch is flagged (default 0.02)")
    ap.add_argument("--preset", metavar="FILE", help="preprocessing/stream/camera settings to send (JSON preset)")
    return ap


@contextlib.contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """Turn SIGTERM into KeyboardInterrupt while a command runs, so `finally` blocks stop the
    host twin and close a recording (an unhandled SIGTERM would leave the twin running and
    the recording cut); the previous handler comes back afterwards."""
    def handler(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    try:
        previous = signal.signal(signal.SIGTERM, handler)
    except ValueError:  # not the main thread: leave signals alone
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


class StopRequest:
    """SIGTERM or SIGINT (Ctrl+C) as a request to stop, not an exception at whatever line runs
    then: a KeyboardInterrupt raised inside a library or a Dear PyGui callback can be swallowed
    or make the interpreter exit with 130 after a clean shutdown. The program checks the
    request between its steps (`if stop: ...`) and its render loop ends at the next frame
    (`on_request`); a second signal raises KeyboardInterrupt, for a step that hangs."""

    def __init__(self) -> None:
        self.requested = False
        self.on_request: Any = None

    def __bool__(self) -> bool:
        return self.requested

    def _handler(self, signum: int, frame: Any) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True
        if self.on_request is not None:
            self.on_request()

    @contextlib.contextmanager
    def installed(self) -> Iterator["StopRequest"]:
        try:
            previous = {s: signal.signal(s, self._handler) for s in (signal.SIGTERM, signal.SIGINT)}
        except ValueError:  # not the main thread: leave signals alone
            yield self
            return
        try:
            yield self
        finally:
            for s, h in previous.items():
                signal.signal(s, h)


def check_args(args: argparse.Namespace) -> str | None:
    """An error message for arguments that must never reach a port, else None."""
    if args.baud == BOOTLOADER_BAUD:
        return f"refusing --baud {BOOTLOADER_BAUD}: it reboots a Pico into its USB bootloader"
    if args.record and args.replay:
        return "--record records a live stream; a --replay is already a recording"
    if getattr(args, "emulate", False):
        if getattr(args, "camera", None) is not None:
            return "--camera feeds the host twin; the emulated camera takes --sim-source (a picture or folder)"
    elif not args.sim:
        for name in ("sim_source", "camera"):
            if getattr(args, name, None) is not None:
                return f"--{name.replace('_', '-')} feeds the host twin: add --sim"
    elif args.camera is not None and args.sim_source is not None:
        return "--sim-source and --camera are two sources for the twin: give one"
    return None


def start_sim(args: argparse.Namespace) -> Any:
    """Start the host twin (built from the firmware's portable C) and return its handle."""
    from pico4ml.host_twin.twin import start_twin

    kwargs: dict[str, Any] = {"fps": args.sim_fps, "model": getattr(args, "sim_model", "int8"),
                              "hold": getattr(args, "hold", 2.0)}
    if args.sim_source:
        kwargs["source"] = args.sim_source
    if getattr(args, "camera", None) is not None:
        kwargs["camera"] = args.camera
    if getattr(args, "sim_model_region", None) is None:  # fresh per session; a twin restart keeps it
        args.sim_model_region = Path(tempfile.mkdtemp(prefix="pico4ml-region-")) / "model-region.bin"
    kwargs["model_region"] = args.sim_model_region
    return start_twin(**kwargs)


def start_emulated(args: argparse.Namespace) -> Any:
    """Start the emulated board serving its USB stream on a local TCP port; returns its handle."""
    from pico4ml.emulator.serve import start_emulator

    return start_emulator(scene=args.sim_source)


def open_source(args: argparse.Namespace) -> tuple[Any, Any]:
    """(LiveSource or ReplaySource, twin handle or None) for the arguments."""
    from .link import Link
    from .source import LiveSource, ReplaySource

    if args.replay:
        return ReplaySource(args.replay), None
    twin = start_sim(args) if args.sim else start_emulated(args) if getattr(args, "emulate", False) else None
    port = twin.port if twin is not None else args.port
    source = LiveSource(Link(port, baudrate=args.baud))
    if args.record:
        source.start_recording(args.record)  # before the first byte arrives
    source.link.start()
    return source, twin


def make_state(args: argparse.Namespace, history_window_s: float = 30.0) -> Any:
    from .hostcheck import try_load
    from .state import State

    model, note = try_load(args.checkpoint)
    state = State(history_window_s=history_window_s, tolerance=args.tolerance, host_model=model)
    state.log.append("[host] " + note)
    return state

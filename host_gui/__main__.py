"""pico4ml-gui: live view of what the Pico4ML's camera and network see.

    pico4ml-gui --sim                 # no board: the host twin of the firmware on a pty
    pico4ml-gui                       # the first board found by USB vendor id 0x2E8A
    pico4ml-gui --port /dev/ttyACM0   # or COM5, /dev/cu.usbmodem1101, socket://host:port
    pico4ml-gui --replay session.p4rec
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .link import BOOTLOADER_BAUD, DEFAULT_BAUD


def parser(prog: str = "pico4ml-gui", description: str | None = None) -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog=prog, description=description or __doc__.split("\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog="examples:\n" + "\n".join(__doc__.split("\n")[2:]))
    src = ap.add_mutually_exclusive_group()
    src.add_argument("--port", help="serial device or pyserial URL (default: find the board by USB "
                                    "vendor id 0x2E8A and follow it across resets)")
    src.add_argument("--sim", action="store_true", help="start the firmware's host twin and connect to it")
    src.add_argument("--replay", metavar="FILE", help="open a recording and scrub through it offline")
    ap.add_argument("--record", metavar="FILE", help="record the raw stream with timestamps to FILE")
    ap.add_argument("--baud", type=int, default=DEFAULT_BAUD,
                    help=f"baud rate (USB CDC ignores it; {BOOTLOADER_BAUD} is refused: it reboots a Pico "
                         "into its bootloader)")
    ap.add_argument("--sim-source", metavar="PATH", default=None,
                    help="with --sim: image file or folder the twin feeds (default: built-in synthetic digits)")
    ap.add_argument("--sim-fps", type=float, default=15.0, help="with --sim: frames per second of the twin")
    ap.add_argument("--checkpoint", metavar="FILE", help="model for the device-vs-host check "
                                                         "(default: the committed models/*.safetensors)")
    ap.add_argument("--tolerance", type=float, default=0.02,
                    help="largest score difference device vs host before a mismatch is flagged")
    ap.add_argument("--preset", metavar="FILE", help="load preprocessing/stream settings from a preset file")
    ap.add_argument("--out", metavar="DIR", default="pico4ml-out", help="folder for PNGs, CSV and recordings")
    ap.add_argument("--window", type=float, default=30.0, help="history window in seconds")
    return ap


def start_sim(args: argparse.Namespace):
    """Start the host twin; returns (twin handle, port to open)."""
    from pico4ml.host_twin.twin import start_twin

    kwargs = {}
    if args.sim_source:
        kwargs["source"] = args.sim_source
    twin = start_twin(fps=args.sim_fps, **kwargs)
    return twin, twin.port


def open_source(args: argparse.Namespace):
    """LiveSource or ReplaySource per the arguments, plus a twin to stop at exit (or None)."""
    from .link import Link
    from .source import LiveSource, ReplaySource

    if args.replay:
        return ReplaySource(args.replay), None
    twin, port = (start_sim(args) if args.sim else (None, args.port))
    source = LiveSource(Link(port, baudrate=args.baud).start())
    if args.record:
        source.start_recording(args.record)
    return source, twin


def make_state(args: argparse.Namespace):
    from .hostcheck import try_load
    from .state import State

    model, note = try_load(args.checkpoint)
    state = State(history_window_s=args.window, tolerance=args.tolerance, host_model=model)
    state.log.append("[gui] " + note)
    return state


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.baud == BOOTLOADER_BAUD:
        print(f"refusing --baud {BOOTLOADER_BAUD}: it reboots a Pico into its USB bootloader", file=sys.stderr)
        return 2
    try:
        import dearpygui.dearpygui as dpg
    except ImportError:
        print("Dear PyGui is not installed (pip install 'pico4ml-mnist[gui]'); "
              "pico4ml-monitor shows the same stream in a terminal.", file=sys.stderr)
        return 2
    from .presets import PresetError, Settings
    from .recording import RecordingError
    from . import view

    try:
        settings = Settings.load(args.preset) if args.preset else Settings()
        source, twin = open_source(args)
    except (PresetError, RecordingError, ValueError, OSError) as e:
        print(f"pico4ml-gui: {e}", file=sys.stderr)
        return 2
    except Exception as e:  # noqa: BLE001: e.g. the twin failed to build
        print(f"pico4ml-gui: could not start: {e}", file=sys.stderr)
        return 2
    state = make_state(args)
    if not source.live:
        state = source.seek(0.0, state)
    dpg.create_context()
    try:
        app = view.App(source, state, settings, out_dir=args.out)
        view.create(app)
        app.run()
    finally:
        source.close()
        if twin is not None:
            twin.stop()
        dpg.destroy_context()
    return 0


if __name__ == "__main__":
    sys.exit(main())

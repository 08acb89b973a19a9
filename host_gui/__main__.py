"""pico4ml-gui: live view of what the Pico4ML's camera and network see.

examples:
  pico4ml-gui --sim                   no board: the firmware's host twin on a pseudo-terminal
  pico4ml-gui                         the first board found by USB vendor id 0x2E8A
  pico4ml-gui --port /dev/ttyACM0     or COM5, /dev/cu.usbmodem1101, socket://host:port
  pico4ml-gui --record s.p4rec        record the raw stream while watching
  pico4ml-gui --replay s.p4rec        scrub through a recording offline
"""
from __future__ import annotations

import argparse
import os
import sys

from pico4ml.common.argtypes import positive_float
from .cli import add_common, check_args, make_state, open_source, sigterm_as_interrupt


def parser() -> argparse.ArgumentParser:
    doc = __doc__.split("\n")
    ap = argparse.ArgumentParser(prog="pico4ml-gui", description=doc[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter, epilog="\n".join(doc[2:]))
    add_common(ap)
    ap.add_argument("--out", metavar="DIR", default="pico4ml-out", help="folder for PNGs, CSV and recordings")
    ap.add_argument("--window", type=positive_float, default=30.0, help="history window of the plots in seconds")
    return ap


def main(argv: list[str] | None = None) -> int:
    with sigterm_as_interrupt():
        return _main(argv)


def _main(argv: list[str] | None) -> int:
    args = parser().parse_args(argv)
    problem = check_args(args)
    if problem:
        print(f"pico4ml-gui: {problem}", file=sys.stderr)
        return 2
    if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        # Dear PyGui would abort the whole process here: say what to do instead.
        print("pico4ml-gui: no display (DISPLAY is not set). Run it in a desktop session, over ssh -X, "
              "or headless with `xvfb-run pico4ml-gui ...`; pico4ml-monitor shows the stream in a terminal.",
              file=sys.stderr)
        return 2
    try:
        import dearpygui.dearpygui as dpg
    except ImportError:
        print("pico4ml-gui: Dear PyGui is not installed (pip install 'pico4ml-mnist[gui]'); "
              "pico4ml-monitor shows the same stream in a terminal.", file=sys.stderr)
        return 2
    from . import view
    from .presets import Settings

    state = make_state(args, args.window)  # first: loading the host model takes a while, the link must not wait
    try:
        settings = Settings.load(args.preset) if args.preset else Settings()
        source, twin = open_source(args)
    except Exception as e:  # noqa: BLE001 -- bad preset, unreadable recording, twin that will not build
        print(f"pico4ml-gui: {e}", file=sys.stderr)
        return 2
    if not source.live:
        state = source.seek(0.0, state)
    dpg.create_context()
    try:
        app = view.App(source, state, settings, out_dir=args.out, twin=twin)
        view.create(app)
        app.run()
    except KeyboardInterrupt:
        pass
    finally:
        source.close()
        if twin is not None:
            twin.stop()
        dpg.destroy_context()
    return 0


if __name__ == "__main__":
    sys.exit(main())

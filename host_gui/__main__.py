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
from .cli import add_common, check_args, make_state, open_source, sigterm_as_interrupt, start_sim


def parser() -> argparse.ArgumentParser:
    doc = __doc__.split("\n")
    ap = argparse.ArgumentParser(prog="pico4ml-gui", description=doc[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter, epilog="\n".join(doc[2:]))
    add_common(ap)
    ap.add_argument("--out", metavar="DIR", default="pico4ml-out", help="folder for PNGs, CSV and recordings")
    ap.add_argument("--window", type=positive_float, default=30.0, help="history window of the plots in seconds")
    ap.add_argument("--size", metavar="WxH", default="1280x720", help="window size (default 1280x720; it can be "
                                                                      "resized, the panels follow)")
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
    try:
        width, height = (int(v) for v in args.size.lower().split("x"))
        if not (640 <= width <= 7680 and 400 <= height <= 4320):
            raise ValueError
    except ValueError:
        print(f"pico4ml-gui: --size wants WIDTHxHEIGHT between 640x400 and 7680x4320, not {args.size!r}",
              file=sys.stderr)
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

    try:
        settings = Settings.load(args.preset) if args.preset else Settings()
        source, twin = open_source(args)
    except Exception as e:  # noqa: BLE001 -- bad preset, unreadable recording, twin that will not build
        print(f"pico4ml-gui: {e}", file=sys.stderr)
        return 2
    app = None
    try:  # from here on, Ctrl+C or SIGTERM at any moment stops the twin and closes the recording
        state = make_state(args, args.window)
        if not source.live:
            state = source.seek(0.0, state)
        dpg.create_context()
        try:
            app = view.App(source, state, settings, out_dir=args.out, twin=twin,
                           twin_factory=(lambda: start_sim(args)) if args.sim else None)
            view.create(app, width=width, height=height)
            app.run()
        finally:
            dpg.destroy_context()
    except KeyboardInterrupt:
        pass
    finally:
        source.close()
        for t in {id(x): x for x in (twin, app.twin if app is not None else None) if x is not None}.values():
            t.stop()  # the twin it started with, and one restarted from the window
    return 0


if __name__ == "__main__":
    sys.exit(main())

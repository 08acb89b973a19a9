"""Take the README's screenshots of pico4ml-gui: the real app under Xvfb, the host twin streaming.

    python tools/screenshots.py                 # writes docs/img/gui-live.png, gui-inject.png, gui-replay.png
    python tools/screenshots.py --out /tmp/img

Each shot runs the app in a child process (under xvfb-run when there is no display) connected
to the firmware's host twin over a pty, exactly as `pico4ml-gui --sim` does.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from pico4ml.host_gui.headless import run_python, why_no_display
from pico4ml.common.paths import REPO_ROOT

SHOOT = r"""
import sys, time
from pathlib import Path
import dearpygui.dearpygui as dpg
from pico4ml.host_gui import view
from pico4ml.host_gui.hostcheck import try_load
from pico4ml.host_gui.link import Link
from pico4ml.host_gui.source import LiveSource, ReplaySource
from pico4ml.host_gui.state import State
from pico4ml.host_twin.twin import start_twin

out, rec, part = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
model, _ = try_load()
TWO = [((32, 34), (56, 22)), ((56, 22), (80, 36)), ((80, 36), (76, 54)), ((76, 54), (36, 90)), ((36, 90), (84, 90))]


def run(app, seconds, until=None):
    t0 = time.monotonic()
    while time.monotonic() - t0 < seconds:
        app.update()
        dpg.render_dearpygui_frame()
        if until is not None and until():
            break


def open_app(source, state):
    dpg.create_context()
    app = view.App(source, state)
    view.create(app, width=1500, height=940)
    dpg.set_value("window", 12.0)
    app._on_window(None, 12.0)
    return app


def live():
    # 1. live: the twin streaming its synthetic camera frames, recorded for shot 3
    twin = start_twin(fps=15)
    source = LiveSource(Link(twin.port).start())
    source.start_recording(rec)
    app = open_app(source, State(host_model=model))
    run(app, 12)
    view.capture(out / "gui-live.png")
    source.stop_recording()
    # 2. inject: a "2" drawn on the canvas, through the device's own preprocessing and net()
    dpg.set_value("canvas_header", True)
    for a, b in TWO:
        view.paint_line(app.canvas, a, b, radius=5, value=0)
    app.tex_canvas.show(app.canvas)
    app._on_send_drawing()
    run(app, 3, until=lambda: app.state.last_injected is not None)
    run(app, 0.5)
    view.capture(out / "gui-inject.png")
    source.close()
    twin.stop()
    dpg.destroy_context()


def replay():
    # 3. replay: the recording of shot 1 scrubbed to 60 %, every view rebuilt from it
    src = ReplaySource(rec)
    src.playing = False
    app = open_app(src, State(host_model=model))
    app._on_scrub(None, src.duration * 0.6)
    run(app, 1)
    view.capture(out / "gui-replay.png")
    dpg.destroy_context()


# one part per process: Dear PyGui cannot open a second viewport after destroy_context
{"live": live, "replay": replay}[part]()
"""


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path, default=REPO_ROOT / "docs" / "img", help="folder for the PNGs")
    args = ap.parse_args(argv)
    reason = why_no_display()
    if reason:
        print(f"screenshots: {reason}", file=sys.stderr)
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        rec = Path(tmp) / "session.p4rec"
        for part in ("live", "replay"):
            proc = run_python(SHOOT, str(args.out), str(rec), part, timeout=180)
            if proc.returncode != 0:
                print(f"screenshots ({part}) failed:\n" + proc.stderr[-3000:], file=sys.stderr)
                return 1
    for name in ("gui-live.png", "gui-inject.png", "gui-replay.png"):
        print(args.out / name)
    return 0


if __name__ == "__main__":
    sys.exit(main())

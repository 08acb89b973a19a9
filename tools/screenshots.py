"""Take the README's screenshots of pico4ml-gui: the real app under Xvfb, the host twin streaming.

    python tools/screenshots.py                 # docs/img/gui-{live,inject,debug,replay,emulate}.png at 1280x720
                                                # and gui-*-1920.png at 1920x1080
    python tools/screenshots.py --out /tmp/img --sizes 1280x720
    python tools/screenshots.py --parts emulate --sizes 1280x720   # gui-emulate.png: --emulate

Each shot runs the app in a child process (under xvfb-run when there is no display) connected
to the firmware's host twin over a pty, exactly as `pico4ml-gui --sim` does (the emulate shot: to
the emulated board, as `pico4ml-gui --emulate` does). Controls are
moved through the callbacks Dear PyGui has registered for them, as a click would.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from pico4ml.common.paths import REPO_ROOT
from pico4ml.host_gui.headless import run_python, why_no_display

SHOOT = r"""
import inspect, sys, time
from pathlib import Path
import dearpygui.dearpygui as dpg
import numpy as np
from pico4ml.host_gui import view
from pico4ml.host_gui.controls.inject import paint_line
from pico4ml.host_gui.hostcheck import try_load
from pico4ml.host_gui.link import Link
from pico4ml.host_gui.source import LiveSource, ReplaySource
from pico4ml.host_gui.state import State
from pico4ml.host_twin.twin import start_twin

out, rec, part, size = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3], sys.argv[4]
W, H = (int(v) for v in size.split("x"))
suffix = "" if W == 1280 else f"-{W}"
model, _ = try_load()
TWO = [((32, 34), (56, 22)), ((56, 22), (80, 36)), ((80, 36), (76, 54)), ((76, 54), (36, 90)), ((36, 90), (84, 90))]


def fire(tag, value=None):
    # what a click or a slider move does: the value, then the registered callback as Dear PyGui calls it
    if value is not None:
        dpg.set_value(tag, value)
    cb = dpg.get_item_callback(tag)
    n = cb.__code__.co_argcount - (1 if inspect.ismethod(cb) else 0)
    cb(*[tag, dpg.get_value(tag) if value is None else value, None][:n])


def run(app, seconds, until=None):
    t0 = time.monotonic()
    while time.monotonic() - t0 < seconds:
        app.update()
        dpg.render_dearpygui_frame()
        if until is not None and until():
            break


def open_app(source, state, twin=None):
    dpg.create_context()
    app = view.App(source, state, out_dir=rec.parent, twin=twin)  # recordings go to the temporary folder
    view.create(app, width=W, height=H)
    fire("window", 12.0)
    return app


def shot(app, name):
    view.capture(out / f"gui-{name}{suffix}.png", app)


def live():
    # 1. live: the twin streaming its synthetic camera frames, recorded for the replay shot
    twin = start_twin(fps=15)
    source = LiveSource(Link(twin.port).start())
    app = open_app(source, State(host_model=model))
    run(app, 2, until=lambda: app.state.hello is not None)
    fire("record_button")
    run(app, 12)
    shot(app, "live")
    fire("record_button")
    Path(dpg.get_value("replay_path")).replace(rec)
    # 2. inject: a "2" drawn on the canvas, through the device's own preprocessing and net()
    dpg.set_value("hdr_params", False)
    dpg.set_value("hdr_files", False)
    dpg.set_value("hdr_inject", True)
    for a, b in TWO:
        paint_line(app.ctl.inject.canvas, a, b, radius=5, value=0)
    app.ctl.inject.show_canvas()
    fire("canvas_send")
    run(app, 3, until=lambda: app.state.shown is not None and app.state.shown.injected)
    run(app, 0.5)
    shot(app, "inject")
    # 3. debug: freeze a frame, try a higher threshold on the host before sending it
    run(app, 3.5, until=lambda: app.state.shown is not None and not app.state.shown.injected)
    dpg.set_value("hdr_inject", False)
    dpg.set_value("hdr_params", True)
    fire("freeze", True)
    fire("param_threshold_pct", 60)
    app.ctl.debug.training.wait(60)
    run(app, 1.0)
    shot(app, "debug")
    source.close()
    twin.stop()
    dpg.destroy_context()


def replay():
    # 4. replay: the recording of shot 1 at 60 %, every view rebuilt from it
    src = ReplaySource(rec)
    src.playing = False
    app = open_app(src, src.seek(0.0, State(host_model=model)))
    fire("replay_pos", src.duration * 0.6)
    app.ctl.debug.training.wait(60)
    run(app, 1.5)
    shot(app, "replay")
    dpg.destroy_context()


def emulate():
    # 5. emulate: the unmodified firmware image on the emulated board (pico4ml-gui --emulate),
    # its camera looking at an MNIST test digit on paper; the LCD panel shows what it draws
    import cv2
    from pico4ml.emulator.serve import start_emulator
    from pico4ml.train.data import load_mnist
    digit = load_mnist()[2][0].astype(float) / 255.0
    scene = np.full((324, 324), 208, np.uint8)
    scene[48:272, 48:272] = np.kron(np.rint(208 - 184 * digit).astype(np.uint8), np.ones((8, 8), np.uint8))
    picture = rec.parent / "digit.png"
    cv2.imwrite(str(picture), scene)
    handle = start_emulator(scene=picture)
    try:
        source = LiveSource(Link(handle.port).start())
        app = open_app(source, State(host_model=model), twin=handle)
        run(app, 600, until=lambda: app.lcd.updates >= 2 and app.state.shown is not None
            and app.state.shown.prediction is not None)
        run(app, 1.0)
        shot(app, "emulate")
        source.close()
    finally:
        handle.stop()
    dpg.destroy_context()


# one part per process: Dear PyGui cannot open a second viewport after destroy_context
{"live": live, "replay": replay, "emulate": emulate}[part]()
"""


NAMES = {"live": ("live", "inject", "debug"), "replay": ("replay",), "emulate": ("emulate",)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path, default=REPO_ROOT / "docs" / "img", help="folder for the PNGs")
    ap.add_argument("--sizes", default="1280x720,1920x1080", help="window sizes, comma-separated WxH")
    ap.add_argument("--parts", default="live,replay,emulate",
                    help="which shots: live (live, inject, debug), replay, emulate (pico4ml-gui --emulate: "
                         "needs the firmware built with the Pico SDK; minutes); comma-separated")
    args = ap.parse_args(argv)
    parts = [p for p in args.parts.split(",") if p]
    unknown = sorted(set(parts) - set(NAMES))
    if unknown or not parts:
        ap.error(f"--parts: choose from {', '.join(NAMES)}")
    reason = why_no_display()
    if reason:
        print(f"screenshots: {reason}", file=sys.stderr)
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    written = []
    for size in args.sizes.split(","):
        w = size.split("x")[0]
        suffix = "" if w == "1280" else f"-{w}"
        with tempfile.TemporaryDirectory() as tmp:
            rec = Path(tmp) / "session.p4rec"
            for part in parts:
                if part == "replay" and "live" not in parts:
                    continue  # the replay shot shows the live shot's recording
                proc = run_python(SHOOT, str(args.out), str(rec), part, size, timeout=900 if part == "emulate" else 300)
                if proc.returncode != 0:
                    print(f"screenshots ({part}, {size}) failed:\n" + proc.stderr[-3000:], file=sys.stderr)
                    return 1
        written += [args.out / f"gui-{name}{suffix}.png" for part in parts for name in NAMES[part]
                    if part != "replay" or "live" in parts]
    for path in written:
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())

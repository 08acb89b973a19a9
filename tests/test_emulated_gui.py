"""pico4ml-gui --emulate: the app under Xvfb connected to the emulated board (a pico4ml-emulate
--serve process, the unmodified firmware image) shows the board's LCD in its own panel, and
that panel shows the camera view the firmware draws: pixels read back from the texture and
from a screenshot are held to the scene the emulated camera looks at."""
from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from pico4ml.host_gui.headless import run_python, why_no_display

from emulated import digit_scene, require_firmware

pytestmark = [pytest.mark.slow, pytest.mark.sdk, pytest.mark.gui]

CHILD = r"""
import json, sys, time
import cv2
import numpy as np
import dearpygui.dearpygui as dpg
from pico4ml.host_gui import view
from pico4ml.host_gui.link import Link
from pico4ml.host_gui.source import LiveSource
from pico4ml.host_gui.state import State
from pico4ml.emulator.serve import start_emulator

scene_png, shot_png, budget = sys.argv[1], sys.argv[2], float(sys.argv[3])
scene = cv2.imread(scene_png, cv2.IMREAD_GRAYSCALE)
expected = cv2.resize(scene, (80, 80), interpolation=cv2.INTER_AREA).astype(int)  # the LCD's camera view
handle = start_emulator(scene=scene_png)
out = {}
try:
    source = LiveSource(Link(handle.port).start())
    dpg.create_context()
    app = view.App(source, State(), twin=handle)
    view.create(app, width=1280, height=720)
    out["panel_shown"] = dpg.is_item_shown("panel_lcd")
    t0 = time.monotonic()
    err = None
    while time.monotonic() - t0 < budget:
        app.update()
        dpg.render_dearpygui_frame()
        px = app.lcd.pixels()
        if px is not None:
            err = float(np.abs(px[0:80, :, 1].astype(int) - expected).mean())
            if err < 6:
                break
    out["wait_s"] = round(time.monotonic() - t0, 1)
    out["err"] = err
    out["updates"] = app.lcd.updates
    out["zoom"] = app.lcd.zoom()
    if app.lcd.frame is not None:
        out["texture_equals_lcd_png"] = bool(np.array_equal(app.lcd.pixels(), app.lcd.frame))
        np.save(shot_png + ".lcd.npy", app.lcd.frame)
        view.capture(shot_png, app)
        x, y = dpg.get_item_rect_min("lcd_draw")
        out["rect"] = [int(x), int(y)]
        out["row"] = app.layout.row_of("lcd")
    source.close()
    dpg.destroy_context()
finally:
    handle.stop()
print("RESULT " + json.dumps(out))
"""

NO_EMULATOR = r"""
import json, sys
import dearpygui.dearpygui as dpg
from pico4ml.host_gui import view
from pico4ml.host_gui.state import State
sys.path.insert(0, sys.argv[1])
from gui_helpers import FakeSource
dpg.create_context()
app = view.App(FakeSource(), State())
view.create(app, width=1280, height=720)
dpg.render_dearpygui_frame()
print("RESULT " + json.dumps({"panel_shown": dpg.is_item_shown("panel_lcd"), "enabled": app.lcd.enabled}))
dpg.destroy_context()
"""


def _result(proc) -> dict:
    lines = [line for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
    assert proc.returncode == 0 and lines, proc.stdout[-2000:] + proc.stderr[-3000:]
    return json.loads(lines[-1][7:])


def test_no_lcd_panel_without_the_emulator():
    reason = why_no_display()
    if reason:
        pytest.skip(reason)
    got = _result(run_python(NO_EMULATOR, str(Path(__file__).parent), timeout=120))
    assert got == {"panel_shown": False, "enabled": False}


def test_gui_shows_the_emulated_lcd_with_the_camera_view(mnist, tmp_path):
    reason = why_no_display()
    if reason:
        pytest.skip(reason)
    require_firmware()
    pytest.importorskip("Cython", reason="Cython not installed (pip install Cython): the emulator's loop")
    _, _, x_test, _ = mnist
    scene = digit_scene(np.asarray(x_test[0]))
    picture, shot = tmp_path / "digit.png", tmp_path / "window.png"
    cv2.imwrite(str(picture), scene)
    got = _result(run_python(CHILD, str(picture), str(shot), "420", timeout=560))
    assert got["panel_shown"], got
    assert got["updates"] >= 1, f"the LCD panel never showed a picture: {got}"
    assert got["err"] is not None and got["err"] < 6, f"the panel does not show the camera view: {got}"
    assert got["texture_equals_lcd_png"], got
    # the window on screen: the panel's pixels are the LCD's, each one a k x k square
    window = cv2.imread(str(shot))[:, :, ::-1].astype(int)
    lcd = np.load(str(shot) + ".lcd.npy").astype(int)
    k, (x, y) = got["zoom"], got["rect"]
    on_screen = window[y:y + 160 * k:k, x:x + 80 * k:k]
    assert on_screen.shape == lcd.shape, f"the panel is not wholly in the window: {on_screen.shape}, {got}"
    assert np.abs(on_screen - lcd).max() <= 2, f"screenshot differs from the LCD by {np.abs(on_screen - lcd).max()}"


# ---------------------------------------------------------------------------------------------
# pico4ml-gui --emulate as a user starts it: its own process on a private X server, looked at
# only from outside (screenshots of the X server, the recording it writes, its exit).

def _find(picture: np.ndarray, template: np.ndarray) -> tuple[float, tuple[int, int]]:
    """Where template sits best in picture (both grey): (mean |difference| there, (x, y))."""
    scores = cv2.matchTemplate(picture.astype(np.float32), template.astype(np.float32), cv2.TM_SQDIFF)
    _, _, (x, y), _ = cv2.minMaxLoc(scores)
    h, w = template.shape
    return float(np.abs(picture[y:y + h, x:x + w].astype(int) - template.astype(int)).mean()), (x, y)


def _glyph_sizes(width: int, height: int) -> set[tuple[int, int]]:
    """The big digit's size (w, h) in a window of this size, for any text height the fonts give."""
    from pico4ml.host_gui.layout import compute_sizes

    return {(s.digit_w, s.digit_h) for s in (compute_sizes(width, height, line) for line in range(12, 31))}


def _digit_on_screen(grey: np.ndarray, sizes: set[tuple[int, int]]) -> dict[int, tuple[float, tuple[int, int]]]:
    """For each digit 0..9: how well its big glyph (drawn as the app draws it) best matches the screen."""
    from pico4ml.host_gui.view import BG_GREY, grey_glyph

    return {d: min(_find(grey, grey_glyph(d, w, h, BG_GREY)) for w, h in sizes) for d in range(10)}


def _lcd_camera_view(rgb: np.ndarray, expected: np.ndarray) -> tuple[float, tuple[int, int], int]:
    """The emulated LCD's camera view (80x80, each LCD pixel a k x k square) found on screen."""
    best = None
    for k in (1, 2):
        err, at = _find(rgb[:, :, 1], np.kron(expected, np.ones((k, k), int)))
        if best is None or err < best[0]:
            best = (err, at, k)
    return best


def test_pico4ml_gui_emulate_as_a_user_runs_it(mnist, tmp_path):
    """`pico4ml-gui --emulate --sim-source digit.png --record FILE`, started as a command on an X
    server of its own: the window comes to show the emulated LCD panel with the camera view of
    that digit and, in the prediction panel, the digit's label as the big glyph; the recording
    holds the board's RESULTs for it; SIGTERM ends the GUI cleanly and stops its emulator."""
    import os
    import signal
    import subprocess
    import sys
    import time

    from gui_helpers import OwnXvfb, descendants, x_screenshot
    from pico4ml.host_gui.recording import load_replay
    from pico4ml.common import protocol as P

    if not os.path.isdir("/proc"):
        pytest.skip("needs Linux /proc to find the GUI's emulator process")
    reason = why_no_display()
    if reason:
        pytest.skip(reason)
    import shutil
    if shutil.which("Xvfb") is None:
        pytest.skip("Xvfb not installed (apt-get install xvfb): the GUI runs on a private X server")
    import ctypes.util
    if ctypes.util.find_library("X11") is None:
        pytest.skip("libX11 not found: the screenshots are read with XGetImage")
    require_firmware()
    pytest.importorskip("Cython", reason="Cython not installed (pip install Cython): the emulator's loop")
    _, _, x_test, y_test = mnist
    label = int(y_test[0])
    scene = digit_scene(np.asarray(x_test[0]))
    picture, rec, out = tmp_path / "digit.png", tmp_path / "session.p4rec", tmp_path / "out"
    cv2.imwrite(str(picture), scene)
    expected = cv2.resize(scene, (80, 80), interpolation=cv2.INTER_AREA).astype(int)  # the LCD's camera view
    width, height = 1280, 720
    sizes = _glyph_sizes(width, height)
    budget = 420.0  # the emulated board boots in 15-60 s and runs at about 1/50 of real time
    with OwnXvfb("1400x800x24") as xvfb:
        cmd = [sys.executable, "-m", "pico4ml.host_gui", "--emulate", "--sim-source", str(picture),
               "--record", str(rec), "--out", str(out), "--size", f"{width}x{height}"]
        gui = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env={**os.environ, "DISPLAY": xvfb.display})
        seen, shot, emulator = {}, None, None
        try:
            t0 = time.monotonic()
            while time.monotonic() - t0 < budget and gui.poll() is None:
                time.sleep(3)
                emulator = emulator or next((p for p, c in descendants(gui.pid).items()
                                             if "pico4ml.emulator" in c and "--serve" in c), None)
                shot = x_screenshot(xvfb.display)
                lcd_err, lcd_at, k = _lcd_camera_view(shot, expected)
                seen.update({"after_s": round(time.monotonic() - t0), "lcd_err": round(lcd_err, 2)})
                if lcd_err >= 6:
                    continue  # no camera view on the LCD yet: no RESULT either (the glyphs cost more to look for)
                digits = _digit_on_screen(shot[:, :, 0], sizes)
                best = min(digits, key=lambda d: digits[d][0])
                seen = {"after_s": round(time.monotonic() - t0), "lcd_err": round(lcd_err, 2), "lcd_at": lcd_at,
                        "zoom": k, "digit": best, "digit_err": round(digits[best][0], 2),
                        "runner_up_err": round(sorted(e for e, _ in digits.values())[1], 2)}
                if lcd_err < 6 and digits[best][0] < 6:
                    break
            alive = gui.poll() is None
            if alive:
                gui.send_signal(signal.SIGTERM)
            stdout, stderr = gui.communicate(timeout=60)
        finally:
            if gui.poll() is None:
                gui.kill()
                gui.wait()
        if shot is not None:
            cv2.imwrite(str(tmp_path / "window.png"), shot[:, :, ::-1])  # kept for a look when this fails
    assert alive, f"pico4ml-gui --emulate exited on its own ({gui.returncode}): {stderr[-2000:]}"
    assert emulator is not None, "the GUI started no pico4ml-emulate --serve process"
    assert seen.get("lcd_err", 99) < 6, f"no emulated LCD showing the camera view on screen: {seen}, {tmp_path}"
    assert seen["digit"] == label and seen["digit_err"] < 6, \
        f"the prediction panel does not show {label} as the big digit: {seen}, {tmp_path}"
    assert seen["runner_up_err"] > seen["digit_err"] + 3, f"another digit's glyph fits as well: {seen}"
    assert gui.returncode == 0 and "Traceback" not in stderr, stderr[-2000:]
    time.sleep(0.5)
    assert not os.path.exists(f"/proc/{emulator}") or "pico4ml.emulator" not in \
        open(f"/proc/{emulator}/cmdline", "rb").read().decode(errors="replace"), "the emulator outlived the GUI"
    replay = load_replay(rec)
    results = [m for _, m in replay.events if isinstance(m, P.Result) and not m.injected]
    assert results and all(r.argmax == label for r in results), [r.argmax for r in results]

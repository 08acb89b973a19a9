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

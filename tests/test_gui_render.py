"""Real rendering under Xvfb: draw a known state, read the frame buffer, check the pixels.

Dear PyGui aborts the process without a display, so the window lives in a child process
(under xvfb-run when there is no DISPLAY); this test skips cleanly when neither exists.
"""
from __future__ import annotations

import json

import numpy as np
import pytest

from pico4ml.host_gui.headless import run_python, why_no_display

pytestmark = pytest.mark.gui

RENDER = r"""
import json, sys
import numpy as np
import dearpygui.dearpygui as dpg
from pico4ml.common import protocol as P
from pico4ml.host_gui import view
from pico4ml.host_gui.link import LinkStatus
from pico4ml.host_gui.state import State

out = sys.argv[1]

class Source:
    live, decoder_stats = True, None
    def poll(self, state): return 0
    def send(self, msg): return True

yy, xx = np.mgrid[0:81, 0:81]
frame = (40 + xx + yy).astype(np.uint8)
frame[20:41, 30:61] = 250  # a bright block the test must find at 4x
rng = np.random.default_rng(7)
in28 = rng.integers(0, 256, (28, 28)).astype(np.uint8)
logits = np.log(np.array([.01, .02, .03, .05, .01, .01, .02, .8, .03, .02]))
st = State()
st.apply(1.0, LinkStatus("connected", "render test"))
st.apply(1.0, P.Frame(1, 81, 81, 0, 81, 324, 324, 0, 0, 4, frame.tobytes()))
st.apply(1.0, P.Input28(1, 0, in28.tobytes()))
st.apply(1.0, P.Result(1, 7, 0, 0, 0, 0.8, tuple(float(v) for v in logits), 1000, 2000, 3000, 100, 1500))
dpg.create_context()
app = view.App(Source(), st)
view.create(app, width=1500, height=940)
for _ in range(5):
    app.update()
    dpg.render_dearpygui_frame()
view.capture(out + "/shot.png")
tags = ("cam_draw", "in28_image", "bars_draw", "digit_image")
rects = {t: [*dpg.get_item_rect_min(t), *dpg.get_item_rect_size(t)] for t in tags}
json.dump({"rects": rects, "frame": frame.tolist(), "in28": in28.tolist(),
           "scores": [float(s) for s in st.prediction.scores]}, open(out + "/info.json", "w"))
dpg.destroy_context()
"""


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    reason = why_no_display()
    if reason:
        pytest.skip(reason)
    out = tmp_path_factory.mktemp("render")
    proc = run_python(RENDER, str(out), timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    import cv2
    shot = cv2.imread(str(out / "shot.png"))
    assert shot is not None, "no frame buffer written"
    return shot[..., ::-1].astype(int), json.loads((out / "info.json").read_text())


def test_camera_texture_is_drawn_crisp_at_its_place(rendered):
    shot, info = rendered
    frame = np.array(info["frame"])
    x0, y0, w, h = (int(round(v)) for v in info["rects"]["cam_draw"])
    assert (w, h) == (324, 324)
    shown = shot[y0:y0 + 324, x0:x0 + 324, 1]
    centres = shown[2::4, 2::4]  # one sample per sensor pixel (each drawn as 4x4)
    inner = (slice(2, 79), slice(2, 79))  # the ROI outline is drawn over the border
    assert np.abs(centres[inner] - frame[inner]).max() <= 2
    assert shown[4 * 30, 4 * 45] >= 245 and shown[4 * 10, 4 * 10] < 100  # the bright block, and not elsewhere


def test_enlarged_28x28_has_square_pixels_with_the_right_values(rendered):
    shot, info = rendered
    in28 = np.array(info["in28"])
    x0, y0, w, h = (int(round(v)) for v in info["rects"]["in28_image"])
    assert (w, h) == (224, 224)
    shown = shot[y0:y0 + 224, x0:x0 + 224, 0]
    blocks = shown.reshape(28, 8, 28, 8)
    assert np.abs(blocks - in28[:, None, :, None]).max() <= 1  # every 8x8 block is one network pixel


def test_winning_bar_is_green_tallest_and_in_its_slot(rendered):
    from pico4ml.host_gui import view

    shot, info = rendered
    x0, y0, _, _ = (int(round(v)) for v in info["rects"]["bars_draw"])
    slot = view.BAR_W // 10
    base = y0 + view.BAR_H - 22  # just above the bars' baseline
    heights = []
    for i in range(10):
        col = shot[y0:base + 1, x0 + i * slot + slot // 2]
        bar = np.all(np.abs(col - np.array(view.WIN_COLOR[:3] if i == 7 else view.BAR_COLOR[:3])) <= 3, axis=1)
        heights.append(int(bar.sum()))
    assert int(np.argmax(heights)) == 7
    expected = info["scores"][7] * (view.BAR_H - 24)
    assert abs(heights[7] - expected) <= 3
    green = np.all(np.abs(shot[y0:base, x0:x0 + view.BAR_W] - np.array(view.WIN_COLOR[:3])) <= 3, axis=2)
    cols = np.nonzero(green.any(axis=0))[0]
    assert cols.min() >= 7 * slot and cols.max() < 8 * slot  # the only green is in slot 7


def test_big_digit_shows_the_prediction(rendered):
    from pico4ml.host_gui import view

    shot, info = rendered
    x0, y0, w, h = (int(round(v)) for v in info["rects"]["digit_image"])
    shown = shot[y0:y0 + view.DIGIT_H, x0:x0 + view.DIGIT_W, 0]
    err = {d: np.abs(shown - view.digit_glyph(d)).mean() for d in range(10)}
    assert min(err, key=err.get) == 7 and err[7] < 2


MOUSE = r"""
import json, subprocess, sys, threading, time
import numpy as np
import dearpygui.dearpygui as dpg
from pico4ml.common import protocol as P
from pico4ml.host_gui import view
from pico4ml.host_gui.link import LinkStatus
from pico4ml.host_gui.state import State

class Source:
    live, decoder_stats = True, None
    def __init__(self): self.sent = []
    def poll(self, state): return 0
    def send(self, msg): self.sent.append(msg); return True

st = State()
frame = np.full((81, 81), 180, np.uint8)
in28 = np.zeros((28, 28), np.uint8); in28[3, 5] = 77
st.apply(1.0, LinkStatus("connected", "mouse test"))
st.apply(1.0, P.Frame(1, 81, 81, 0, 81, 324, 324, 0, 0, 4, frame.tobytes()))
st.apply(1.0, P.Input28(1, 0, in28.tobytes()))
dpg.create_context()
src = Source()
app = view.App(src, st)
view.create(app, width=1500, height=940)
dpg.set_value("canvas_header", True)
for _ in range(10):
    app.update(); dpg.render_dearpygui_frame()
rects = {t: dpg.get_item_rect_min(t) for t in ("cam_draw", "in28_image", "canvas_draw")}
win = subprocess.run(["xdotool", "search", "--name", "pico4ml"], capture_output=True, text=True).stdout.split()[0]
def xdo(*a): subprocess.run(["xdotool", *map(str, a)], check=True)
out = {}
def script():
    cx, cy = rects["cam_draw"]
    xdo("mousemove", "--window", win, cx + 40, cy + 20); time.sleep(0.3)
    xdo("mousedown", 1); time.sleep(0.3)
    for i in range(1, 11):
        xdo("mousemove", "--window", win, cx + 40 + 16 * i, cy + 20 + 16 * i); time.sleep(0.05)
    time.sleep(0.3); xdo("mouseup", 1); time.sleep(0.5)
    ix, iy = rects["in28_image"]
    xdo("mousemove", "--window", win, ix + 5 * 8 + 3, iy + 3 * 8 + 3); time.sleep(0.5)
    out["pixel"] = dpg.get_value("in28_pixel")
    kx, ky = rects["canvas_draw"]
    xdo("mousemove", "--window", win, kx + 100, ky + 40); time.sleep(0.2)
    xdo("mousedown", 1); time.sleep(0.2)
    for i in range(1, 11):
        xdo("mousemove", "--window", win, kx + 100, ky + 40 + 14 * i); time.sleep(0.05)
    xdo("mouseup", 1); time.sleep(0.5)
    out["done"] = True
t = threading.Thread(target=script); t.start()
t0 = time.monotonic()
while not out.get("done") and time.monotonic() - t0 < 20:
    app.update(); dpg.render_dearpygui_frame()
from pico4ml.train.preprocess import PreprocessParams
params = [PreprocessParams.from_bytes(m.data) for m in src.sent if isinstance(m, P.SetParams)]
out["roi"] = None if not params else [params[-1].roi_x, params[-1].roi_y, params[-1].roi_w, params[-1].roi_h]
out["ink"] = int((app.canvas < 128).sum())
out["message"] = app.message
print(json.dumps(out))
dpg.destroy_context()
"""


def test_real_mouse_sets_roi_reads_pixels_and_draws():
    """xdotool moves the X pointer: drag an ROI on the camera view, hover the 28x28, draw a stroke."""
    import shutil

    reason = why_no_display()
    if reason:
        pytest.skip(reason)
    if shutil.which("xdotool") is None:
        pytest.skip("xdotool not installed (apt-get install xdotool)")
    proc = run_python(MOUSE, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["roi"] == [40, 20, 160, 160]  # 81x81 frame of a 324x324 capture shown at 324 px: 1 px = 1 px
    assert out["pixel"] == "28x28 pixel (5, 3) = 77"
    assert out["ink"] > 300  # a 140 px stroke with a 5 px brush on the 112x112 canvas

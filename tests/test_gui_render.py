"""The real window under Xvfb: what is drawn (pixels read back from the frame buffer) and what
real mouse and keyboard events (xdotool) do to it.

Dear PyGui aborts the process without a display, so each window lives in a child process
(under xvfb-run when there is no DISPLAY); these tests skip cleanly when neither exists.
"""
from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from gui_helpers import child_prelude, last_json_line

from pico4ml.host_gui.headless import run_python

pytestmark = pytest.mark.gui


def run_child(code: str, *args: str, timeout: float = 180) -> dict:
    proc = run_python(child_prelude() + code, *args, timeout=timeout)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return last_json_line(proc.stdout)


def need_xdotool():
    if shutil.which("xdotool") is None:
        pytest.skip("xdotool not installed (apt-get install xdotool)")


def screenshot(path) -> np.ndarray:
    import cv2

    shot = cv2.imread(str(path))
    assert shot is not None, f"no frame buffer written to {path}"
    return shot[..., ::-1].astype(int)


# ---------------------------------------------------------------- pixels of a known state
RENDER = r"""
out = sys.argv[1]
yy, xx = np.mgrid[0:81, 0:81]
frame = (40 + xx + yy).astype(np.uint8)
frame[20:41, 30:61] = 250  # a bright block the test must find at the camera's zoom
rng = np.random.default_rng(7)
in28 = rng.integers(0, 256, (28, 28)).astype(np.uint8)
logits = np.log(np.array([.01, .02, .03, .05, .01, .01, .02, .8, .03, .02]))
dpg.create_context()
src = FakeSource()
app = view.App(src, State())
view.create(app, width=1280, height=720)
src.pending = [(1.0, LinkStatus("connected", "render test", n=1)),
               (1.0, P.Frame(1, 81, 81, 0, 81, 324, 324, 0, 0, 4, frame.tobytes())),
               (1.0, P.Input28(1, 0, in28.tobytes())),
               (1.0, P.Result(1, 7, 0, 0, 0, 0.8, tuple(float(v) for v in logits), 1000, 2000, 3000, 100, 1500))]
frames(app, 6)
view.capture(out + "/shot.png", app)
tags = ("cam_draw", "in28_draw", "bars_draw", "digit_draw")
json.dump({"rects": {t: rect(t) for t in tags}, "frame": frame.tolist(), "in28": in28.tolist(),
           "scores": [float(s) for s in app.state.shown.prediction.scores], "bar_w": app.layout.sizes.bar_w,
           "bar_h": app.layout.sizes.bar_h, "digit": [app.layout.sizes.digit_w, app.layout.sizes.digit_h]},
          open(out + "/info.json", "w"))
dpg.destroy_context()
print(json.dumps({"ok": True}))
"""


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    from pico4ml.host_gui.headless import why_no_display

    reason = why_no_display()
    if reason:
        pytest.skip(reason)
    out = tmp_path_factory.mktemp("render")
    run_child(RENDER, str(out))
    return screenshot(out / "shot.png"), json.loads((out / "info.json").read_text())


def test_camera_texture_is_drawn_crisp_at_its_place(rendered):
    shot, info = rendered
    frame = np.array(info["frame"])
    x0, y0, w, h = info["rects"]["cam_draw"]
    k = w // 81
    assert (w, h) == (81 * k, 81 * k) and k >= 3  # a whole-number zoom at 1280x720
    shown = shot[y0:y0 + h, x0:x0 + w, 1]
    centres = shown[k // 2::k, k // 2::k]  # one sample per sensor pixel
    inner = (slice(2, 79), slice(2, 79))  # the ROI outline is drawn over the border
    assert np.abs(centres[inner] - frame[inner]).max() <= 2
    assert shown[k * 30, k * 45] >= 245 and shown[k * 10, k * 10] < 100  # the bright block, and not elsewhere


def test_enlarged_28x28_has_square_pixels_with_the_right_values(rendered):
    shot, info = rendered
    in28 = np.array(info["in28"])
    x0, y0, w, h = info["rects"]["in28_draw"]
    k = w // 28
    shown = shot[y0:y0 + 28 * k, x0:x0 + 28 * k, 0]
    blocks = shown.reshape(28, k, 28, k)
    assert np.abs(blocks - in28[:, None, :, None]).max() <= 1  # every kxk block is one network pixel


def test_winning_bar_is_green_tallest_and_in_its_slot(rendered):
    from pico4ml.host_gui.widgets import BAR_COLOR, WIN_COLOR

    shot, info = rendered
    x0, y0, _, _ = info["rects"]["bars_draw"]
    bar_w, bar_h = info["bar_w"], info["bar_h"]
    slot = bar_w // 10
    base = y0 + bar_h - 22  # just above the bars' baseline
    heights = []
    for i in range(10):
        col = shot[y0:base + 1, x0 + i * slot + slot // 2]
        bar = np.all(np.abs(col - np.array(WIN_COLOR[:3] if i == 7 else BAR_COLOR[:3])) <= 3, axis=1)
        heights.append(int(bar.sum()))
    assert int(np.argmax(heights)) == 7
    assert abs(heights[7] - info["scores"][7] * (bar_h - 24)) <= 3
    green = np.all(np.abs(shot[y0:base, x0:x0 + bar_w] - np.array(WIN_COLOR[:3])) <= 3, axis=2)
    cols = np.nonzero(green.any(axis=0))[0]
    assert cols.min() >= 7 * slot and cols.max() < 8 * slot  # the only green is in slot 7


def test_big_digit_shows_the_prediction(rendered):
    from pico4ml.host_gui import view

    shot, info = rendered
    x0, y0, _, _ = info["rects"]["digit_draw"]
    w, h = info["digit"]
    shown = shot[y0:y0 + h, x0:x0 + w, 0]
    err = {d: np.abs(shown - view.digit_glyph(d, w, h)).mean() for d in range(10)}
    assert min(err, key=err.get) == 7 and err[7] < 2


# ---------------------------------------------------------------- every render frame shows one frame
COHERENT = r"""
out = sys.argv[1]
dpg.create_context()
src = FakeSource()
app = view.App(src, State())
view.create(app, width=1280, height=720)
src.pending = [(1.0, LinkStatus("connected", "coherence test", n=1))]
frames(app, 3)
shown = []
for i in range(1, 13):
    t = 10.0 + i / 15
    src.pending = S.timed(S.frame_messages(i, i % 10), t0=t)  # a new frame before every render frame
    app.update()
    dpg.render_dearpygui_frame()
    dpg.output_frame_buffer(file=f"{out}/f{i:02d}.png")
frames(app, 3)
tags = ("cam_draw", "in28_draw", "bars_draw", "digit_draw")
json.dump({"rects": {t: rect(t) for t in tags}, "bar_w": app.layout.sizes.bar_w, "bar_h": app.layout.sizes.bar_h,
           "digit": [app.layout.sizes.digit_w, app.layout.sizes.digit_h], "in28_k": app.layout.sizes.in28_k},
          open(out + "/info.json", "w"))
dpg.destroy_context()
print(json.dumps({"ok": True}))
"""


def test_no_panel_lags_another_by_a_render_frame(tmp_path, display):
    """A new frame arrives before every render frame; in every screenshot the camera image, the
    28x28, the big digit and the bar chart belong to the same frame (the big digit used to be
    one render frame late: a texture shows one frame after it is set, draw items at once)."""
    from pico4ml.host_gui import synthetic as S
    from pico4ml.host_gui import view
    from pico4ml.host_gui.widgets import WIN_COLOR
    from pico4ml.train.preprocess import preprocess

    run_child(COHERENT, str(tmp_path))
    info = json.loads((tmp_path / "info.json").read_text())
    cams = {i: S.downscale(S.camera_frame(i % 10, 324, seed=i), 4) for i in range(1, 13)}
    in28s = {i: preprocess(S.camera_frame(i % 10, 324, seed=i)) for i in range(1, 13)}
    verdicts = []
    for i in range(1, 13):
        shot = screenshot(tmp_path / f"f{i:02d}.png")
        x0, y0, w, _ = info["rects"]["cam_draw"]
        k = w // 81
        cam = shot[y0 + k // 2:y0 + 81 * k:k, x0 + k // 2:x0 + 81 * k:k, 1]
        cam_id = min(cams, key=lambda j: np.abs(cam[3:-3, 3:-3] - cams[j][3:-3, 3:-3]).mean())
        x0, y0, _, _ = info["rects"]["in28_draw"]
        kk = info["in28_k"]
        in28 = shot[y0 + kk // 2:y0 + 28 * kk:kk, x0 + kk // 2:x0 + 28 * kk:kk, 0]
        in28_id = min(in28s, key=lambda j: np.abs(in28 - in28s[j]).mean())
        x0, y0, _, _ = info["rects"]["digit_draw"]
        dw, dh = info["digit"]
        glyph = shot[y0:y0 + dh, x0:x0 + dw, 0]
        digit = min(range(10), key=lambda d: np.abs(glyph - view.digit_glyph(d, dw, dh)).mean())
        x0, y0, _, _ = info["rects"]["bars_draw"]
        green = np.all(np.abs(shot[y0:y0 + info["bar_h"] - 22, x0:x0 + info["bar_w"]] - WIN_COLOR[:3]) <= 3, axis=2)
        cols = np.nonzero(green.any(axis=0))[0]
        bar = int(cols.mean() // (info["bar_w"] // 10)) if len(cols) else None
        verdicts.append((i, cam_id, in28_id, digit, bar))
    shown = [v for v in verdicts if v[4] is not None]
    assert len(shown) >= 10, verdicts
    for i, cam_id, in28_id, digit, bar in shown:
        assert cam_id == in28_id and digit == bar == in28_id % 10, verdicts
    assert len({v[1] for v in shown}) >= 8  # and the views did follow the stream


# ---------------------------------------------------------------- real mouse and keyboard
MOUSE = r"""
out = sys.argv[1]
dpg.create_context()
src = FakeSource()
app = view.App(src, State(), out_dir=out)
view.create(app, width=1280, height=900)
frame = np.full((81, 81), 180, np.uint8)
frame[::2, ::2] = 60  # a checker of sensor pixels: the zoom test counts their size on screen
in28 = np.zeros((28, 28), np.uint8); in28[3, 5] = 77
logits = tuple(float(v) for v in np.log(np.array([.02, .02, .02, .02, .02, .02, .02, .02, .8, .04])))
def live(fid, digit):
    lg = [-3.0] * 10; lg[digit] = 5.0
    return [(1.0 + fid, P.Frame(fid, 81, 81, 0, 81, 324, 324, 0, 0, 4, frame.tobytes())),
            (1.0 + fid, P.Input28(fid, 0, in28.tobytes())),
            (1.0 + fid, P.Result(fid, digit, 0, 0, 0, 0.9, tuple(lg), 1000, 2000, 3000, 100, 1500))]
src.pending = [(1.0, LinkStatus("connected", "mouse test", n=1))] + live(1, 8)
dpg.set_value("hdr_params", False)
dpg.set_value("hdr_files", False)
dpg.set_value("hdr_inject", True)
dpg.set_value("hdr_view", True)
frames(app, 10)
win = window_id()
out_json = {}
def click(tag, dx=None, dy=None, button=1):
    frames_pass(2)  # the layout of the last change is on screen
    x, y, w, h = rect(tag)
    frame_w = dpg.get_item_configuration(tag).get("width") or 0  # a widget's frame, not its label
    dx = (min(w, frame_w) if frame_w > 0 else w) // 2 if dx is None else dx
    xdo("mousemove", "--window", win, x + dx, y + (h // 2 if dy is None else dy))
    frames_pass(2); xdo("click", button); frames_pass(2)
def script():
    # drag an ROI on the camera view
    cx, cy, _, _ = rect("cam_draw")
    k = app.binding.cam_k
    xdo("mousemove", "--window", win, cx + 40, cy + 20); time.sleep(0.3)
    xdo("mousedown", 1); time.sleep(0.3)
    for i in range(1, 11):
        xdo("mousemove", "--window", win, cx + 40 + 16 * i, cy + 20 + 16 * i); time.sleep(0.05)
    time.sleep(0.3); xdo("mouseup", 1); time.sleep(0.5)
    out_json["cam_k"] = app.binding.cam_k
    # hover the 28x28
    ix, iy, _, _ = rect("in28_draw")
    kk = app.layout.sizes.in28_k
    xdo("mousemove", "--window", win, ix + 5 * kk + 2, iy + 3 * kk + 2); time.sleep(0.5)
    out_json["pixel"] = dpg.get_value("in28_pixel")
    # zoom: click the right end of the slider
    click("zoom", dx=dpg.get_item_configuration("zoom")["width"] - 4)  # the slider's frame, not its label
    wait_for(lambda: rect("cam_draw")[2] > 900)
    out_json["zoom"] = dpg.get_value("zoom")
    out_json["cam_w_zoomed"] = rect("cam_draw")[2]
    shoot(out + "/zoom.png")
    out_json["cam_at"] = rect("cam_draw")
    click("zoom", dx=3)
    wait_for(lambda: rect("cam_draw")[2] < 300)
    # freeze: click the checkbox, then the board sends a 2
    click("freeze", dx=8)
    wait_for(lambda: app.ctl.camera.frozen)
    out_json["frozen"] = app.ctl.camera.frozen
    src.pending += live(2, 2)
    wait_for(lambda: app.state.results_rx == 2)
    time.sleep(0.5)
    out_json["digit_frozen"] = app.shown_digit
    click("freeze", dx=8)
    wait_for(lambda: app.shown_digit == "2")
    out_json["digit_unfrozen"] = app.shown_digit
    # a digit key labels the shown frame
    click("cam_label")
    xdo("key", "3")
    import glob
    wait_for(lambda: len(glob.glob(out + "/dataset/3/*")) == 3)
    # host tolerance: type into the field and press Enter (the control column scrolled down to it)
    dpg.set_y_scroll("controls", dpg.get_y_scroll_max("controls")); frames_pass()
    for attempt in range(3):  # as a user would: click again when the field did not take the focus
        click("tolerance")
        wait_for(lambda: dpg.get_item_state("tolerance").get("active"), timeout=3)
        xdo("key", "ctrl+a"); frames_pass(1)
        xdo("type", "--delay", "60", "0.07"); frames_pass(1); xdo("key", "Return")
        if wait_for(lambda: app.state.tolerance != 0.02, timeout=4):
            break
    out_json["tolerance"] = app.state.tolerance
    # history window slider: click near its left end
    click("window", dx=6)
    wait_for(lambda: app.state.history_window_s < 10)
    out_json["window"] = app.state.history_window_s
    # draw a stroke on the canvas
    dpg.set_y_scroll("controls", 0); frames_pass()
    kx, ky, _, _ = rect("canvas_draw")
    xdo("mousemove", "--window", win, kx + 100, ky + 40); frames_pass()
    xdo("mousedown", 1); frames_pass()
    for i in range(1, 11):
        xdo("mousemove", "--window", win, kx + 100, ky + 40 + 14 * i); frames_pass(1)
    xdo("mouseup", 1); frames_pass()
    # copy the log
    click("log_copy")
    wait_for(lambda: "copied" in app.message)
    out_json["clipboard"] = dpg.get_clipboard_text()
    # the log follows its newest line
    for i in range(80):
        app.say(f"line {i}")
    wait_for(lambda: dpg.get_y_scroll_max("log_window") > 0
             and dpg.get_y_scroll("log_window") >= dpg.get_y_scroll_max("log_window") - 1)
    out_json["log_scroll"] = [dpg.get_y_scroll("log_window"), dpg.get_y_scroll_max("log_window")]
    out_json["done"] = True
def guarded():
    try:
        script()
    except BaseException:  # reported in out_json: the test then fails with the traceback
        import traceback; out_json["error"] = traceback.format_exc()
t = threading.Thread(target=guarded); t.start()
run_while(app, t, 60)
from pico4ml.train.preprocess import PreprocessParams
params = [PreprocessParams.from_bytes(m.data) for m in src.sent if isinstance(m, P.SetParams)]
out_json["roi"] = None if not params else [params[-1].roi_x, params[-1].roi_y, params[-1].roi_w, params[-1].roi_h]
out_json["ink"] = int((app.ctl.inject.canvas < 128).sum())
out_json["message"] = app.message
import glob
out_json["captured"] = sorted(glob.glob(out + "/dataset/3/*"))
out_json["typed_labels"] = sorted(glob.glob(out + "/dataset/[07]"))  # digits typed into the tolerance field
dpg.destroy_context()
print(json.dumps(out_json))
"""


def test_real_mouse_and_keys_drive_the_window(tmp_path, display):
    """xdotool moves the X pointer and types: drag an ROI, hover the 28x28, zoom, freeze, a label
    key, the tolerance field, the history slider, draw a stroke, copy the log."""
    need_xdotool()
    out = run_child(MOUSE, str(tmp_path))
    assert out.get("done"), out
    k = out["cam_k"]
    roi = [round(v / k) for v in (40, 20, 160, 160)]
    assert out["roi"] == pytest.approx(roi, abs=1)  # the dragged rectangle in capture pixels
    assert out["pixel"] == "28x28 pixel (5, 3) = 77"
    assert out["zoom"] == 4 and out["cam_w_zoomed"] == 4 * 3 * 81
    shot = screenshot(tmp_path / "zoom.png")
    x0, y0, _, _ = out["cam_at"]  # the image's top left corner: the visible part of the zoomed view
    row = shot[y0 + 30, x0 + 4:x0 + 200, 1]
    edges = np.nonzero(np.abs(np.diff(row)) > 40)[0]
    steps = np.diff(edges)
    assert len(steps) > 4 and np.median(steps) == 12  # each sensor pixel 12 screen pixels wide (3 x zoom 4)
    assert out["frozen"] and out["digit_frozen"] == "8" and out["digit_unfrozen"] == "2"
    assert len(out["captured"]) == 3 and any(p.endswith(".json") for p in out["captured"])
    assert out["tolerance"] == pytest.approx(0.07)
    assert out["window"] < 10
    assert out["ink"] > 300
    assert "[gui]" in out["clipboard"]
    assert out["typed_labels"] == []  # "0.07" typed into a text field labels nothing
    scroll, top = out["log_scroll"]
    assert top > 0 and scroll >= top - 1  # the log shows its newest line


# ---------------------------------------------------------------- replay by mouse
REPLAY = r"""
out, rec = sys.argv[1], sys.argv[2]
from pico4ml.host_gui.source import ReplaySource
dpg.create_context()
src = ReplaySource(rec)
src.playing = False
app = view.App(src, src.seek(0.0, State()), out_dir=out)
view.create(app, width=1280, height=720)
dpg.set_value("hdr_params", False)
dpg.set_value("hdr_files", False)
dpg.set_value("hdr_replay", True)
frames(app, 10)
win = window_id()
res = {}
def click(tag, dx=None):
    x, y, w, h = rect(tag)
    xdo("mousemove", "--window", win, x + (w // 2 if dx is None else dx), y + h // 2)
    time.sleep(0.25); xdo("click", 1); time.sleep(0.5)
def script():
    click("replay_pos", dx=dpg.get_item_configuration("replay_pos")["width"] // 2)  # the middle of the scrub bar
    wait_for(lambda: app.state.shown is not None)
    res["scrub"] = [app.source.position, app.state.shown.frame_id if app.state.shown else None]
    fid = app.state.shown.frame_id
    click("replay_fwd")
    wait_for(lambda: app.state.shown.frame_id != fid)
    res["fwd"] = app.state.shown.frame_id
    click("replay_back")
    wait_for(lambda: app.state.shown.frame_id == fid)
    click("replay_back")
    wait_for(lambda: app.state.shown.frame_id == fid - 1)
    res["back"] = app.state.shown.frame_id
    wait_for(lambda: app.shown_frame_id == fid - 1 and app.shown_digit == app.digit_text)
    res["digit"] = app.shown_digit
    click("replay_play")
    wait_for(lambda: app.source.playing)
    res["playing"] = app.source.playing
    time.sleep(1.0)
    click("replay_play")
    wait_for(lambda: not app.source.playing)
    res["after_play"] = app.state.shown.frame_id
    res["done"] = True
t = threading.Thread(target=script); t.start()
run_while(app, t, 60)
res["duration"] = app.source.duration
dpg.destroy_context()
print(json.dumps(res))
"""


def test_replay_by_mouse_scrub_step_play(tmp_path, display):
    from gui_helpers import write_recording

    from pico4ml.host_gui import synthetic as S

    need_xdotool()
    rec = write_recording(tmp_path / "r.p4rec", list(S.stream(40)), fps=10)
    out = run_child(REPLAY, str(tmp_path), str(rec))
    assert out.get("done"), out
    pos, fid = out["scrub"]
    assert abs(pos - out["duration"] / 2) < 0.4 and fid is not None and abs(fid - 20) <= 3
    assert out["fwd"] == fid + 1 and out["back"] == fid - 1 and out["digit"] == str((fid - 2) % 10)
    assert out["playing"] and out["after_play"] > out["back"] + 3  # a second at 1x is about 10 frames


# ---------------------------------------------------------------- a layout that fits
LAYOUT = r"""
W, H = int(sys.argv[1]), int(sys.argv[2])
dpg.create_context()
src = FakeSource()
app = view.App(src, State())
view.create(app, width=W, height=H)
src.pending = [(1.0, LinkStatus("connected", "layout", n=1))] + S.timed(S.frame_messages(1, 3), t0=1.0)
frames(app, 8)
panels = ("panel_camera", "panel_in28", "panel_pred", "panel_stages", "panel_hist", "panel_plots", "controls",
          "log_window", "views")
print(json.dumps({"rects": {p: rect(p) for p in panels}, "cam": rect("cam_draw"), "in28": rect("in28_draw"),
                  "work": rect("work_draw"), "vp": [dpg.get_viewport_client_width(),
                                                   dpg.get_viewport_client_height()],
                  "text": app.fonts.scale}))
dpg.destroy_context()
"""


@pytest.mark.parametrize("size", [(1280, 720), (1920, 1080), (2560, 1440)])
def test_everything_fits_and_grows_in_whole_steps(size, display):
    out = run_child(LAYOUT, str(size[0]), str(size[1]))
    w, h = out["vp"]
    assert (w, h) == size
    r = out["rects"]
    vx, vy, vw, vh = r["views"]
    boxes = {p: r[p] for p in ("panel_camera", "panel_in28", "panel_pred", "panel_stages", "panel_hist",
                               "panel_plots")}
    for name, (x, y, bw, bh) in boxes.items():
        assert x >= vx and y >= vy and x + bw <= vx + vw + 1 and y + bh <= vy + vh + 1, (name, r)  # no scrolling
    names = list(boxes)
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            ax, ay, aw, ah = boxes[a]
            bx, by, bw, bh = boxes[b]
            assert ax + aw <= bx or bx + bw <= ax or ay + ah <= by or by + bh <= ay, (a, b)  # no overlap
    cx, cy, cw, ch = r["controls"]
    assert cx >= vx + vw and cx + cw <= w and r["log_window"][1] + r["log_window"][3] <= h
    assert out["cam"][2] % 81 == 0 and out["in28"][2] % 28 == 0 and out["work"][2] % 64 == 0
    if size == (2560, 1440):
        assert out["cam"][2] >= 2 * 243 and out["in28"][2] >= 2 * 196 and out["text"] == 1.5

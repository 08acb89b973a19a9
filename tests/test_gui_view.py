"""Every control of the window, driven the way Dear PyGui drives it (no display needed).

The real UI is built in a Dear PyGui context; each test moves a widget with gui_helpers.fire
(the value set like a user would, then the item's registered callback called with Dear
PyGui's own argument rules) and checks what changed on screen (texture pixels, widget values,
draw-item geometry) and what the board was sent. Nothing here calls the App's handlers
directly: a handler Dear PyGui cannot call fails here too.
"""
from __future__ import annotations

import csv
import json

import numpy as np
import pytest

dpg = pytest.importorskip("dearpygui.dearpygui", reason="Dear PyGui not installed")

from gui_helpers import (FakeSource, callback_items, feed, fire, press_key, settle, texture_grey,  # noqa: E402
                         type_into, write_recording)

from pico4ml.common import protocol as P  # noqa: E402
from pico4ml.host_gui import images  # noqa: E402
from pico4ml.host_gui import synthetic as S  # noqa: E402
from pico4ml.host_gui import binding, layout, view  # noqa: E402
from pico4ml.host_gui.controls import camera, inject  # noqa: E402
from pico4ml.host_gui.dataset import read_pgm  # noqa: E402
from pico4ml.host_gui.link import LinkStatus  # noqa: E402
from pico4ml.host_gui.state import State  # noqa: E402
from pico4ml.train.preprocess import PreprocessParams, c_preprocess  # noqa: E402


def connected(app):
    feed(app, [LinkStatus("connected", "connected to /dev/pts/7", "/dev/pts/7", n=1), S.hello()])


def fullres_frame(frame_id, digit, host_model, size=324):
    """The device's messages for one frame with FRAME at full resolution (one band)."""
    cam = S.camera_frame(digit, size, seed=frame_id)
    msgs = S.frame_messages(frame_id, digit, host_model, size=size)
    msgs[0] = P.Frame(frame_id, size, size, 0, size, size, size, P.FRAME_FMT_GRAY8, P.FLAG_FULLRES, 1, cam.tobytes())
    return msgs, cam


# ---------------------------------------------------------------- every control is callable by Dear PyGui
def test_every_control_takes_dear_pygui_s_arguments(gui_app):
    """Fire every item that has a callback with its own value: none may fail for lack of arguments
    (the old `*args` wrapper got none from Dear PyGui and broke zoom, window, tolerance, scrub, freeze)."""
    connected(gui_app)
    feed(gui_app, S.frame_messages(1, 4, gui_app.state.host_model))
    type_into("preset_path", str(gui_app.out_dir / "preset.json"))  # "save preset" writes there
    items = callback_items()
    for tag in ("zoom", "freeze", "window", "tolerance", "replay_pos", "replay_play", "replay_back", "replay_fwd",
                "replay_speed", "text_size", "param_threshold_pct", "param_polarity", "capture_keys"):
        assert tag in items or tag == "capture_keys", tag
    for tag in items:
        if tag in ("freeze",) or not dpg.does_item_exist(tag):
            continue  # freezing changes what the others act on; it has its own tests
        gui_app.message = ""
        fire(tag)
        assert "TypeError" not in gui_app.message and "AttributeError" not in gui_app.message, (tag, gui_app.message)


# ---------------------------------------------------------------- one frame on screen
def test_a_frame_reaches_every_panel_together(gui_app, host_model):
    connected(gui_app)
    feed(gui_app, S.frame_messages(1, 3, host_model))
    assert dpg.get_value("status_text").startswith("CONNECTED")
    assert "firmware synthetic" in dpg.get_value("device_text")
    rec = gui_app.state.shown
    assert rec.frame_id == 1 and gui_app.shown_digit == "3"
    # camera texture: the 81x81 frame enlarged x3 (1280x720 layout), nearest neighbour
    k = gui_app.layout.sizes.cam_box // 81
    assert np.array_equal(texture_grey(gui_app, "cam"), images.enlarge(rec.frame, k))
    assert dpg.get_item_configuration("cam_image")["pmax"] == pytest.approx([81 * k, 81 * k])
    in28_k = gui_app.layout.sizes.in28_k
    assert np.array_equal(texture_grey(gui_app, "in28"), images.enlarge(rec.input28, in28_k))
    assert dpg.get_value("in28_label") == f"28x28 x{in28_k}, frame 1" and "frame 1" in dpg.get_value("pred_label")
    assert dpg.get_value("cam_label").startswith("camera 1: 81x81 of 324x324")
    glyph = texture_grey(gui_app, "digit")
    assert np.abs(glyph.astype(int) - view.digit_glyph(3, *glyph.shape[::-1])).max() <= 1
    score = rec.prediction.scores[3]
    assert dpg.get_value("digit_score").strip() == f"{score * 100:5.1f} %".strip()
    checks = [dpg.get_value(t) for t in ("digit_status", "digit_check", "digit_check2")]
    assert any("host says 3: OK" in c for c in checks)
    assert "host check: 1, 0 mismatches" in dpg.get_value("check_text")
    tops = [dpg.get_item_configuration(f"bar{i}")["pmin"][1] for i in range(10)]
    assert int(np.argmin(tops)) == 3
    work = texture_grey(gui_app, "work")
    assert np.array_equal(work, images.enlarge(rec.stages["work"], gui_app.layout.sizes.stage_k))


def test_the_digit_is_not_a_render_frame_behind_the_bars(gui_app, host_model):
    """A new frame's textures go out in one update and its other widgets in the next one,
    because Dear PyGui shows a texture one render frame after set_value: after the first
    update the bars still show the old frame, after the second both show the new one."""
    connected(gui_app)
    feed(gui_app, S.frame_messages(1, 2, host_model))
    gui_app.source.pending += S.timed(S.frame_messages(2, 7, host_model), t0=1001.0)
    gui_app.update()
    tops = [dpg.get_item_configuration(f"bar{i}")["pmin"][1] for i in range(10)]
    assert int(np.argmin(tops)) == 2  # drawn with the frame whose textures are on screen now
    gui_app.update()
    tops = [dpg.get_item_configuration(f"bar{i}")["pmin"][1] for i in range(10)]
    assert int(np.argmin(tops)) == 7 and gui_app.shown_digit == "7"


def test_an_answer_waits_for_its_own_full_resolution_frame(gui_app, host_model):
    """FULLRES bands may finish after the RESULT: the panels keep the previous frame until it is whole."""
    connected(gui_app)
    feed(gui_app, S.frame_messages(1, 5, host_model))
    msgs, cam = fullres_frame(2, 8, host_model)
    bands = [P.Frame(2, 324, 324, y0, 108, 324, 324, 0, P.FLAG_FULLRES, 1, cam[y0:y0 + 108].tobytes())
             for y0 in (0, 108, 216)]
    feed(gui_app, [bands[0]] + msgs[1:])  # first band, stages, 28x28, RESULT
    assert gui_app.state.shown.frame_id == 1 and gui_app.shown_digit == "5"
    feed(gui_app, bands[1:])
    assert gui_app.state.shown.frame_id == 2 and gui_app.shown_digit == "8"
    from pico4ml.host_gui.layout import camera_scale

    k, step, _ = camera_scale(324, gui_app.layout.sizes.cam_box, 1)  # larger than its box: halved
    assert (k, step) == (1, 2) and np.array_equal(texture_grey(gui_app, "cam"), images.reduce(cam, 2))


def test_frames_every_nth_are_marked_stale(gui_app, host_model):
    connected(gui_app)
    feed(gui_app, S.frame_messages(1, 1, host_model))
    without = [m for m in S.frame_messages(2, 6, host_model) if not isinstance(m, P.Frame)]
    feed(gui_app, without)
    assert gui_app.shown_digit == "6"
    note = dpg.get_item_configuration("cam_note")["text"]
    assert note == "stale: camera frame 1, answer for 2"
    assert dpg.get_item_configuration("cam_note_bg")["show"]
    assert dpg.get_value("cam_label").startswith("camera 1: 81x81 of 324x324")
    no_stages = [m for m in S.frame_messages(3, 9, host_model) if not isinstance(m, P.Stage)]
    feed(gui_app, no_stages)
    assert dpg.get_value("work_label").endswith("(old)")
    assert dpg.get_item_configuration("work_label")["color"][0] > 0.9  # amber


def test_an_injected_answer_shows_the_injected_image_with_a_banner(gui_app, host_model, tmp_path):
    connected(gui_app)
    feed(gui_app, S.frame_messages(1, 1, host_model))
    img = S.camera_frame(7, 100)
    images.save_png(tmp_path / "seven.png", img)
    type_into("inject_path", str(tmp_path / "seven.png"))
    fire("inject_button")
    inj = gui_app.source.sent_of(P.Inject)[-1]
    answer = [m for m in S.frame_messages(inj.seq, 7, host_model) if not isinstance(m, (P.Frame, P.Stage))]
    for m in answer:
        m.flags |= P.FLAG_INJECTED
    feed(gui_app, answer, t0=1001.0)
    assert gui_app.state.shown.injected and gui_app.shown_digit == "7"
    assert dpg.get_item_configuration("cam_banner")["text"] == "INJECTED seven.png"
    assert dpg.get_value("cam_label").startswith("injected, not the camera")
    k = gui_app.layout.sizes.cam_box // 100
    assert np.array_equal(texture_grey(gui_app, "cam"), images.enlarge(img, k))
    assert "injected" in dpg.get_value("pred_label") and "injected" in dpg.get_value("in28_label")
    feed(gui_app, S.frame_messages(2, 3, host_model), t0=1002.0)  # held for 3 s while the stream goes on
    assert gui_app.shown_digit == "7"
    feed(gui_app, S.frame_messages(3, 3, host_model), t0=1005.0)
    assert gui_app.shown_digit == "3" and dpg.get_item_configuration("cam_banner")["text"] == ""


def test_lost_and_device_drops_turn_amber_when_they_rise(gui_app, host_model):
    class Stats:
        crc_errors = errors = 0
        lost = 0

    gui_app.source.decoder_stats = Stats()
    connected(gui_app)
    feed(gui_app, S.frame_messages(1, 1, host_model) + [P.Stats(msgs_dropped=0)])
    white = tuple(dpg.get_item_configuration("ctr_lost")["color"])
    assert white == tuple(dpg.get_item_configuration("ctr_drops")["color"]) and white[2] > 0.8
    Stats.lost = 3
    feed(gui_app, [P.Stats(msgs_dropped=5)])
    for tag in ("ctr_lost", "ctr_drops"):
        r, g, b, _ = dpg.get_item_configuration(tag)["color"]
        assert r > 0.9 and 0.55 < g < 0.8 and b < 0.3, tag  # amber
    assert "lost 3" in dpg.get_value("ctr_lost") and "device drops 5" in dpg.get_value("ctr_drops")


# ---------------------------------------------------------------- connection states
def test_disconnected_greys_the_views_and_says_since_when(gui_app, host_model):
    connected(gui_app)
    feed(gui_app, S.frame_messages(1, 2, host_model))
    assert dpg.get_item_configuration("cam_image")["color"][0] == pytest.approx(1.0)
    feed(gui_app, [LinkStatus("disconnected", "link lost: board unplugged", n=2)])
    status = dpg.get_value("status_text")
    assert status.startswith("DISCONNECTED since ") and status.endswith("link lost: board unplugged")
    assert dpg.get_item_configuration("status_text")["color"][0] > 0.8
    for tag in ("cam_image", "in28_image", "digit_image", "work_image"):
        assert dpg.get_item_configuration(tag)["color"][0] < 0.5, tag  # greyed
    assert "device  -  fps" in dpg.get_value("ctr_fps")
    gui_app.source.up = False
    fire("canvas_send")
    assert "not connected" in gui_app.message
    gui_app.source.up = True
    feed(gui_app, [LinkStatus("connected", "connected to /dev/pts/8", n=3)] + S.frame_messages(2, 4, host_model))
    assert dpg.get_item_configuration("cam_image")["color"][0] == pytest.approx(1.0)
    assert gui_app.source.sent_of(P.Ping)[-1].flags & P.PING_WANT_HELLO  # settings sent again on reconnect
    assert len(gui_app.source.sent_of(P.SetParams)) == 2


def test_a_dead_twin_is_reported_with_its_exit_reason_and_can_be_restarted(gui_app):
    class Proc:
        def __init__(self, rc):
            self.returncode = rc

        def poll(self):
            return self.returncode

    class Twin:
        def __init__(self, rc, port, lines):
            self.proc, self.port, self.stderr_lines = Proc(rc), port, lines
            self.alive = rc is None
            self.stopped = False

        def stop(self):
            self.stopped = True

    dead = Twin(-9, "/dev/pts/9", ["pico4ml-twin: ready pty /dev/pts/9"])
    new = Twin(None, "/dev/pts/12", [])
    gui_app.twin, gui_app.twin_factory = dead, lambda: new
    gui_app.update()
    assert "host twin was killed by SIGKILL (it printed nothing)" in dpg.get_value("status_text")
    assert "ready" not in dpg.get_value("status_text")
    assert dpg.get_item_configuration("restart_twin")["show"]
    fire("restart_twin")
    gui_app.update()
    assert dead.stopped and gui_app.twin is new and gui_app.source.target == "/dev/pts/12"
    assert not dpg.get_item_configuration("restart_twin")["show"] and "restarted" in gui_app.message
    gui_app.twin = Twin(3, "/dev/pts/13", ["pico4ml-twin: ready pty /dev/pts/13", "pico4ml-twin: cannot read x.pgm"])
    gui_app.update()
    assert "exited with code 3: pico4ml-twin: cannot read x.pgm" in dpg.get_value("status_text")


def test_a_dead_emulator_is_reported_as_the_emulator(gui_app):
    """--emulate's handle (a real pico4ml-emulate-like process that fails): the status names the
    emulator, not the host twin, and offers no 'restart twin'."""
    import subprocess
    import sys
    import time

    from pico4ml.emulator.serve import EmulatorHandle

    proc = subprocess.Popen([sys.executable, "-c", "import sys; sys.stderr.write('pico4ml-emulate: no ELF\\n'); "
                             "sys.exit(5)"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    handle = EmulatorHandle(proc, "socket://127.0.0.1:1", None, None)
    proc.wait(30)
    for _ in range(100):  # the handle's reader thread has the line
        if handle.stderr_lines:
            break
        time.sleep(0.02)
    gui_app.twin, gui_app.twin_factory, gui_app.twin_problem = handle, None, ""
    gui_app.update()
    status = dpg.get_value("status_text")
    assert "the emulator (pico4ml-emulate) exited with code 5: pico4ml-emulate: no ELF" in status
    assert "twin" not in status
    assert not dpg.get_item_configuration("restart_twin")["show"]
    fire("restart_twin")
    assert "start the GUI again" in gui_app.message and "emulator" in gui_app.message


# ---------------------------------------------------------------- camera panel controls
def test_zoom_enlarges_the_camera_in_whole_steps(gui_app, host_model):
    feed(gui_app, S.frame_messages(1, 5, host_model))
    base = gui_app.layout.sizes.cam_box // 81
    fire("zoom", 2)
    settle(gui_app)
    assert dpg.get_item_configuration("cam_image")["pmax"] == pytest.approx([81 * base * 2] * 2)
    assert np.array_equal(texture_grey(gui_app, "cam"), images.enlarge(gui_app.state.frame, base * 2))
    assert dpg.get_item_configuration("cam_draw")["width"] == 81 * base * 2
    pmax = dpg.get_item_configuration("cam_roi")["pmax"]
    assert pmax[0] == pytest.approx(81 * base * 2 - 1)  # the ROI outline follows the zoom
    fire("zoom", 1)
    settle(gui_app)
    assert dpg.get_item_configuration("cam_image")["pmax"] == pytest.approx([81 * base] * 2)


def test_freeze_holds_every_panel_and_unfreeze_follows_again(gui_app, host_model):
    connected(gui_app)
    feed(gui_app, S.frame_messages(1, 4, host_model))
    fire("freeze", True)
    cam = texture_grey(gui_app, "cam").copy()
    feed(gui_app, S.frame_messages(2, 9, host_model))
    assert gui_app.shown_digit == "4" and "[view frozen]" in dpg.get_value("status_text")
    assert np.array_equal(texture_grey(gui_app, "cam"), cam)
    assert gui_app.state.results_rx == 2  # the link kept reading
    assert dpg.get_item_configuration("panel_debug")["show"]
    fire("freeze", False)
    settle(gui_app)
    assert gui_app.shown_digit == "9" and not dpg.get_item_configuration("panel_debug")["show"]


def test_history_window_and_plots(gui_app, host_model):
    fire("window", 2.0)  # heat-map bins of 1/60 s: one result per bin at 15 fps
    assert gui_app.state.history_window_s == 2.0
    feed(gui_app, [m for i in range(12) for m in S.frame_messages(i + 1, i % 10, host_model)])
    x, y = dpg.get_value("times_s2")[:2]  # net() times
    assert len(x) == 12 and y[0] == pytest.approx(4.2) and x[-1] == 0.0
    heat = np.array(dpg.get_value("scores_heat")[0]).reshape(10, -1)[::-1]
    assert heat[:, -1].argmax() == 1 and 0.5 < heat[1, -1] <= 1.0
    assert dpg.get_item_configuration("scores_heat")["bounds_min"][0] == pytest.approx(-2.0)
    fire("window", 60.0)
    gui_app.update()
    assert dpg.get_item_configuration("scores_heat")["bounds_min"][0] == pytest.approx(-60.0)


def test_host_tolerance_field(gui_app):
    fire("tolerance", "0.05")
    assert gui_app.state.tolerance == 0.05 and "tolerance 0.05" in gui_app.message
    fire("tolerance", "lots")
    assert gui_app.state.tolerance == 0.05 and "must be a number" in gui_app.message
    fire("tolerance", "7")
    assert gui_app.state.tolerance == 0.05 and "between 0 and 1" in gui_app.message


def test_text_size_rescales_and_reflows(gui_app):
    before = gui_app.layout.sizes
    fire("text_size", 1.5)
    after = gui_app.layout.sizes
    assert gui_app.fonts.scale == 1.5 and after.line > before.line and after.ctrl_w > before.ctrl_w


def test_log_clear_and_follow(gui_app):
    for i in range(5):
        gui_app.say(f"line {i}")
    gui_app.update()
    assert "[gui] line 4" in dpg.get_value("log_text")
    fire("log_clear")
    gui_app.update()
    assert dpg.get_value("log_text") == ""
    fire("log_follow", False)
    assert not gui_app.ctl.session.follow_log


# ---------------------------------------------------------------- preprocessing, stream, camera
def test_every_preprocessing_slider_sends_its_value(gui_app):
    connected(gui_app)
    kinds = [type(m) for m in gui_app.source.sent]
    assert kinds == [P.Ping, P.SetParams, P.SetStream]  # camera options only once the user sets them
    assert gui_app.source.sent[2].mask & P.STREAM_STAGE
    moves = {"roi_x": 10, "roi_y": 12, "roi_w": 200, "roi_h": 180, "bg_remove": 0, "bg_radius": 5, "threshold_pct": 55,
             "saturate_pct": 70, "min_contrast": 30, "speck_min": 4, "border": 2, "box_size": 18,
             "center_mass": 0, "min_size_pct": 10, "max_size_pct": 90, "thin_pct": 50, "offcentre_pct": 35,
             "merge_pct": 20, "grow_pct": 160, "cand_contrast": 40, "full_res": 0, "min_score_pct": 50,
             "retry_radius": 3, "retry_score_pct": 90, "retry_radius2": 9}
    from pico4ml.host_gui.controls.settings import param_names

    assert set(param_names()) == set(moves)
    for name, value in moves.items():
        fire(f"param_{name}", value)
        sent = PreprocessParams.from_bytes(gui_app.source.sent_of(P.SetParams)[-1].data)
        assert getattr(sent, name) == value, name
    fire("param_polarity", "auto")
    assert PreprocessParams.from_bytes(gui_app.source.sent_of(P.SetParams)[-1].data).polarity == 2
    n = len(gui_app.source.sent)
    fire("param_box_size", 3)  # below the C's minimum of 4
    assert len(gui_app.source.sent) == n and "out of range" in gui_app.message
    fire("params_reset")
    assert PreprocessParams.from_bytes(gui_app.source.sent_of(P.SetParams)[-1].data) == PreprocessParams()
    assert dpg.get_value("param_threshold_pct") == PreprocessParams().threshold_pct


def test_the_unsure_threshold_follows_the_board_s_model_until_the_user_sets_it(gui_app):
    """A board built with the CNN says so in HELLO's build_info: the slider and the board take
    the CNN's threshold (the manifest's); once the user moves it, HELLO leaves it alone; reset
    goes back to the model's."""
    from dataclasses import replace as with_
    from pico4ml.common.manifest import MANIFEST
    cnn = json.loads(MANIFEST.read_text())["models"]["cnn_int8"]["min_score_pct"]
    assert cnn != PreprocessParams().min_score_pct
    hello = with_(S.hello(), build_info="pico-sdk 2.2.0, model cnn_int8")
    feed(gui_app, [LinkStatus("connected", "connected to /dev/pts/7", "/dev/pts/7", n=1), hello])
    assert dpg.get_value("param_min_score_pct") == cnn
    assert PreprocessParams.from_bytes(gui_app.source.sent_of(P.SetParams)[-1].data).min_score_pct == cnn
    fire("param_min_score_pct", 60)
    feed(gui_app, [with_(hello, firmware_version="again")])  # HELLO repeats every few seconds
    assert dpg.get_value("param_min_score_pct") == 60
    assert PreprocessParams.from_bytes(gui_app.source.sent_of(P.SetParams)[-1].data).min_score_pct == 60
    fire("params_reset")
    assert PreprocessParams.from_bytes(gui_app.source.sent_of(P.SetParams)[-1].data) == \
        with_(PreprocessParams(), min_score_pct=cnn)


def test_every_preprocessing_parameter_has_a_tooltip_with_unit_and_effect(gui_app):
    from pico4ml.host_gui.controls.settings import PARAM_HELP, param_names

    for name in [*param_names(), "polarity"]:
        tip = f"tip_param_{name}"
        assert dpg.get_item_info(tip)["type"].endswith("mvTooltip"), name
        assert dpg.get_value(f"{tip}_text") == PARAM_HELP[name] and len(PARAM_HELP[name]) > 40, name


def test_stream_and_camera_options(gui_app):
    fire("stream_frame", False)
    fire("stream_decimation", 4)
    st = gui_app.source.sent_of(P.SetStream)[-1]
    assert not st.mask & P.STREAM_FRAME and st.decimation == 4
    fire("stream_fullres", True)
    fire("stream_max_side", 64)
    st = gui_app.source.sent_of(P.SetStream)[-1]
    assert st.flags & P.STREAM_FLAG_FULLRES and st.max_side == 64
    for tag, bit in (("stream_28x28", P.STREAM_INPUT28), ("stream_stages", P.STREAM_STAGE),
                     ("stream_result", P.STREAM_RESULT), ("stream_stats", P.STREAM_STATS), ("stream_log", P.STREAM_LOG)):
        fire(tag, False)
        assert not gui_app.source.sent_of(P.SetStream)[-1].mask & bit, tag
    fire("cam_mirror", True)
    assert gui_app.source.sent_of(P.SetCamera)[-1].flags & P.CAM_MIRROR
    fire("cam_flip", True)
    fire("cam_auto", False)
    fire("cam_exposure", 300)
    fire("cam_gain", 2)
    cam = gui_app.source.sent_of(P.SetCamera)[-1]
    assert cam.flags == P.CAM_MIRROR | P.CAM_FLIP and cam.exposure == 300 and cam.analog_gain == 2


def test_roi_slider_draws_the_rectangle_and_hello_sets_the_ranges(gui_app, host_model):
    feed(gui_app, [S.hello()] + S.frame_messages(1, 5, host_model))
    k = gui_app.binding.cam_k
    pmin, pmax = (dpg.get_item_configuration("cam_roi")[p] for p in ("pmin", "pmax"))
    assert pmin[0] == pytest.approx(1) and pmax[0] == pytest.approx(324 * k - 1)  # the device's ROI: the whole square
    assert dpg.get_item_configuration("param_roi_w")["max_value"] == 324
    gui_app.state = State()  # a board that sends no stages reports no ROI: the sliders' ROI is drawn
    feed(gui_app, [m for m in S.frame_messages(2, 5, host_model) if not isinstance(m, P.Stage)])
    fire("param_roi_x", 81)
    fire("param_roi_w", 162)
    fire("param_roi_h", 162)
    settle(gui_app)
    pmin, pmax = (dpg.get_item_configuration("cam_roi")[p] for p in ("pmin", "pmax"))
    assert pmin == pytest.approx([81 * k + 1, 1]) and pmax == pytest.approx([243 * k - 1, 162 * k - 1])


def test_presets_save_load_and_send_all(gui_app, tmp_path):
    type_into("preset_path", str(tmp_path / "p.json"))
    fire("param_threshold_pct", 33)
    fire("preset_save")
    assert json.loads((tmp_path / "p.json").read_text())["params"]["threshold_pct"] == 33
    fire("param_threshold_pct", 70)
    n = len(gui_app.source.sent)
    fire("preset_load")
    assert dpg.get_value("param_threshold_pct") == 33 and "loaded" in gui_app.message
    assert [type(m) for m in gui_app.source.sent[n:]] == [P.SetParams, P.SetStream, P.SetCamera]
    fire("send_all")
    assert [type(m) for m in gui_app.source.sent[-3:]] == [P.SetParams, P.SetStream, P.SetCamera]
    type_into("preset_path", str(tmp_path / "missing.json"))
    fire("preset_load")
    assert "load preset failed" in gui_app.message and "No such file" in gui_app.message


def test_file_dialogs_fill_their_fields(gui_app, tmp_path):
    for target, directory in (("preset_path", False), ("out_dir", True), ("capture_dir", True),
                              ("inject_path", False), ("replay_path", False)):
        fire(f"browse_{target}")
        dialog = f"dialog_{target}"
        assert dpg.does_item_exist(dialog) and dpg.get_item_configuration(dialog)["show"]
        chosen = tmp_path / ("folder" if directory else "file.bin")
        app_data = ({"file_path_name": str(chosen), "current_path": str(tmp_path), "selections": {}} if directory
                    else {"file_path_name": str(chosen), "current_path": str(tmp_path),
                          "selections": {chosen.name: str(chosen)}})
        fire(dialog, app_data)
        assert dpg.get_value(target) == str(chosen), target
        assert not dpg.get_item_configuration(dialog)["show"]


# ---------------------------------------------------------------- files
def test_save_pngs_saves_the_capture_paired_with_its_own_28x28(gui_app, host_model, tmp_path):
    connected(gui_app)
    msgs, cam = fullres_frame(7, 2, host_model)
    feed(gui_app, msgs)
    feed(gui_app, [m for m in S.frame_messages(8, 6, host_model) if not isinstance(m, P.Result)])  # not whole yet
    for _ in range(5):
        fire("snapshot_button")
    pngs = sorted(tmp_path.glob("snapshot-*.png"))
    assert len(pngs) == 10 and len({p.name for p in pngs}) == 10  # five clicks in a second: five pairs
    caps = [p for p in pngs if p.name.endswith("-capture.png")]
    assert all("-7-" in p.name for p in pngs)
    assert np.array_equal(images.load_grey(caps[0]), cam)  # 324x324 capture, not the preview
    in28 = images.load_grey(caps[0].with_name(caps[0].name.replace("-capture", "-in28")))
    assert np.array_equal(in28, gui_app.state.record_at(7).input28)


def test_export_csv_names_injected_files(gui_app, host_model, tmp_path):
    connected(gui_app)
    feed(gui_app, S.frame_messages(1, 2, host_model) + S.frame_messages(2, 8, host_model))
    images.save_png(tmp_path / "in" / "four.png", S.camera_frame(4, 90))
    type_into("inject_path", str(tmp_path / "in"))
    fire("inject_button")
    inj = gui_app.source.sent_of(P.Inject)[-1]
    answer = [m for m in S.frame_messages(inj.seq, 4, host_model) if isinstance(m, (P.Input28, P.Result))]
    for m in answer:
        m.flags |= P.FLAG_INJECTED
    feed(gui_app, answer, t0=1001.0)
    fire("csv_button")
    rows = list(csv.DictReader(open(next(tmp_path.glob("predictions-*.csv")))))
    assert [r["digit"] for r in rows] == ["2", "8", "4"] and [r["file"] for r in rows] == ["", "", "four.png"]


def test_capture_keys_write_a_labelled_data_set(gui_app, host_model, tmp_path):
    connected(gui_app)
    gui_app.state.device_params = PreprocessParams(threshold_pct=40).to_bytes()
    msgs, cam = fullres_frame(11, 1, host_model)
    feed(gui_app, msgs)
    for _ in range(2):
        press_key(7)  # the user says this frame shows a 7
    files = sorted((tmp_path / "dataset" / "7").iterdir())
    assert len(files) == 6
    stems = sorted({f.name.split(".")[0].removesuffix("-in28") for f in files})
    assert len(stems) == 2 and all(s.split("-")[2] == "11" and s.split("-")[3] in "01" for s in stems)
    meta = json.loads((tmp_path / "dataset" / "7" / f"{stems[0]}.json").read_text())
    res = gui_app.state.record_at(11).prediction
    assert meta == {"label": 7, "frame_id": 11, "params": {**PreprocessParams(threshold_pct=40).__dict__},
                    "answer": res.result.argmax, "score": pytest.approx(float(res.scores[res.result.argmax])),
                    "status": "digit", "source": "live", "capture_width": 324, "capture_height": 324}
    assert np.array_equal(read_pgm(tmp_path / "dataset" / "7" / f"{stems[0]}.pgm"), cam)
    assert np.array_equal(images.load_grey(tmp_path / "dataset" / "7" / f"{stems[0]}-in28.png"),
                          gui_app.state.record_at(11).input28)
    feed(gui_app, S.frame_messages(12, 3, host_model))  # the default downscaled preview
    press_key(3)
    meta = json.loads(next((tmp_path / "dataset" / "3").glob("*.json")).read_text())
    assert meta["scale"] == 4 and meta["capture_width"] == 324 and "preview" in gui_app.message
    assert read_pgm(next((tmp_path / "dataset" / "3").glob("*.pgm"))).shape == (81, 81)
    fire("capture_keys", False)
    press_key(5)
    assert not (tmp_path / "dataset" / "5").exists()


def test_inject_folder_drawing_and_clear(gui_app, host_model, tmp_path):
    folder = tmp_path / "inject"
    for d in (1, 7):
        images.save_png(folder / f"{d}.png", S.camera_frame(d, 100))
    (folder / "notes.txt").write_text("not an image")
    type_into("inject_path", str(folder))
    fire("inject_button")
    inj = gui_app.source.sent_of(P.Inject)
    assert len(inj) == 2 and (inj[0].width, inj[0].height) == (100, 100) and "injected 2 of 2" in gui_app.message
    assert gui_app.state.inject_names == {inj[0].seq: "1.png", inj[1].seq: "7.png"}
    type_into("inject_path", str(tmp_path / "nope.png"))
    fire("inject_button")
    assert "inject failed" in gui_app.message and "no such file" in gui_app.message
    inject.paint_line(gui_app.ctl.inject.canvas, (56, 20), (56, 92), radius=5, value=0)
    fire("canvas_send")
    d = gui_app.source.sent_of(P.Inject)[-1]
    img = np.frombuffer(d.pixels, np.uint8).reshape(d.height, d.width)
    assert img.shape == (layout.CANVAS, layout.CANVAS) and img[56, 56] == 0 and img[56, 10] == 255
    fire("canvas_clear")
    assert gui_app.ctl.inject.canvas.min() == 255 and texture_grey(gui_app, "canvas").min() == 255


# ---------------------------------------------------------------- debug a wrong answer
def test_frozen_frame_rerun_on_the_host_with_edited_parameters(gui_app, host_model):
    """Freeze, move a slider: nothing is sent; the stages, 28x28 and answer are the C pipeline's
    for those parameters; 'send to the board' sends them, 'undo edits' goes back."""
    connected(gui_app)
    msgs, cam = fullres_frame(3, 4, host_model)
    feed(gui_app, msgs)
    fire("freeze", True)
    assert dpg.get_item_configuration("params_send")["show"]
    n = len(gui_app.source.sent_of(P.SetParams))
    fire("param_threshold_pct", 70)
    fire("param_box_size", 12)
    settle(gui_app)
    assert len(gui_app.source.sent_of(P.SetParams)) == n  # not sent
    want = PreprocessParams(threshold_pct=70, box_size=12)
    in28, status, st = c_preprocess(cam, want, return_stages=True)
    assert np.array_equal(texture_grey(gui_app, "in28"), images.enlarge(in28, gui_app.layout.sizes.in28_k))
    box = np.frombuffer(bytes(st.box), np.uint8).reshape(28, 28)[:st.box_h, :st.box_w]
    k = max(1, gui_app.layout.sizes.stage_side // max(box.shape))
    assert np.array_equal(texture_grey(gui_app, "box"), images.enlarge(box, k))
    assert dpg.get_item_configuration("cam_banner")["text"] == "HOST RE-RUN"
    rerun = gui_app.ctl.debug.rerun
    from pico4ml.host_twin.classify import FramePipeline
    assert rerun.digit == FramePipeline().classify28(in28).argmax
    assert gui_app.shown_digit == str(rerun.digit) and "host re-run" in gui_app.message
    assert any(dpg.get_value(t).startswith("board: 4 (")
               for t in ("digit_score", "digit_status", "digit_check", "digit_check2"))
    sal = gui_app.layout.tex["saliency"].tex.pixels()
    assert sal.shape[0] == 28 * gui_app.layout.sizes.debug_k and sal[..., 0].max() > 100  # red: pixels for
    assert dpg.get_value("debug_text").startswith(f"the host re-run said {rerun.digit}")
    fire("params_send")
    sent = PreprocessParams.from_bytes(gui_app.source.sent_of(P.SetParams)[-1].data)
    assert sent.threshold_pct == 70 and sent.box_size == 12 and gui_app.settings.params == sent
    fire("param_threshold_pct", 20)
    fire("params_undo")
    assert dpg.get_value("param_threshold_pct") == 70 and gui_app.ctl.debug.rerun is None
    fire("freeze", False)
    assert not dpg.get_item_configuration("params_send")["show"]


def test_nearest_training_examples_and_class_means(gui_app, host_model, mnist):
    connected(gui_app)
    msgs, _ = fullres_frame(3, 1, host_model)
    feed(gui_app, msgs)
    fire("freeze", True)
    assert gui_app.ctl.debug.training.wait(60)
    gui_app.update()
    text = dpg.get_value("debug_text")
    assert "closest class mean:" in text and "nearest training examples" in text
    in28 = gui_app.state.record_at(3).input28.astype(np.float32)
    x, y = mnist[0].reshape(len(mnist[0]), -1).astype(np.float32), mnist[1]
    means = np.stack([x[y == d].mean(axis=0) for d in range(10)])
    best = int(np.argmin(((means - in28.ravel()) ** 2).sum(axis=1)))
    nearest = int(np.argmin(((x - in28.ravel()) ** 2).sum(axis=1)))
    assert f"closest class mean: {best} " in text
    assert text.split("nearest training examples (below the means): ")[1].startswith(f"{int(y[nearest])} (")


# ---------------------------------------------------------------- recordings
def test_replay_controls_play_pause_step_speed_scrub(gui_app, host_model, tmp_path):
    path = write_recording(tmp_path / "r.p4rec", list(S.stream(20, host_model)))
    connected(gui_app)
    feed(gui_app, S.frame_messages(1, 7, host_model))
    live_state = gui_app.state
    type_into("replay_path", str(path))
    fire("replay_open")
    assert not gui_app.source.live and "opened r.p4rec" in gui_app.message and "20 frames" in gui_app.message
    settle(gui_app)
    assert gui_app.state.shown is None and gui_app.shown_digit == "-"  # the live answer is gone
    assert dpg.get_value("times_s0") == [[], []] or len(dpg.get_value("times_s0")[0]) == 0
    fire("replay_pos", 0.55)  # frames 1..5: digits 0..4
    settle(gui_app)
    assert gui_app.shown_digit == "4" and dpg.get_value("status_text").startswith("REPLAY")
    fire("replay_fwd")
    settle(gui_app)
    assert gui_app.state.shown.frame_id == 6 and gui_app.shown_digit == "5"
    fire("replay_back")
    fire("replay_back")
    settle(gui_app)
    assert gui_app.state.shown.frame_id == 4
    fire("replay_speed", "4x")
    assert gui_app.source.speed == 4.0
    fire("replay_play")
    assert gui_app.source.playing and dpg.get_item_configuration("replay_play")["label"] == "pause"
    fire("replay_play")
    assert not gui_app.source.playing and dpg.get_item_configuration("replay_play")["label"] == "play"
    gui_app.send(P.Ping())
    assert "offline replay" in gui_app.message
    fire("replay_live")
    settle(gui_app)
    assert gui_app.source.live and gui_app.state is live_state and gui_app.shown_digit == "7"
    type_into("replay_path", str(tmp_path / "nope.p4rec"))
    fire("replay_open")
    assert "open replay failed" in gui_app.message and gui_app.source.live


def test_frozen_frame_rerun_shows_the_second_reading_the_board_would_answer_with(gui_app, host_model, mnist):
    """A shadowed frame whose first reading is not sure: frozen and re-run with a slider moved,
    the GUI shows the 28x28 and the answer of the second reading (core/reader.h), and says so."""
    from pico4ml.host_twin.classify import FramePipeline
    from pico4ml.train import camera_sim as cs
    from pico4ml.train.camera_set import condition_stream
    from pico4ml.train.digit_sources import DigitSource
    source = DigitSource("train", mnist=(mnist[0][:5000], mnist[1][:5000]))
    pipe, want = FramePipeline(), PreprocessParams(min_score_pct=55)
    for i in range(80):
        cam = cs.bin2x2(cs.render_frame("shadow", condition_stream(29, "shadow", i), source).image)
        answer = pipe.classify(cam, want)
        if answer.second_reading:
            break
    else:
        pytest.fail("no shadowed frame needs a second reading")
    connected(gui_app)
    msgs = S.frame_messages(5, 4, host_model, size=162)
    msgs[0] = P.Frame(5, 162, 162, 0, 162, 162, 162, P.FRAME_FMT_GRAY8, P.FLAG_FULLRES, 1, cam.tobytes())
    feed(gui_app, msgs)
    fire("freeze", True)
    fire("param_min_score_pct", 55)
    settle(gui_app)
    rerun = gui_app.ctl.debug.rerun
    assert rerun is not None and rerun.second_reading and rerun.digit == answer.digit
    second = c_preprocess(cam, PreprocessParams(min_score_pct=55, bg_radius=answer.radius))[0]
    assert np.array_equal(texture_grey(gui_app, "in28"), images.enlarge(second, gui_app.layout.sizes.in28_k))
    assert dpg.get_value("digit_score").endswith("%, 2nd reading")
    fire("freeze", False)


def test_replay_sliders_rerun_the_frame_on_the_host(gui_app, host_model, tmp_path):
    msgs = [S.hello()]
    cams = {}
    for i in range(1, 6):
        m, cams[i] = fullres_frame(i, i, host_model)
        msgs += m
    path = write_recording(tmp_path / "r.p4rec", msgs, header={"params": PreprocessParams(border=2).__dict__})
    type_into("replay_path", str(path))
    fire("replay_open")
    assert dpg.get_value("param_border") == 2  # the recording's parameters
    fire("replay_pos", 0.25)
    fire("param_speck_min", 0)
    settle(gui_app)
    shown = gui_app.state.shown
    in28, _ = c_preprocess(cams[shown.frame_id], PreprocessParams(border=2, speck_min=0))
    assert np.array_equal(texture_grey(gui_app, "in28"), images.enlarge(in28, gui_app.layout.sizes.in28_k))
    fire("replay_fwd")  # the next frame is re-run with the same edits
    settle(gui_app)
    in28, _ = c_preprocess(cams[shown.frame_id + 1], PreprocessParams(border=2, speck_min=0))
    assert np.array_equal(texture_grey(gui_app, "in28"), images.enlarge(in28, gui_app.layout.sizes.in28_k))


def test_export_a_recording_as_pngs_and_video(gui_app, host_model, tmp_path):
    import cv2

    path = write_recording(tmp_path / "r.p4rec", list(S.stream(8, host_model)))
    type_into("replay_path", str(path))
    fire("replay_open")
    type_into("out_dir", str(tmp_path / "out"))
    fire("replay_export_png")
    folder = tmp_path / "out" / "r-frames"
    rows = list(csv.DictReader(open(folder / "index.csv")))
    assert [r["answer"] for r in rows] == [str(i % 10) for i in range(8)] and "exported 8 frames" in gui_app.message
    first = images.load_grey(folder / rows[0]["file"])
    assert np.array_equal(first, S.downscale(S.camera_frame(0, 324, seed=1), 4))
    fire("replay_export_video")
    cap = cv2.VideoCapture(str(tmp_path / "out" / "r.avi"))
    n, frame = 0, None
    while True:
        ok, f = cap.read()
        if not ok:
            break
        frame = f if frame is None else frame
        n += 1
    assert n == 8 and frame.shape[:2] == (324, 324 + 180)
    assert np.abs(frame[:324, :324, 1].astype(int) - images.enlarge(first, 4)).mean() < 6  # MJPG is lossy


def test_record_button_over_a_real_pty(tmp_path, host_model):
    import os
    import time
    import tty

    from pico4ml.host_gui.link import Link
    from pico4ml.host_gui.recording import load_replay
    from pico4ml.host_gui.source import LiveSource

    master, slave = os.openpty()
    tty.setraw(slave)
    source = LiveSource(Link(os.ttyname(slave)).start())
    dpg.create_context()
    try:
        a = view.App(source, State(host_model=host_model), out_dir=tmp_path)
        a.build_ui()
        end = time.monotonic() + 5
        while not source.connected and time.monotonic() < end:
            a.update()
            time.sleep(0.01)
        os.write(master, S.encoded([S.hello()]))
        while a.state.hello is None and time.monotonic() < end:
            a.update()
            time.sleep(0.01)
        fire("param_threshold_pct", 44)
        fire("record_button")
        assert dpg.get_item_configuration("record_button")["label"] == "stop recording"
        os.write(master, S.encoded(list(S.stream(5, host_model))[1:]))
        while a.state.results_rx < 5 and time.monotonic() < end:
            a.update()
            time.sleep(0.01)
        fire("record_button")
        assert dpg.get_item_configuration("record_button")["label"] == "record"
        replay = load_replay(dpg.get_value("replay_path"))
        assert sum(isinstance(m, P.Result) for _, m in replay.events) == 5
        assert replay.header["format"] == 2 and replay.header["hello"]["firmware_version"] == "synthetic"
        assert replay.header["params"]["threshold_pct"] == 44 and "mask" in replay.header["stream"]
        assert "recorded" in a.message
    finally:
        source.close()
        os.close(master)
        os.close(slave)
        dpg.destroy_context()


# ---------------------------------------------------------------- robustness
def test_errors_while_drawing_become_a_message_and_the_ui_goes_on(gui_app, host_model, monkeypatch):
    def broken(sc):
        raise ValueError("odd stage size")

    monkeypatch.setattr(gui_app.binding, "_stages", broken)
    feed(gui_app, S.frame_messages(1, 4, host_model))
    assert gui_app.message == "display error: ValueError: odd stage size"
    monkeypatch.undo()
    feed(gui_app, S.frame_messages(2, 5, host_model))
    assert gui_app.shown_digit == "5"


def test_a_failing_control_becomes_a_message(gui_app, monkeypatch):
    def boom(msg):
        raise OSError("port vanished mid-write")

    monkeypatch.setattr(gui_app.source, "send", boom)
    fire("stream_log", False)
    assert gui_app.message == "stream failed: OSError: port vanished mid-write"


def test_a_host_mismatch_is_shown_in_red(gui_app, host_model):
    assert host_model is not None, "the checkpoint is committed"
    msgs = S.frame_messages(1, 7, host_model)
    res = msgs[-1]
    wrong = list(res.logits)
    other = (res.argmax + 3) % 10
    wrong[res.argmax], wrong[other] = wrong[other], wrong[res.argmax]
    msgs[-1] = P.Result(**{**res.__dict__, "logits": tuple(wrong), "argmax": other})
    feed(gui_app, msgs)
    lines = {dpg.get_value(t): dpg.get_item_configuration(t)["color"]
             for t in ("digit_score", "digit_status", "digit_check", "digit_check2")}
    mismatch = [c for text, c in lines.items() if "MISMATCH" in text]
    assert mismatch and mismatch[0][0] > 0.9 and mismatch[0][1] < 0.5
    assert "1 mismatches" in dpg.get_value("check_text")


def _odd_messages():
    """Messages a buggy or unusual device could send: every field at random, sizes consistent."""
    from hypothesis import strategies as st

    small = st.sampled_from([0, 1, 20]) | st.integers(0, 70)
    frame = st.builds(lambda w, h, fid, flags: P.Frame(fid, w, h, 0, h, w * 4, h * 4, 0, flags, 4, bytes(w * h)),
                      small, small, st.integers(0, 2**32 - 1), st.integers(0, 255))
    big = st.builds(lambda w, h: P.Frame(1, w, h, 0, h, w, h, 0, 1, 1, bytes(range(256)) * (w * h // 256)),
                    st.sampled_from([512, 640]), st.sampled_from([256, 480]))
    stage = st.builds(lambda w, h, sid, flags: P.Stage(1, sid, flags, w, h, (0, 0, w, h), 0, 0, (0, 0, w, h),
                                                       bytes(w * h)),
                      small, small, st.integers(0, 9), st.integers(0, 255))
    floats = st.floats(allow_nan=True, allow_infinity=True, width=32)
    result = st.builds(lambda fid, arg, kind, flags, logits: P.Result(fid, arg, kind, flags, 0, 0.5, tuple(logits)),
                       st.integers(0, 3), st.integers(0, 9), st.integers(0, 255), st.integers(0, 255),
                       st.lists(floats, min_size=10, max_size=10))
    inp = st.builds(lambda fid, flags, px: P.Input28(fid, flags, px), st.integers(0, 3), st.integers(0, 255),
                    st.binary(min_size=784, max_size=784))
    text = st.text(max_size=80)
    hello = st.builds(lambda a, b, c, k: P.Hello(model_kind=k, firmware_version=a, model_name=b, weights_hash=c),
                      text, text, st.text(max_size=16), st.integers(0, 255))
    other = st.sampled_from([P.Stats(msgs_dropped=2**32 - 1), P.Log(99, "\x00\u2603"), P.Error(999, 0xFF, 0, ""),
                             P.Pong(1, 2), P.Ack(1, 2), P.Params(b"\x01"), P.Stream(), P.Camera()])
    return st.lists(st.one_of(frame, big, stage, result, inp, hello, other), max_size=12)


def test_odd_device_messages_never_break_the_view(host_model):
    from hypothesis import HealthCheck, given, settings

    dpg.create_context()
    try:
        a = view.App(FakeSource(), State(host_model=host_model))
        a.build_ui()

        @settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
        @given(msgs=_odd_messages())
        def run(msgs):
            a.message = ""
            a.source.pending = [(1000.0 + i, m) for i, m in enumerate(msgs)]
            a.update()
            a.update()
            assert not a.message.startswith("display error"), a.message

        run()
    finally:
        dpg.destroy_context()


def test_roi_from_a_drag():
    assert camera.roi_from_drag((40, 20), (200, 180), 1.0, 324, 324) == (40, 20, 160, 160)
    assert camera.roi_from_drag((200, 180), (40, 20), 0.5, 324, 324) == (80, 40, 324 - 80, 284)  # clipped
    assert camera.roi_from_drag((10, 10), (13, 40), 1.0, 324, 324) is None


def test_pixel_under_the_mouse():
    img = np.zeros((28, 28), np.uint8)
    img[3, 5] = 77
    assert binding.pixel_text(img, (100 + 5 * 8 + 7, 50 + 3 * 8), (100, 50), 8) == "pixel (5, 3) = 77"
    assert binding.pixel_text(img, (99, 50), (100, 50), 8) == ""


def test_gui_command_refuses_cleanly(tmp_path, capsys, monkeypatch):
    import os
    import subprocess
    import sys

    from pico4ml.host_gui.__main__ import main

    assert main(["--port", "/dev/ttyACM0", "--baud", "1200"]) == 2
    assert "bootloader" in capsys.readouterr().err
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    proc = subprocess.run([sys.executable, "-m", "pico4ml.host_gui", "--sim"], env=env, capture_output=True,
                          text=True, timeout=60)
    if sys.platform.startswith("linux"):  # instead of Dear PyGui aborting the process
        assert proc.returncode == 2 and "no display" in proc.stderr and "pico4ml-monitor" in proc.stderr
    monkeypatch.setenv("DISPLAY", ":99")  # the checks below fail before any window opens
    assert main(["--replay", str(tmp_path / "missing.p4rec")]) == 2
    assert "no such recording" in capsys.readouterr().err
    (tmp_path / "bad.json").write_text("{}")
    assert main(["--replay", str(tmp_path / "missing.p4rec"), "--preset", str(tmp_path / "bad.json")]) == 2
    assert "not a pico4ml preset" in capsys.readouterr().err


def test_protocol_v2_status_polarity_and_candidate_boxes(gui_app, host_model):
    """RESULT v2's status ('-' no digit, '?' unsure) and polarity, and CANDIDATES boxes on the
    stage views (the chosen one green, the others red with the reason they were dropped)."""
    from collections import namedtuple

    Cand = namedtuple("Candidate", "x y w h reason score mass")

    class Candidates:  # the v2 message, as common/protocol.py decodes it
        def __init__(self, frame_id, chosen, candidates):
            self.frame_id, self.flags, self.chosen, self.candidates = frame_id, 0, chosen, candidates

    msgs = S.frame_messages(1, 4, host_model)
    res = msgs[-1]
    res.status, res.polarity = 2, 1  # unsure, read as light ink on dark
    msgs.insert(-1, Candidates(1, 1, [Cand(2, 3, 6, 6, 3, 10, 30), Cand(20, 10, 20, 30, 0, 200, 900)]))
    feed(gui_app, msgs)
    assert gui_app.shown_digit == "?"
    lines = [dpg.get_value(t) for t in ("digit_score", "digit_status", "digit_check", "digit_check2")]
    assert "unsure (best 4)" in lines and "light ink on dark" in lines
    k = gui_app.layout.sizes.stage_k
    chosen = dpg.get_item_configuration("work_cand1")
    assert chosen["show"] and chosen["pmin"] == pytest.approx([20 * k, 10 * k]) and chosen["color"][1] > 0.8
    dropped = dpg.get_item_configuration("work_cand0")
    assert dropped["show"] and dropped["color"][0] > 0.9 and dropped["color"][1] < 0.5
    reason = dpg.get_item_configuration("work_candtext0")["text"]
    assert reason == getattr(P, "CAND_REASON_NAMES", {3: "small"})[3]
    assert not dpg.get_item_configuration("work_bbox")["show"]  # the candidates replace the plain box
    assert not dpg.get_item_configuration("box_cand0")["show"]
    res2 = S.frame_messages(2, 4, host_model)
    res2[-1].status = 1
    feed(gui_app, res2)
    assert gui_app.shown_digit == "-" and not dpg.get_item_configuration("work_cand0")["show"]
    assert "2nd reading" not in dpg.get_value("digit_score")
    res3 = S.frame_messages(3, 4, host_model)
    res3[-1].flags |= P.FLAG_SECOND_READING     # the answer of the frame's second reading (core/reader.h)
    feed(gui_app, res3)
    assert gui_app.shown_digit == "4" and dpg.get_value("digit_score").endswith("%, 2nd reading")


def test_device_line_shows_the_camera_mode_and_its_trouble(gui_app, host_model):
    """HELLO v2's camera mode, then STATS v2's (newer), with the timeouts when there are any."""
    hello = S.hello()
    hello.camera_mode = P.CAM_MODE_FULL
    feed(gui_app, [hello] + S.frame_messages(1, 3, host_model))
    assert "camera FULL" in dpg.get_value("device_text")
    feed(gui_app, [P.Stats(cam_frames=50, cam_mode=P.CAM_MODE_BINNED, cam_timeouts=3, cam_fallbacks=1)])
    text = dpg.get_value("device_text")
    assert "camera BINNED, 3 timeouts, 1 fallbacks" in text and "FULL" not in text
    feed(gui_app, [P.Stats(cam_frames=60, cam_mode=P.CAM_MODE_NONE, camera_errors=2)])
    assert "camera down" in dpg.get_value("device_text")
    feed(gui_app, [P.Stats(cam_frames=70, cam_mode=P.CAM_MODE_NONE)])  # the twin: no readout modes
    assert "camera" not in dpg.get_value("device_text").split("capture")[-1]


def test_real_v2_messages_draw_the_candidates(gui_app, host_model):
    """The decoded v2 messages themselves (common/protocol.py's Candidates and Result), not stand-ins."""
    msgs = S.frame_messages(1, 4, host_model)
    res = msgs[-1]
    wire = P.encode(P.Candidates(1, 0, chosen=0, n_components=2, work_w=64, work_h=64,
                                 candidates=[(20, 10, 20, 30, P.CAND_CHOSEN, 255, 900),
                                             (2, 3, 6, 6, P.CAND_BORDER, 10, 30)]))
    msgs.insert(-1, P.decode_all(wire)[0])
    res.status, res.polarity = P.STATUS_DIGIT, P.POLARITY_DARK_ON_LIGHT
    msgs[-1] = P.decode_all(P.encode(res))[0]
    feed(gui_app, msgs)
    assert dpg.get_item_configuration("work_cand0")["show"] and dpg.get_item_configuration("work_cand1")["show"]
    assert dpg.get_item_configuration("work_candtext1")["text"] == "border"
    assert "dark ink on light" in [dpg.get_value(t) for t in ("digit_score", "digit_status", "digit_check",
                                                            "digit_check2")]

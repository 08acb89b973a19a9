"""View logic with a Dear PyGui context but no viewport (no display needed).

Builds the real UI, pushes a state through App.update(), and asserts on widget values,
texture buffers and the commands the controls send.
"""
from __future__ import annotations

import csv

import numpy as np
import pytest

dpg = pytest.importorskip("dearpygui.dearpygui", reason="Dear PyGui not installed")

from pico4ml.host_gui import images  # noqa: E402
from pico4ml.common import protocol as P  # noqa: E402
from pico4ml.host_gui import synthetic as S  # noqa: E402
from pico4ml.host_gui import view  # noqa: E402
from pico4ml.host_gui.hostcheck import try_load  # noqa: E402
from pico4ml.host_gui.link import LinkStatus  # noqa: E402
from pico4ml.host_gui.recording import Recorder  # noqa: E402
from pico4ml.host_gui.source import ReplaySource  # noqa: E402
from pico4ml.host_gui.state import State  # noqa: E402


class FakeSource:
    """Stands in for LiveSource: items to deliver on the next poll, commands it was sent."""

    live = True
    decoder_stats = None

    def __init__(self) -> None:
        self.pending: list = []
        self.sent: list[P.Message] = []
        self.up = True

    def poll(self, state: State) -> int:
        items, self.pending = self.pending, []
        for t, m in items:
            state.apply(t, m)
        return len(items)

    def send(self, msg: P.Message) -> bool:
        if self.up:
            msg.seq = len(self.sent)  # numbered like LiveSource's encoder does
            self.sent.append(msg)
        return self.up

    def sent_of(self, cls):
        return [m for m in self.sent if type(m) is cls]


@pytest.fixture(scope="module")
def host_model():
    model, _ = try_load()
    return model


@pytest.fixture
def app(tmp_path, host_model):
    dpg.create_context()
    src = FakeSource()
    a = view.App(src, State(host_model=host_model), out_dir=tmp_path)
    a.build_ui()
    yield a
    dpg.destroy_context()


def feed(app, items, t0=1000.0):
    app.source.pending += S.timed(items, fps=15, t0=t0)
    app.update()


def test_a_frame_reaches_every_widget(app, host_model):
    feed(app, [(LinkStatus("connected", "connected to /dev/pts/7", "/dev/pts/7")), S.hello()]
         + S.frame_messages(1, 3, host_model))
    assert dpg.get_value("status_text").startswith("CONNECTED")
    assert "firmware synthetic" in dpg.get_value("device_text")
    assert app.digit_text == "3"
    glyph = app.tex_digit.buf.reshape(view.DIGIT_H, view.DIGIT_W, 4)[..., 0] * 255
    assert np.allclose(glyph, view.digit_glyph(3), atol=0.01) and not np.allclose(glyph, view.digit_glyph(8), atol=1)
    score = app.state.prediction.scores[3]
    assert dpg.get_item_configuration("digit_score")["text"].strip() == f"{score * 100:5.1f} %".strip()
    check = dpg.get_item_configuration("digit_check")
    assert "OK" in check["text"] and check["color"][1] > 0.8  # green
    assert "1 checked, 0 mismatches" in dpg.get_value("check_text")
    assert "frames 1 | results 1" in dpg.get_value("link_text")
    # the winning bar is the tallest and the only one in the winner's colour
    tops = [dpg.get_item_configuration(f"bar{i}")["pmin"][1] for i in range(10)]
    assert int(np.argmin(tops)) == 3
    fills = [tuple(int(round(c * 255)) if c <= 1 else int(c) for c in dpg.get_item_configuration(f"bar{i}")["fill"])
             for i in range(10)]
    assert fills[3][:3] == view.WIN_COLOR[:3]
    assert all(f[:3] == view.BAR_COLOR[:3] for i, f in enumerate(fills) if i != 3)
    # textures hold the images: camera in the corner, 28x28 enlarged x8 with nearest neighbour
    cam = app.tex_cam.buf.reshape(view.CAM_TEX, view.CAM_TEX, 4)
    assert np.allclose(cam[:, :, 0] * 255, images.enlarge(app.state.frame, 4), atol=0.01)
    in28 = app.tex_in28.buf.reshape(view.IN28_VIEW, view.IN28_VIEW, 4)[..., 0] * 255
    assert np.allclose(in28, images.enlarge(app.state.input28, 8), atol=0.01)
    assert dpg.get_item_configuration("cam_image")["uv_max"] == pytest.approx([1.0, 1.0])
    assert dpg.get_value("work_label").endswith("64x64")
    pixels = bytes(i % 256 for i in range(260))
    feed(app, [P.Stage(1, P.STAGE_BOX, 0, 13, 20, (0, 0, 13, 20), 0, 0, (0, 0, 324, 324), pixels)])
    cfg = dpg.get_item_configuration("box_image")
    assert (cfg["width"], cfg["height"]) == (13 * 6, 20 * 6)  # integer factor 6, aspect kept
    box = app.tex_stages["box"].buf.reshape(view.STAGE_VIEW, view.STAGE_VIEW, 4)[:120, :78, 0] * 255
    assert np.allclose(box, images.enlarge(np.arange(260).reshape(20, 13) % 256, 6), atol=0.01)


def test_full_resolution_frame_in_bands_with_other_messages_between(app):
    """A FULLRES 324x324 FRAME comes in 13 row bands with other messages between them (the device
    sends each band as its USB buffer drains): the camera view shows it whole, pixel for pixel."""
    img = np.random.default_rng(4).integers(0, 256, (324, 324), dtype=np.uint8)
    items: list = []
    for y0 in range(0, 324, 25):
        rows = min(25, 324 - y0)
        items.append(P.Frame(7, 324, 324, y0, rows, 324, 324, 0, P.FLAG_FULLRES, 1, img[y0:y0 + rows].tobytes()))
        items.append(P.Stats(*range(10)))
    feed(app, items)
    assert app.state.frame.shape == (324, 324) and np.array_equal(app.state.frame, img)
    cam = app.tex_cam.buf.reshape(view.CAM_TEX, view.CAM_TEX, 4)[..., 0] * 255
    assert np.allclose(cam, img, atol=0.01)  # 1:1, nothing subsampled
    assert dpg.get_item_configuration("cam_image")["uv_max"] == pytest.approx([1.0, 1.0])


def test_connect_sends_ping_and_settings_and_sliders_send_params(app):
    feed(app, [LinkStatus("connected", "ok", "/dev/x")])
    kinds = [type(m) for m in app.source.sent]
    assert kinds == [P.Ping, P.SetParams, P.SetStream]  # camera options only once the user sets them
    assert app.source.sent[0].flags & P.PING_WANT_HELLO
    assert app.source.sent[2].mask & P.STREAM_STAGE  # the GUI asks for the stages
    dpg.set_value("param_threshold_pct", 55)
    dpg.set_value("param_polarity", view.POLARITIES[2])
    app._on_param()
    sent = app.source.sent_of(P.SetParams)[-1]
    from pico4ml.train.preprocess import PreprocessParams
    p = PreprocessParams.from_bytes(sent.data)
    assert p.threshold_pct == 55 and p.polarity == 2
    n = len(app.source.sent)
    dpg.set_value("param_box_size", 3)  # below the C's minimum of 4
    app._on_param()
    assert len(app.source.sent) == n and "out of range" in app.message
    dpg.set_value("stream_frame", False)
    dpg.set_value("stream_decimation", 4)
    app._on_stream()
    st = app.source.sent_of(P.SetStream)[-1]
    assert not st.mask & P.STREAM_FRAME and st.decimation == 4
    dpg.set_value("cam_mirror", True)
    app._on_camera()
    assert app.source.sent_of(P.SetCamera)[-1].flags & P.CAM_MIRROR


def test_disconnect_shows_and_commands_report_it(app):
    feed(app, [LinkStatus("connected", "ok"), LinkStatus("disconnected", "link lost: board unplugged")])
    assert dpg.get_value("status_text") == "DISCONNECTED: link lost: board unplugged"
    assert dpg.get_item_configuration("status_text")["color"][0] > 0.8  # red
    app.source.up = False
    app._on_send_drawing()
    assert "not connected" in app.message


def test_roi_rectangle_follows_the_params(app, host_model):
    feed(app, S.frame_messages(1, 5, host_model))
    pmin, pmax = (dpg.get_item_configuration("cam_roi")[k] for k in ("pmin", "pmax"))
    assert pmin[0] == pytest.approx(1) and pmax[0] == pytest.approx(view.CAM_VIEW - 1)  # whole square frame
    app.state.camera_stage = None  # no device ROI reported: the sliders' ROI is drawn
    dpg.set_value("param_roi_x", 81)
    dpg.set_value("param_roi_y", 0)
    dpg.set_value("param_roi_w", 162)
    dpg.set_value("param_roi_h", 162)
    app._on_param()
    pmin, pmax = (dpg.get_item_configuration("cam_roi")[k] for k in ("pmin", "pmax"))
    assert pmin == pytest.approx([82, 1], abs=0.01) and pmax == pytest.approx([242, 161], abs=0.01)
    dpg.set_value("zoom", 2.0)
    app._on_zoom(None, 2.0)
    assert dpg.get_item_configuration("cam_image")["pmax"] == pytest.approx([648, 648])


def test_preset_snapshot_csv_and_inject(app, host_model, tmp_path):
    feed(app, S.frame_messages(1, 2, host_model) + S.frame_messages(2, 8, host_model))
    dpg.set_value("preset_path", str(tmp_path / "p.json"))
    dpg.set_value("param_threshold_pct", 33)
    app._on_param()
    app._on_save_preset()
    dpg.set_value("param_threshold_pct", 70)
    app._on_load_preset()
    assert dpg.get_value("param_threshold_pct") == 33 and "loaded" in app.message
    dpg.set_value("preset_path", str(tmp_path / "missing.json"))
    app._on_load_preset()
    assert "load preset failed" in app.message
    app._on_snapshot()
    pngs = sorted(tmp_path.glob("*.png"))
    assert [p.name.split("-")[0] for p in pngs] == ["frame", "input28"]
    assert np.array_equal(images.load_grey(pngs[1]), app.state.input28)
    app._on_export_csv()
    rows = list(csv.reader(open(next(tmp_path.glob("predictions-*.csv")))))
    assert [r[3] for r in rows[1:]] == ["2", "8"]
    folder = tmp_path / "inject"
    for d in (1, 7):
        images.save_png(folder / f"{d}.png", S.camera_frame(d, 100))
    (folder / "notes.txt").write_text("not an image")
    dpg.set_value("inject_path", str(folder))
    app._on_inject()
    inj = app.source.sent_of(P.Inject)
    assert len(inj) == 2 and (inj[0].width, inj[0].height) == (100, 100) and "injected 2 of 2" in app.message
    assert app.state.inject_names == {inj[0].seq: "1.png", inj[1].seq: "7.png"}
    dpg.set_value("inject_path", str(tmp_path / "nope.png"))
    app._on_inject()
    assert "inject failed" in app.message and "no such file" in app.message


def test_drawn_digit_is_injected(app):
    view.paint_line(app.canvas, (56, 20), (56, 92), radius=5, value=0)
    app._on_send_drawing()
    inj = app.source.sent_of(P.Inject)[-1]
    img = np.frombuffer(inj.pixels, np.uint8).reshape(inj.height, inj.width)
    assert img.shape == (view.CANVAS, view.CANVAS) and img[56, 56] == 0 and img[56, 10] == 255
    app._on_clear_canvas()
    assert app.canvas.min() == 255


def test_pixel_under_the_mouse():
    img = np.zeros((28, 28), np.uint8)
    img[3, 5] = 77
    assert view.pixel_text(img, (100 + 5 * 8 + 7, 50 + 3 * 8), (100, 50), 8) == "pixel (5, 3) = 77"
    assert view.pixel_text(img, (99, 50), (100, 50), 8) == ""


def test_history_series(app, host_model):
    app.state.history_window_s = 2.0  # heat-map bins of 1/60 s: one result per bin at 15 fps
    feed(app, [m for i in range(12) for m in S.frame_messages(i + 1, i % 10, host_model)])
    x, y = dpg.get_value("times_s2")[:2]  # net() times
    assert len(x) == 12 and y[0] == pytest.approx(4.2) and x[-1] == 0.0
    heat = np.array(dpg.get_value("scores_heat")[0]).reshape(10, view.HEAT_BINS)[::-1]
    assert heat[:, -1].argmax() == 1 and 0.5 < heat[1, -1] <= 1.0  # the newest result: a 1, in the last bin
    assert np.count_nonzero(heat.sum(axis=0)) >= 2


def test_replay_scrub_moves_every_view(tmp_path, host_model):
    path = tmp_path / "r.p4rec"
    rec = Recorder(path)
    enc = P.Encoder()
    for t, m in S.timed(list(S.stream(20, host_model)), fps=10, t0=10.0):
        rec.write(t, enc.encode(m))
    rec.close()
    dpg.create_context()
    try:
        src = ReplaySource(path)
        src.playing = False
        a = view.App(src, State(host_model=host_model))
        a.build_ui()
        a.state = src.seek(0.55, a.state)  # frames 1..5
        a.update()
        assert a.digit_text == "4"
        assert dpg.get_value("status_text").startswith("REPLAY")
        a._on_scrub(None, 1.75)  # frames 1..17
        a.update()
        assert a.digit_text == "6"
        assert dpg.get_value("replay_pos") == pytest.approx(1.75)
        assert len(dpg.get_value("times_s2")[0]) == 17
        a.send(P.Ping())
        assert "offline replay" in a.message
    finally:
        dpg.destroy_context()


def test_errors_while_drawing_become_a_message_and_the_ui_goes_on(app, host_model, monkeypatch):
    def broken():
        raise ValueError("odd stage size")

    monkeypatch.setattr(app, "_push_images", broken)
    feed(app, S.frame_messages(1, 4, host_model))
    assert app.message == "display error: ValueError: odd stage size"
    monkeypatch.undo()
    feed(app, S.frame_messages(2, 5, host_model))
    assert app.digit_text == "5"


def test_a_dead_host_twin_is_reported(app):
    class DeadTwin:
        alive = False
        stderr_lines = ["pico4ml-twin: ready /dev/pts/9", "pico4ml-twin: cannot read frames/x.pgm"]

        class proc:
            returncode = 3

    app.twin = DeadTwin()
    app.update()
    assert "host twin exited (code 3)" in app.message and "cannot read frames" in app.message


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


def test_freeze_holds_the_view_and_histogram_describes_the_frame(app, host_model):
    feed(app, S.frame_messages(1, 4, host_model))
    assert "camera: mean" in dpg.get_value("hist_text")
    heights = dpg.get_value("hist_series")[1]
    assert sum(heights) == app.state.frame.size and len(heights) == view.HIST_BINS
    dpg.set_value("freeze", True)
    app._on_freeze(None, True)
    feed(app, S.frame_messages(2, 9, host_model))
    assert app.digit_text == "4" and "[view frozen]" in dpg.get_value("status_text")
    app._on_freeze(None, False)
    app.update()
    assert app.digit_text == "9"


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


def test_roi_dragged_on_the_camera_view(app, host_model):
    assert view.roi_from_drag((40, 20), (200, 180), 1.0, 324, 324) == (40, 20, 160, 160)
    assert view.roi_from_drag((200, 180), (40, 20), 0.5, 324, 324) == (80, 40, 324 - 80, 284)  # clipped to the frame
    assert view.roi_from_drag((10, 10), (13, 40), 1.0, 324, 324) is None
    feed(app, S.frame_messages(1, 4, host_model))
    app.set_roi((81, 0, 162, 162))
    from pico4ml.train.preprocess import PreprocessParams
    sent = PreprocessParams.from_bytes(app.source.sent_of(P.SetParams)[-1].data)
    assert (sent.roi_x, sent.roi_y, sent.roi_w, sent.roi_h) == (81, 0, 162, 162)
    assert dpg.get_value("param_roi_w") == 162 and "ROI 162x162" in app.message
    app.set_roi(None)
    assert "too small" in app.message


def test_a_host_mismatch_is_shown_in_red(app, host_model):
    if host_model is None:
        pytest.skip("no committed checkpoint")
    msgs = S.frame_messages(1, 7, host_model)
    res = msgs[-1]
    wrong = list(res.logits)
    other = (res.argmax + 3) % 10
    wrong[res.argmax], wrong[other] = wrong[other], wrong[res.argmax]
    msgs[-1] = P.Result(**{**res.__dict__, "logits": tuple(wrong), "argmax": other})
    feed(app, msgs)
    check = dpg.get_item_configuration("digit_check")
    assert "MISMATCH" in check["text"] and check["color"][0] > 0.9 and check["color"][1] < 0.5
    assert "1 mismatches" in dpg.get_value("check_text")


def test_a_failing_control_becomes_a_message(app, monkeypatch):
    def boom(msg):
        raise OSError("port vanished mid-write")

    monkeypatch.setattr(app.source, "send", boom)
    app._on_stream()
    assert app.message == "stream failed: OSError: port vanished mid-write"


def test_open_a_recording_from_the_window_and_go_back_to_live(app, host_model, tmp_path):
    path = tmp_path / "r.p4rec"
    rec = Recorder(path)
    enc = P.Encoder()
    for t, m in S.timed(list(S.stream(10, host_model)), fps=10, t0=10.0):
        rec.write(t, enc.encode(m))
    rec.close()
    feed(app, S.frame_messages(1, 7, host_model))
    live_state = app.state
    dpg.set_value("replay_path", str(path))
    app._on_open_replay()
    assert not app.source.live and "opened r.p4rec" in app.message
    app._on_scrub(None, 0.35)  # frames 1..3: digits 0, 1, 2
    app.update()
    assert app.digit_text == "2" and dpg.get_value("status_text").startswith("REPLAY")
    app._on_go_live()
    app.update()
    assert app.source.live and app.state is live_state and app.digit_text == "7"
    dpg.set_value("replay_path", str(tmp_path / "nope.p4rec"))
    app._on_open_replay()
    assert "open replay failed" in app.message and app.source.live


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
        a._on_record()
        assert dpg.get_item_configuration("record_button")["label"] == "stop recording"
        os.write(master, S.encoded(list(S.stream(5, host_model))))
        while a.state.results_rx < 5 and time.monotonic() < end:
            a.update()
            time.sleep(0.01)
        a._on_record()
        assert dpg.get_item_configuration("record_button")["label"] == "record"
        path = dpg.get_value("replay_path")
        replay = load_replay(path)
        assert sum(isinstance(m, P.Result) for _, m in replay.events) == 5
        assert "recorded" in a.message
    finally:
        source.close()
        os.close(master)
        os.close(slave)
        dpg.destroy_context()

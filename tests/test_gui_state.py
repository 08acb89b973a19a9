"""GUI logic with neither Dear PyGui nor a display: state, host check, presets, recordings, replay."""
from __future__ import annotations

import csv

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from pico4ml.common import protocol as P
from pico4ml.host_gui import synthetic as S
from pico4ml.host_gui.hostcheck import try_load
from pico4ml.host_gui.link import LinkStatus
from pico4ml.host_gui.presets import PresetError, Settings
from pico4ml.host_gui.recording import Recorder, RecordingError, iter_chunks, load_replay
from pico4ml.host_gui.source import ReplaySource
from pico4ml.host_gui.state import CSV_HEADER, Ring, State


@pytest.fixture(scope="module")
def host_model():
    model, note = try_load()
    assert model is not None, note  # the checkpoint is committed: its absence is a failure
    return model


def test_frames_are_kept_whole_and_the_newest_whole_one_is_shown(host_model):
    """Each frame's FRAME, STAGEs, INPUT28 and RESULT are joined by frame id; the views show the
    newest frame whose answer has come, and a FRAME still arriving in bands holds it back."""
    s = State(host_model=host_model)
    for m in S.frame_messages(1, 4, host_model):
        s.apply(1.0, m)
    rec = s.shown
    assert rec.frame_id == 1 and rec.frame.shape == (81, 81) and rec.scale == 4 and rec.prediction.result.argmax == 4
    assert set(rec.stages) == {"work", "ink", "norm"} and rec.input28 is s.input28
    cam = S.camera_frame(8, 324, seed=2)
    msgs = S.frame_messages(2, 8, host_model)
    s.apply(2.0, P.Frame(2, 324, 324, 0, 100, 324, 324, 0, P.FLAG_FULLRES, 1, cam[:100].tobytes()))
    for m in msgs[1:]:
        s.apply(2.0, m)
    assert s.shown is rec  # frame 2 answered, its picture still on the way
    s.apply(2.1, P.Frame(2, 324, 324, 100, 224, 324, 324, 0, P.FLAG_FULLRES, 1, cam[100:].tobytes()))
    assert s.shown.frame_id == 2 and np.array_equal(s.shown.frame, cam) and s.shown.scale == 1
    no_frame = [m for m in S.frame_messages(3, 1, host_model) if not isinstance(m, P.Frame)]
    for m in no_frame:
        s.apply(3.0, m)
    assert s.shown.frame_id == 3 and s.shown.frame is None
    assert s.latest_before(s.shown, "frame").frame_id == 2  # what the camera shows, marked stale
    s.apply(3.5, P.Frame(4, 324, 324, 0, 100, 324, 324, 0, P.FLAG_FULLRES, 1, cam[:100].tobytes()))
    for m in S.frame_messages(4, 6, host_model)[1:]:
        s.apply(3.5, m)
    assert s.shown.frame_id == 3
    for m in S.frame_messages(5, 7, host_model)[1:]:
        s.apply(5.0, m)  # frame 4's bands never finished: after a second, answers go on without it
    assert s.shown.frame_id == 5


def test_an_injected_record_keeps_the_image_that_was_sent(host_model):
    s = State(host_model=host_model)
    img = S.camera_frame(2, 60)
    s.inject_names[9], s.inject_images[9] = "two.png", img
    for m in S.frame_messages(9, 2, host_model):
        if not isinstance(m, P.Frame):
            m.flags |= P.FLAG_INJECTED
            s.apply(1.0, m)
    rec = s.record_at(9, injected=True)
    assert s.shown is rec and rec.name == "two.png" and rec.image is img and rec.frame is None
    assert s.record_at(9) is None  # a live frame 9 is another record


def test_link_status_keeps_the_time_of_the_change():
    s = State()
    s.apply(100.0, LinkStatus("connected", "ok", n=1))
    s.apply(130.0, LinkStatus("disconnected", "link lost", n=2))
    s.apply(131.0, LinkStatus("disconnected", "link lost again", n=3))
    assert s.status_since == 130.0


@pytest.fixture(scope="module")
def messages(host_model):
    return list(S.stream(30, host_model))


def test_ring_keeps_the_newest_rows_in_order():
    r = Ring(4, 2)
    for i in range(6):
        r.push([i, 10 * i])
    assert len(r) == 4 and r.view()[:, 0].tolist() == [2, 3, 4, 5]


def test_state_follows_the_stream(messages, host_model):
    s = State(host_model=host_model)
    for t, m in S.timed(messages, fps=10, t0=1000.0):
        s.apply(t, m)
    assert s.hello.firmware_version == "synthetic"
    assert s.frame.shape == (81, 81) and s.input28.shape == (28, 28)
    assert set(s.stages) == {"work", "ink", "norm"}
    assert s.results_rx == 30 and s.frames_rx == 30 and s.stats.frames == 30
    assert s.digit == 9 and s.checks == 30 and s.check_failures == 0
    timing = s.recent(s.timing)
    assert len(timing) == 30 and timing[-1, 0] == 0.0 and np.allclose(timing[:, 5], 4.2)  # net() ms
    s.history_window_s = 1.0  # 10 fps: the last second holds ~10 results
    assert 9 <= len(s.recent(s.scores_hist)) <= 11
    heat = s.scores_heatmap(10)
    filled = heat.sum(axis=0)
    assert heat.shape == (10, 10) and heat[9, -1] > 0.5 and np.allclose(filled[filled > 0], 1, atol=1e-3)


def test_host_check_flags_a_wrong_device_result(host_model):
    s = State(host_model=host_model, tolerance=0.02)
    frame = S.frame_messages(1, 7, host_model)
    res = frame[-1]
    bad = list(res.logits)
    bad[res.argmax], bad[(res.argmax + 1) % 10] = bad[(res.argmax + 1) % 10], bad[res.argmax]
    wrong = P.Result(**{**res.__dict__, "logits": tuple(bad), "argmax": (res.argmax + 1) % 10})
    for m in frame[:-1] + [wrong]:
        s.apply(1.0, m)
    assert s.checks == 1 and s.check_failures == 1
    assert not s.prediction.check.ok and s.prediction.check.host_digit == res.argmax
    assert any("[check]" in line for line in s.log)


def test_int8_results_are_checked_against_the_int8_reference(host_model):
    assert host_model.int8 is not None, "the int8 model is committed next to the float checkpoint"
    s = State(host_model=host_model, tolerance=1e-6)
    for m in S.frame_messages(1, 4, host_model, model_kind=P.MODEL_INT8):
        s.apply(1.0, m)
    assert s.checks == 1 and s.check_failures == 0 and s.prediction.check.max_diff < 1e-6


def test_status_errors_and_logs_reach_the_log():
    s = State()
    s.apply(1.0, LinkStatus("disconnected", "link lost: gone"))
    s.apply(1.0, P.Error(P.ERR_VALUE, P.SetParams.TYPE, 3, "roi outside frame"))
    s.apply(1.0, P.Log(P.LOG_WARN, "camera timeout"))
    assert s.status.state == "disconnected"
    assert "roi outside frame" in s.last_error and "0x02" in s.last_error
    assert s.log[-1] == "[warn] camera timeout"


def test_banded_frames_are_assembled():
    img = (np.arange(324 * 324) % 253).astype(np.uint8).reshape(324, 324)
    s = State()
    for y0 in range(0, 324, 108):
        s.apply(1.0, P.Frame(5, 324, 324, y0, 108, 324, 324, 0, P.FLAG_FULLRES, 1, img[y0:y0 + 108].tobytes()))
    assert s.frames_rx == 1 and np.array_equal(s.frame, img)


def test_export_csv(tmp_path, messages, host_model):
    s = State(host_model=host_model)
    for t, m in S.timed(messages):
        s.apply(t, m)
    path = tmp_path / "out" / "p.csv"
    assert s.export_csv(path) == 30
    rows = list(csv.reader(open(path)))
    assert rows[0] == CSV_HEADER and len(rows) == 31
    assert [int(r[3]) for r in rows[1:11]] == list(range(10))
    assert all(r[3] == r[CSV_HEADER.index("host_digit")] for r in rows[1:])  # device digit == host digit
    assert all(r[-1] == "" for r in rows[1:])  # no injected files


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(max_size=3000), cut=st.integers(0, 4000), flips=st.lists(st.integers(0, 10**6), max_size=8))
def test_any_bytes_never_break_decoder_or_state(data, cut, flips):
    """Random bytes, truncation and bit flips around valid traffic: nothing escapes, and the
    valid message after the damage is always decoded (resync within one packet)."""
    good = S.encoded([S.hello(), P.Result(frame_id=1, argmax=2, logits=(0.0,) * 10),
                      P.Input28(1, 0, bytes(range(256)) * 3 + bytes(16))])
    damaged = bytearray(good[:cut % (len(good) + 1)] + data)
    for f in flips:
        if damaged:
            damaged[f % len(damaged)] ^= 1 << (f % 8)
    marker = P.encode(P.Log(P.LOG_INFO, "after"))
    dec = P.Decoder()
    s = State()
    msgs = dec.feed(bytes(damaged)) + dec.feed(b"\0" + marker)
    for m in msgs:
        s.apply(1.0, m)
    assert isinstance(msgs[-1], P.Log) and msgs[-1].text == "after"


def test_preset_round_trip_and_errors(tmp_path):
    s = Settings()
    s.params.threshold_pct = 40
    s.params.roi_w = s.params.roi_h = 200
    s.stream.decimation = 3
    s.camera.flags = P.CAM_MIRROR
    path = s.save(tmp_path / "p.json")
    back = Settings.load(path)
    assert back.params == s.params and back.stream.decimation == 3 and back.camera.flags == P.CAM_MIRROR
    cmds = back.messages()
    assert [type(m) for m in cmds] == [P.SetParams, P.SetStream, P.SetCamera]
    assert cmds[0].data == s.params.to_bytes()
    for text, needle in (("{", "not JSON"), ('{"format": 9}', "not a pico4ml preset"),
                         ('{"format": 1, "params": {"threshold_pct": 400}}', "out of range"),
                         ('{"format": 1, "params": {"nonsense": 1}}', "unknown"),
                         ('{"format": 1, "stream": {"mask": "all"}}', "integer")):
        with pytest.raises(PresetError, match=needle):
            Settings.from_json(text)
    with pytest.raises(PresetError, match="No such file"):
        Settings.load(tmp_path / "missing.json")


def test_recording_round_trip_survives_a_truncated_tail(tmp_path, messages):
    data = S.encoded(messages)
    path = tmp_path / "s.p4rec"
    rec = Recorder(path, {"port": "test"})
    chunks = [data[i:i + 4096] for i in range(0, len(data), 4096)]
    for i, c in enumerate(chunks):
        rec.write(100.0 + i * 0.01, c)
    rec.close()
    got = list(iter_chunks(path))
    assert b"".join(c for _, c in got) == data and got[1][0] == pytest.approx(100.01)
    path.write_bytes(path.read_bytes()[:-100])  # killed mid-write
    replay = load_replay(path)
    assert len(replay.events) >= len(messages) - 6 and replay.decoder.stats.errors == 0
    assert replay.header["port"] == "test"
    import json
    import struct

    newer = tmp_path / "newer.p4rec"
    meta = json.dumps({"format": 3}).encode()
    newer.write_bytes(b"P4MLREC1" + struct.pack("<I", len(meta)) + meta)
    with pytest.raises(RecordingError, match="format 3 is not one this pico4ml reads"):
        load_replay(newer)
    old = tmp_path / "old.p4rec"  # a format 1 recording (no padding, no hello) still opens
    meta = json.dumps({"format": 1, "port": "/dev/ttyACM0"}).encode()
    old.write_bytes(b"P4MLREC1" + struct.pack("<I", len(meta)) + meta + struct.pack("<dI", 5.0, len(data)) + data)
    assert len(load_replay(old).events) == len(messages)
    bad = tmp_path / "bad.p4rec"
    bad.write_bytes(b"hello")
    with pytest.raises(RecordingError, match="not a pico4ml recording"):
        load_replay(bad)
    with pytest.raises(RecordingError, match="no such recording"):
        load_replay(tmp_path / "nope.p4rec")


def test_recording_header_gets_the_hello_when_it_arrives(tmp_path, messages):
    rec = Recorder(tmp_path / "h.p4rec", {"port": "x", "params": {"threshold_pct": 40}})
    rec.write(1.0, b"\0")
    assert rec.update_header(hello={"firmware_version": "1.2.3", "model_name": "m"})
    assert not rec.update_header(junk="x" * 10_000)  # does not fit: header unchanged
    rec.write(2.0, S.encoded(messages))
    rec.close()
    replay = load_replay(tmp_path / "h.p4rec")
    assert replay.header["format"] == 2 and replay.header["hello"]["firmware_version"] == "1.2.3"
    assert replay.header["params"] == {"threshold_pct": 40} and "junk" not in replay.header
    assert len(replay.events) == len(messages)


def record_at_10_fps(path, messages):
    """A recording of the messages, one frame every 100 ms from t = 500 s."""
    rec = Recorder(path)
    enc = P.Encoder()
    for t, m in S.timed(messages, fps=10, t0=500.0):
        rec.write(t, enc.encode(m))
    rec.close()
    return path


def test_replay_steps_one_frame_at_a_time(tmp_path, messages, host_model):
    src = ReplaySource(record_at_10_fps(tmp_path / "s.p4rec", messages))
    s = src.seek(0.0, State(host_model=host_model))
    ids = []
    for _ in range(4):
        s = src.step(1, s)
        ids.append(s.shown.frame_id)
    s = src.step(-1, s)
    ids.append(s.shown.frame_id)
    assert ids == [1, 2, 3, 4, 3] and not src.playing  # at 0 s no frame has been answered yet
    for _ in range(40):
        s = src.step(1, s)
    assert s.shown.frame_id == 30


def test_replay_scrubbing_rebuilds_the_state(tmp_path, messages, host_model):
    src = ReplaySource(record_at_10_fps(tmp_path / "s.p4rec", messages))
    assert src.duration == pytest.approx(3.0, abs=0.01)  # HELLO at 0, frame k at k/10 s
    s = src.seek(1.05, State(host_model=host_model))
    assert s.prediction.result.frame_id == 10 and s.results_rx == 10 and s.hello is not None
    assert s.checks == 10 and s.check_failures == 0
    s = src.seek(0.0, s)
    assert s.prediction is None or s.prediction.result.frame_id == 1
    src.playing, src.speed = True, 1000.0
    import time
    time.sleep(0.01)
    src.poll(s)
    assert s.prediction.result.frame_id == 30 and not src.playing


def test_an_injected_answer_stays_on_screen_while_the_stream_goes_on(host_model):
    s = State(host_model=host_model, hold_injected_s=3.0)
    live = S.frame_messages(1, 1, host_model)
    injected = [m for m in S.frame_messages(1, 6, host_model) if not isinstance(m, P.Frame)]
    for m in injected:
        m.flags |= P.FLAG_INJECTED
    for m in live:
        s.apply(10.0, m)
    for m in injected:  # same frame id as the live frame: must not be confused with it
        s.apply(10.5, m)
    assert s.digit == 6 and s.last_injected.result.argmax == 6 and s.prediction.check.ok
    for m in S.frame_messages(2, 3, host_model):
        s.apply(12.0, m)
    assert s.digit == 6 and s.results_rx == 3 and s.prediction.result.injected  # held, but counted
    assert np.array_equal(s.input28, injected[-2].to_array())
    for m in S.frame_messages(3, 3, host_model):
        s.apply(14.0, m)
    assert s.digit == 3 and not s.prediction.result.injected and s.check_failures == 0


def test_grey_stats():
    from pico4ml.host_gui.images import grey_stats

    img = np.array([[0, 255], [128, 128]], np.uint8)
    hist, st = grey_stats(img, bins=4)
    assert hist.tolist() == [1, 0, 2, 1] and st["min"] == 0 and st["max"] == 255
    assert st["mean"] == pytest.approx(127.75) and st["clip_dark_pct"] == 25 and st["clip_bright_pct"] == 25


def test_a_recording_started_mid_packet_has_no_decode_error(tmp_path, messages):
    """The record button starts in the middle of the stream: the cut packet it begins with is
    not an error (as on a live link); a recording that starts on a packet keeps its first message."""
    data = S.encoded(messages)
    cut = data.index(b"\0", 100) - 40  # inside the second packet
    for name, start, first_lost in (("mid.p4rec", cut, True), ("whole.p4rec", 0, False)):
        rec = Recorder(tmp_path / name)
        rec.write(1.0, data[start:])
        rec.close()
        replay = load_replay(tmp_path / name)
        assert replay.decoder.stats.errors == 0, name
        assert len(replay.events) == len(messages) - (2 if first_lost else 0)

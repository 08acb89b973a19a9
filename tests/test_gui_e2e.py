"""End to end: the GUI and the firmware's host twin over a real pty, under Xvfb.

The GUI must show, for every 28x28 it displays, the prediction the exported model makes on
that very input; killing the twin mid-stream must show DISCONNECTED, and a restarted twin
(on a new pty, reached through the same path as a re-enumerated board would be) must be
picked up again without touching the GUI.
"""
from __future__ import annotations

import json

import numpy as np
import pytest

from pico4ml.host_gui.headless import run_python, why_no_display

pytestmark = pytest.mark.gui

E2E = r"""
import json, os, subprocess, sys, threading, time
import numpy as np
import dearpygui.dearpygui as dpg
from pico4ml.host_gui import view
from pico4ml.host_gui.hostcheck import try_load
from pico4ml.host_gui.link import Link
from pico4ml.host_gui.source import LiveSource
from pico4ml.host_gui.state import State
from pico4ml.host_twin.twin import start_twin

out = sys.argv[1]
port = os.path.join(out, "ttyPICO4ML")  # stable name, like /dev/serial/by-id/...

def start():
    twin = start_twin(fps=20)
    tmp = port + ".new"
    os.symlink(twin.path, tmp)
    os.replace(tmp, port)
    return twin

twin = start()
source = LiveSource(Link(port, backoff=(0.05, 0.3)).start())
model, _ = try_load()
dpg.create_context()
app = view.App(source, State(host_model=model), twin=twin, twin_factory=lambda: start_twin(fps=20))
view.create(app, width=1280, height=720)
shown, log = [], {}
last = None

def step():
    global last
    app.update()
    dpg.render_dearpygui_frame()
    sc = app.binding.committed  # what every widget shows at this render
    rec = sc.record
    if rec is not None and rec.prediction is not None and rec.frame_id != last and sc.in28 is not None \
            and sc.rerun is None:
        last = rec.frame_id
        tops = [dpg.get_item_configuration(f"bar{i}")["pmin"][1] for i in range(10)]
        shown.append({"frame_id": last, "digit": app.shown_digit, "bar_winner": int(np.argmin(tops)),
                      "kind": rec.prediction.result.model_kind, "in28": sc.in28.astype(int).ravel().tolist(),
                      "stale": sc.in28_note != "", "injected": rec.injected,
                      "status": int(rec.prediction.result.status), "score": float(rec.prediction.result.score),
                      "min_score_pct": int(rec.prediction.result.min_score_pct)})

def run_until(pred, seconds):
    t0 = time.monotonic()
    while time.monotonic() - t0 < seconds:
        step()
        if pred():
            return time.monotonic() - t0
    return None

status = lambda: dpg.get_value("status_text")
log["first_result"] = run_until(lambda: len(shown) >= 1, 10)
run_until(lambda: len(shown) >= 24, 30)  # enough frames even on a loaded machine
log["before_kill"] = len(shown)
# 1. the board goes away and comes back under the same name: the link follows by itself
app.twin = None  # this twin is ours to restart by hand
twin.proc.kill()
log["disconnected_after"] = run_until(lambda: status().startswith("DISCONNECTED"), 5)
for _ in range(3):
    step()  # the views grey with the next scene
log["status_when_down"] = status()
log["log_when_down"] = dpg.get_value("log_text")
log["status_color"] = list(dpg.get_item_configuration("status_text")["color"])
log["grey_when_down"] = dpg.get_item_configuration("cam_image")["color"][0]
log["fps_when_down"] = dpg.get_value("ctr_fps")
time.sleep(0.5)
twin.stop()
twin = start()
n = len(shown)
log["reconnected_after"] = run_until(lambda: status().startswith("CONNECTED") and len(shown) > n + 3, 10)
log["status_after"] = status()
log["grey_after"] = dpg.get_item_configuration("cam_image")["color"][0]
# 2. the twin of --sim dies: its exit reason is shown, and "restart twin" brings it back (real click)
app.twin = twin
twin.proc.kill()
log["twin_reported_after"] = run_until(lambda: "SIGKILL" in status() and dpg.is_item_shown("restart_twin"), 5)
log["status_twin_dead"] = status()
run_until(lambda: False, 0.3)
x, y = dpg.get_item_rect_min("restart_twin")
w, h = dpg.get_item_rect_size("restart_twin")
win = subprocess.run(["xdotool", "search", "--name", "pico4ml"], capture_output=True, text=True).stdout.split()[0]
def click():
    subprocess.run(["xdotool", "mousemove", "--window", win, str(int(x + w / 2)), str(int(y + h / 2))], check=True)
    time.sleep(0.6)
    subprocess.run(["xdotool", "mousedown", "1"], check=True)
    time.sleep(0.4)
    subprocess.run(["xdotool", "mouseup", "1"], check=True)
t = threading.Thread(target=click); t.start()
n = len(shown)
log["restarted_after"] = run_until(lambda: status().startswith("CONNECTED") and len(shown) > n + 3, 20)
log["status_restarted"] = status() + f" (button at {x}, {y}, {w}x{h}; message {app.message})"
log["new_twin"] = app.twin is not twin and app.twin is not None and app.twin.alive
log["checks"], log["check_failures"] = app.state.checks, app.state.check_failures
log["decode_errors"] = source.decoder_stats.errors
log["shown"] = shown
h = app.state.hello
log["hello"] = None if h is None else {"hash": h.weights_hash, "kind": h.model_kind}
log["host_hash"] = {"0": model.hash_for(0), "1": model.hash_for(1)} if model is not None else None
json.dump(log, open(os.path.join(out, "e2e.json"), "w"))
source.close()
twin.stop()
if app.twin is not None:
    app.twin.stop()
dpg.destroy_context()
"""


@pytest.fixture(scope="module")
def e2e(tmp_path_factory):
    import shutil

    from pico4ml.host_twin.twin import build_twin

    reason = why_no_display()
    if reason:
        pytest.skip(reason)
    if shutil.which("xdotool") is None:
        pytest.skip("xdotool not installed (apt-get install xdotool)")
    build_twin()  # a compile error fails the test, it does not skip it
    out = tmp_path_factory.mktemp("e2e")
    proc = run_python(E2E, str(out), timeout=200)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads((out / "e2e.json").read_text())


def exported_model_digits(inputs: np.ndarray, kind: int) -> np.ndarray:
    """What the exported model predicts on these 28x28 inputs (float or int8 reference)."""
    from pico4ml.train import models, quantize
    from pico4ml.common.paths import DEFAULT_CHECKPOINT

    if kind == 1:
        q = quantize.load_quantized(quantize.int8_path(DEFAULT_CHECKPOINT))
        return np.argmax(quantize.int8_forward(q, inputs), axis=1)
    state, _ = models.load_state(DEFAULT_CHECKPOINT)
    return np.argmax(models.numpy_forward(state, inputs), axis=1)


def test_shown_predictions_equal_the_exported_model(e2e):
    hello = e2e["hello"]
    assert hello is not None, "the twin never said HELLO"
    host_hash = e2e["host_hash"][str(hello["kind"])]
    assert host_hash.startswith(hello["hash"]), (
        f"the twin runs model {hello['hash']}, the committed checkpoint is {host_hash[:16]}: re-export")
    shown = [s for s in e2e["shown"] if not s["injected"] and not s["stale"]]
    assert e2e["first_result"] is not None and len(shown) >= 20
    inputs = np.array([s["in28"] for s in shown], np.uint8).reshape(-1, 28, 28)
    assert inputs.reshape(len(inputs), -1).max(axis=1).min() > 100  # real digits, not blank textures
    for kind in {s["kind"] for s in shown}:
        idx = [i for i, s in enumerate(shown) if s["kind"] == kind]
        expect = exported_model_digits(inputs[idx], kind)
        # RESULT v2's status: a digit, or '?' (unsure) / '-' (no digit) instead of it
        glyph = {1: "-", 2: "?"}
        assert [glyph.get(shown[i]["status"], expect[k]) for k, i in enumerate(idx)] == \
            [shown[i]["digit"] if shown[i]["status"] else int(shown[i]["digit"]) for i in idx]
        assert [shown[i]["bar_winner"] for i in idx] == expect.tolist()
        for i in idx:  # UNSURE exactly when the device's score is below its threshold
            if shown[i]["status"] != 1:
                assert (shown[i]["status"] == 2) == (shown[i]["score"] * 100 < shown[i]["min_score_pct"])
    assert sum(s["status"] == 0 for s in shown) >= len(shown) // 2
    assert len({s["digit"] for s in shown}) >= 3  # the twin shows varied digits
    assert e2e["checks"] >= len(shown) - 2 and e2e["check_failures"] == 0
    assert e2e["decode_errors"] <= 2  # at most the packets cut by the two kills


def test_killing_the_twin_shows_disconnected_and_a_restart_reconnects(e2e):
    assert e2e["disconnected_after"] is not None and e2e["disconnected_after"] < 5
    assert "link lost" in e2e["log_when_down"]
    assert "Retrying" in e2e["status_when_down"] or "Reconnecting" in e2e["status_when_down"]
    assert e2e["status_when_down"].startswith("DISCONNECTED since ")
    assert e2e["status_color"][0] > 0.8 and e2e["status_color"][1] < 0.5  # red
    assert e2e["grey_when_down"] < 0.5 and "device  -  fps" in e2e["fps_when_down"]  # greyed, no stale fps
    assert e2e["reconnected_after"] is not None, e2e["status_after"]
    assert e2e["status_after"].startswith("CONNECTED") and e2e["grey_after"] == pytest.approx(1.0)


def test_a_dead_sim_twin_says_why_and_the_restart_button_brings_it_back(e2e):
    assert e2e["twin_reported_after"] is not None and e2e["twin_reported_after"] < 5, e2e["status_twin_dead"]
    assert "the host twin was killed by SIGKILL" in e2e["status_twin_dead"]
    assert "ready" not in e2e["status_twin_dead"]  # not its start-up line
    assert e2e["restarted_after"] is not None, e2e["status_restarted"]
    assert e2e["new_twin"] and e2e["status_restarted"].startswith("CONNECTED")


def _descendants(pid: int) -> list[int]:
    """Process ids below pid (Linux /proc), to find the GUI under xvfb-run and its twin."""
    import os

    children: dict[int, list[int]] = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                ppid = int(open(f"/proc/{d}/stat").read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(d))
    out, todo = [], [pid]
    while todo:
        for c in children.get(todo.pop(), []):
            out.append(c)
            todo.append(c)
    return out


def _cmdline(pid: int) -> str:
    try:
        return open(f"/proc/{pid}/cmdline", "rb").read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def test_the_demo_command_runs_records_and_stops_cleanly(tmp_path):
    """`pico4ml-gui --sim --record FILE` as a user runs it; SIGTERM stops it and its twin; the
    recording then opens with --replay."""
    import os
    import signal
    import subprocess
    import sys
    import time

    from pico4ml.host_gui.headless import display_command
    from pico4ml.host_gui.recording import load_replay

    reason = why_no_display()
    if reason:
        pytest.skip(reason)
    if not os.path.isdir("/proc"):
        pytest.skip("needs Linux /proc to find the child processes")
    rec = tmp_path / "demo.p4rec"
    cmd = display_command([sys.executable, "-m", "pico4ml.host_gui", "--sim", "--record", str(rec),
                           "--out", str(tmp_path)])
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        gui = twin = None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and (gui is None or twin is None or not rec.exists()
                                               or rec.stat().st_size < 50_000):
            time.sleep(0.5)
            procs = {p: _cmdline(p) for p in _descendants(proc.pid)}
            gui = next((p for p, c in procs.items() if "pico4ml.host_gui" in c and "xvfb-run" not in c), None)
            twin = next((p for p, c in procs.items() if "pico4ml-twin" in c), None)
        assert gui and twin, f"GUI or twin not found: {procs}"
        os.kill(gui, signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err[-2000:]
    assert "Traceback" not in err
    assert not os.path.exists(f"/proc/{twin}") or "pico4ml-twin" not in _cmdline(twin)  # twin stopped too
    replay = load_replay(rec)
    assert sum(type(m).__name__ == "Result" for _, m in replay.events) >= 5
    assert replay.decoder.stats.errors <= 1

"""Every command line refuses bad input with a clear message and a non-zero exit, never a
traceback or an endless retry. Each tool runs as a user runs it: its installed console
script (or `python -m` when the venv has none), in a subprocess."""
from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

MODULES = {
    "pico4ml-train": "pico4ml.train.train",
    "pico4ml-eval": "pico4ml.host_twin.evaluate",
    "pico4ml-classify": "pico4ml.host_twin.classify",
    "pico4ml-twin": "pico4ml.host_twin.twin",
    "pico4ml-export": "pico4ml.export.export",
    "pico4ml-export-int8": "pico4ml.export.int8",
    "pico4ml-quantize": "pico4ml.train.quantize",
    "pico4ml-monitor": "pico4ml.host_gui.monitor",
    "pico4ml-gui": "pico4ml.host_gui",
}


def cli(tool: str, *args: str, timeout: float = 60.0, cwd: Path | None = None) -> tuple[int, str, float]:
    """(exit code, stdout + stderr, seconds) of one run."""
    script = Path(sys.executable).parent / tool
    cmd = [str(script)] if script.exists() else [sys.executable, "-m", MODULES[tool]]
    t0 = time.monotonic()
    proc = subprocess.run([*cmd, *args], capture_output=True, text=True, timeout=timeout, cwd=cwd,
                          env=dict(os.environ, PYTHONWARNINGS="ignore"))
    return proc.returncode, proc.stdout + proc.stderr, time.monotonic() - t0


def refused(tool: str, *args: str, expect: str, code: int = 2, **kw) -> str:
    rc, out, _ = cli(tool, *args, **kw)
    assert rc == code, f"{tool} {' '.join(args)}: exit {rc}\n{out}"
    assert expect in out, f"{tool} {' '.join(args)}: no '{expect}' in\n{out}"
    assert "Traceback" not in out, out
    return out


@pytest.mark.parametrize("args,expect", [
    (["--epochs", "0"], "argument --epochs: must be >= 1, got 0"),
    (["--epochs", "-1"], "argument --epochs: must be >= 1, got -1"),
    (["--epochs", "two"], "argument --epochs: must be a whole number"),
    (["--batch-size", "0"], "argument --batch-size: must be >= 1"),
    (["--lr", "-1"], "argument --lr: must be > 0, got -1"),
    (["--lr", "0"], "argument --lr: must be > 0"),
    (["--lr", "nan"], "argument --lr: must be a finite number"),
    (["--camera-samples", "-5"], "argument --camera-samples: must be >= 1, got -5"),
    (["--limit", "0"], "argument --limit: must be >= 1"),
    (["--max-steps", "-3"], "argument --max-steps: must be >= 1"),
    (["--extra-frames", "/no/such/dir"], "argument --extra-frames: /no/such/dir: no such folder"),
    (["--init", "/no/such.safetensors"], "argument --init: /no/such.safetensors: no such file"),
    (["--extra-repeat", "0"], "argument --extra-repeat: must be >= 1"),
    (["--extra-repeat", "5"], "--extra-repeat weighs --extra-frames"),
])
def test_train_refuses_bad_numbers_and_paths(args, expect, tmp_path):
    refused("pico4ml-train", *args, "--out", str(tmp_path / "m.safetensors"), expect=expect)


def test_train_refuses_a_broken_init_checkpoint_and_an_empty_frame_folder(tmp_path):
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"\0" * 64)
    bad.with_suffix(".json").write_text('{"widths": [784, 400, 10]}')
    refused("pico4ml-train", "--init", str(bad), "--out", str(tmp_path / "m.safetensors"),
            expect="not a readable safetensors")
    (tmp_path / "frames" / "7").mkdir(parents=True)
    refused("pico4ml-train", "--extra-frames", str(tmp_path / "frames"), "--out", str(tmp_path / "m.safetensors"),
            expect="no labelled frames")
    assert not (tmp_path / "m.safetensors").exists()


@pytest.mark.parametrize("port", ["/dev/null", "PLAIN", "FOLDER"])
def test_monitor_refuses_what_is_not_a_serial_port_at_once(port, tmp_path):
    """--count 3 --port /dev/null retried forever showing (25, 'Inappropriate ioctl for device')."""
    if port == "PLAIN":
        port = str(tmp_path / "capture.txt")
        Path(port).write_text("hello")
    elif port == "FOLDER":
        port = str(tmp_path)
    rc, out, seconds = cli("pico4ml-monitor", "--count", "3", "--port", port)
    assert rc == 2 and seconds < 20, out
    assert ("is not a serial port" in out or "is a folder" in out) and "Traceback" not in out, out
    assert "Inappropriate ioctl" not in out


def test_monitor_ends_with_a_message_when_no_board_answers(tmp_path):
    rc, out, seconds = cli("pico4ml-monitor", "--count", "3", "--port", str(tmp_path / "ttyACM7"), "--timeout", "1")
    assert rc == 1 and seconds < 20, out
    assert "0 of 3 predictions, nothing more for 1 s" in out and "does not exist" in out
    rc, out, _ = cli("pico4ml-monitor", "--port", str(tmp_path / "ttyACM7"), "--timeout", "1")
    assert rc == 1 and "no prediction, nothing more for 1 s" in out


def test_monitor_without_a_board_gives_up_after_its_default_timeout(monkeypatch):
    """No --port and no board plugged in (or one that is not a Pico): --count waits 10 s, not forever."""
    import serial.tools.list_ports
    if any(p.vid == 0x2E8A for p in serial.tools.list_ports.comports()):
        pytest.skip("a Raspberry Pi USB device is plugged in here")
    rc, out, seconds = cli("pico4ml-monitor", "--count", "1")
    assert rc == 1 and 9 < seconds < 30, out
    assert "No Pico4ML found" in out and "nothing more for 10 s" in out


@pytest.mark.parametrize("args,expect", [
    (["--count", "-1"], "argument --count: must be >= 0, got -1"),
    (["--every", "0"], "argument --every: must be >= 1"),
    (["--duration", "-2"], "argument --duration: must be >= 0"),
    (["--timeout", "-1"], "argument --timeout: must be >= 0"),
    (["--stats-every", "x"], "argument --stats-every: must be a number"),
    (["--sim", "--sim-fps", "-1"], "argument --sim-fps: must be >= 0"),
    (["--sim", "--hold", "-1"], "argument --hold: must be >= 0"),
    (["--tolerance", "-0.1"], "argument --tolerance: must be >= 0"),
    (["--baud", "0"], "argument --baud: must be >= 1"),
    (["--port", "/dev/ttyACM0", "--baud", "1200"], "refusing --baud 1200"),
    (["--inject", "/no/such.png"], "argument --inject: /no/such.png: no such file or folder"),
    (["--replay", "/no/such.p4rec"], "/no/such.p4rec: no such recording"),
    (["--preset", "/no/such.json", "--port", "/dev/null"], "/no/such.json: No such file or directory"),
    (["--camera", "0"], "--camera feeds the host twin: add --sim"),
    (["--csv", "/no/such/dir/p.csv", "--port", "/dev/null"], "its folder does not exist"),
])
def test_monitor_refuses_bad_arguments(args, expect):
    refused("pico4ml-monitor", *args, expect=expect)


def test_monitor_inject_of_files_that_cannot_be_sent_exits_non_zero(tmp_path):
    import cv2
    (tmp_path / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n but nothing else")
    cv2.imwrite(str(tmp_path / "huge.png"), np.zeros((400, 400), np.uint8))
    # checked before anything is started: no port is opened for them
    refused("pico4ml-monitor", "--port", "/dev/null", "--inject", str(tmp_path / "broken.png"),
            expect="broken.png: not an image OpenCV can read")
    refused("pico4ml-monitor", "--port", "/dev/null", "--inject", str(tmp_path / "huge.png"),
            expect="400x400 is too big to send")
    empty = tmp_path / "empty"
    empty.mkdir()
    refused("pico4ml-monitor", "--port", "/dev/null", "--inject", str(empty), expect="no image files in this folder")


def test_monitor_refuses_a_recording_it_cannot_read(tmp_path):
    import struct

    from pico4ml.host_gui.recording import MAGIC, Recorder
    junk = tmp_path / "junk.p4rec"
    junk.write_bytes(b"junk")
    refused("pico4ml-monitor", "--replay", str(junk), expect="not a pico4ml recording")
    bad_first = tmp_path / "bad-first.p4rec"  # a valid header, then a record with an impossible length
    Recorder(bad_first).close()
    with open(bad_first, "ab") as f:
        f.write(struct.pack("<dI", 1.0, 0xFFFFFFF0) + b"\x01\x02\x03")
    refused("pico4ml-monitor", "--replay", str(bad_first), expect="first record is damaged")
    empty = tmp_path / "empty.p4rec"
    Recorder(empty).close()
    refused("pico4ml-monitor", "--replay", str(empty), expect="the recording is empty")
    noise = tmp_path / "noise.p4rec"
    r = Recorder(noise)
    r.write(1.0, bytes(range(1, 256)) * 4)
    r.close()
    refused("pico4ml-monitor", "--replay", str(noise), expect="not one protocol message")
    assert MAGIC == noise.read_bytes()[:len(MAGIC)]


@pytest.mark.parametrize("args,expect", [
    (["--fps", "-1"], "argument --fps: must be >= 0"),
    (["--fps", "5000"], "argument --fps: must be <= 1000"),
    (["--count", "0"], "argument --count: must be >= 1"),
    (["--tcp", "70000"], "argument --tcp: must be <= 65535"),
    (["--size", "3x3"], "argument --size: width and height must be 8..1024"),
    (["--size", "big"], "argument --size: wants WxH"),
    (["--hold", "-1"], "argument --hold: must be >= 0"),
    (["--hello-ms", "-5"], "argument --hello-ms: must be >= 0"),
    (["/no/such/frame.png"], "argument frames: /no/such/frame.png: no such file or folder"),
    (["--camera", "0", "--stdio"], "--camera needs the pty (default) or --tcp"),
])
def test_twin_refuses_bad_arguments(args, expect):
    refused("pico4ml-twin", *args, expect=expect)


def test_twin_refuses_frames_and_cameras_it_cannot_use(tmp_path):
    (tmp_path / "empty").mkdir()
    refused("pico4ml-twin", str(tmp_path / "empty"), expect="no image files")
    (tmp_path / "broken.png").write_bytes(b"not a png")
    refused("pico4ml-twin", str(tmp_path / "broken.png"), expect="broken.png: not an image OpenCV can read")
    if not Path("/dev/video9").exists():
        refused("pico4ml-twin", "--camera", "9", expect="camera 9: no webcam (/dev/video9 does not exist)")
    refused("pico4ml-twin", "--camera", str(tmp_path / "missing.mp4"), expect="missing.mp4: no such video file")
    (tmp_path / "notes.avi").write_text("not a video")
    out = refused("pico4ml-twin", "--camera", str(tmp_path / "notes.avi"), expect="notes.avi")
    assert "not a video" in out or "no frame" in out


def test_gui_refuses_bad_arguments_before_opening_a_window():
    refused("pico4ml-gui", "--sim-fps", "-3", expect="argument --sim-fps: must be >= 0")
    refused("pico4ml-gui", "--window", "0", expect="argument --window: must be > 0")
    refused("pico4ml-gui", "--sim", "--camera", "0", "--sim-source", ".",
            expect="--sim-source and --camera are two sources")


def test_classify_says_which_files_it_cannot_read(tmp_path):
    from conftest import require_tool
    require_tool("gcc")
    good = tmp_path / "frame.pgm"
    good.write_bytes(b"P5\n40 40\n255\n" + bytes([200]) * 1600)
    (tmp_path / "broken.png").write_bytes(b"nope")
    rc, out, _ = cli("pico4ml-classify", str(good), str(tmp_path / "broken.png"), str(tmp_path / "missing.pgm"),
                     str(tmp_path))
    assert rc == 1 and "Traceback" not in out, out
    assert "broken.png: cannot decode image" in out and "missing.pgm: no such file" in out
    assert "not a regular file" in out and f"{good} " in out  # the good one is still classified
    refused("pico4ml-classify", str(good), "--model", "nonsense", expect="argument --model: invalid choice")


@pytest.mark.parametrize("args,expect", [
    (["--camera", "-5"], "argument --camera: must be >= 0, got -5"),
    (["--frames", "/no/such/dir"], "argument --frames: /no/such/dir: no such folder"),
    (["--checkpoint", "/no/such.safetensors"], "checkpoint /no/such.safetensors not found"),
    (["--json"], "--model and --json go with --frames"),
])
def test_eval_refuses_bad_arguments(args, expect):
    refused("pico4ml-eval", *args, expect=expect)


def test_eval_refuses_a_frame_folder_without_labels(tmp_path):
    (tmp_path / "shots").mkdir()
    (tmp_path / "shots" / "loose.pgm").write_bytes(b"P5\n8 8\n255\n" + bytes(64))
    refused("pico4ml-eval", "--frames", str(tmp_path / "shots"), expect="put each in the folder of its label")
    refused("pico4ml-eval", "--frames", str(tmp_path / "shots"), "--camera", "10",
            expect="--camera scores simulated frames")


@pytest.mark.parametrize("tool,args,expect", [
    ("pico4ml-export", ["--vectors", "0"], "argument --vectors: must be >= 1"),
    ("pico4ml-export", ["--name", "my model"], "argument --name: must be a C identifier"),
    ("pico4ml-export", ["--func", "2net"], "argument --func: must be a C identifier"),
    ("pico4ml-export", ["--checkpoint", "/no/such.safetensors"], "checkpoint /no/such.safetensors not found"),
    ("pico4ml-export-int8", ["--vectors", "20000"], "argument --vectors: must be <= 10000"),
    ("pico4ml-export-int8", ["--model", "/no/such_int8.safetensors"], "/no/such_int8.safetensors"),
    ("pico4ml-quantize", ["--calib-images", "0"], "argument --calib-images: must be >= 1"),
    ("pico4ml-quantize", ["--checkpoint", "/no/such.safetensors", "--out", "/tmp/x_int8.safetensors"],
     "not found"),
])
def test_exporters_refuse_bad_arguments(tool, args, expect, tmp_path):
    refused(tool, *args, "--out-dir" if tool.startswith("pico4ml-export") else "--force",
            *([str(tmp_path)] if tool.startswith("pico4ml-export") else []), expect=expect)


def test_exporters_refuse_an_output_folder_they_cannot_write(tmp_path):
    target = tmp_path / "a-file"  # a folder inside a plain file: nobody, root included, can write there
    target.write_text("x")
    out_dir = target / "sub"
    rc, out, _ = cli("pico4ml-export", "--out-dir", str(out_dir), "--vectors", "1", "--force", timeout=300)
    assert rc == 2 and "Traceback" not in out, out
    assert "cannot write to" in out and "Not a directory" in out

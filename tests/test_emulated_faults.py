"""Faults injected around the unmodified firmware on the emulated board: a sensor with the
wrong id or that does not answer on I2C, a bus that stops (no VSYNC), frames that end early,
a host that stops reading, DTR low. What the firmware must do (docs/protocol.md, the camera
task's comments): report each camera fault as ERROR camera over USB and in red on the LCD,
recover when the fault goes, and keep running whatever the host does.
"""
from __future__ import annotations

import numpy as np
import pytest

from pico4ml.common import protocol as P

from emulated import new_board, require_firmware

pytestmark = [pytest.mark.slow, pytest.mark.sdk]

WALL = 150


@pytest.fixture(scope="module")
def elf():
    return require_firmware().elf


def camera_errors(board) -> list[str]:
    return [m.text for m in board.of(P.Error) if m.code == P.ERR_CAMERA]


def red_status(board) -> bool:
    """The status lines (rows 142..159) carry red text: pixels with red high, green and blue low."""
    rgb = board.lcd.rgb()[142:160].astype(int)
    return bool(((rgb[..., 0] > 160) & (rgb[..., 1] < 80) & (rgb[..., 2] < 80)).sum() > 20)


def logs(board) -> str:
    return "\n".join(m.text for m in board.of(P.Log))


def test_wrong_model_id_is_reported_with_the_id(elf):
    board = new_board(elf, None, model_id=0x01B1)
    assert board.run_until(lambda b: camera_errors(b), emulated_s=6, wall_s=WALL), board.state()
    assert "0x01B1" in camera_errors(board)[0] and "0x01B0" in camera_errors(board)[0]
    assert board.cam.frames == 0
    board.run(0.05)
    assert red_status(board), "LCD does not show the camera error in red"


def test_sensor_not_answering_then_recovering(elf):
    scene = np.full((324, 324), 120, np.uint8)
    board = new_board(elf, scene)
    board.sensor.nack = True
    assert board.run_until(lambda b: camera_errors(b), emulated_s=6, wall_s=WALL), board.state()
    board.run(0.05)
    assert red_status(board)
    board.sensor.nack = False
    assert board.run_until(lambda b: "camera: recovered" in logs(b) and b.of(P.Frame), emulated_s=4, wall_s=WALL), \
        board.state()
    assert np.frombuffer(board.of(P.Frame)[-1].pixels, np.uint8).mean() == pytest.approx(120, abs=1)


@pytest.fixture(scope="module")
def streaming(elf):
    """A board past its first FRAME, shared by the run-time faults below (in file order)."""
    scene = np.full((324, 324), 90, np.uint8)
    board = new_board(elf, scene)
    assert board.run_until(lambda b: b.of(P.Frame), emulated_s=6, wall_s=WALL), board.state()
    return board


def test_frame_that_ends_early_is_reported_and_recovers(streaming):
    b = streaming
    b.short_frame_lines = 100
    assert b.run_until(lambda b: any("short frame" in t for t in camera_errors(b)), emulated_s=2, wall_s=WALL), \
        b.state()
    assert "100 of" in next(t for t in camera_errors(b) if "short frame" in t)
    b.short_frame_lines = None
    n = len(b.of(P.Frame))
    assert b.run_until(lambda b: "camera: recovered" in logs(b) and len(b.of(P.Frame)) > n, emulated_s=4,
                       wall_s=WALL), b.state()


def test_no_vsync_is_reported_and_recovers(streaming):
    b = streaming
    before = len(camera_errors(b))
    b.stop_camera_bus()
    assert b.run_until(lambda b: len(camera_errors(b)) > before, emulated_s=3, wall_s=WALL), b.state()
    assert "VSYNC" in camera_errors(b)[-1].upper() or "TIMEOUT" in camera_errors(b)[-1].upper()
    b.resume_camera_bus()
    n = len(b.of(P.Frame))
    assert b.run_until(lambda b: len(b.of(P.Frame)) > n, emulated_s=6, wall_s=WALL), b.state()


def test_host_that_stops_reading_does_not_stop_the_board(streaming):
    b = streaming
    b.set_host_reading(False)
    n_msgs, frames, flushes = len(b.messages), b.cam.frames, b.lcd_flushes
    b.run(0.5, wall_s=WALL)
    assert b.cam.frames >= frames + 3, "camera stopped while the host was not reading"
    assert b.lcd_flushes > flushes, "LCD stopped while the host was not reading"
    assert len(b.messages) - n_msgs < 10, "messages kept arriving with the host not reading"
    b.set_host_reading(True)
    n = len(b.of(P.Result))
    assert b.run_until(lambda b: len(b.of(P.Result)) > n, emulated_s=2, wall_s=WALL), b.state()
    assert b.decoder.stats.crc_errors == 0


def test_dtr_low_keeps_the_board_running_and_reconnect_says_hello(streaming):
    b = streaming
    b.set_dtr(False)
    b.run(0.05)
    quiet = len(b.messages)
    frames, flushes, hellos = b.cam.frames, b.lcd_flushes, len(b.of(P.Hello))
    b.run(0.4, wall_s=WALL)
    assert b.cam.frames >= frames + 3 and b.lcd_flushes > flushes
    assert len(b.messages) == quiet, "the firmware kept sending with DTR low"
    b.set_dtr(True)
    assert b.run_until(lambda b: len(b.of(P.Hello)) > hellos, emulated_s=1, wall_s=WALL), b.state()
    n = len(b.of(P.Result))
    assert b.run_until(lambda b: len(b.of(P.Result)) > n, emulated_s=2, wall_s=WALL), b.state()

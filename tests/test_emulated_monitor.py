"""pico4ml-monitor --emulate: the monitor's own link code (pyserial socket://) reads the
emulated board's USB stream from a pico4ml-emulate --serve process, as it would a board."""
from __future__ import annotations

import json
import subprocess
import sys

import cv2
import numpy as np
import pytest

from emulated import digit_scene, require_firmware

pytestmark = [pytest.mark.slow, pytest.mark.sdk]


def test_monitor_emulate_answers_the_digit_in_view(mnist, tmp_path):
    require_firmware()
    pytest.importorskip("Cython", reason="Cython not installed (pip install Cython): the emulator's loop")
    _, _, x_test, y_test = mnist
    picture = tmp_path / "digit.png"
    cv2.imwrite(str(picture), digit_scene(np.asarray(x_test[0])))
    p = subprocess.run([sys.executable, "-m", "pico4ml.host_gui.monitor", "--emulate", "--sim-source", str(picture),
                        "--count", "1", "--json"], capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stdout[-2000:] + p.stderr[-2000:]
    preds = [json.loads(line) for line in p.stdout.splitlines() if line.startswith("{")]
    assert preds, p.stdout[-2000:]
    assert preds[0]["digit"] == int(y_test[0]), preds[0]

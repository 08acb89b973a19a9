"""The LCD layout code (app/display.c + app/font5x7.c) on the host, the ST7735 driver
replaced by a frame buffer (tests/c/fake_lcd), under ASan + UBSan."""
from __future__ import annotations

import subprocess

import pytest

from pico4ml.common.cbuild import SANITIZE_FLAGS, CompilerMissing, build
from pico4ml.common.paths import FIRMWARE_DIR, REPO_ROOT

pytestmark = pytest.mark.hostc

C_TESTS = REPO_ROOT / "tests" / "c"
APP = FIRMWARE_DIR / "app"


def test_display_layout(tmp_path):
    try:
        exe = build("test_display", [C_TESTS / "test_display.c", C_TESTS / "fake_lcd" / "fake_st7735.c",
                                     APP / "display.c", APP / "font5x7.c"],
                    flags=SANITIZE_FLAGS, include_dirs=[C_TESTS / "fake_lcd", APP, FIRMWARE_DIR / "board"])
    except CompilerMissing as e:  # a compile error is a failure, never a skip
        pytest.skip(str(e))
    shot = tmp_path / "lcd.ppm"
    proc = subprocess.run([str(exe), str(shot)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert shot.read_bytes().startswith(b"P6\n80 160\n255\n") and len(shot.read_bytes()) == 14 + 80 * 160 * 3

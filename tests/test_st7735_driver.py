"""The real LCD driver (drivers/st7735/st7735.c) with the board config on the fake
board's SPI (tests/c/fake_board), under AddressSanitizer and UBSan: its init command
stream against the board vendor's (INVOFF, frame-rate, power and gamma commands, 500 ms
after SLPOUT, BGR, column offset 24) and the build options that change it. What it
checks: tests/c/test_st7735_driver.c."""
from __future__ import annotations

import subprocess

import pytest

from conftest import host_build
from pico4ml.common.cbuild import SANITIZE_FLAGS
from pico4ml.common.paths import FIRMWARE_DIR, REPO_ROOT

pytestmark = pytest.mark.hostc

C_TESTS = REPO_ROOT / "tests" / "c"


def test_init_stream_is_the_vendors():
    sources = [C_TESTS / "test_st7735_driver.c", C_TESTS / "fake_board" / "fake_board.c",
               FIRMWARE_DIR / "drivers" / "st7735" / "st7735.c"]
    exe = host_build("test_st7735_driver", sources, flags=SANITIZE_FLAGS,
                include_dirs=[C_TESTS / "fake_board", C_TESTS, FIRMWARE_DIR / "drivers" / "st7735",
                              FIRMWARE_DIR / "board"])
    proc = subprocess.run([str(exe)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr[-6000:]
    assert "all checks passed" in proc.stdout

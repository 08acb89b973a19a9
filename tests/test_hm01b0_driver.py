"""The real HM01B0 driver (drivers/hm01b0/hm01b0.c) with the board config, on the fake
board of tests/c/fake_board (the assembled PIO program executed instruction by
instruction, DMA, interrupts, a fake HM01B0 on I2C streaming its frames), under
AddressSanitizer and UBSan. What it checks: tests/c/test_hm01b0_driver.c.

Needs the firmware build for the assembled program (marker sdk) and gcc (hostc).
"""
from __future__ import annotations

import subprocess

import pytest

from pico4ml.common import fwbuild
from conftest import host_build
from pico4ml.common.cbuild import SANITIZE_FLAGS
from pico4ml.common.paths import FIRMWARE_DIR, REPO_ROOT

pytestmark = [pytest.mark.sdk, pytest.mark.hostc]

C_TESTS = REPO_ROOT / "tests" / "c"


@pytest.fixture(scope="module")
def pio_header_dir():
    sdk = fwbuild.find_pico_sdk()
    if sdk is None:
        pytest.skip("Pico SDK not found: the PIO program is assembled by the firmware build (set PICO_SDK_PATH)")
    return fwbuild.build_firmware(sdk=sdk).build_dir  # holds hm01b0.pio.h


def test_driver_on_the_fake_board(pio_header_dir):
    sources = [C_TESTS / "test_hm01b0_driver.c", C_TESTS / "fake_board" / "fake_board.c",
               FIRMWARE_DIR / "drivers" / "hm01b0" / "hm01b0.c"]
    exe = host_build("test_hm01b0_driver", sources, flags=SANITIZE_FLAGS,
                include_dirs=[C_TESTS / "fake_board", C_TESTS, FIRMWARE_DIR / "drivers" / "hm01b0",
                              FIRMWARE_DIR / "board", pio_header_dir])
    proc = subprocess.run([str(exe)], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr[-6000:]
    assert "all checks passed" in proc.stdout

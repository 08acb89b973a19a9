"""The firmware's USB CDC link (app/usb_link.c) with core/device.c, on the host under
ASan + UBSan, TinyUSB replaced by the fakes in tests/c/fake_sdk: no host, a closed port
(DTR low), a host that stops reading and comes back, commands in."""
from __future__ import annotations

import subprocess

import pytest

from pico4ml.common import manifest
from pico4ml.common.cbuild import SANITIZE_FLAGS, CompilerMissing, build
from pico4ml.common.paths import FIRMWARE_DIR, REPO_ROOT

pytestmark = pytest.mark.hostc

C_TESTS = REPO_ROOT / "tests" / "c"
FAKES = C_TESTS / "fake_sdk"
MODEL = manifest.get("mlp_float")  # any model will do: the float one builds fastest under ASan
SOURCES = [C_TESTS / "test_usb_link.c", FAKES / "fake_sdk.c", FIRMWARE_DIR / "app" / "usb_link.c",
           *MODEL.portable_sources()]


def test_usb_link_never_blocks_and_drops_whole_messages():
    try:
        exe = build("test_usb_link", SOURCES, flags=SANITIZE_FLAGS + MODEL.defines(),
                    include_dirs=[FAKES, FIRMWARE_DIR / "app"])
    except CompilerMissing as e:  # a compile error is a failure, never a skip
        pytest.skip(str(e))
    proc = subprocess.run([str(exe)], capture_output=True, text=True, timeout=300,
                          env={"ASAN_OPTIONS": "detect_leaks=1", "UBSAN_OPTIONS": "print_stacktrace=1"})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "all checks passed" in proc.stdout

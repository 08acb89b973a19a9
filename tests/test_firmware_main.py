"""app/main.c on the host: the firmware's core 0 loop and core 1 camera task as two threads,
with the real USB link and portable core, the SDK, TinyUSB, camera and LCD replaced by the
fakes of tests/c (fake_sdk, fake_cam, fake_app). The test program is the USB host: it checks
what main.c wires (tests/c/test_firmware_main.c): HELLO and STATS carry the camera's mode
and counters (protocol v2), parameters reach core 1, an INJECT is answered while core 1
keeps capturing. Under ASan + UBSan."""
from __future__ import annotations

import subprocess

import pytest

from conftest import host_build
from pico4ml.common import manifest
from pico4ml.common.cbuild import SANITIZE_FLAGS
from pico4ml.common.paths import FIRMWARE_DIR, REPO_ROOT

pytestmark = pytest.mark.hostc

C_TESTS = REPO_ROOT / "tests" / "c"
MODEL = manifest.get("mlp_float")  # any model will do: the float one builds fastest under ASan


def test_firmware_main_wires_the_camera_status_params_and_inject():
    app = FIRMWARE_DIR / "app"
    sources = [C_TESTS / "test_firmware_main.c", app / "camera_task.c", app / "usb_link.c",
               C_TESTS / "fake_sdk" / "fake_sdk.c", C_TESTS / "fake_sdk" / "fake_cores.c",
               C_TESTS / "fake_cam" / "fake_camera.c", app / "model_store.c", C_TESTS / "fake_sdk" / "fake_flash.c",
               *MODEL.portable_sources()]
    flags = SANITIZE_FLAGS + MODEL.defines() + ["-pthread", "-DFAKE_CAMERA_REAL_CLASSIFIER",
                                                "-DPICO4ML_FIRMWARE_VERSION=\"test\""]
    exe = host_build("test_firmware_main", sources, flags=flags, libs=["-pthread"],
                     include_dirs=[C_TESTS, C_TESTS / "fake_app", C_TESTS / "fake_cam", C_TESTS / "fake_sdk", app,
                                   FIRMWARE_DIR / "drivers" / "hm01b0", FIRMWARE_DIR / "board"])
    proc = subprocess.run([str(exe)], capture_output=True, text=True, timeout=300,
                          env={"ASAN_OPTIONS": "detect_leaks=0", "UBSAN_OPTIONS": "print_stacktrace=1"})
    assert proc.returncode == 0, proc.stdout + proc.stderr[-4000:]
    assert "test_firmware_main: all checks passed" in proc.stdout

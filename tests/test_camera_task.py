"""The core 1 / core 0 hand-off of the firmware (app/camera_task.c) on the host: the two
cores as two threads under ThreadSanitizer, the camera, LCD and SDK replaced by the fakes
in tests/c/fake_cam and tests/c/fake_sdk, the real core/preprocess.c in between. Built
twice: with the default boot mode (FULL) and as `-DPICO4ML_CAM_MODE=BINNED` builds it;
the camera modes' fallbacks are checked in both (tests/c/test_camera_task.c)."""
from __future__ import annotations

import subprocess

import pytest

from conftest import host_build
from pico4ml.common.paths import CORE_DIR, FIRMWARE_DIR, REPO_ROOT

pytestmark = pytest.mark.hostc

C_TESTS = REPO_ROOT / "tests" / "c"
TSAN_FLAGS = ["-fsanitize=thread", "-g", "-O1", "-pthread", "-DPICO4ML_FIRMWARE_VERSION=\"test\""]


@pytest.mark.parametrize("boot_mode", [None, 1], ids=["default-FULL", "BINNED"])
def test_lent_buffers_are_never_written_and_failures_recover(boot_mode):
    flags = TSAN_FLAGS + ([f"-DPICO4ML_CAM_MODE_DEFAULT={boot_mode}", f"-DEXPECT_BOOT_MODE={boot_mode}"]
                          if boot_mode else [])
    sources = [C_TESTS / "test_camera_task.c", C_TESTS / "fake_cam" / "fake_camera.c",
               C_TESTS / "fake_sdk" / "fake_cores.c", FIRMWARE_DIR / "app" / "camera_task.c",
               CORE_DIR / "preprocess.c"]
    exe = host_build(f"test_camera_task_{boot_mode or 'default'}", sources, flags=flags, libs=["-pthread"],
                     include_dirs=[C_TESTS / "fake_cam", C_TESTS / "fake_sdk", FIRMWARE_DIR / "app",
                                   FIRMWARE_DIR / "drivers" / "hm01b0", FIRMWARE_DIR / "board"])
    proc = subprocess.run([str(exe)], capture_output=True, text=True, timeout=300,
                          env={"TSAN_OPTIONS": "halt_on_error=1 exitcode=66"})
    if "unexpected memory mapping" in proc.stderr:
        pytest.skip("ThreadSanitizer cannot run on this kernel's address-space layout (vm.mmap_rnd_bits)")
    assert proc.returncode == 0, proc.stdout + proc.stderr[-6000:]
    assert "all checks passed" in proc.stdout

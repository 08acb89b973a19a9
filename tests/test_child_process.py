"""common/child_process.ChildHandle, on real child processes: the twin's and the emulator's
handles stop through it."""
from __future__ import annotations

import subprocess
import sys
import time

from pico4ml.common.child_process import ChildHandle

STUBBORN = "import signal, sys, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); print('up', file=sys.stderr, flush=True); time.sleep(60)"


class _Released(ChildHandle):
    released = 0

    def _release(self) -> None:
        self.released += 1


def test_a_child_that_ignores_the_signal_is_killed_and_its_work_directory_removed(tmp_path):
    work = tmp_path / "frames"
    work.mkdir()
    (work / "f.pgm").write_bytes(b"P5 1 1 255\n\0")
    proc = subprocess.Popen([sys.executable, "-c", STUBBORN], stderr=subprocess.PIPE, text=True)
    handle = _Released(proc, "socket://127.0.0.1:1", work)
    handle.drain_stderr(proc.stderr)
    deadline = time.monotonic() + 10
    while "up" not in handle.stderr_lines and time.monotonic() < deadline:
        time.sleep(0.02)
    assert list(handle.stderr_lines) == ["up"] and handle.alive and handle.port == handle.url
    t0 = time.monotonic()
    code = handle.stop(timeout=0.3)
    assert code == -9 and not handle.alive and time.monotonic() - t0 < 5  # SIGTERM ignored: SIGKILL
    assert handle.released == 1 and not work.exists()
    assert handle.stop() == -9 and handle.released == 2  # stopping again is harmless


def test_a_child_that_ends_on_its_signal_is_not_killed():
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    with ChildHandle(proc, "", None) as handle:
        assert handle.alive
    assert proc.returncode == -15  # SIGTERM, the default stop_signal

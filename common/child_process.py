"""A board stand-in running as a child process (the host twin, the emulator): where it
serves the protocol, whether it still runs, its last stderr lines, and one way to stop it."""
from __future__ import annotations

import collections
import shutil
import signal
import subprocess
import threading
from pathlib import Path
from typing import IO


class ChildHandle:
    """`url` is what pyserial opens (a pty path or socket://127.0.0.1:PORT); `port` is the same
    (the name pico4ml-gui uses). stop() sends stop_signal, kills after a timeout, then removes
    the work directory; subclasses release their own resources in _release()."""

    stop_signal = signal.SIGTERM

    def __init__(self, proc: subprocess.Popen, url: str, workdir: Path | None) -> None:
        self.proc = proc
        self.url = url
        self._workdir = workdir
        self.stderr_lines: collections.deque[str] = collections.deque(maxlen=200)

    def drain_stderr(self, stream: IO[str]) -> None:
        """Keep the last lines of the child's stderr (for the message when it ends) in a thread."""
        def drain() -> None:
            for line in stream:
                self.stderr_lines.append(line.rstrip("\n"))
        threading.Thread(target=drain, daemon=True).start()

    @property
    def port(self) -> str:
        return self.url

    @property
    def alive(self) -> bool:
        return self.proc.poll() is None

    def _release(self) -> None:
        """What the subclass holds beside the process (called by stop() once the child is gone)."""

    def stop(self, timeout: float = 5.0) -> int | None:
        """stop_signal, then SIGKILL after timeout; releases the rest. Returns the exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(self.stop_signal)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._release()
        if self._workdir is not None:
            shutil.rmtree(self._workdir, ignore_errors=True)
            self._workdir = None
        return self.proc.returncode

    def __enter__(self):
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

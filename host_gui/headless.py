"""Run a Dear PyGui program where there may be no screen: under Xvfb when needed.

Dear PyGui aborts the whole process when it cannot open a display, so anything that renders
(tests, screenshots, the GUI benchmark) runs in a child process, under `xvfb-run` unless a
display is already there. Mesa's software OpenGL is enough for Dear PyGui.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys

SCREEN = "2600x1500x24"  # room for a 2560x1440 window


def why_no_display() -> str | None:
    """None when a child can render; else the reason (for a clean pytest skip)."""
    try:
        import dearpygui  # noqa: F401
    except ImportError:
        return "Dear PyGui is not installed (pip install dearpygui)"
    if os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"):
        return None
    if shutil.which("xvfb-run") is None:
        return "no display and no xvfb-run (apt-get install xvfb xauth mesa-utils)"
    return None


def display_command(argv: list[str]) -> list[str]:
    """argv, wrapped in xvfb-run when there is no display."""
    if os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"):
        return list(argv)
    return ["xvfb-run", "-a", "-s", f"-screen 0 {SCREEN}", *argv]


def run_python(code: str, *args: str, timeout: float = 120.0, env: dict | None = None) -> subprocess.CompletedProcess:
    """Run Python `code` with args in a child that has a display; output captured as text."""
    cmd = display_command([sys.executable, "-c", code, *args])
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **(env or {})})

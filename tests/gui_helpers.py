"""Shared helpers of the GUI tests: drive widgets the way Dear PyGui does, fake a board, run under Xvfb.

fire(tag, value) is the heart of it: it sets the widget's value like a user would, takes the
callback Dear PyGui has registered for the item, and calls it with the arguments Dear PyGui
would pass. Dear PyGui decides those by the callable's positional parameter count
(`__code__.co_argcount`, minus one for a bound method): 0 -> (), 1 -> (sender,),
2 -> (sender, app_data), 3 or more -> (sender, app_data, user_data, None...). A handler
that cannot take them fails here as it fails in the real window.
"""
from __future__ import annotations

import inspect
import json
from typing import Any

import numpy as np

from pico4ml.common import protocol as P
from pico4ml.host_gui import synthetic as S
from pico4ml.host_gui.recording import Recorder

NO_VALUE = object()
FIRED: set[str] = set()  # every tag fired in this session


def call_like_dpg(cb: Any, sender: Any, app_data: Any, user_data: Any) -> None:
    """Call a registered callback exactly as Dear PyGui's mvRunCallback does."""
    code = getattr(cb, "__code__", None)
    if code is None:
        cb()
        return
    count = code.co_argcount - (1 if inspect.ismethod(cb) else 0)
    args = [sender, app_data, user_data][:max(count, 0)] + [None] * max(0, count - 3)
    cb(*args)


def fire(tag: str, value: Any = NO_VALUE) -> None:
    """What a click, a slider move, Enter in a text field or a chosen file does to item `tag`."""
    import dearpygui.dearpygui as dpg

    cb = dpg.get_item_callback(tag)
    assert cb is not None, f"{tag} has no callback"
    if value is NO_VALUE:
        try:
            value = dpg.get_value(tag)  # a button has no value: Dear PyGui passes None
        except Exception:  # noqa: BLE001
            value = None
    elif dpg.get_item_info(tag)["type"].rsplit("::", 1)[-1] not in ("mvFileDialog", "mvKeyPressHandler",
                                                                    "mvButton"):
        dpg.set_value(tag, value)
    FIRED.add(tag)
    call_like_dpg(cb, tag, value, dpg.get_item_user_data(tag))


def type_into(tag: str, text: str) -> None:
    """Typing into a text field (it has no callback: the value is read when a button uses it)."""
    import dearpygui.dearpygui as dpg

    dpg.set_value(tag, text)


def press_key(digit: int) -> None:
    """A key press of the digit key, through its registered key-press handler."""
    import dearpygui.dearpygui as dpg

    key = getattr(dpg, f"mvKey_{digit}")
    fire(f"key_{key}", key)


def callback_items() -> list:
    """Every item of the current context with a callback (its alias when it has one)."""
    import dearpygui.dearpygui as dpg

    out = []
    for item in dpg.get_all_items():
        if dpg.get_item_callback(item) is not None:
            out.append(dpg.get_item_alias(item) or item)
    return out


class FakeSource:
    """Stands in for LiveSource: items to deliver on the next poll, commands it was sent."""

    live = True
    decoder_stats = None

    def __init__(self) -> None:
        self.pending: list = []
        self.sent: list[P.Message] = []
        self.up = True
        self.header: dict = {}
        self.target = ""
        self.recorder: Recorder | None = None

    def start_recording(self, path: Any, hello: Any = None, **header: Any) -> Recorder:
        self.recorder = Recorder(path, header)
        return self.recorder

    def stop_recording(self) -> Recorder | None:
        rec, self.recorder = self.recorder, None
        if rec is not None:
            rec.close()
        return rec

    def poll(self, state: Any) -> int:
        items, self.pending = self.pending, []
        for t, m in items:
            state.apply(t, m)
        return len(items)

    def send(self, msg: P.Message) -> bool:
        if self.up:
            msg.seq = len(self.sent)  # numbered like LiveSource's encoder does
            self.sent.append(msg)
        return self.up

    def sent_of(self, cls: type) -> list:
        return [m for m in self.sent if type(m) is cls]

    def describe(self, **fields: Any) -> None:
        self.header.update(fields)

    def retarget(self, port: str) -> None:
        self.target = port


def feed(app: Any, items: list, t0: float = 1000.0, fps: float = 15.0, frames: int = 3) -> None:
    """Deliver messages, then run enough frames for the scene to be on screen."""
    app.source.pending += S.timed(items, fps=fps, t0=t0)
    settle(app, frames)


def settle(app: Any, frames: int = 3) -> None:
    """Enough updates for a new scene to be wholly on screen (textures, then widgets; a larger
    texture takes two more frames)."""
    for _ in range(frames):
        app.update()


def write_recording(path: Any, messages: list, fps: float = 10.0, t0: float = 10.0, header: dict | None = None) -> Any:
    rec = Recorder(path, header)
    enc = P.Encoder()
    for t, m in S.timed(messages, fps=fps, t0=t0):
        rec.write(t, enc.encode(m))
    rec.close()
    return path


def texture_grey(app: Any, name: str) -> np.ndarray:
    """The shown part of one of the layout's textures, grey (red channel), uint8."""
    return app.layout.tex[name].tex.pixels()[..., 0]


def last_json_line(stdout: str) -> dict:
    return json.loads(stdout.strip().splitlines()[-1])


# Xvfb child programs start with this: a window, a fake source, and the same fire() as here.
CHILD_PRELUDE = r'''
import json, subprocess, sys, threading, time
import numpy as np
import dearpygui.dearpygui as dpg
sys.path.insert(0, %(tests)r)
from gui_helpers import FakeSource, fire, feed, call_like_dpg
from pico4ml.common import protocol as P
from pico4ml.host_gui import synthetic as S
from pico4ml.host_gui import view
from pico4ml.host_gui.link import LinkStatus
from pico4ml.host_gui.state import State

def xdo(*a):
    subprocess.run(["xdotool", *map(str, a)], check=True)

def window_id():
    return subprocess.run(["xdotool", "search", "--name", "pico4ml"], capture_output=True,
                          text=True).stdout.split()[0]

def frames(app, n=3):
    for _ in range(n):
        app.update(); dpg.render_dearpygui_frame()

SHOTS = []  # screenshots asked for by the xdotool thread, taken by the render loop

def run_while(app, thread, seconds=30):
    t0 = time.monotonic()
    while thread.is_alive() and time.monotonic() - t0 < seconds:
        app.update(); dpg.render_dearpygui_frame()
        if SHOTS:
            dpg.output_frame_buffer(file=SHOTS.pop(0))

def shoot(path):
    """A screenshot from the xdotool thread (taken between two render frames)."""
    import os
    SHOTS.append(path)
    wait_for(lambda: os.path.exists(path) and os.path.getsize(path) > 0)
    time.sleep(0.3)

def wait_for(cond, timeout=8.0):
    """Wait (in the xdotool thread) until the render loop has made cond() true."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        if cond():
            return True
        time.sleep(0.05)
    return False

def frames_pass(n=3):
    """Wait (in the xdotool thread) until the render loop drew n more frames."""
    start = dpg.get_frame_count()
    wait_for(lambda: dpg.get_frame_count() >= start + n, timeout=20)

def rect(tag):
    """[x, y, w, h] on screen (child windows report pos instead of rect_min)."""
    st = dpg.get_item_state(tag)
    x, y = st.get("rect_min", st.get("pos"))
    w, h = st["rect_size"]
    return [int(x), int(y), int(w), int(h)]
'''


def child_prelude() -> str:
    from pathlib import Path

    return CHILD_PRELUDE % {"tests": str(Path(__file__).parent)}


def x_screenshot(display: str, window: int | None = None) -> np.ndarray:
    """What an X server shows (the root window, or one window by its id), as RGB uint8, read
    with Xlib's XGetImage through ctypes: a screenshot taken from outside the program on
    screen, as a user's screenshot tool takes it. Needs libX11 and a 24/32-bit visual."""
    import ctypes
    import ctypes.util

    class XImage(ctypes.Structure):
        _fields_ = [("width", ctypes.c_int), ("height", ctypes.c_int), ("xoffset", ctypes.c_int),
                    ("format", ctypes.c_int), ("data", ctypes.c_void_p), ("byte_order", ctypes.c_int),
                    ("bitmap_unit", ctypes.c_int), ("bitmap_bit_order", ctypes.c_int),
                    ("bitmap_pad", ctypes.c_int), ("depth", ctypes.c_int), ("bytes_per_line", ctypes.c_int),
                    ("bits_per_pixel", ctypes.c_int), ("red_mask", ctypes.c_ulong),
                    ("green_mask", ctypes.c_ulong), ("blue_mask", ctypes.c_ulong)]

    class XWindowAttributes(ctypes.Structure):
        _fields_ = [("x", ctypes.c_int), ("y", ctypes.c_int), ("width", ctypes.c_int), ("height", ctypes.c_int),
                    ("border_width", ctypes.c_int), ("depth", ctypes.c_int), ("_rest", ctypes.c_byte * 256)]

    name = ctypes.util.find_library("X11")
    if name is None:
        raise RuntimeError("libX11 not found (apt-get install libx11-6)")
    x = ctypes.CDLL(name)
    x.XOpenDisplay.restype = ctypes.c_void_p
    x.XOpenDisplay.argtypes = [ctypes.c_char_p]
    x.XDefaultRootWindow.restype = ctypes.c_ulong
    x.XDefaultRootWindow.argtypes = [ctypes.c_void_p]
    x.XGetWindowAttributes.argtypes = [ctypes.c_void_p, ctypes.c_ulong, ctypes.POINTER(XWindowAttributes)]
    x.XGetImage.restype = ctypes.POINTER(XImage)
    x.XGetImage.argtypes = [ctypes.c_void_p, ctypes.c_ulong, ctypes.c_int, ctypes.c_int, ctypes.c_uint,
                            ctypes.c_uint, ctypes.c_ulong, ctypes.c_int]
    x.XCloseDisplay.argtypes = [ctypes.c_void_p]
    x.XFree.argtypes = [ctypes.c_void_p]
    dpy = x.XOpenDisplay(display.encode())
    if not dpy:
        raise RuntimeError(f"cannot open X display {display}")
    try:
        win = window if window is not None else x.XDefaultRootWindow(dpy)
        attrs = XWindowAttributes()
        if not x.XGetWindowAttributes(dpy, win, ctypes.byref(attrs)):
            raise RuntimeError(f"no window {win} on {display}")
        img = x.XGetImage(dpy, win, 0, 0, attrs.width, attrs.height, 0xFFFFFFFF, 2)  # ZPixmap
        if not img:
            raise RuntimeError(f"XGetImage failed on window {win}")
        im = img.contents
        if im.bits_per_pixel != 32:
            raise RuntimeError(f"a {im.bits_per_pixel}-bit X visual; run Xvfb with -screen 0 WxHx24")
        raw = ctypes.string_at(im.data, im.bytes_per_line * im.height)
        rows = np.frombuffer(raw, np.uint8).reshape(im.height, im.bytes_per_line // 4, 4)[:, :im.width]
        shift = {m: (m & -m).bit_length() - 1 for m in (im.red_mask, im.green_mask, im.blue_mask)}
        px = rows.view("<u4")[..., 0]
        rgb = np.stack([(px & m) >> shift[m] for m in (im.red_mask, im.green_mask, im.blue_mask)], axis=-1)
        x.XFree(im.data)
        x.XFree(ctypes.cast(img, ctypes.c_void_p))
        return rgb.astype(np.uint8)
    finally:
        x.XCloseDisplay(dpy)


class OwnXvfb:
    """A private Xvfb server (its own display number, chosen by the server: -displayfd), for a
    program that must run as a user starts it and be looked at from outside (x_screenshot)."""

    def __init__(self, screen: str = "1400x800x24") -> None:
        import os
        import shutil
        import subprocess

        if shutil.which("Xvfb") is None:
            raise FileNotFoundError("Xvfb not installed (apt-get install xvfb)")
        r, w = os.pipe()
        self.proc = subprocess.Popen(["Xvfb", "-displayfd", str(w), "-screen", "0", screen, "-nolisten", "tcp"],
                                     pass_fds=(w,), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        os.close(w)
        with os.fdopen(r) as f:
            number = f.readline().strip()
        if not number:
            self.proc.kill()
            raise RuntimeError(f"Xvfb did not start: {self.proc.communicate()[1].decode()[-500:]}")
        self.display = f":{number}"

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except Exception:  # noqa: BLE001
                self.proc.kill()

    def __enter__(self) -> "OwnXvfb":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def descendants(pid: int) -> dict[int, str]:
    """{pid: command line} of every process below pid (Linux /proc)."""
    import os

    children: dict[int, list[int]] = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                ppid = int(open(f"/proc/{d}/stat").read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(d))
    out: dict[int, str] = {}
    todo = [pid]
    while todo:
        for c in children.get(todo.pop(), []):
            try:
                out[c] = open(f"/proc/{c}/cmdline", "rb").read().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            todo.append(c)
    return out

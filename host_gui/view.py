"""The Dear PyGui app: build_ui() once, then update() once per render frame.

App wires the parts together: the source (live link or recording) feeds a State; the
Layout (layout.py) owns the widget tree and its sizes; the Binding (binding.py) shows one
frame of the State at a time; one controller per feature (controls/) handles the widgets'
callbacks. Every failure a user can cause (bad path, unplugged board, unreadable image,
a dead twin) ends up in the status line, never in a traceback.
"""
from __future__ import annotations

import signal
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np
import dearpygui.dearpygui as dpg

from pico4ml.common import protocol as P

from .binding import Binding
from .controls import Controllers
from .controls.camera import CameraControl
from .controls.capture import CaptureControl
from .controls.debug import DebugControl
from .controls.inject import InjectControl
from .controls.model import ModelControl
from .controls.replay import ReplayControl, settings_header
from .controls.session import SessionControl
from .controls.settings import SettingsControl
from .layout import Layout, grey_glyph
from .lcd import LcdView
from .presets import Settings
from .state import FrameRecord, State
from .widgets import BG_GREY, Fonts


def digit_glyph(digit: Any, w: int = 100, h: int = 125) -> np.ndarray:
    return grey_glyph(digit, w, h, BG_GREY)


def twin_exit_reason(twin: Any) -> str:
    """How the host twin (--sim) or the emulator (--emulate) ended, in words: its signal or exit
    code and what it last printed. The handle names itself (`what`; the twin's has none)."""
    rc = twin.proc.returncode
    if rc is None:
        rc = twin.proc.poll()
    if rc is not None and rc < 0:
        try:
            how = f"was killed by {signal.Signals(-rc).name}"
        except ValueError:
            how = f"was killed by signal {-rc}"
    else:
        how = f"exited with code {rc}"
    said = [line for line in list(twin.stderr_lines) if not line.startswith("pico4ml-twin: ready")]
    tail = "; ".join(said[-2:])
    return f"{getattr(twin, 'what', 'the host twin')} {how}" + (f": {tail}" if tail else " (it printed nothing)")


class App:
    """The GUI around a source (LiveSource or ReplaySource) and a State."""

    def __init__(self, source: Any, state: State, settings: Settings | None = None,
                 out_dir: str | Path = "pico4ml-out", twin: Any = None,
                 twin_factory: Callable[[], Any] | None = None) -> None:
        self.source = source
        self.state = state
        self.settings = settings or Settings()
        self.out_dir = Path(out_dir)
        self.twin = twin  # the host twin of --sim or the emulator of --emulate, watched so its exit is reported
        self.twin_factory = twin_factory  # starts a new twin ("restart twin")
        self.twin_problem = ""
        self.message = ""
        self.digit_text = "-"  # what the big digit shows (once its frame is on screen: shown_digit)
        self.shown_digit = "-"
        self.shown_frame_id = None  # the frame whose prediction is on screen
        self.layout_generation = 0
        self.fonts = Fonts()
        self.text_scale = 1.0
        self._viewport = (0, 0)
        self._was_connected = False
        self._gui_frames = 0
        self._gui_t0 = time.monotonic()
        self._hello_seen: Any = None
        self.layout = Layout(self)
        self.binding = Binding(self)
        self.lcd = LcdView(self)  # the emulated board's LCD (--emulate only)
        self.ctl = Controllers(camera=CameraControl(self), settings=SettingsControl(self), replay=ReplayControl(self),
                               inject=InjectControl(self), capture=CaptureControl(self), debug=DebugControl(self),
                               session=SessionControl(self), model=ModelControl(self))

    # ------------------------------------------------------------------ building
    def build_ui(self, width: int = 1280, height: int = 720) -> None:
        """Create textures and every widget (once, inside a Dear PyGui context)."""
        self.layout.build()
        with dpg.group(parent="controls"):
            self.ctl.replay.build()  # first: open (and in reach) when a recording is shown
            self.ctl.settings.build()
            self.ctl.capture.build()
            self.ctl.inject.build()
            self.ctl.session.build()
            if self.source.live:
                self.ctl.model.build()
        self.ctl.camera.build()
        self.ctl.debug.build()
        dpg.configure_item("panel_lcd", show=self.lcd.enabled)
        with dpg.handler_registry(tag="mouse_handlers"):
            dpg.add_mouse_drag_handler(callback=self._mouse_down)
            dpg.add_mouse_down_handler(callback=self._mouse_down)
            dpg.add_mouse_release_handler(callback=self._mouse_up)
        self.fit(width, height)
        self.ctl.debug.mode_changed(params=None if self.source.live else self.source.params_bytes())

    def fit(self, width: int, height: int) -> None:
        """Lay everything out for a viewport of this size."""
        self._viewport = (width, height)
        self.layout.fit(width, height, self.fonts.line_px)
        self.lcd.show()  # its zoom follows the camera panel's size
        self.layout_generation += 1
        self.binding.invalidate()

    def set_text_size(self, scale: float) -> None:
        self.text_scale = scale
        self.fonts.apply(scale)
        self.fit(*self._viewport)

    def camera_view_side(self) -> int:
        return self.binding.cam_base

    # ------------------------------------------------------------------ what is shown
    def shown_record(self, live_only: bool = False) -> FrameRecord | None:
        """The frame the views show: the frozen one, else the state's newest whole frame."""
        if not live_only and self.ctl.camera.frozen and self.ctl.camera.pinned is not None:
            return self.ctl.camera.pinned
        return self.state.shown

    def fresh_state(self) -> State:
        s = self.state
        return State(history_window_s=s.history_window_s, tolerance=s.tolerance, host_model=s.host_model,
                     hold_injected_s=s.hold_injected_s)

    def out_dir_now(self) -> Path:
        return Path(dpg.get_value("out_dir") or self.out_dir)

    @property
    def can_restart_twin(self) -> bool:
        return self.twin_factory is not None

    # ------------------------------------------------------------------ loop
    def update(self) -> None:
        """Poll the source, then show the state (call once per frame). Never raises: whatever
        goes wrong becomes the status message and the next frame renders as usual."""
        try:
            self.source.poll(self.state)
        except Exception as e:  # noqa: BLE001 -- the UI must keep running whatever the source does
            self.say(f"source error: {e}")
        try:
            self._update()
        except Exception as e:  # noqa: BLE001
            self.say(f"display error: {type(e).__name__}: {e}")

    def _update(self) -> None:
        self._count_gui_frame()
        if dpg.is_viewport_ok():
            vp = (dpg.get_viewport_client_width(), dpg.get_viewport_client_height())
            if vp != self._viewport and vp[0] > 0 and vp[1] > 0:
                self.fit(*vp)
        s = self.state
        connected = self.source.live and s.status.state == "connected"
        if connected and not self._was_connected:
            self.send_settings(ping=True)
            describe = getattr(self.source, "describe", None)
            if describe is not None:
                describe(**settings_header(self.settings))  # for the recording's header
        self._was_connected = connected
        if s.hello is not None and s.hello is not self._hello_seen:
            self._hello_seen = s.hello
            self.ctl.settings.capture_size_known(s.hello.capture_width, s.hello.capture_height)
            self.ctl.settings.model_known()
        self._watch_twin()
        if s.last_injected is not None and s.last_injected is not getattr(self, "_said_injected", None):
            self._said_injected = p = s.last_injected
            host = "" if p.check is None else f", host {p.check.host_digit} " + ("OK" if p.check.ok else "MISMATCH")
            self.say(f"injected {p.name or 'image'}: board says {p.result.argmax} "
                     f"({p.scores[p.result.argmax] * 100:.1f} %){host}")
        self.ctl.replay.poll()
        self.ctl.debug.poll()
        self.lcd.poll()
        if self.source.live:
            self.ctl.model.poll()
        self.binding.push()
        for tex in self.layout.tex.values():
            tex.collect()
        text = self.binding.pixel_under_mouse()
        if text:
            dpg.set_value("in28_pixel", text)

    def _watch_twin(self) -> None:
        if self.twin is not None and not self.twin.alive and not self.twin_problem:
            self.twin_problem = twin_exit_reason(self.twin)
            self.say(self.twin_problem + (": press 'restart twin'" if self.can_restart_twin else ""))

    def restart_twin(self) -> None:
        """Start a new host twin and point the link at it (reconnects on the link's next retry)."""
        if self.twin_factory is None:
            self.say("no twin to restart (not started with --sim)" if self.twin is None else
                     f"{getattr(self.twin, 'what', 'the host twin')} is not restarted from the window: start the GUI again")
            return
        old = self.twin
        if old is not None:
            old.stop()
        self.twin = self.twin_factory()
        self.twin_problem = ""
        live = self.source if self.source.live else (self.ctl.replay.live or (None,))[0]
        if live is not None:
            live.retarget(self.twin.port)
        self.say(f"host twin restarted on {self.twin.port}")

    def _count_gui_frame(self) -> None:
        self._gui_frames += 1
        now = time.monotonic()
        if now - self._gui_t0 >= 0.5:
            self.state.gui_fps = self._gui_frames / (now - self._gui_t0)
            self._gui_frames, self._gui_t0 = 0, now

    def run(self, max_seconds: float | None = None) -> None:
        t_end = None if max_seconds is None else time.monotonic() + max_seconds
        while dpg.is_dearpygui_running():
            self.update()
            dpg.render_dearpygui_frame()
            if t_end is not None and time.monotonic() >= t_end:
                break

    # ------------------------------------------------------------------ mouse (camera ROI, drawing canvas)
    def _mouse_down(self, sender: Any = None, app_data: Any = None, user_data: Any = None) -> None:
        try:
            if not self.ctl.camera.mouse_down():
                self.ctl.inject.mouse_down()
        except Exception as e:  # noqa: BLE001
            self.say(f"mouse failed: {type(e).__name__}: {e}")

    def _mouse_up(self, sender: Any = None, app_data: Any = None, user_data: Any = None) -> None:
        try:
            self.ctl.inject.mouse_up()
            self.ctl.camera.mouse_up()
        except Exception as e:  # noqa: BLE001
            self.say(f"mouse failed: {type(e).__name__}: {e}")

    # ------------------------------------------------------------------ messages and commands
    def say(self, text: str) -> None:
        self.message = text
        self.state.log.append("[gui] " + text)
        self.state.version += 1

    def send(self, msg: P.Message) -> bool:
        if self.source.send(msg):
            return True
        if not self.source.live:
            reason = "offline replay"
        else:
            reason = getattr(getattr(self.source, "link", None), "last_send_error", "") or "board not connected"
        self.say(f"{type(msg).__name__} not sent: {reason}")
        return False

    def send_settings(self, ping: bool = False) -> None:
        if not self.source.live:
            return
        if ping:
            self.source.send(P.Ping(P.PING_WANT_HELLO, int(time.time()) & 0xFFFFFFFF))
        for m in self.settings.messages():
            if isinstance(m, P.SetCamera) and not self.ctl.settings.camera_touched:
                continue  # keep the board's own camera setup until the user sets it
            self.source.send(m)

    def inject(self, img: np.ndarray, name: str = "") -> bool:
        h = self.state.hello
        if h is not None and h.max_command_bytes and img.size + 4 + P.OVERHEAD > h.max_command_bytes:
            img = _shrink_to(img, h.max_command_bytes - 4 - P.OVERHEAD)
        msg = P.Inject.from_array(img)
        if not self.send(msg):
            return False
        self.state.inject_names[msg.seq] = name
        self.state.inject_images[msg.seq] = np.ascontiguousarray(img, np.uint8)
        return True


def _shrink_to(img: np.ndarray, max_pixels: int) -> np.ndarray:
    """Area-downscale an image so it fits in one INJECT command."""
    import cv2

    k = (img.size / max(max_pixels, 1)) ** 0.5
    w, h = max(1, int(img.shape[1] / k)), max(1, int(img.shape[0] / k))
    return cv2.resize(img, (w, h), interpolation=cv2.INTER_AREA)


def capture(path: str | Path, app: App | None = None) -> Path:
    """Save the window as PNG (needs a viewport). Dear PyGui shows a texture update one frame
    late and reads the frame buffer before drawing, so the scene's pending widget updates are
    applied and a few frames settle first; the file variant of output_frame_buffer is used
    because its callback variant can crash on exit."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if app is not None:
        app.binding.flush()
    for _ in range(3):
        dpg.render_dearpygui_frame()
    dpg.output_frame_buffer(file=str(path))
    for _ in range(2):
        dpg.render_dearpygui_frame()
    return path


def create(app: App, title: str = "pico4ml: what the board sees", width: int = 1280, height: int = 720) -> None:
    """Build the UI and open the viewport (needs a display)."""
    dpg.create_viewport(title=title, width=width, height=height, min_width=960, min_height=600, vsync=False)
    app.build_ui(width, height)
    dpg.setup_dearpygui()
    dpg.show_viewport()
    dpg.set_primary_window("main", True)
    app.set_text_size(default_text_size(height))


def default_text_size(height: int) -> float:
    """1.0 up to 900 pixels of height, then larger in quarter steps (1.25 at 1080, 1.5 at 1440)."""
    return 1.0 if height < 900 else min(2.0, round(height / 900 * 4) / 4)

"""Small Dear PyGui building blocks shared by the layout, the binding and the controllers.

- callback(): the one way a control's handler is registered. Dear PyGui looks at the
  handler's positional parameter count (`__code__.co_argcount`) to decide what to pass, so
  a `*args` wrapper would get nothing at all; this wrapper takes exactly (sender, app_data,
  user_data) and turns any failure into the status message instead of a dead control.
- Texture: a raw RGBA texture allocated once at its largest size and written in place.
- fonts: a TrueType font at the chosen size when the system has one, else the built-in font scaled.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable

import numpy as np
import dearpygui.dearpygui as dpg

WIN_COLOR = (60, 200, 90, 255)
BAR_COLOR = (70, 120, 220, 255)
ROI_COLOR = (255, 200, 0, 255)
AMBER = (255, 176, 40, 255)
RED = (255, 80, 70, 255)
GREEN = (90, 220, 110, 255)
GREY_TEXT = (150, 150, 150, 255)
TEXT = (220, 220, 220, 255)
DIM = (95, 95, 95, 255)  # image tint while disconnected
BG_GREY = 37  # window background, behind the big digit
STATE_COLORS = {"connected": (90, 220, 110), "disconnected": (240, 90, 80), "connecting": (240, 200, 80),
                "replay": (120, 170, 255)}


def callback(app: Any, what: str, fn: Callable[[Any], Any]) -> Callable[[Any, Any, Any], None]:
    """A Dear PyGui callback that calls fn(app_data); errors become app.say('<what> failed: ...')."""
    def run(sender: Any = None, app_data: Any = None, user_data: Any = None) -> None:
        try:
            fn(app_data)
        except Exception as e:  # noqa: BLE001 -- never a traceback, never a dead control
            app.say(f"{what} failed: {type(e).__name__}: {e}")
    run.__qualname__ = run.__name__ = f"on_{what.replace(' ', '_')}"
    return run


def tooltip(tag: str, text: str) -> None:
    """Hover help for item `tag` (items tip_<tag> and tip_<tag>_text)."""
    with dpg.tooltip(parent=tag, tag=f"tip_{tag}"):
        dpg.add_text(text, wrap=360, tag=f"tip_{tag}_text")


class Texture:
    """One raw RGBA texture allocated once; show() writes a grey or RGB image into its corner."""

    def __init__(self, tag: str, width: int, height: int) -> None:
        self.tag, self.width, self.height = tag, width, height
        self.buf = np.zeros(width * height * 4, np.float32)
        self.buf[3::4] = 1.0
        self.shown = (0, 0)
        dpg.add_raw_texture(width, height, self.buf, format=dpg.mvFormat_Float_rgba, tag=tag)

    def show(self, img: np.ndarray) -> tuple[float, float]:
        """Write img (cropped to fit; HxW grey or HxWx3 RGB) at the top-left; returns the uv_max of the used part."""
        h, w = min(img.shape[0], self.height), min(img.shape[1], self.width)
        view = self.buf.reshape(self.height, self.width, 4)
        g = img[:h, :w].astype(np.float32) * (1.0 / 255.0)
        if g.ndim == 2:
            view[:h, :w, 0] = g
            view[:h, :w, 1] = g
            view[:h, :w, 2] = g
        else:
            view[:h, :w, :3] = g[..., :3]
        dpg.set_value(self.tag, self.buf)
        self.shown = (w, h)
        return w / self.width, h / self.height

    def pixels(self) -> np.ndarray:
        """The shown part as uint8 (H, W, 3): what the texture holds for the screen."""
        w, h = self.shown
        return np.rint(self.buf.reshape(self.height, self.width, 4)[:h, :w, :3] * 255).astype(np.uint8)


FONT_CANDIDATES = ("/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf", "/usr/share/fonts/TTF/DejaVuSansMono.ttf",
                   "/Library/Fonts/Menlo.ttc", "/System/Library/Fonts/Menlo.ttc", "C:/Windows/Fonts/consola.ttf")
BASE_FONT_PX = 14


def font_file() -> str | None:
    env = os.environ.get("PICO4ML_GUI_FONT")
    for path in ((env,) if env else ()) + FONT_CANDIDATES:
        if path and Path(path).is_file():
            return path
    return None


class Fonts:
    """Text size: a TrueType font rasterised at the size asked for (crisp at any scale), or
    Dear PyGui's built-in bitmap font scaled when the system has none."""

    def __init__(self) -> None:
        self.path = font_file()
        self._fonts: dict[int, int] = {}
        self.scale = 1.0

    def apply(self, scale: float) -> None:
        self.scale = scale
        if self.path is None:
            dpg.set_global_font_scale(scale)
            return
        px = int(round(BASE_FONT_PX * scale))
        if px not in self._fonts:
            with dpg.font_registry():
                self._fonts[px] = dpg.add_font(self.path, px)
        dpg.bind_font(self._fonts[px])

    @property
    def line_px(self) -> int:
        """Approximate height of one line of text with its spacing."""
        return int((BASE_FONT_PX if self.path else 13) * self.scale) + 5

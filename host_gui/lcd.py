"""The emulated board's LCD panel (pico4ml-gui --emulate): the 80x160 picture the firmware
draws on the Pico4ML's ST7735S, as the emulator process keeps it in a PNG (handle.lcd_png,
rewritten atomically about twice a second). No emulator, no panel.
"""
from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import numpy as np
import dearpygui.dearpygui as dpg

LCD_W, LCD_H = 80, 160  # the glass, portrait (emulator/st7735.py)
POLL_S = 0.2  # how often the PNG's time stamp is looked at


def lcd_png_of(handle: Any) -> Path | None:
    """Where an emulator handle keeps the LCD picture (None: not an emulator, or no LCD)."""
    path = getattr(handle, "lcd_png", None)
    return Path(path) if path is not None else None


class LcdView:
    """Reads the emulator's LCD PNG when it changes and shows it, each LCD pixel a square."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.frame: np.ndarray | None = None  # the last picture read, (160, 80, 3) RGB
        self.updates = 0  # different pictures shown so far
        self._stamp: tuple[int, int] | None = None
        self._next_poll = 0.0

    @property
    def path(self) -> Path | None:
        return lcd_png_of(self.app.twin)

    @property
    def enabled(self) -> bool:
        return self.path is not None

    def zoom(self) -> int:
        """Whole-number enlargement: 2 where the camera panel is as large (1920x1080), else 1, so
        the panel fits the window beside the stages at 1280x720."""
        return 2 if self.app.layout.sizes.cam_box >= 320 else 1

    def poll(self) -> None:
        path = self.path
        if path is None or time.monotonic() < self._next_poll:
            return
        self._next_poll = time.monotonic() + POLL_S
        try:
            st = os.stat(path)
        except OSError:
            return  # not written yet (the board is still booting)
        stamp = (st.st_mtime_ns, st.st_size)
        if stamp == self._stamp:
            return
        import cv2
        img = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if img is None or img.shape[:2] != (LCD_H, LCD_W):
            return  # caught between writes would not happen (os.replace), but a stray file might
        self._stamp = stamp
        rgb = np.ascontiguousarray(img[:, :, ::-1])
        if self.frame is not None and np.array_equal(rgb, self.frame):
            return  # rewritten, not redrawn
        self.frame = rgb
        self.updates += 1
        self.show()

    def show(self) -> None:
        """Put the last picture into the texture at the current zoom (CPU-enlarged: crisp squares)."""
        if self.frame is None:
            return
        k = self.zoom()
        big = np.repeat(np.repeat(self.frame, k, axis=0), k, axis=1)
        tex = self.app.layout.tex["lcd"]
        uv = tex.show(big)
        tex.switch()
        dpg.configure_item("lcd_image", pmax=(LCD_W * k, LCD_H * k), uv_max=uv)
        dpg.configure_item("lcd_draw", width=LCD_W * k, height=LCD_H * k)

    def pixels(self) -> np.ndarray | None:
        """What the texture holds, back at one pixel per LCD pixel: (160, 80, 3) RGB."""
        if self.frame is None:
            return None
        k = self.zoom()
        return self.app.layout.tex["lcd"].pixels()[::k, ::k][:LCD_H, :LCD_W]

"""Inject: image files, a folder of them, or a digit drawn with the mouse, through the board's
own preprocessing and net(). The answer is shown with the injected image in the camera panel."""
from __future__ import annotations

from typing import Any

import numpy as np
import dearpygui.dearpygui as dpg

from pico4ml.host_gui import images
from pico4ml.host_gui.layout import CANVAS
from pico4ml.host_gui.widgets import callback, tooltip


def paint_line(canvas: np.ndarray, a: tuple[float, float], b: tuple[float, float], radius: float,
               value: int) -> None:
    """Stamp discs of `radius` along the segment a-b (mouse strokes without gaps)."""
    h, w = canvas.shape
    steps = int(max(abs(b[0] - a[0]), abs(b[1] - a[1])) / max(radius / 2, 1)) + 1
    yy, xx = np.mgrid[0:h, 0:w]
    for i in range(steps + 1):
        t = i / steps
        x, y = a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t
        canvas[(xx - x) ** 2 + (yy - y) ** 2 <= radius * radius] = value


class InjectControl:
    def __init__(self, app: Any) -> None:
        self.app = app
        self.canvas = np.full((CANVAS, CANVAS), 255, np.uint8)  # dark ink on white paper, like the camera
        self._last: tuple[float, float] | None = None

    def build(self) -> None:
        app = self.app
        with dpg.collapsing_header(label="inject", default_open=False, tag="hdr_inject"):
            with dpg.group(horizontal=True):
                dpg.add_input_text(tag="inject_path", hint="image file or folder", width=230)
                app.ctl.session.browse_button("inject_path", "image to inject",
                                              extensions=(".png", ".pgm", ".jpg", ".jpeg", ".bmp"))
            dpg.add_button(label="inject through the board", tag="inject_button",
                           callback=callback(app, "inject", lambda v: self.on_inject()))
            tooltip("inject_button", "Send the image (or every image of the folder) through the board's own "
                                     "preprocessing and net(); the answer shows with the image for 3 s.")
            dpg.add_text("draw a digit (left: ink, right: erase)")
            with dpg.drawlist(width=2 * CANVAS, height=2 * CANVAS, tag="canvas_draw"):
                dpg.draw_image(app.layout.tex["canvas"].tag, (0, 0), (2 * CANVAS, 2 * CANVAS), tag="canvas_image")
                app.layout.tex["canvas"].users.append("canvas_image")
            with dpg.group(horizontal=True):
                dpg.add_button(label="send drawing", tag="canvas_send",
                               callback=callback(app, "send drawing", lambda v: self.on_send_drawing()))
                dpg.add_button(label="clear", tag="canvas_clear", callback=callback(app, "clear", lambda v: self.clear()))
        self.show_canvas()

    def show_canvas(self) -> None:
        uv = self.app.layout.tex["canvas"].show(self.canvas)  # CANVAS x CANVAS: always fits
        dpg.configure_item("canvas_image", uv_max=uv)

    def on_inject(self) -> None:
        files = images.image_files(dpg.get_value("inject_path"))
        if not files:
            self.app.say("no image files there")
            return
        sent = 0
        for f in files:
            try:
                sent += self.app.inject(images.load_grey(f), f.name)
            except ValueError as e:
                self.app.say(f"inject failed: {e}")
                return
        self.app.say(f"injected {sent} of {len(files)} image(s)")

    def on_send_drawing(self) -> None:
        if self.app.inject(self.canvas.copy(), "drawing"):
            self.app.say("drawing sent through the board's preprocessing and net()")

    def clear(self) -> None:
        self.canvas[:] = 255
        self.show_canvas()

    def mouse_down(self) -> None:
        if not dpg.is_item_hovered("canvas_draw"):
            self._last = None
            return
        ink = dpg.is_mouse_button_down(dpg.mvMouseButton_Left)
        erase = dpg.is_mouse_button_down(dpg.mvMouseButton_Right)
        if not (ink or erase):
            return
        mx, my = dpg.get_mouse_pos(local=False)
        x0, y0 = dpg.get_item_rect_min("canvas_draw")
        pt = ((mx - x0) / 2, (my - y0) / 2)
        paint_line(self.canvas, self._last or pt, pt, radius=5, value=0 if ink else 255)
        self._last = pt
        self.show_canvas()

    def mouse_up(self) -> None:
        self._last = None

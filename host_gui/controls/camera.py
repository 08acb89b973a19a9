"""The camera panel's controls: zoom, freeze, and the region of interest dragged with the mouse."""
from __future__ import annotations

from typing import Any

import dearpygui.dearpygui as dpg

from pico4ml.host_gui.widgets import callback, tooltip


def roi_from_drag(a: tuple[float, float], b: tuple[float, float], k: float, src_w: int,
                  src_h: int, min_side: int = 8) -> tuple[int, int, int, int] | None:
    """A rectangle dragged on the camera view (display pixels, k per capture pixel) as an ROI in
    capture pixels, clipped to the frame; None when smaller than min_side."""
    x0, x1 = sorted((a[0] / k, b[0] / k))
    y0, y1 = sorted((a[1] / k, b[1] / k))
    x0, y0 = max(0, int(round(x0))), max(0, int(round(y0)))
    x1, y1 = min(src_w, int(round(x1))), min(src_h, int(round(y1)))
    if x1 - x0 < min_side or y1 - y0 < min_side:
        return None
    return x0, y0, x1 - x0, y1 - y0


class CameraControl:
    def __init__(self, app: Any) -> None:
        self.app = app
        self.zoom = 1
        self.frozen = False
        self.pinned: Any = None  # the FrameRecord held on screen while frozen
        self._drag: tuple[tuple[float, float], tuple[float, float]] | None = None

    def build(self) -> None:
        dpg.set_item_callback("zoom", callback(self.app, "zoom", self.on_zoom))
        dpg.set_item_callback("freeze", callback(self.app, "freeze", self.on_freeze))
        tooltip("zoom", "Enlarge the camera image by a whole factor (scroll to move around); every sensor pixel "
                        "stays a square.")
        tooltip("freeze", "Hold this frame on screen (the link keeps reading). While frozen, the preprocessing "
                          "sliders re-run this frame on the host instead of changing the board.")

    # ---------------------------------------------------------------- callbacks
    def on_zoom(self, value: Any) -> None:
        self.zoom = max(1, min(4, int(round(float(value)))))
        self.app.binding.invalidate()

    def on_freeze(self, value: Any) -> None:
        self.set_frozen(bool(value))

    def set_frozen(self, frozen: bool) -> None:
        if frozen and self.app.shown_record(live_only=True) is None:
            dpg.set_value("freeze", False)
            self.app.say("nothing to freeze yet")
            return
        self.pinned = self.app.shown_record(live_only=True) if frozen else None
        self.frozen = frozen
        dpg.set_value("freeze", frozen)
        self.app.ctl.debug.mode_changed()
        self.app.binding.invalidate()
        if frozen:
            rec = self.pinned
            self.app.say(f"frame {rec.frame_id} frozen: change the preprocessing to re-run it on the host; "
                         "untick 'freeze' to follow the stream again")
        else:
            self.app.say("following the stream")

    # ---------------------------------------------------------------- ROI on the camera view
    def draw_roi(self, roi: tuple[int, int, int, int] | None) -> None:
        if self._drag is not None:
            return
        if roi is None:
            dpg.configure_item("cam_roi", pmin=(0, 0), pmax=(0, 0))
            return
        k = self.app.binding.cam_k
        rx, ry, rw, rh = roi
        dpg.configure_item("cam_roi", pmin=(rx * k + 1, ry * k + 1), pmax=((rx + rw) * k - 1, (ry + rh) * k - 1))

    def mouse_down(self) -> bool:
        """Mouse held on the camera view: drag a new ROI (left) or go back to the automatic one
        (right). True when the camera took the event."""
        if self._drag is None and not dpg.is_item_hovered("cam_draw"):
            return False
        if dpg.is_mouse_button_down(dpg.mvMouseButton_Right) and self._drag is None:
            p = self.app.settings.params
            if not (p.roi_w == 0 and p.roi_h == 0):
                self.app.ctl.settings.set_roi((0, 0, 0, 0))  # right click: the automatic centred square
            return True
        if not dpg.is_mouse_button_down(dpg.mvMouseButton_Left):
            return True
        mx, my = dpg.get_mouse_pos(local=False)
        x0, y0 = dpg.get_item_rect_min("cam_draw")
        pt = (mx - x0, my - y0)
        start = pt if self._drag is None else self._drag[0]
        self._drag = (start, pt)
        dpg.configure_item("cam_roi", pmin=(min(start[0], pt[0]), min(start[1], pt[1])),
                           pmax=(max(start[0], pt[0]), max(start[1], pt[1])))
        return True

    def mouse_up(self) -> None:
        if self._drag is None:
            return
        start, end = self._drag
        self._drag = None
        b = self.app.binding
        self.app.ctl.settings.set_roi(roi_from_drag(start, end, b.cam_k, *b.cam_src))

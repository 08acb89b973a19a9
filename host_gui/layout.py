"""Where everything is on screen: the window's widget tree and its sizes for any window size.

build() creates the panels once; fit() is called whenever the viewport or the text size
changes. Sizes follow the space there is: images grow in whole-number zoom steps (each
camera, stage and network pixel stays a crisp square), and the panels flow into rows
like words on a line, so a narrow window stacks them and a wide one puts them side by
side. 1280x720 shows everything without scrolling; the control column and its log take a
fixed share on the right. Controls (the right column) are built by the controllers into
the containers made here.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import dearpygui.dearpygui as dpg

from .widgets import BAR_COLOR, ROI_COLOR, TEXT, Texture

STAGES = {"work": "ROI", "ink": "ink", "norm": "threshold", "box": "box"}
SERIES = {"fps": (["device fps", "GUI fps"], ["device", "GUI"]),
          "times": (["capture", "preprocess", "net()", "send"], ["capture", "pre", "net", "send"])}
HIST_BINS = 64
HIST_X = [(i + 0.5) * 256 / HIST_BINS for i in range(HIST_BINS)]
HEAT_BINS = 120  # time bins of the per-class score heat map
MAX_CANDIDATES = 16  # candidate boxes drawn per stage (protocol v2 CANDIDATES)
PANELS = ("camera", "in28", "pred", "lcd", "stages", "hist", "debug")  # in reading order; the plots come last
PAD = 8
CANVAS = 112  # drawing canvas resolution (shown 2x)


@dataclass
class Sizes:
    """Pixel sizes of every panel for one viewport size and text size."""
    width: int
    height: int
    line: int  # one line of text
    ctrl_w: int
    views_w: int
    views_h: int
    cam_box: int  # longest side the camera image may take at zoom 1
    in28_k: int  # 28x28 enlargement
    digit_w: int
    digit_h: int
    bar_w: int
    bar_h: int
    stage_k: int  # work-grid (64x64) enlargement
    hist_w: int
    debug_k: int  # enlargement of the debug panel's 28x28 images
    plot_h: int
    log_h: int

    @property
    def stage_side(self) -> int:
        return 64 * self.stage_k

    @property
    def pred_w(self) -> int:
        return self.bar_w

    @property
    def thumb_k(self) -> int:
        """Enlargement of the training means and nearest examples in the debug panel."""
        return max(1, self.debug_k // 3)

    @property
    def debug_text_w(self) -> int:
        return max(200, min(34 * self.line, self.views_w - 28 * self.debug_k - 280 * self.thumb_k - 4 * PAD - 16))


def compute_sizes(width: int, height: int, line: int) -> Sizes:
    """Sizes for a viewport; the reference is 1280x720 with 14 px text (line 19)."""
    width, height = max(width, 640), max(height, 400)
    ctrl_w = int(min(max(330, 21 * line), width * 0.4))
    views_w = width - ctrl_w - 3 * PAD - 4
    header = 4 * (line + 4) + PAD
    views_h = height - header - 2 * PAD
    u = max(0.5, min(views_w / 870, views_h / 610))
    cam_box = int(250 * u)
    in28_k = max(3, int(200 * u) // 28)
    bar_w = max(220, int(300 * u))
    digit_h = max(90, int(125 * u))
    stage_k = max(1, int(135 * u) // 64)
    hist_w = max(200, int(270 * u))
    cam_side = 81 * max(1, cam_box // 81)  # the board's default preview, 81x81
    row_a = max(cam_side + 2 * line + 3 * PAD, 28 * in28_k + 2 * line + PAD, digit_h + int(140 * u) + line + PAD)
    row_b = line + 64 * stage_k + 2 * PAD
    plot_h = max(120, views_h - row_a - row_b - 3 * PAD)
    # the debug panel takes the plots' place: its 28x28 images as large as that room allows
    debug_k = max(2, min(in28_k, (plot_h - 2 * line - PAD) // 28))
    return Sizes(width, height, line, ctrl_w, views_w, views_h, cam_box, in28_k, int(digit_h * 0.8), digit_h,
                 bar_w, max(110, int(140 * u)), stage_k, hist_w, debug_k, plot_h, max(120, int(views_h * 0.3)))


def camera_scale(side: int, box: int, zoom: int) -> tuple[int, int, float]:
    """(CPU enlargement, CPU subsampling step, display pixels per frame pixel) of a frame
    whose longest side is `side`, in a box of `box` pixels at integer zoom."""
    if side <= box:
        k = max(1, box // max(side, 1)) * zoom
        return k, 1, float(k)
    step = -(-side // box)  # shrink by a whole factor, then zoom
    return zoom, step, zoom / step


def flow(widths: list[int], avail: int, gap: int = PAD) -> list[int]:
    """Row index of each panel when panels of these widths fill rows of `avail` pixels in order."""
    rows, row, used = [], 0, 0
    for w in widths:
        if used and used + gap + w > avail:
            row, used = row + 1, 0
        used += (gap if used else 0) + w
        rows.append(row)
    return rows


class GrowTexture:
    """A Texture that is replaced by a larger one when an image does not fit.

    Dear PyGui shows a texture made at run time blank for one render frame after it is
    first used, but not when it was made two frames before use. So a larger texture is made
    and filled first (needs_switch), and the draw items move to it (switch()) with the
    scene's other widgets two frames later: no blank flash, no mixed frames."""

    def __init__(self, tag: str, width: int, height: int) -> None:
        self.base = tag
        self.gen = 0
        self.users: list[str] = []
        self.tex = Texture(f"{tag}#0", width, height)
        self._next: Texture | None = None
        self._old: list[str] = []

    @property
    def tag(self) -> str:
        return self.tex.tag

    @property
    def needs_switch(self) -> bool:
        return self._next is not None

    def show(self, img: np.ndarray) -> tuple[float, float]:
        h, w = img.shape[:2]
        if self._next is None and w <= self.tex.width and h <= self.tex.height:
            return self.tex.show(img)
        if self._next is None or w > self._next.width or h > self._next.height:
            self.gen += 1
            nw, nh = -(-max(w, self.tex.width) // 64) * 64, -(-max(h, self.tex.height) // 64) * 64
            with dpg.texture_registry():
                self._next = Texture(f"{self.base}#{self.gen}", nw, nh)
        return self._next.show(img)

    def switch(self) -> None:
        """Move the draw items to the larger texture made by show()."""
        if self._next is None:
            return
        for item in self.users:
            dpg.configure_item(item, texture_tag=self._next.tag)
        self._old.append(self.tex.tag)
        self.tex, self._next = self._next, None

    def pixels(self) -> np.ndarray:
        return self.tex.pixels()

    def collect(self) -> None:
        """Delete textures no draw item uses any more (one frame after they were replaced)."""
        for tag in self._old:
            if dpg.does_item_exist(tag):
                dpg.delete_item(tag)
        self._old.clear()


def grey_glyph(digit: Any, w: int, h: int, bg: int) -> np.ndarray:
    """The predicted digit (or '-', '?') drawn large and anti-aliased at any size."""
    import cv2

    img = np.full((h, w), bg, np.uint8)
    text = "-" if digit is None else str(digit)
    scale = h / 33.0
    thick = max(2, int(h / 15))
    (tw, th), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_DUPLEX, scale, thick)
    cv2.putText(img, text, ((w - tw) // 2, (h + th) // 2), cv2.FONT_HERSHEY_DUPLEX, scale, 255, thick, cv2.LINE_AA)
    return img


class Layout:
    """The view panels (left) and the control column (right), and how they are sized."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.sizes = compute_sizes(1280, 720, 19)
        self._rows: dict[str, int] = {}
        self.tex: dict[str, GrowTexture] = {}

    # ---------------------------------------------------------------- textures
    def _texture(self, name: str, w: int, h: int) -> GrowTexture:
        self.tex[name] = GrowTexture(f"tex_{name}", w, h)
        return self.tex[name]

    def _image(self, tex: str, tag: str, size: tuple[int, int] = (1, 1)) -> None:
        dpg.draw_image(self.tex[tex].tag, (0, 0), size, uv_max=(0.0, 0.0), tag=tag)
        self.tex[tex].users.append(tag)

    # ---------------------------------------------------------------- building
    def build(self) -> None:
        with dpg.texture_registry():
            self._texture("cam", 256, 256)
            for name in STAGES:
                self._texture(name, 128, 128)
            self._texture("in28", 224, 224)
            self._texture("digit", 128, 192)
            self._texture("saliency", 128, 128)
            self._texture("thumbs", 512, 128)
            self._texture("canvas", CANVAS, CANVAS)
            self._texture("lcd", 192, 320)  # the emulated board's 80x160 LCD, up to 2x
        with dpg.window(tag="main", label="pico4ml", no_scrollbar=True):
            self._build_header()
            with dpg.group(horizontal=True, tag="body"):
                with dpg.child_window(tag="views", border=False, width=800, height=-1, horizontal_scrollbar=True):
                    for r in range(len(PANELS)):
                        dpg.add_group(horizontal=True, tag=f"row{r}", horizontal_spacing=PAD)
                    with dpg.group(tag="panel_parking"):
                        self._build_camera()
                        self._build_in28()
                        self._build_prediction()
                        self._build_lcd()
                        self._build_stages()
                        self._build_histogram()
                        self._build_debug()
                    self._build_plots()
                with dpg.group(tag="right"):
                    dpg.add_child_window(tag="controls", width=360, height=-200, border=True)
                    with dpg.group(horizontal=True, tag="log_bar"):
                        dpg.add_text("log", tag="log_title")
                    with dpg.child_window(tag="log_window", width=360, height=-1):
                        dpg.add_text("", tag="log_text", wrap=340)

    def _build_header(self) -> None:
        dpg.add_text("", tag="status_text")
        with dpg.group(horizontal=True):
            dpg.add_text("", tag="device_text")
            dpg.add_button(label="restart twin", tag="restart_twin", show=False)
        with dpg.group(horizontal=True, tag="counters"):
            for tag in ("ctr_fps", "ctr_rx", "ctr_rate", "ctr_crc", "ctr_decode", "ctr_lost", "ctr_drops", "check_text"):
                dpg.add_text("", tag=tag)
        dpg.add_text("", tag="message_text", color=(240, 200, 80))

    def _build_camera(self) -> None:
        with dpg.group(tag="panel_camera"):
            with dpg.group(horizontal=True):
                dpg.add_text("camera", tag="cam_label")
            with dpg.child_window(width=270, height=270, horizontal_scrollbar=True, tag="cam_scroll", border=False):
                with dpg.drawlist(width=243, height=243, tag="cam_draw"):
                    self._image("cam", "cam_image")
                    dpg.draw_rectangle((0, 0), (0, 0), color=ROI_COLOR, thickness=2, tag="cam_roi")
                    dpg.draw_rectangle((0, 0), (0, 0), color=(0, 0, 0, 0), fill=(0, 0, 0, 170), tag="cam_banner_bg")
                    dpg.draw_text((6, 4), "", size=18, color=(255, 200, 60, 255), tag="cam_banner")
                    dpg.draw_rectangle((0, 0), (0, 0), color=(0, 0, 0, 0), fill=(0, 0, 0, 170), tag="cam_note_bg",
                                       show=False)
                    dpg.draw_text((4, 0), "", size=14, color=(255, 176, 40, 255), tag="cam_note")
            with dpg.group(horizontal=True):
                dpg.add_slider_int(label="zoom", tag="zoom", default_value=1, min_value=1, max_value=4, width=90)
                dpg.add_checkbox(label="freeze", tag="freeze")

    def _build_in28(self) -> None:
        with dpg.group(tag="panel_in28"):
            dpg.add_text("network input 28x28", tag="in28_label")
            with dpg.drawlist(width=224, height=224, tag="in28_draw"):
                self._image("in28", "in28_image")
            dpg.add_text("hover an image for pixel values", tag="in28_pixel")

    def _build_prediction(self) -> None:
        with dpg.group(tag="panel_pred"):
            dpg.add_text("prediction", tag="pred_label")
            with dpg.group(horizontal=True):
                with dpg.drawlist(width=100, height=125, tag="digit_draw"):
                    self._image("digit", "digit_image")
                with dpg.group(tag="pred_text"):
                    dpg.add_text("", tag="digit_score")
                    dpg.add_text("", tag="digit_status")
                    dpg.add_text("", tag="digit_check")
                    dpg.add_text("", tag="digit_check2")
            with dpg.drawlist(width=300, height=140, tag="bars_draw"):
                for i in range(10):
                    dpg.draw_rectangle((0, 0), (0, 0), fill=BAR_COLOR, color=BAR_COLOR, tag=f"bar{i}")
                    dpg.draw_text((0, 0), str(i), size=14, tag=f"bar_label{i}")

    def _build_lcd(self) -> None:
        # shown only with an emulated board (host_gui/lcd.py fills it)
        with dpg.group(tag="panel_lcd", show=False):
            dpg.add_text("emulated LCD", tag="lcd_label")
            with dpg.drawlist(width=160, height=320, tag="lcd_draw"):
                self._image("lcd", "lcd_image", (160, 320))

    def _build_stages(self) -> None:
        with dpg.group(tag="panel_stages", horizontal=True, horizontal_spacing=PAD):
            for name, title in STAGES.items():
                with dpg.group(tag=f"stage_{name}"):
                    dpg.add_text(title, tag=f"{name}_label")
                    with dpg.drawlist(width=128, height=128, tag=f"{name}_draw"):
                        self._image(name, f"{name}_image")
                        dpg.draw_rectangle((0, 0), (0, 0), color=ROI_COLOR, thickness=1, tag=f"{name}_bbox", show=False)
                        for i in range(MAX_CANDIDATES):
                            dpg.draw_rectangle((0, 0), (0, 0), color=(255, 90, 90, 200), thickness=1,
                                               tag=f"{name}_cand{i}", show=False)
                            dpg.draw_text((0, 0), "", size=11, color=(255, 140, 140, 255), tag=f"{name}_candtext{i}",
                                          show=False)

    def _build_histogram(self) -> None:
        with dpg.group(tag="panel_hist"):
            dpg.add_text("camera histogram", tag="hist_text", wrap=260)
            with dpg.plot(height=128, width=270, no_title=True, no_menus=True, no_mouse_pos=True, tag="plot_hist"):
                dpg.add_plot_axis(dpg.mvXAxis, tag="hist_x", no_tick_labels=False)
                with dpg.plot_axis(dpg.mvYAxis, tag="hist_y", no_tick_labels=True):
                    dpg.add_bar_series(list(HIST_X), [0.0] * HIST_BINS, weight=256 / HIST_BINS, tag="hist_series")
            dpg.bind_colormap("plot_hist", dpg.mvPlotColormap_Deep)

    def _build_debug(self) -> None:
        with dpg.group(tag="panel_debug", show=False):
            dpg.add_text("why: red pixels pushed the answer, blue held it back | MNIST digit means (closest "
                         "boxed) and nearest examples", tag="debug_title", wrap=600)
            with dpg.group(horizontal=True):
                with dpg.drawlist(width=112, height=112, tag="sal_draw"):
                    self._image("saliency", "sal_image")
                with dpg.drawlist(width=400, height=100, tag="thumbs_draw"):
                    self._image("thumbs", "thumbs_image")
                    dpg.draw_rectangle((0, 0), (0, 0), color=(60, 200, 90, 255), thickness=2, tag="thumbs_pick")
                dpg.add_text("", tag="debug_text", wrap=300)

    def _build_plots(self) -> None:
        with dpg.group(tag="panel_plots"):
            with dpg.group(horizontal=True, tag="plots_row"):
                for tag, title in (("fps", "frames per second"), ("times", "device times (ms)")):
                    series = SERIES[tag][0]
                    with dpg.plot(label=title, height=180, width=280, tag=f"plot_{tag}"):
                        dpg.add_plot_legend(tag=f"legend_{tag}")
                        dpg.add_plot_axis(dpg.mvXAxis, label="s", tag=f"{tag}_x")
                        with dpg.plot_axis(dpg.mvYAxis, tag=f"{tag}_y"):
                            for j, name in enumerate(series):
                                dpg.add_line_series([], [], label=name, tag=f"{tag}_s{j}")
                    dpg.bind_colormap(f"plot_{tag}", dpg.mvPlotColormap_Deep)  # not the heat map's
                with dpg.plot(label="per-class scores", height=180, width=280, tag="plot_scores"):
                    dpg.add_plot_axis(dpg.mvXAxis, label="s", tag="scores_x")
                    with dpg.plot_axis(dpg.mvYAxis, label="digit", tag="scores_y"):
                        dpg.add_heat_series(np.zeros(10 * HEAT_BINS).tolist(), 10, HEAT_BINS, scale_min=0.0,
                                            scale_max=1.0, format="", tag="scores_heat", bounds_min=(-30.0, 0.0),
                                            bounds_max=(0.0, 10.0))
                    dpg.set_axis_ticks("scores_y", tuple((str(d), d + 0.5) for d in range(10)))
                dpg.bind_colormap("plot_scores", dpg.mvPlotColormap_Viridis)

    # ---------------------------------------------------------------- sizing
    def panel_width(self, name: str) -> int:
        s = self.sizes
        if name == "camera":
            return self.app.camera_view_side() + 12
        if name == "in28":
            return max(28 * s.in28_k, 24 * s.line // 2)
        if name == "pred":
            return s.bar_w
        if name == "lcd":
            return max(80 * self.app.lcd.zoom(), 7 * self.sizes.line)  # the picture or its title
        if name == "stages":
            return 4 * s.stage_side + 3 * PAD
        if name == "hist":
            return s.hist_w
        if name == "debug":
            return 28 * s.debug_k + 280 * s.thumb_k + s.debug_text_w + 2 * PAD
        raise KeyError(name)

    def fit(self, width: int, height: int, line: int) -> Sizes:
        """Size and place everything for a viewport of width x height with text lines of `line` px."""
        s = self.sizes = compute_sizes(width, height, line)
        dpg.configure_item("views", width=s.views_w)
        dpg.configure_item("controls", width=s.ctrl_w, height=-(s.log_h + line + 8))
        dpg.configure_item("log_window", width=s.ctrl_w)
        dpg.configure_item("log_text", wrap=s.ctrl_w - 24)
        # prediction panel
        dpg.configure_item("digit_draw", width=s.digit_w, height=s.digit_h)
        dpg.configure_item("digit_image", pmax=(s.digit_w, s.digit_h))
        dpg.configure_item("bars_draw", width=s.bar_w, height=s.bar_h)
        # network input
        side = 28 * s.in28_k
        dpg.configure_item("in28_draw", width=side, height=side)
        # stages and histogram
        for name in STAGES:
            dpg.configure_item(f"{name}_draw", width=s.stage_side, height=s.stage_side)
        dpg.configure_item("plot_hist", width=s.hist_w, height=s.stage_side - s.line)
        dpg.configure_item("hist_text", wrap=s.hist_w)
        # debug
        k, t = s.debug_k, s.thumb_k
        dpg.configure_item("sal_draw", width=28 * k, height=28 * k)
        dpg.configure_item("thumbs_draw", width=10 * 28 * t, height=2 * 28 * t + 2)
        dpg.configure_item("debug_title", wrap=self.panel_width("debug"))
        dpg.configure_item("debug_text", wrap=s.debug_text_w)
        for tag, width in (("cam_label", s.cam_box), ("in28_label", 28 * s.in28_k), ("pred_label", s.bar_w)):
            dpg.configure_item(tag, wrap=width)
        # plots share the width below the images
        plot_w = (s.views_w - 3 * PAD - 16) // 3
        for tag in ("plot_fps", "plot_times", "plot_scores"):
            dpg.configure_item(tag, width=plot_w, height=s.plot_h)
        self._size_controls("controls", s)
        dpg.configure_item("params_mode", wrap=s.ctrl_w - 30)
        for i in range(10):
            dpg.configure_item(f"bar_label{i}", size=max(12, int(line * 0.75)))
        dpg.configure_item("cam_note", size=max(12, int(line * 0.8)))
        dpg.configure_item("cam_banner", size=max(13, int(line * 0.85)))
        small = s.plot_h < 180
        for tag in ("fps", "times", "scores"):
            dpg.configure_item(f"plot_{tag}", no_title=small)
        for tag, names in SERIES.items():  # a short legend in one line when the plots are low
            dpg.configure_item(f"legend_{tag}", horizontal=small,
                               location=dpg.mvPlot_Location_North if small else dpg.mvPlot_Location_NorthWest)
            for j, name in enumerate(names[1 if small else 0]):
                dpg.configure_item(f"{tag}_s{j}", label=name)
        for name in STAGES:
            dpg.configure_item(f"{name}_label", wrap=s.stage_side)
        ticks = range(10) if s.plot_h >= 180 else (0, 5, 9)
        dpg.set_axis_ticks("scores_y", tuple((str(d), d + 0.5) for d in ticks))
        self.reflow()
        return s

    def _size_controls(self, parent: str, s: Sizes) -> None:
        """Sliders, combos and text fields of the control column take a share of its width."""
        widths = {"mvSliderInt": 0.42, "mvSliderFloat": 0.42, "mvCombo": 0.6, "mvInputText": 0.62}
        for item in dpg.get_item_children(parent, 1) or []:
            kind = dpg.get_item_info(item)["type"].rsplit("::", 1)[-1]
            if kind in widths:
                share = {"tolerance": 0.25, "replay_speed": 0.2}.get(dpg.get_item_alias(item), widths[kind])
                dpg.configure_item(item, width=int(s.ctrl_w * share))
            self._size_controls(item, s)

    def reflow(self) -> None:
        """Put the panels into rows by their current widths (only moves what changed row). The
        history plots give way to the debug panel when the window is too low for both."""
        s = self.sizes
        debugging = dpg.is_item_shown("panel_debug")
        debug_h = 28 * s.debug_k + 2 * s.line + PAD
        dpg.configure_item("panel_plots", show=not debugging or s.plot_h - debug_h >= 120)
        if debugging and s.plot_h - debug_h >= 120:
            for tag in ("plot_fps", "plot_times", "plot_scores"):
                dpg.configure_item(tag, height=s.plot_h - debug_h)
        elif not debugging:
            for tag in ("plot_fps", "plot_times", "plot_scores"):
                dpg.configure_item(tag, height=s.plot_h)
        visible = [p for p in PANELS if dpg.is_item_shown(f"panel_{p}")]
        rows = flow([self.panel_width(p) for p in visible], self.sizes.views_w - 16)
        placement = dict(zip(visible, rows))
        if placement == self._rows:
            return
        for p in PANELS:  # re-append in order so each row keeps the reading order
            parent = f"row{placement[p]}" if p in placement else "panel_parking"
            dpg.move_item(f"panel_{p}", parent=parent)
        self._rows = placement

    def row_of(self, panel: str) -> int:
        return self._rows.get(panel, -1)

    def set_bar_geometry(self, scores: np.ndarray | None, winner: int | None, colors: tuple) -> None:
        s = self.sizes
        slot = s.bar_w // 10
        top = s.bar_h - 20
        for i in range(10):
            x0 = i * slot + 4
            v = 0.0 if scores is None else float(scores[i])
            y = top - v * (top - 4)
            color = colors[0] if i == winner else colors[1]
            dpg.configure_item(f"bar{i}", pmin=(x0, y), pmax=(x0 + slot - 8, top), fill=color, color=color)
            dpg.configure_item(f"bar_label{i}", pos=(x0 + slot // 2 - 8, top + 3), color=TEXT)

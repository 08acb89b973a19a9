"""The Dear PyGui window: build_ui() once, then update() pushes the State into the widgets.

The render loop is manual (run()): poll the source into the State, push it, render a frame.
Textures are allocated once at their largest size and updated in place; smaller images use
part of a texture through uv coordinates. Images are enlarged on the CPU by integer factors
(numpy repeat) so every sensor and network pixel stays a crisp square. Every failure a user
can cause (bad path, unplugged board, unreadable image) ends up in the status line, never in
a traceback.
"""
from __future__ import annotations

import time
from dataclasses import fields, replace
from pathlib import Path
from typing import Any, Callable

import numpy as np
import dearpygui.dearpygui as dpg

from pico4ml.train.preprocess import PreprocessParams

from . import images
from pico4ml.common import protocol as P
from .presets import PARAM_RANGES, Settings
from .state import State

CAM_TEX = 324  # largest camera image (HM01B0 full resolution)
CAM_VIEW = 324  # on-screen size of the camera view at zoom 1
IN28_FACTOR = 8  # 28x28 shown as 224x224
IN28_VIEW = 28 * IN28_FACTOR
STAGE_VIEW = 128  # on-screen size of each preprocessing stage
CANVAS = 112  # drawing canvas resolution (shown 2x)
BAR_W, BAR_H = 330, 170
HEAT_BINS = 120  # time bins of the per-class score heat map
HIST_BINS = 64
HIST_X = [(i + 0.5) * 256 / HIST_BINS for i in range(HIST_BINS)]
DIGIT_W, DIGIT_H = 110, 140
BG_GREY = 37  # window background, behind the big digit
WIN_COLOR = (60, 200, 90, 255)
BAR_COLOR = (70, 120, 220, 255)
ROI_COLOR = (255, 200, 0, 255)
POLARITIES = ["dark ink on light paper", "light ink on dark", "auto"]
STATE_COLORS = {"connected": (90, 220, 110), "disconnected": (240, 90, 80), "connecting": (240, 200, 80),
                "replay": (120, 170, 255)}
PARAM_LABELS = {
    "roi_x": "ROI x", "roi_y": "ROI y", "roi_w": "ROI width (0 = centred square)", "roi_h": "ROI height",
    "bg_remove": "background removal", "bg_radius": "background radius", "threshold_pct": "threshold % (0 = Otsu)",
    "saturate_pct": "saturate %", "min_contrast": "min contrast", "speck_min": "speck filter",
    "border": "border", "box_size": "box size (MNIST 20)", "center_mass": "centre of mass",
}
# The device's intermediate images (STAGE messages), left to right as the pipeline runs.
STAGES = {"work": "ROI on work grid", "ink": "ink", "norm": "threshold", "box": "digit box"}
STREAM_BITS = [("frame", P.STREAM_FRAME), ("28x28", P.STREAM_INPUT28), ("stages", P.STREAM_STAGE),
               ("result", P.STREAM_RESULT), ("stats", P.STREAM_STATS), ("log", P.STREAM_LOG)]


def guarded(method: Callable) -> Callable:
    """A widget callback whose errors become the status message (Dear PyGui would only print them)."""
    import functools

    @functools.wraps(method)
    def wrapper(self: "App", *args: Any, **kwargs: Any) -> Any:
        try:
            return method(self, *args, **kwargs)
        except Exception as e:  # noqa: BLE001 -- never a traceback, never a dead control
            self.say(f"{method.__name__.removeprefix('_on_').replace('_', ' ')} failed: {type(e).__name__}: {e}")
            return None
    return wrapper


class Texture:
    """One raw RGBA texture allocated once; show() writes a grey image into its corner."""

    def __init__(self, tag: str, width: int, height: int) -> None:
        self.tag, self.width, self.height = tag, width, height
        self.buf = np.zeros(width * height * 4, np.float32)
        self.buf[3::4] = 1.0
        self.shown = (0, 0)
        dpg.add_raw_texture(width, height, self.buf, format=dpg.mvFormat_Float_rgba, tag=tag)

    def show(self, img: np.ndarray) -> tuple[float, float]:
        """Write img (cropped to fit) at the top-left; returns the uv_max of the used part."""
        h, w = min(img.shape[0], self.height), min(img.shape[1], self.width)
        view = self.buf.reshape(self.height, self.width, 4)
        g = img[:h, :w].astype(np.float32) * (1.0 / 255.0)
        view[:h, :w, 0] = g
        view[:h, :w, 1] = g
        view[:h, :w, 2] = g
        dpg.set_value(self.tag, self.buf)
        self.shown = (w, h)
        return w / self.width, h / self.height


class App:
    """The GUI around a source (LiveSource or ReplaySource) and a State."""

    def __init__(self, source: Any, state: State, settings: Settings | None = None,
                 out_dir: str | Path = "pico4ml-out", twin: Any = None) -> None:
        self.source = source
        self.twin = twin  # the host twin of --sim, watched so its exit is reported
        self._twin_reported = False
        self.state = state
        self.settings = settings or Settings()
        self.out_dir = Path(out_dir)
        self.message = ""
        self.zoom = 1.0
        self.canvas = np.full((CANVAS, CANVAS), 255, np.uint8)  # dark ink on white paper, like the camera
        self._last_mouse: tuple[float, float] | None = None
        self._was_connected = False
        self._gui_frames = 0
        self._gui_t0 = time.monotonic()
        self._pushed_version = -1
        self.frozen = False
        self._live: tuple[Any, State] | None = None  # the live source and state behind an opened recording
        self._roi_drag: tuple[tuple[float, float], tuple[float, float]] | None = None
        self._cam_k, self._cam_src = 1.0, (324, 324)
        self._camera_touched = False  # camera options go out only once the user sets them
        self._shown_digit: int | None = None
        self._shown_injected: Any = None
        self._shown_images: dict[str, np.ndarray] = {}
        self.digit_text = "-"

    # ------------------------------------------------------------------ building
    def build_ui(self) -> None:
        """Create textures, themes and every widget (call once, inside a Dear PyGui context)."""
        with dpg.texture_registry():
            self.tex_cam = Texture("tex_cam", CAM_TEX, CAM_TEX)
            self.tex_stages = {name: Texture(f"tex_{name}", STAGE_VIEW, STAGE_VIEW) for name in STAGES}
            self.tex_in28 = Texture("tex_in28", IN28_VIEW, IN28_VIEW)
            self.tex_digit = Texture("tex_digit", DIGIT_W, DIGIT_H)
            self.tex_digit.show(digit_glyph(None))
            self.tex_canvas = Texture("tex_canvas", CANVAS, CANVAS)
            self.tex_canvas.show(self.canvas)
        p = self.settings.params
        with dpg.window(tag="main", label="pico4ml"):
            with dpg.group(horizontal=True):
                dpg.add_text("", tag="status_text")
            dpg.add_text("", tag="device_text")
            dpg.add_text("", tag="link_text")
            dpg.add_text("", tag="message_text", color=(240, 200, 80))
            with dpg.group(horizontal=True):
                with dpg.child_window(width=-380, border=False, tag="left"):
                    with dpg.group(horizontal=True):
                        with dpg.group():
                            dpg.add_text("camera (drag: ROI, right-click: auto ROI)")
                            with dpg.child_window(width=CAM_VIEW + 24, height=CAM_VIEW + 24, horizontal_scrollbar=True,
                                                  tag="cam_scroll"):
                                with dpg.drawlist(width=CAM_VIEW, height=CAM_VIEW, tag="cam_draw"):
                                    dpg.draw_image("tex_cam", (0, 0), (CAM_VIEW, CAM_VIEW), uv_max=(0.25, 0.25),
                                                   tag="cam_image")
                                    dpg.draw_rectangle((0, 0), (0, 0), color=ROI_COLOR, thickness=2, tag="cam_roi")
                            with dpg.group(horizontal=True):
                                dpg.add_slider_float(label="zoom", tag="zoom", default_value=1.0, min_value=1.0,
                                                     max_value=4.0, width=150, callback=self._on_zoom)
                                dpg.add_checkbox(label="freeze", tag="freeze", callback=self._on_freeze)
                        with dpg.group():
                            dpg.add_text("network input 28x28 (x8)")
                            dpg.add_image("tex_in28", width=IN28_VIEW, height=IN28_VIEW, tag="in28_image")
                            dpg.add_text("hover an image for pixel values", tag="in28_pixel")
                        with dpg.group():
                            dpg.add_text("prediction")
                            with dpg.group(horizontal=True):
                                dpg.add_image("tex_digit", width=DIGIT_W, height=DIGIT_H, tag="digit_image")
                                with dpg.drawlist(width=BAR_W - DIGIT_W - 8, height=DIGIT_H, tag="digit_draw"):
                                    dpg.draw_text((4, 30), "", size=30, tag="digit_score")
                                    dpg.draw_text((4, 80), "", size=14, tag="digit_check")
                                    dpg.draw_text((4, 100), "", size=14, tag="digit_check2")
                            with dpg.drawlist(width=BAR_W, height=BAR_H, tag="bars_draw"):
                                for i in range(10):
                                    x0 = i * (BAR_W // 10) + 4
                                    dpg.draw_rectangle((x0, BAR_H - 20), (x0 + BAR_W // 10 - 8, BAR_H - 20),
                                                       fill=BAR_COLOR, color=BAR_COLOR, tag=f"bar{i}")
                                    dpg.draw_text((x0 + 8, BAR_H - 16), str(i), size=14)
                    with dpg.group(horizontal=True):
                        for name, title in STAGES.items():
                            with dpg.group():
                                dpg.add_text(title, tag=f"{name}_label")
                                dpg.add_image(f"tex_{name}", width=STAGE_VIEW, height=STAGE_VIEW,
                                              tag=f"{name}_image")
                                dpg.add_spacer(width=STAGE_VIEW, height=1)  # fixed column, whatever the aspect
                        with dpg.group():
                            dpg.add_text("camera histogram", tag="hist_text")
                            with dpg.plot(height=STAGE_VIEW, width=-1, no_title=True, no_menus=True,
                                          no_mouse_pos=True, tag="plot_hist"):
                                dpg.add_plot_axis(dpg.mvXAxis, tag="hist_x", no_tick_labels=False)
                                with dpg.plot_axis(dpg.mvYAxis, tag="hist_y", no_tick_labels=True):
                                    dpg.add_bar_series(list(HIST_X), [0.0] * HIST_BINS, weight=256 / HIST_BINS,
                                                       tag="hist_series")
                            dpg.bind_colormap("plot_hist", dpg.mvPlotColormap_Deep)
                    with dpg.group(horizontal=True):
                        dpg.add_slider_float(label="history window (s)", tag="window", default_value=30.0,
                                             min_value=2.0, max_value=300.0, width=200, callback=self._on_window)
                        dpg.add_text("", tag="check_text")
                    with dpg.group(horizontal=True):
                        for tag, title, series in (
                                ("fps", "frames per second", ["device fps", "GUI fps"]),
                                ("times", "device times (ms)", ["capture", "preprocess", "net()", "send"])):
                            with dpg.plot(label=title, height=-1, width=330, tag=f"plot_{tag}"):
                                dpg.add_plot_legend()
                                dpg.add_plot_axis(dpg.mvXAxis, label="s", tag=f"{tag}_x")
                                with dpg.plot_axis(dpg.mvYAxis, tag=f"{tag}_y"):
                                    for j, name in enumerate(series):
                                        dpg.add_line_series([], [], label=name, tag=f"{tag}_s{j}")
                            dpg.bind_colormap(f"plot_{tag}", dpg.mvPlotColormap_Deep)  # not the heat map's
                        with dpg.plot(label="per-class scores", height=-1, width=330, tag="plot_scores"):
                            dpg.add_plot_axis(dpg.mvXAxis, label="s", tag="scores_x")
                            with dpg.plot_axis(dpg.mvYAxis, label="digit", tag="scores_y"):
                                dpg.add_heat_series(np.zeros(10 * HEAT_BINS).tolist(), 10, HEAT_BINS,
                                                    scale_min=0.0, scale_max=1.0, format="", tag="scores_heat",
                                                    bounds_min=(-30.0, 0.0), bounds_max=(0.0, 10.0))
                            dpg.set_axis_ticks("scores_y", tuple((str(d), d + 0.5) for d in range(10)))
                            dpg.bind_colormap("plot_scores", dpg.mvPlotColormap_Viridis)
                with dpg.child_window(width=370, tag="controls"):
                    with dpg.collapsing_header(label="preprocessing (sent live)", default_open=True):
                        dpg.add_combo(POLARITIES, label="polarity", default_value=POLARITIES[p.polarity],
                                      tag="param_polarity", width=200, callback=self._on_param)
                        for f in fields(PreprocessParams):
                            if f.name in PARAM_LABELS:
                                lo, hi = PARAM_RANGES[f.name]
                                dpg.add_slider_int(label=PARAM_LABELS[f.name], tag=f"param_{f.name}",
                                                   default_value=getattr(p, f.name), min_value=lo,
                                                   max_value=min(hi, 324) if f.name.startswith("roi") else hi,
                                                   width=150, callback=self._on_param)
                    with dpg.collapsing_header(label="stream and camera", default_open=False):
                        for name, bit in STREAM_BITS:
                            dpg.add_checkbox(label=f"send {name}", tag=f"stream_{name}",
                                             default_value=bool(self.settings.stream.mask & bit),
                                             callback=self._on_stream)
                        dpg.add_checkbox(label="full-resolution frames", tag="stream_fullres",
                                         default_value=self.settings.stream.full_res, callback=self._on_stream)
                        dpg.add_slider_int(label="frame every N", tag="stream_decimation", min_value=1,
                                           max_value=30, default_value=self.settings.stream.decimation, width=150,
                                           callback=self._on_stream)
                        dpg.add_slider_int(label="frame max side", tag="stream_max_side", min_value=16,
                                           max_value=128, default_value=self.settings.stream.max_side, width=150,
                                           callback=self._on_stream)
                        cam = self.settings.camera
                        dpg.add_checkbox(label="mirror", tag="cam_mirror", default_value=bool(cam.flags & P.CAM_MIRROR),
                                         callback=self._on_camera)
                        dpg.add_checkbox(label="flip", tag="cam_flip", default_value=bool(cam.flags & P.CAM_FLIP),
                                         callback=self._on_camera)
                        dpg.add_checkbox(label="auto exposure", tag="cam_auto",
                                         default_value=bool(cam.flags & P.CAM_AUTO_EXPOSURE), callback=self._on_camera)
                        dpg.add_slider_int(label="exposure (lines)", tag="cam_exposure", min_value=2,
                                           max_value=0x0216, default_value=cam.exposure, width=150,
                                           callback=self._on_camera)
                        dpg.add_slider_int(label="analog gain log2", tag="cam_gain", min_value=0, max_value=3,
                                           default_value=cam.analog_gain, width=150, callback=self._on_camera)
                    with dpg.collapsing_header(label="files", default_open=True):
                        dpg.add_input_text(label="preset", tag="preset_path", default_value="pico4ml-preset.json",
                                           width=220)
                        with dpg.group(horizontal=True):
                            dpg.add_button(label="save preset", callback=self._on_save_preset)
                            dpg.add_button(label="load preset", callback=self._on_load_preset)
                            dpg.add_button(label="send all", callback=lambda: self.send_settings())
                        dpg.add_input_text(label="output folder", tag="out_dir", default_value=str(self.out_dir),
                                           width=220)
                        with dpg.group(horizontal=True):
                            dpg.add_button(label="save PNGs", callback=self._on_snapshot)
                            dpg.add_button(label="export CSV", callback=self._on_export_csv)
                            dpg.add_button(label="record", tag="record_button", callback=self._on_record)
                        dpg.add_input_text(label="inject", tag="inject_path", hint="image file or folder",
                                           width=220)
                        dpg.add_button(label="inject through the device", callback=self._on_inject)
                        dpg.add_input_text(label="host tolerance", tag="tolerance",
                                           default_value=str(self.state.tolerance), width=80, on_enter=True,
                                           callback=self._on_tolerance)
                    with dpg.collapsing_header(label="draw a digit (left: ink, right: erase)", default_open=False,
                                               tag="canvas_header"):
                        with dpg.drawlist(width=2 * CANVAS, height=2 * CANVAS, tag="canvas_draw"):
                            dpg.draw_image("tex_canvas", (0, 0), (2 * CANVAS, 2 * CANVAS))
                        with dpg.group(horizontal=True):
                            dpg.add_button(label="send drawing", callback=self._on_send_drawing)
                            dpg.add_button(label="clear", callback=self._on_clear_canvas)
                    with dpg.collapsing_header(label="replay", default_open=not self.source.live, tag="replay_header"):
                        dpg.add_input_text(label="recording", tag="replay_path", hint=".p4rec file", width=220)
                        with dpg.group(horizontal=True):
                            dpg.add_button(label="open", callback=self._on_open_replay)
                            dpg.add_button(label="back to live", callback=self._on_go_live)
                            dpg.add_button(label="play / pause", tag="replay_play", callback=self._on_play)
                        dpg.add_slider_float(label="position (s)", tag="replay_pos", min_value=0.0,
                                             max_value=max(getattr(self.source, "duration", 0.0), 0.01), width=200,
                                             callback=self._on_scrub)
                    dpg.add_text("log")
                    with dpg.child_window(height=-1, tag="log_window"):
                        dpg.add_text("", tag="log_text", wrap=340)
        with dpg.handler_registry():
            dpg.add_mouse_drag_handler(callback=self._on_mouse_move)
            dpg.add_mouse_down_handler(callback=self._on_mouse_move)
            dpg.add_mouse_release_handler(callback=self._on_mouse_release)
        self._layout_camera(81, 81)

    # ------------------------------------------------------------------ pushing state
    def update(self) -> None:
        """Poll the source, then push the state into the widgets (call once per frame).

        Never raises: whatever goes wrong (a source error, a message with odd contents)
        becomes the status message and the next frame renders as usual."""
        try:
            if not self.frozen:
                self.source.poll(self.state)
        except Exception as e:  # noqa: BLE001 -- the UI must keep running whatever the source does
            self.say(f"source error: {e}")
        try:
            self._update_widgets()
        except Exception as e:  # noqa: BLE001
            self._pushed_version = self.state.version  # do not repeat the failure every frame
            self.say(f"display error: {type(e).__name__}: {e}")

    def _update_widgets(self) -> None:
        self._count_gui_frame()
        s = self.state
        if self.source.live and s.status.state == "connected" and not self._was_connected:
            self.send_settings(ping=True)
        self._was_connected = self.source.live and s.status.state == "connected"
        if self.twin is not None and not self.twin.alive and not self._twin_reported:
            self._twin_reported = True
            tail = "; ".join(list(self.twin.stderr_lines)[-2:])
            self.say(f"the host twin exited (code {self.twin.proc.returncode}){': ' + tail if tail else ''}")
        if s.last_injected is not None and s.last_injected is not self._shown_injected:
            self._shown_injected = s.last_injected
            p = s.last_injected
            host = "" if p.check is None else f", host {p.check.host_digit} " + ("OK" if p.check.ok else "MISMATCH")
            self.say(f"injected {p.name or 'image'}: device says {p.result.argmax} "
                     f"({p.scores[p.result.argmax] * 100:.1f} %){host}")
        self._push_status()
        self._push_hover()
        if s.version == self._pushed_version:
            return
        self._pushed_version = s.version
        self._push_images()
        self._push_prediction()
        self._push_history()
        dpg.set_value("log_text", "\n".join(list(s.log)[-40:]))
        if not self.source.live:
            dpg.set_value("replay_pos", self.source.position)

    def _count_gui_frame(self) -> None:
        self._gui_frames += 1
        now = time.monotonic()
        if now - self._gui_t0 >= 0.5:
            self.state.gui_fps = self._gui_frames / (now - self._gui_t0)
            self._gui_frames, self._gui_t0 = 0, now

    def _push_status(self) -> None:
        s = self.state
        st = s.status
        dpg.set_value("status_text", f"{st.state.upper()}: {st.text}" + ("   [view frozen]" if self.frozen else ""))
        dpg.configure_item("status_text", color=STATE_COLORS.get(st.state, (220, 220, 220)))
        h = s.hello
        dev = "device: (no hello yet)" if h is None else (
            f"firmware {h.firmware_version} | model {h.model_name} ({h.model_kind_name}, {h.weights_hash}) | "
            f"capture {h.capture_width}x{h.capture_height}")
        dpg.set_value("device_text", dev)
        dec = self.source.decoder_stats
        st_dev = s.stats
        dev_fps = s.prediction.result.fps if s.prediction else 0.0
        dpg.set_value("link_text", (
            f"device {dev_fps:5.1f} fps | GUI {s.gui_fps:5.1f} fps | frames {s.frames_rx} | results {s.results_rx} | "
            f"{s.bytes_per_s / 1024:6.1f} KB/s | CRC errors {dec.crc_errors if dec else 0} | "
            f"decode errors {dec.errors if dec else 0} | lost {dec.lost if dec else 0} | "
            f"device drops {st_dev.msgs_dropped if st_dev else 0}"))
        dpg.set_value("message_text", self.message or s.last_error)

    def _changed(self, key: str, img: np.ndarray | None) -> bool:
        """True once per new image object: textures are uploaded only when their image changed."""
        if img is None or self._shown_images.get(key) is img:
            return False
        self._shown_images[key] = img
        return True

    def _push_images(self) -> None:
        s = self.state
        if self._changed("frame", s.frame):
            frame = fit_frame(s.frame)
            h, w = frame.shape
            factor = max(1, CAM_TEX // max(h, w))  # crisp sensor pixels at zoom 1
            uv = self.tex_cam.show(images.enlarge(frame, factor) if factor > 1 else frame)
            dpg.configure_item("cam_image", uv_max=uv)
            self._layout_camera(w, h)
            hist, st = images.grey_stats(s.frame, HIST_BINS)
            dpg.set_value("hist_series", [HIST_X, hist.astype(float).tolist()])
            dpg.set_axis_limits("hist_x", 0, 256)
            dpg.set_axis_limits("hist_y", 0, float(hist.max()) * 1.05 + 1)
            dpg.set_value("hist_text", f"camera: mean {st['mean']:.0f}  min {st['min']}  max {st['max']}  "
                                       f"std {st['std']:.0f}  clipped {st['clip_dark_pct']:.1f}/"
                                       f"{st['clip_bright_pct']:.1f} %")
        if self._changed("input28", s.input28):
            self.tex_in28.show(images.enlarge(s.input28, IN28_FACTOR))
        for name, tex in self.tex_stages.items():
            img = s.stages.get(name)
            if not self._changed(name, img):
                continue
            h, w = img.shape
            factor = stage_factor(img)
            uv = tex.show(images.enlarge(img, factor))
            shown_w, shown_h = tex.shown
            dpg.configure_item(f"{name}_image", uv_max=uv, width=shown_w, height=shown_h)  # keep the aspect
            dpg.set_value(f"{name}_label", f"{STAGES[name]} {w}x{h}" if name in ("work", "box") else STAGES[name])

    def _layout_camera(self, w: int, h: int) -> None:
        """Place the camera image at zoom and the ROI rectangle in display coordinates."""
        scale = CAM_VIEW / max(w, h) * self.zoom
        dw, dh = w * scale, h * scale
        dpg.configure_item("cam_image", pmax=(dw, dh))
        dpg.configure_item("cam_draw", width=int(dw), height=int(dh))
        src_w, src_h = w, h
        if self.state.frame_msg is not None and self.state.frame_msg.src_width:
            src_w, src_h = self.state.frame_msg.src_width, self.state.frame_msg.src_height
        p = self.settings.params
        used = self.state.camera_stage
        if used is not None and used.roi[2]:
            rx, ry, rw, rh = used.roi  # what the device really used (clipped, defaults resolved)
        elif p.roi_w == 0 or p.roi_h == 0:
            side = min(src_w, src_h)
            rx, ry, rw, rh = (src_w - side) // 2, (src_h - side) // 2, side, side
        else:
            rx, ry, rw, rh = p.roi_x, p.roi_y, p.roi_w, p.roi_h
        k = dw / src_w
        self._cam_k, self._cam_src = k, (src_w, src_h)
        if self._roi_drag is None:
            dpg.configure_item("cam_roi", pmin=(rx * k + 1, ry * k + 1), pmax=((rx + rw) * k - 1, (ry + rh) * k - 1))

    def _push_prediction(self) -> None:
        pred = self.state.prediction
        if pred is None:
            return
        r = pred.result
        if self._shown_digit != r.argmax:
            self.tex_digit.show(digit_glyph(r.argmax))
            self._shown_digit = r.argmax
        self.digit_text = str(r.argmax)
        dpg.configure_item("digit_score", text=f"{pred.scores[r.argmax] * 100:5.1f} %")
        if pred.check is None:
            check, check2 = "host check: -", ""
        else:
            check = f"host says {pred.check.host_digit}: " + ("OK" if pred.check.ok else "MISMATCH")
            check2 = f"max diff {pred.check.max_diff:.4f}"
        color = (220, 220, 220, 255) if pred.check is None else (
            (90, 220, 110, 255) if pred.check.ok else (255, 80, 70, 255))  # a mismatch must stand out
        dpg.configure_item("digit_check", text=check, color=color)
        dpg.configure_item("digit_check2", text=check2 + ("  injected" if r.injected else ""))
        top = BAR_H - 20
        for i in range(10):
            x0 = i * (BAR_W // 10) + 4
            y = top - float(pred.scores[i]) * (top - 4)
            color = WIN_COLOR if i == r.argmax else BAR_COLOR
            dpg.configure_item(f"bar{i}", pmin=(x0, y), pmax=(x0 + BAR_W // 10 - 8, top), fill=color, color=color)
        s = self.state
        dpg.set_value("check_text", f"device vs host: {s.checks} checked, {s.check_failures} mismatches "
                                    f"(tolerance {s.tolerance})" if s.host_model else "host check off")

    def _push_history(self) -> None:
        s = self.state
        t = s.recent(s.timing)
        if len(t):
            x = t[:, 0].tolist()
            for j, col in enumerate((1, 2)):
                dpg.set_value(f"fps_s{j}", [x, t[:, col].tolist()])
            for j, col in enumerate((3, 4, 5, 6)):
                dpg.set_value(f"times_s{j}", [x, t[:, col].tolist()])
        heat = s.scores_heatmap(HEAT_BINS)[::-1]  # the plot's first row is the top one: digit 9
        dpg.set_value("scores_heat", [heat.ravel().tolist()])
        dpg.configure_item("scores_heat", bounds_min=(-s.history_window_s, 0.0), bounds_max=(0.0, 10.0))
        for tag in ("fps", "times", "scores"):
            dpg.set_axis_limits(f"{tag}_x", -s.history_window_s, 0.0)
        dpg.set_axis_limits("scores_y", 0.0, 10.0)
        dpg.set_axis_limits("fps_y", 0.0, max(5.0, float(t[:, 1:3].max()) * 1.15) if len(t) else 30.0)
        dpg.fit_axis_data("times_y")

    def _push_hover(self) -> None:
        """The value of the pixel under the mouse, on the 28x28, the camera or a stage."""
        s = self.state
        mouse = dpg.get_mouse_pos(local=False)
        text = ""
        if s.input28 is not None and dpg.is_item_hovered("in28_image"):
            text = "28x28 " + pixel_text(s.input28, mouse, dpg.get_item_rect_min("in28_image"), IN28_FACTOR)
        elif s.frame is not None and dpg.is_item_hovered("cam_draw"):
            scale = CAM_VIEW / max(s.frame.shape) * self.zoom  # display pixels per frame pixel
            text = "camera " + pixel_text(s.frame, mouse, dpg.get_item_rect_min("cam_draw"), scale)
        else:
            for name in STAGES:
                img = s.stages.get(name)
                if img is not None and dpg.is_item_hovered(f"{name}_image"):
                    text = f"{name} " + pixel_text(img, mouse, dpg.get_item_rect_min(f"{name}_image"),
                                                   stage_factor(img))
                    break
        if text.strip() and "=" in text:
            dpg.set_value("in28_pixel", text)

    def say(self, text: str) -> None:
        self.message = text
        self.state.log.append("[gui] " + text)
        self.state.version += 1

    # ------------------------------------------------------------------ commands
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
            if isinstance(m, P.SetCamera) and not self._camera_touched:
                continue  # keep the device's own camera setup (and the twin has no camera)
            self.source.send(m)

    def inject(self, img: np.ndarray, name: str = "") -> bool:
        h = self.state.hello
        if h is not None and h.max_command_bytes and img.size + 4 + P.OVERHEAD > h.max_command_bytes:
            img = _shrink_to(img, h.max_command_bytes - 4 - P.OVERHEAD)
        msg = P.Inject.from_array(img)
        if not self.send(msg):
            return False
        self.state.inject_names[msg.seq] = name
        return True

    # ------------------------------------------------------------------ callbacks
    @guarded
    def _on_zoom(self, sender: Any, value: float) -> None:
        self.zoom = float(value)
        if self.state.frame is not None:
            h, w = self.state.frame.shape
            self._layout_camera(w, h)

    @guarded
    def _on_freeze(self, sender: Any = None, value: bool = False) -> None:
        """Hold the view still to look closely; the link keeps reading (newest messages kept)."""
        self.frozen = bool(value)
        self.say("view frozen: untick 'freeze' to follow the stream again" if self.frozen else "following the stream")

    @guarded
    def _on_window(self, sender: Any, value: float) -> None:
        self.state.history_window_s = float(value)
        self.state.version += 1

    @guarded
    def _on_param(self, sender: Any = None, value: Any = None) -> None:
        values = {}
        for f in fields(PreprocessParams):
            if f.name in PARAM_LABELS:
                values[f.name] = int(dpg.get_value(f"param_{f.name}"))
        values["polarity"] = POLARITIES.index(dpg.get_value("param_polarity"))
        params = replace(self.settings.params, **values)
        if params.validate() != 0:
            self.say("parameters out of range: not sent")
            return
        self.settings.params = params
        if self.state.frame is not None:
            h, w = self.state.frame.shape
            self._layout_camera(w, h)
        if self.source.live:
            self.send(P.SetParams(params.to_bytes()))

    @guarded
    def _on_stream(self, sender: Any = None, value: Any = None) -> None:
        mask = sum(bit for name, bit in STREAM_BITS if dpg.get_value(f"stream_{name}"))
        self.settings.stream = replace(self.settings.stream, mask=mask,
                                       flags=P.STREAM_FLAG_FULLRES if dpg.get_value("stream_fullres") else 0,
                                       decimation=int(dpg.get_value("stream_decimation")),
                                       max_side=int(dpg.get_value("stream_max_side")))
        if self.source.live:
            self.send(P.SetStream(**{f.name: getattr(self.settings.stream, f.name)
                                     for f in fields(P.SetStream) if f.name != "seq"}))

    @guarded
    def _on_camera(self, sender: Any = None, value: Any = None) -> None:
        self._camera_touched = True
        flags = ((P.CAM_MIRROR if dpg.get_value("cam_mirror") else 0) | (P.CAM_FLIP if dpg.get_value("cam_flip") else 0)
                 | (P.CAM_AUTO_EXPOSURE if dpg.get_value("cam_auto") else 0))
        self.settings.camera = replace(self.settings.camera, flags=flags, exposure=int(dpg.get_value("cam_exposure")),
                                       analog_gain=int(dpg.get_value("cam_gain")))
        if self.source.live:
            self.send(P.SetCamera(**{f.name: getattr(self.settings.camera, f.name)
                                     for f in fields(P.SetCamera) if f.name != "seq"}))

    def apply_settings_to_widgets(self) -> None:
        p = self.settings.params
        dpg.set_value("param_polarity", POLARITIES[p.polarity])
        for name in PARAM_LABELS:
            dpg.set_value(f"param_{name}", getattr(p, name))
        for name, bit in STREAM_BITS:
            dpg.set_value(f"stream_{name}", bool(self.settings.stream.mask & bit))
        dpg.set_value("stream_fullres", self.settings.stream.full_res)
        dpg.set_value("stream_decimation", self.settings.stream.decimation)
        dpg.set_value("stream_max_side", self.settings.stream.max_side)
        c = self.settings.camera
        dpg.set_value("cam_mirror", bool(c.flags & P.CAM_MIRROR))
        dpg.set_value("cam_flip", bool(c.flags & P.CAM_FLIP))
        dpg.set_value("cam_auto", bool(c.flags & P.CAM_AUTO_EXPOSURE))
        dpg.set_value("cam_exposure", c.exposure)
        dpg.set_value("cam_gain", c.analog_gain)

    def _on_save_preset(self) -> None:
        def save() -> None:
            self.say(f"preset saved to {self.settings.save(dpg.get_value('preset_path'))}")
        self._guard("save preset", save)

    def _on_load_preset(self) -> None:
        def load() -> None:
            path = dpg.get_value("preset_path")
            self.settings = Settings.load(path)
            self._camera_touched = True
            self.apply_settings_to_widgets()
            self.send_settings()
            self.say(f"preset loaded from {path}")
        self._guard("load preset", load)

    def _out(self) -> Path:
        return Path(dpg.get_value("out_dir") or self.out_dir)

    def _on_snapshot(self) -> None:
        def snap() -> None:
            s = self.state
            if s.frame is None and s.input28 is None:
                self.say("nothing to save yet")
                return
            stamp = time.strftime("%Y%m%d-%H%M%S")
            saved = []
            if s.frame is not None:
                saved.append(images.save_png(self._out() / f"frame-{stamp}.png", s.frame))
            if s.input28 is not None:
                saved.append(images.save_png(self._out() / f"input28-{stamp}.png", s.input28))
            self.say("saved " + ", ".join(str(p) for p in saved))
        self._guard("save PNG", snap)

    def _on_export_csv(self) -> None:
        def export() -> None:
            path = self._out() / f"predictions-{time.strftime('%Y%m%d-%H%M%S')}.csv"
            n = self.state.export_csv(path)
            self.say(f"{n} predictions written to {path}")
        self._guard("export CSV", export)

    def _on_record(self) -> None:
        if not self.source.live:
            self.say("replaying a recording: nothing to record")
            return

        def toggle() -> None:
            if self.source.recorder is None:
                path = self._out() / f"recording-{time.strftime('%Y%m%d-%H%M%S')}.p4rec"
                self.source.start_recording(path)
                dpg.configure_item("record_button", label="stop recording")
                self.say(f"recording to {path}")
            else:
                rec = self.source.stop_recording()
                dpg.configure_item("record_button", label="record")
                dpg.set_value("replay_path", str(rec.path))  # ready to open in the replay panel
                self.say(f"recorded {rec.bytes} bytes to {rec.path}")
        self._guard("record", toggle)

    def _on_inject(self) -> None:
        def inject() -> None:
            files = images.image_files(dpg.get_value("inject_path"))
            if not files:
                self.say("no image files there")
                return
            sent = sum(self.inject(images.load_grey(f), f.name) for f in files)
            self.say(f"injected {sent} of {len(files)} image(s)")
        self._guard("inject", inject)

    @guarded
    def _on_send_drawing(self) -> None:
        if self.inject(self.canvas, "drawing"):
            self.say("drawing sent through the device's preprocessing and net()")

    @guarded
    def _on_clear_canvas(self) -> None:
        self.canvas[:] = 255
        self.tex_canvas.show(self.canvas)

    def _on_mouse_move(self, sender: Any = None, app_data: Any = None) -> None:
        """Mouse held down: draw on the canvas, or drag a new ROI on the camera view."""
        def move() -> None:
            if self._roi_drag is not None or dpg.is_item_hovered("cam_draw"):
                self._on_camera_drag()
            else:
                self._on_canvas_drag()
        self._guard("mouse", move)

    def _on_mouse_release(self, sender: Any = None, app_data: Any = None) -> None:
        def release() -> None:
            self._last_mouse = None
            if self._roi_drag is not None:
                start, end = self._roi_drag
                self._roi_drag = None
                self.set_roi(roi_from_drag(start, end, self._cam_k, *self._cam_src))
        self._guard("mouse", release)

    def _camera_point(self) -> tuple[float, float]:
        mx, my = dpg.get_mouse_pos(local=False)
        x0, y0 = dpg.get_item_rect_min("cam_draw")
        return mx - x0, my - y0

    def _on_camera_drag(self) -> None:
        if dpg.is_mouse_button_down(dpg.mvMouseButton_Right) and self._roi_drag is None:
            if not (self.settings.params.roi_w == 0 and self.settings.params.roi_h == 0):
                self.set_roi((0, 0, 0, 0))  # right click: back to the automatic centred square
            return
        if not dpg.is_mouse_button_down(dpg.mvMouseButton_Left):
            return
        pt = self._camera_point()
        start = pt if self._roi_drag is None else self._roi_drag[0]
        self._roi_drag = (start, pt)
        dpg.configure_item("cam_roi", pmin=(min(start[0], pt[0]), min(start[1], pt[1])),
                           pmax=(max(start[0], pt[0]), max(start[1], pt[1])))

    def set_roi(self, roi: tuple[int, int, int, int] | None) -> None:
        """Put an ROI (capture pixels; all 0 = automatic) into the sliders and send it."""
        if roi is None:
            self.say("ROI too small: drag a larger rectangle on the camera view")
            return
        for name, value in zip(("roi_x", "roi_y", "roi_w", "roi_h"), roi):
            dpg.set_value(f"param_{name}", int(value))
        self.state.camera_stage = None  # until the device reports the ROI it now uses
        self._on_param()
        self.say("ROI " + (f"{roi[2]}x{roi[3]} at ({roi[0]}, {roi[1]})" if roi[2] else "automatic (centred square)"))

    @guarded
    def _on_canvas_drag(self, sender: Any = None, app_data: Any = None) -> None:
        if not dpg.is_item_hovered("canvas_draw"):
            self._last_mouse = None
            return
        ink = dpg.is_mouse_button_down(dpg.mvMouseButton_Left)
        erase = dpg.is_mouse_button_down(dpg.mvMouseButton_Right)
        if not (ink or erase):
            return
        mx, my = dpg.get_mouse_pos(local=False)
        x0, y0 = dpg.get_item_rect_min("canvas_draw")
        pt = ((mx - x0) / 2, (my - y0) / 2)
        paint_line(self.canvas, self._last_mouse or pt, pt, radius=5, value=0 if ink else 255)
        self._last_mouse = pt
        self.tex_canvas.show(self.canvas)

    @guarded
    def _on_tolerance(self, sender: Any, value: str) -> None:
        try:
            self.state.tolerance = max(0.0, float(value))
            self.say(f"host check tolerance {self.state.tolerance}")
        except ValueError:
            self.say(f"tolerance must be a number, not {value!r}")

    @guarded
    def _on_scrub(self, sender: Any, value: float) -> None:
        if not self.source.live:
            self.state = self.source.seek(float(value), self.state)
            self._pushed_version = -1

    @guarded
    def _on_open_replay(self) -> None:
        """Open a recording; a live link keeps running behind it ("back to live" returns to it)."""
        from .source import ReplaySource

        replay = ReplaySource(dpg.get_value("replay_path"))
        replay.playing = False
        if self.source.live:
            self._live = (self.source, self.state)
        self.source = replay
        self.state = replay.seek(0.0, State(history_window_s=self.state.history_window_s,
                                            tolerance=self.state.tolerance, host_model=self.state.host_model))
        dpg.configure_item("replay_pos", max_value=max(replay.duration, 0.01))
        self._pushed_version = -1
        self._shown_images.clear()
        self.say(f"opened {replay.path.name}: {replay.duration:.1f} s; scrub with the position slider")

    @guarded
    def _on_go_live(self) -> None:
        if self._live is None:
            self.say("no live link to go back to (started with --replay)")
            return
        self.source, self.state = self._live
        self._live = None
        self._pushed_version = -1
        self._shown_images.clear()
        self.say("back to the live link")

    @guarded
    def _on_play(self) -> None:
        if not self.source.live:
            if not self.source.playing and self.source.position >= self.source.duration:
                self.state = self.source.seek(0.0, self.state)
            self.source.playing = not self.source.playing

    def _guard(self, what: str, fn: Callable[[], None]) -> None:
        """Run a user action; any failure becomes a status message."""
        try:
            fn()
        except Exception as e:  # noqa: BLE001 -- never a traceback window
            self.say(f"{what} failed: {e}")

    # ------------------------------------------------------------------ loop
    def run(self, max_seconds: float | None = None) -> None:
        t_end = None if max_seconds is None else time.monotonic() + max_seconds
        while dpg.is_dearpygui_running():
            self.update()
            dpg.render_dearpygui_frame()
            if t_end is not None and time.monotonic() >= t_end:
                break


def digit_glyph(digit: int | None) -> np.ndarray:
    """The predicted digit drawn large and anti-aliased (Dear PyGui's built-in font is tiny)."""
    import cv2

    img = np.full((DIGIT_H, DIGIT_W), BG_GREY, np.uint8)
    text = "-" if digit is None else str(digit)
    (w, h), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_DUPLEX, 4.2, 9)
    cv2.putText(img, text, ((DIGIT_W - w) // 2, (DIGIT_H + h) // 2), cv2.FONT_HERSHEY_DUPLEX, 4.2, 255, 9,
                cv2.LINE_AA)
    return img


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


def fit_frame(frame: np.ndarray) -> np.ndarray:
    """Frames larger than the camera texture (not the HM01B0's) are subsampled to fit it."""
    step = -(-max(frame.shape) // CAM_TEX)
    return frame[::step, ::step] if step > 1 else frame


def stage_factor(img: np.ndarray) -> int:
    """Integer enlargement of a preprocessing stage for its panel (square pixels, no blur)."""
    return max(1, STAGE_VIEW // max(img.shape))


def pixel_text(img: np.ndarray, mouse: tuple[float, float], origin: tuple[float, float], factor: float) -> str:
    """'pixel (x, y) = v' for the image pixel under the mouse on an image shown enlarged by factor."""
    x, y = int((mouse[0] - origin[0]) // factor), int((mouse[1] - origin[1]) // factor)
    if 0 <= y < img.shape[0] and 0 <= x < img.shape[1]:
        return f"pixel ({x}, {y}) = {int(img[y, x])}"
    return ""


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


def _shrink_to(img: np.ndarray, max_pixels: int) -> np.ndarray:
    """Area-downscale an image so it fits in one INJECT command."""
    import cv2

    k = (img.size / max(max_pixels, 1)) ** 0.5
    w, h = max(1, int(img.shape[1] / k)), max(1, int(img.shape[0] / k))
    return cv2.resize(img, (w, h), interpolation=cv2.INTER_AREA)


def capture(path: str | Path) -> Path:
    """Save the window as PNG (needs a viewport). Dear PyGui shows a texture update one frame
    late and reads the frame buffer before drawing, so settle a few frames first; the file
    variant of output_frame_buffer is used because its callback variant can crash on exit."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    for _ in range(3):
        dpg.render_dearpygui_frame()
    dpg.output_frame_buffer(file=str(path))
    for _ in range(2):
        dpg.render_dearpygui_frame()
    return path


def create(app: App, title: str = "pico4ml: what the board sees", width: int = 1500, height: int = 940) -> None:
    """Build the UI and open the viewport (needs a display)."""
    app.build_ui()
    dpg.create_viewport(title=title, width=width, height=height, vsync=False)
    dpg.setup_dearpygui()
    dpg.show_viewport()
    dpg.set_primary_window("main", True)

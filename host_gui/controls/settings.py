"""What the board is set to: preprocessing parameters, stream and camera options, presets.

Live, a moved slider is sent at once. While a frame is frozen or a recording is open the
preprocessing sliders do not touch the board: the debug controller re-runs the frame on
the host with them, and "send to the board" applies them.
"""
from __future__ import annotations

from dataclasses import fields, replace
from typing import Any

import dearpygui.dearpygui as dpg

from pico4ml.common import protocol as P
from pico4ml.common.pp_params import PreprocessParams, default_params

from pico4ml.host_gui.presets import PARAM_RANGES, Settings
from pico4ml.host_gui.widgets import callback, tooltip

POLARITIES = ["dark ink on light paper", "light ink on dark", "auto"]
NOT_PARAMS = ("version", "size", "reserved", "polarity")
PARAM_LABELS = {
    "roi_x": "ROI x", "roi_y": "ROI y", "roi_w": "ROI width (0 = auto)", "roi_h": "ROI height",
    "bg_remove": "background removal", "bg_radius": "background radius", "threshold_pct": "threshold % (0 = Otsu)",
    "saturate_pct": "saturate %", "min_contrast": "min contrast", "speck_min": "speck filter",
    "border": "border", "box_size": "box size (MNIST 20)", "center_mass": "centre of mass",
    "min_size_pct": "min digit height %", "max_size_pct": "max digit size %", "thin_pct": "thin line length %",
    "offcentre_pct": "max off-centre %", "merge_pct": "merge gap %", "grow_pct": "merge growth %",
    "cand_contrast": "min digit contrast", "full_res": "box from full frame", "min_score_pct": "unsure below %",
    "retry_radius": "2nd reading radius (0 off)", "retry_score_pct": "2nd reading min %",
    "retry_radius2": "3rd reading radius (0 off)",
}
# Unit and effect of every parameter (docs/preprocessing.md has the reasons for the defaults).
PARAM_HELP = {
    "polarity": "What the paper looks like. Dark ink on light paper: pen or pencil on paper. Light ink on dark: "
                "chalk on a board, a screen. Auto (default): decided per frame from the ground right around "
                "the digit's strokes.",
    "roi_x": "Left edge of the region of interest, in capture pixels. Only this part of the frame is searched "
             "for a digit. Drag a rectangle on the camera view to set the ROI; right-click for the automatic one.",
    "roi_y": "Top edge of the region of interest, in capture pixels.",
    "roi_w": "Width of the region of interest in capture pixels; 0 (or height 0) = the centred square of the "
             "whole frame.",
    "roi_h": "Height of the region of interest in capture pixels; 0 (or width 0) = the centred square.",
    "bg_remove": "1: divide out the paper's own brightness (uneven light, vignetting, shadows) before the "
                 "threshold; 0: use plain darkness. Turn off only under perfectly even light.",
    "bg_radius": "Radius of the paper estimate, in work-grid pixels (1..15, the ROI is 64 across). Must be more "
                 "than half a stroke's width or strokes fade; smaller follows shading more closely.",
    "threshold_pct": "Where ink starts, in % of the range from paper to darkest ink (1..99); 0 = Otsu's "
                     "automatic threshold. Higher drops faint smudges and shadows, lower keeps thin, light strokes.",
    "saturate_pct": "Ink at this % of the range (1..100) becomes full white in the 28x28. Lower makes strokes "
                    "bolder and flatter, like MNIST's.",
    "min_contrast": "Smallest range between paper and ink, in grey levels (0..255), that counts as a digit. "
                    "Below it the frame is blank: answer '-' instead of a guess on noise.",
    "speck_min": "Ink neighbours in a 3x3 (0..9) a pixel needs to count for the digit's box; 0 or 1 = off. "
                 "Raise it to ignore dust and sensor noise.",
    "border": "Work-grid pixels (0..16) ignored at each edge of the ROI: the paper's edge, a shadow, a finger.",
    "box_size": "Side in pixels (4..28) of the square the digit is fitted into inside the 28x28, keeping its "
                "aspect ratio. MNIST uses 20.",
    "center_mass": "1: place the digit so its centre of mass lands on (14, 14), as MNIST does; 0: centre its "
                   "bounding box.",
    "min_size_pct": "A digit is at least this high, in % of the work grid (0..100). Lower finds digits further "
                    "away, higher drops specks and dashes.",
    "max_size_pct": "A digit is at most this long, in % of the work grid (1..100): a shadow or the desk is longer.",
    "thin_pct": "A line at least this long (% of the grid, 1..100) and under 2 pixels thick is ruling or a "
                "margin, not a digit.",
    "offcentre_pct": "A digit's centre is at most this far from the middle, in % of the grid (1..100): a "
                     "neighbouring digit is further out.",
    "merge_pct": "Parts this close to the digit, in % of its size (0..100), join it: a 5's cap, a broken "
                 "pencil stroke. Larger may swallow a neighbour.",
    "grow_pct": "... as long as the digit grows to at most this % of its own size (100..255).",
    "cand_contrast": "The chosen digit's own ink range (0..255) below which it is no digit: a blank sheet's noise.",
    "full_res": "1: resample the digit from the full-resolution frame (a far digit keeps its detail); 0: from "
                "the 64x64 work grid.",
    "min_score_pct": "Score in % (0..100) below which the answer is shown as '?' (unsure) instead of a digit.",
    "retry_radius": "Background radius (work-grid pixels, 0..15) of a second reading when the first finds no "
                    "confident digit: a smaller window keeps a hand's shadow as paper. 0 (or the background "
                    "radius) turns it off.",
    "retry_score_pct": "Score in % (0..100) the second reading's digit needs to replace the first answer; "
                       "stricter than 'unsure below', so a second look at an empty page does not invent a digit.",
    "retry_radius2": "Background radius (work-grid pixels, 0..15) of a third reading when the second is not "
                     "taken: a larger window keeps the strokes of a bold digit seen close as ink. 0 turns it off.",
}
STREAM_BITS = [("frame", P.STREAM_FRAME), ("28x28", P.STREAM_INPUT28), ("stages", P.STREAM_STAGE),
               ("result", P.STREAM_RESULT), ("stats", P.STREAM_STATS), ("log", P.STREAM_LOG)]


def param_names() -> list[str]:
    return [f.name for f in fields(PreprocessParams) if f.name not in NOT_PARAMS]


class SettingsControl:
    def __init__(self, app: Any) -> None:
        self.app = app
        self.camera_touched = False  # camera options go out only once the user sets them
        self.threshold_touched = False  # until the user sets it, the unsure threshold is the board model's

    # ---------------------------------------------------------------- building
    def build(self) -> None:
        app = self.app
        p = app.settings.params
        on_param = callback(app, "parameters", lambda v: self.on_param())
        with dpg.collapsing_header(label="preprocessing", default_open=True, tag="hdr_params"):
            dpg.add_text("sent to the board as you move them", tag="params_mode", wrap=300)
            dpg.add_combo(POLARITIES, label="polarity", default_value=POLARITIES[p.polarity], tag="param_polarity",
                          width=190, callback=on_param)
            tooltip("param_polarity", PARAM_HELP["polarity"])
            for name in param_names():
                lo, hi = PARAM_RANGES.get(name, (0, 255))
                dpg.add_slider_int(label=PARAM_LABELS.get(name, name.replace("_", " ")), tag=f"param_{name}",
                                   default_value=getattr(p, name), min_value=lo,
                                   max_value=min(hi, 324) if name.startswith("roi") else hi, width=150,
                                   callback=on_param)
                tooltip(f"param_{name}", PARAM_HELP.get(name, f"pp_params.{name} (see docs/preprocessing.md)"))
            dpg.add_button(label="reset to defaults", tag="params_reset",
                           callback=callback(app, "reset", lambda v: self.reset_params()))
            with dpg.group(horizontal=True):
                dpg.add_button(label="send to the board", tag="params_send", show=False,
                               callback=callback(app, "send parameters", lambda v: app.ctl.debug.send_edited()))
                dpg.add_button(label="undo edits", tag="params_undo", show=False,
                               callback=callback(app, "undo edits", lambda v: app.ctl.debug.discard_edits()))
            tooltip("params_reset", "Every preprocessing parameter back to the firmware's default.")
        on_stream = callback(app, "stream", lambda v: self.on_stream())
        on_camera = callback(app, "camera", lambda v: self.on_camera())
        s = app.settings
        with dpg.collapsing_header(label="stream and camera", default_open=False, tag="hdr_stream"):
            for name, bit in STREAM_BITS:
                dpg.add_checkbox(label=f"send {name}", tag=f"stream_{name}", default_value=bool(s.stream.mask & bit),
                                 callback=on_stream)
            dpg.add_checkbox(label="full-resolution frames", tag="stream_fullres", default_value=s.stream.full_res,
                             callback=on_stream)
            tooltip("stream_fullres", "Send camera frames at capture size (needed for exact host re-runs and for "
                                      "capturing a data set) instead of a downscaled preview.")
            dpg.add_slider_int(label="frame every N", tag="stream_decimation", min_value=1, max_value=30,
                               default_value=s.stream.decimation, width=150, callback=on_stream)
            tooltip("stream_decimation", "Send a camera frame with every Nth answer only (the others show the "
                                         "last frame, marked stale). Saves link bandwidth.")
            dpg.add_slider_int(label="frame max side", tag="stream_max_side", min_value=16, max_value=128,
                               default_value=s.stream.max_side, width=150, callback=on_stream)
            tooltip("stream_max_side", "Longest side, in pixels, of a downscaled preview frame.")
            cam = s.camera
            dpg.add_checkbox(label="mirror", tag="cam_mirror", default_value=bool(cam.flags & P.CAM_MIRROR),
                             callback=on_camera)
            dpg.add_checkbox(label="flip", tag="cam_flip", default_value=bool(cam.flags & P.CAM_FLIP),
                             callback=on_camera)
            dpg.add_checkbox(label="auto exposure", tag="cam_auto", default_value=bool(cam.flags & P.CAM_AUTO_EXPOSURE),
                             callback=on_camera)
            dpg.add_slider_int(label="exposure (lines)", tag="cam_exposure", min_value=2, max_value=0x0216,
                               default_value=cam.exposure, width=150, callback=on_camera)
            tooltip("cam_exposure", "Integration time in sensor lines (2..534), used with auto exposure off. "
                                    "Longer is brighter and blurs motion.")
            dpg.add_slider_int(label="analog gain log2", tag="cam_gain", min_value=0, max_value=3,
                               default_value=cam.analog_gain, width=150, callback=on_camera)
            tooltip("cam_gain", "Analog gain 1x, 2x, 4x, 8x (0..3). Higher is brighter and noisier.")
        with dpg.collapsing_header(label="presets", default_open=False, tag="hdr_presets"):
            with dpg.group(horizontal=True):
                dpg.add_input_text(tag="preset_path", default_value="pico4ml-preset.json", width=230)
                app.ctl.session.browse_button("preset_path", "preset", extensions=(".json",))
            with dpg.group(horizontal=True):
                dpg.add_button(label="save preset", tag="preset_save",
                               callback=callback(app, "save preset", lambda v: self.save_preset()))
                dpg.add_button(label="load preset", tag="preset_load",
                               callback=callback(app, "load preset", lambda v: self.load_preset()))
                dpg.add_button(label="send all", tag="send_all",
                               callback=callback(app, "send all", lambda v: app.send_settings()))
            tooltip("send_all", "Send every setting above to the board again.")

    # ---------------------------------------------------------------- values
    def widget_params(self) -> PreprocessParams:
        values = {name: int(dpg.get_value(f"param_{name}")) for name in param_names()}
        values["polarity"] = POLARITIES.index(dpg.get_value("param_polarity"))
        return replace(self.app.settings.params, **values)

    def show_params(self, p: PreprocessParams) -> None:
        dpg.set_value("param_polarity", POLARITIES[p.polarity])
        for name in param_names():
            dpg.set_value(f"param_{name}", getattr(p, name))

    def apply_settings_to_widgets(self) -> None:
        s = self.app.settings
        self.show_params(s.params)
        for name, bit in STREAM_BITS:
            dpg.set_value(f"stream_{name}", bool(s.stream.mask & bit))
        dpg.set_value("stream_fullres", s.stream.full_res)
        dpg.set_value("stream_decimation", s.stream.decimation)
        dpg.set_value("stream_max_side", s.stream.max_side)
        c = s.camera
        dpg.set_value("cam_mirror", bool(c.flags & P.CAM_MIRROR))
        dpg.set_value("cam_flip", bool(c.flags & P.CAM_FLIP))
        dpg.set_value("cam_auto", bool(c.flags & P.CAM_AUTO_EXPOSURE))
        dpg.set_value("cam_exposure", c.exposure)
        dpg.set_value("cam_gain", c.analog_gain)

    def capture_size_known(self, w: int, h: int) -> None:
        """The board said its capture size: the ROI sliders span exactly the frame."""
        for name, side in (("roi_x", w - 1), ("roi_y", h - 1), ("roi_w", w), ("roi_h", h)):
            if side > 0:
                dpg.configure_item(f"param_{name}", max_value=side)

    def roi_guess(self, src_w: int, src_h: int) -> tuple[int, int, int, int]:
        """Where the board will look when it has not said yet: the sliders' ROI or the centred square."""
        p = self.app.settings.params
        if p.roi_w == 0 or p.roi_h == 0:
            side = min(src_w, src_h)
            return (src_w - side) // 2, (src_h - side) // 2, side, side
        return p.roi_x, p.roi_y, p.roi_w, p.roi_h

    # ---------------------------------------------------------------- callbacks
    def on_param(self) -> None:
        params = self.widget_params()
        if params.validate() != 0:
            self.app.say("parameters out of range: not sent")
            return
        if self.app.ctl.debug.active:
            self.app.ctl.debug.try_params(params)
            return
        if params.min_score_pct != self.app.settings.params.min_score_pct:
            self.threshold_touched = True
        self.app.settings.params = params
        self.app.binding.invalidate()  # the ROI rectangle follows
        if self.app.source.live:
            self.app.send(P.SetParams(params.to_bytes()))

    def board_model(self) -> str | None:
        """The manifest id of the board's built-in model (None: not known yet)."""
        hello = self.app.state.hello
        return (hello.builtin_model or None) if hello is not None else None

    def reset_params(self) -> None:
        self.show_params(default_params(self.board_model()))
        self.on_param()
        self.threshold_touched = False
        self.app.say("preprocessing parameters reset to the firmware's defaults")

    def model_known(self) -> None:
        """The board said which model it runs: an unsure threshold the user has not set becomes
        that model's (each model's scores have their own, core/model/manifest.json)."""
        threshold = default_params(self.board_model()).min_score_pct
        params = self.app.settings.params
        if self.threshold_touched or params.min_score_pct == threshold:
            return
        self.app.settings.params = replace(params, min_score_pct=threshold)
        self.show_params(self.app.settings.params)
        if self.app.source.live:
            self.app.send(P.SetParams(self.app.settings.params.to_bytes()))
        self.app.say(f"unsure below {threshold} %: the threshold of the board's model {self.board_model()}")

    def set_roi(self, roi: tuple[int, int, int, int] | None) -> None:
        """Put an ROI (capture pixels; all 0 = automatic) into the sliders and apply it."""
        if roi is None:
            self.app.say("ROI too small: drag a larger rectangle on the camera view")
            return
        for name, value in zip(("roi_x", "roi_y", "roi_w", "roi_h"), roi):
            dpg.set_value(f"param_{name}", int(value))
        self.on_param()
        self.app.say("ROI " + (f"{roi[2]}x{roi[3]} at ({roi[0]}, {roi[1]})" if roi[2] else "automatic (centred square)"))

    def on_stream(self) -> None:
        s = self.app.settings
        mask = sum(bit for name, bit in STREAM_BITS if dpg.get_value(f"stream_{name}"))
        s.stream = replace(s.stream, mask=mask, flags=P.STREAM_FLAG_FULLRES if dpg.get_value("stream_fullres") else 0,
                           decimation=int(dpg.get_value("stream_decimation")),
                           max_side=int(dpg.get_value("stream_max_side")))
        if self.app.source.live:
            self.app.send(P.SetStream(**{f.name: getattr(s.stream, f.name) for f in fields(P.SetStream)
                                         if f.name != "seq"}))

    def on_camera(self) -> None:
        self.camera_touched = True
        s = self.app.settings
        flags = ((P.CAM_MIRROR if dpg.get_value("cam_mirror") else 0) | (P.CAM_FLIP if dpg.get_value("cam_flip") else 0)
                 | (P.CAM_AUTO_EXPOSURE if dpg.get_value("cam_auto") else 0))
        s.camera = replace(s.camera, flags=flags, exposure=int(dpg.get_value("cam_exposure")),
                           analog_gain=int(dpg.get_value("cam_gain")))
        if self.app.source.live:
            self.app.send(P.SetCamera(**{f.name: getattr(s.camera, f.name) for f in fields(P.SetCamera)
                                         if f.name != "seq"}))

    def save_preset(self) -> None:
        self.app.say(f"preset saved to {self.app.settings.save(dpg.get_value('preset_path'))}")

    def load_preset(self) -> None:
        path = dpg.get_value("preset_path")
        self.app.settings = Settings.load(path)
        self.camera_touched = self.threshold_touched = True
        self.apply_settings_to_widgets()
        self.app.send_settings()
        self.app.binding.invalidate()
        self.app.say(f"preset loaded from {path}")

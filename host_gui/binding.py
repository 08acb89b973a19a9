"""State to widgets: every render frame, show one frame's worth of everything, coherently.

What is shown is a Scene: one FrameRecord (the newest whole frame, or the frozen one), or
the host re-run of it with edited parameters, plus the connection state. Every panel
draws from that one scene, and a panel that has nothing for its frame id shows the newest
older image with an amber "stale" note instead of silently mixing frames.

Dear PyGui shows a texture update one render frame after set_value(), while text and draw
items change at once. So a new scene is committed in two steps: the textures are written
now, every other widget of the scene on the next frame, and all panels switch together.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
import dearpygui.dearpygui as dpg

from pico4ml.common import protocol as P

from . import images
from .layout import HEAT_BINS, HIST_BINS, HIST_X, MAX_CANDIDATES, STAGES, camera_scale, grey_glyph
from .state import FrameRecord
from .widgets import (AMBER, BAR_COLOR, BG_GREY, DIM, GREEN, GREY_TEXT, RED, ROI_COLOR, STATE_COLORS, TEXT,
                      WIN_COLOR)

TEX_CAP = 1024  # largest CPU-enlarged camera image; bigger zooms are stretched by the GPU
RISE_AMBER_S = 10.0  # a counter that rose stays amber this long
CANDIDATE_REASONS = {0: "chosen", 1: "merged", 2: "border", 3: "small", 4: "large", 5: "thin", 6: "off centre",
                     7: "weaker"}
STATUS_GLYPH = {1: "-", 2: "?"}  # RESULT status NO_DIGIT, UNSURE (protocol v2)
UNDIM = (255, 255, 255, 255)
RERUN = (110, 200, 255, 255)  # what the host re-run drew, not the board


@dataclass
class Scene:
    """One frame's worth of everything the views show."""
    record: FrameRecord | None = None
    rerun: Any = None  # rerun.Rerun: the record re-run on the host with edited parameters
    camera: np.ndarray | None = None
    camera_id: int | None = None
    camera_scale: int = 1  # capture pixels per camera-image pixel
    camera_src: tuple[int, int] = (0, 0)  # capture size the image stands for
    camera_note: str = ""  # amber: stale, injected, preview
    banner: str = ""
    roi: tuple[int, int, int, int] | None = None  # capture pixels
    stages: dict[str, tuple[np.ndarray, str, tuple | None]] = field(default_factory=dict)  # image, note, bbox
    candidates: list[tuple[int, int, int, int, int, bool]] = field(default_factory=list)  # x, y, w, h, reason, chosen
    in28: np.ndarray | None = None
    in28_note: str = ""
    digit: Any = None  # int, "-" or "?", None before any answer
    scores: np.ndarray | None = None
    lines: list[tuple[str, tuple]] = field(default_factory=list)  # text lines beside the digit, with colours
    dim: bool = False
    key: tuple = ()


def status_of(result: P.Result) -> int:
    return int(getattr(result, "status", 0) or 0)


def polarity_of(record: FrameRecord) -> str:
    """The polarity the device used (RESULT v2, or the work stage's value byte)."""
    res = record.prediction.result if record.prediction is not None else None
    if res is not None and hasattr(res, "polarity") and res.polarity in (0, 1):
        return "light ink on dark" if res.polarity else "dark ink on light"
    work = record.stage_msgs.get("work")
    if work is not None:
        return "dark ink on light" if work.value else "light ink on dark"
    return ""


def camera_text(hello: Any, stats: Any) -> str:
    """The camera's readout mode and trouble (protocol v2: STATS is newer than HELLO)."""
    mode = getattr(stats, "cam_mode", None) if stats is not None else None
    mode = getattr(hello, "camera_mode", P.CAM_MODE_NONE) if mode is None else mode
    if mode == P.CAM_MODE_NONE:  # no readout running: the twin (no modes), or a camera that is down
        down = stats is not None and (getattr(stats, "cam_timeouts", 0) or stats.camera_errors)
        return " | camera down" if down else ""
    text = f" | camera {P.CAM_MODE_NAMES.get(mode, mode)}"
    timeouts = getattr(stats, "cam_timeouts", 0) if stats is not None else 0
    return text + (f", {timeouts} timeouts, {stats.cam_fallbacks} fallbacks" if timeouts else "")


class Binding:
    """Pushes the app's State into the widgets; call push() once per render frame."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self._later: list[Callable[[], None]] = []
        self._hold = 0
        self._key: tuple | None = None
        self._history_version = -1
        self._log_added = -1
        self._scroll_log = 0
        self._glyph: tuple | None = None
        self._counters: dict[str, tuple[int, float]] = {}
        self.scene = Scene()  # the newest scene (its textures are written)
        self.committed = Scene()  # the scene all widgets show (what the next render draws)
        self.cam_base = 243  # camera image side at zoom 1, for the layout
        self.cam_k = 1.0  # display pixels per capture pixel
        self.cam_src = (324, 324)
        self.hover: dict[str, tuple[np.ndarray, float]] = {}  # drawlist -> (image, display px per image px)

    # ---------------------------------------------------------------- per frame
    def push(self) -> None:
        later, self._later = self._later, []
        for fn in later:  # the rest of the scene whose textures went out last frame
            fn()
        self._push_header()
        if self._hold:
            self._hold -= 1  # a larger texture is being made ready: the scene waits for it
        else:
            scene = self.build_scene()
            if scene.key != self._key:
                self._key = scene.key
                self._show(scene)
        s = self.app.state
        if s.version != self._history_version:
            self._history_version = s.version
            self._push_history()
        self._push_log()

    def invalidate(self) -> None:
        """Redraw the scene on the next push (layout, zoom or source changed)."""
        self._key = None
        self._history_version = -1
        self._log_added = -1

    # ---------------------------------------------------------------- the scene
    def build_scene(self) -> Scene:
        app = self.app
        s = app.state
        rec = app.shown_record()
        rerun = app.ctl.debug.rerun_for(rec)
        sc = Scene(record=rec, rerun=rerun)
        sc.dim = app.source.live and (s.status.state == "disconnected" or bool(app.twin_problem))
        layout_gen = app.layout_generation
        zoom = app.ctl.camera.zoom
        if rec is None:
            sc.key = (None, sc.dim, layout_gen, zoom)
            return sc
        # camera panel: the injected image, the frame's own camera image, or a stale one
        if rec.injected:
            sc.camera, sc.camera_id = rec.image, rec.frame_id
            sc.banner = f"INJECTED {rec.name or 'image'}"
            if rec.image is not None:
                sc.camera_src = (rec.image.shape[1], rec.image.shape[0])
        else:
            src = rec if rec.frame is not None else s.latest_before(rec, "frame")
            if src is not None:
                sc.camera, sc.camera_id, sc.camera_scale = src.frame, src.frame_id, src.scale
                fm = src.frame_msg
                sc.camera_src = (fm.src_width or fm.width, fm.src_height or fm.height) if fm else src.frame.shape[::-1]
                if src is not rec:
                    sc.camera_note = f"stale: camera frame {src.frame_id}, answer for {rec.frame_id}"
        work = rec.stage_msgs.get("work")
        if work is not None and work.roi[2]:
            sc.roi = tuple(work.roi)
        # stages, 28x28 and the answer: the host re-run's, or the device's
        if rerun is not None:
            sc.roi = rerun.roi
            sc.banner = "HOST RE-RUN"
            for name in STAGES:
                if name in rerun.stages:
                    bbox = rerun.bbox if name != "box" and rerun.bbox[2] else None
                    sc.stages[name] = (rerun.stages[name], "re-run", bbox)
            sc.in28, sc.in28_note = rerun.in28, "host re-run"
            sc.digit = "-" if rerun.status == 1 else rerun.digit
            sc.scores = rerun.scores
            dev = rec.prediction
            second = ", 2nd reading" if rerun.second_reading else ""
            sc.lines = [(f"{rerun.scores[rerun.digit] * 100:5.1f} %{second}", TEXT)]
            if rerun.status != 0:
                sc.lines.append((rerun.status_text, AMBER))
            if dev is not None:
                same = dev.result.argmax == rerun.digit
                sc.lines.append((f"board: {dev.result.argmax} ({dev.scores[dev.result.argmax] * 100:.0f} %)",
                                 GREEN if same else AMBER))
            if rerun.scale > 1:
                sc.lines.append((f"on a 1/{rerun.scale} preview", AMBER))
        else:
            for name in STAGES:
                src = rec if name in rec.stages else (None if rec.injected else s.latest_before(rec, name))
                msg = None if src is None else src.stage_msgs.get(name)
                if msg is None:
                    continue
                note = "" if src is rec else "old"
                bbox = tuple(msg.bbox) if name != "box" and msg.bbox[2] > msg.bbox[0] else None
                sc.stages[name] = (src.stages[name], note, bbox)
            src = rec if rec.input28 is not None else s.latest_before(rec, "input28")
            if src is not None:
                sc.in28 = src.input28
                sc.in28_note = "" if src is rec else f"old: frame {src.frame_id}"
            cands = rec.extra.get("candidates")
            if cands is not None:
                sc.candidates = list(cands)
            pred = rec.prediction
            if pred is not None:
                r = pred.result
                st = status_of(r)
                sc.digit = STATUS_GLYPH.get(st, r.argmax)
                sc.scores = pred.scores
                second = ", 2nd reading" if r.second_reading else ""   # core/reader.h: a smaller closing window
                sc.lines = [(f"{pred.scores[r.argmax] * 100:5.1f} %{second}", TEXT)]
                if st:
                    sc.lines.append(("no digit" if st == 1 else f"unsure (best {r.argmax})", AMBER))
                pol = polarity_of(rec)
                if pol:
                    sc.lines.append((pol, GREY_TEXT))
                if pred.check is None:
                    sc.lines.append(("host check: -", TEXT))
                else:
                    sc.lines.append((f"host says {pred.check.host_digit}: " + ("OK" if pred.check.ok else "MISMATCH"),
                                     GREEN if pred.check.ok else RED))
                    sc.lines.append((f"max diff {pred.check.max_diff:.4f}", GREY_TEXT))
        sc.key = (id(rec), rec.prediction is not None, id(rec.frame), id(sc.camera), len(rec.stages),
                  rec.input28 is not None, id(rerun), sc.dim, layout_gen, zoom)
        return sc

    def _show(self, sc: Scene) -> None:
        """Textures now; everything else on the next frame, when Dear PyGui shows the textures."""
        self.scene = sc
        widgets = [self._camera(sc), self._stages(sc), self._in28(sc), self._prediction(sc)]
        tint = DIM if sc.dim else UNDIM
        grown = [t for t in self.app.layout.tex.values() if t.needs_switch]

        def commit() -> None:
            self.committed = sc
            for t in grown:
                t.switch()
            for fn in widgets:
                fn()
            for tag in ("cam_image", "in28_image", "digit_image", *(f"{n}_image" for n in STAGES)):
                dpg.configure_item(tag, color=tint)
        if grown:
            self._hold = 1
            self._later.append(lambda: self._later.append(commit))  # two frames: see GrowTexture
        else:
            self._later.append(commit)

    # ---------------------------------------------------------------- panels
    def _camera(self, sc: Scene) -> Callable[[], None]:
        app, lay = self.app, self.app.layout
        img = sc.camera
        if img is None:
            def clear() -> None:
                dpg.configure_item("cam_image", pmax=(1, 1), uv_max=(0, 0))
                dpg.configure_item("cam_roi", pmin=(0, 0), pmax=(0, 0))
                dpg.set_value("cam_label", "camera")
                self._note("", 0)
                self._banner("")
                dpg.set_value("hist_text", "camera histogram")
                dpg.set_value("hist_series", [list(HIST_X), [0.0] * HIST_BINS])
            self.hover.pop("cam_draw", None)
            return clear
        h, w = img.shape[:2]
        zoom = app.ctl.camera.zoom
        k, step, disp = camera_scale(max(h, w), lay.sizes.cam_box, zoom)
        base = camera_scale(max(h, w), lay.sizes.cam_box, 1)[2]
        small = img if step == 1 else images.reduce(img, step)
        e = max(1, min(k if step == 1 else zoom, TEX_CAP // max(small.shape)))
        uv = lay.tex["cam"].show(images.enlarge(small, e) if e > 1 else small)
        dw, dh = w * disp, h * disp
        self.cam_base = int(round(max(w, h) * base))
        src_w, src_h = sc.camera_src if sc.camera_src[0] else (w, h)
        self.cam_k = dw / src_w
        self.cam_src = (src_w, src_h)
        self.hover["cam_draw"] = (img, disp)
        hist, st = images.grey_stats(img, HIST_BINS)
        label = f"camera {sc.camera_id}: {w}x{h}" + (f" of {src_w}x{src_h}" if (src_w, src_h) != (w, h) else "")
        if sc.record is not None and sc.record.injected:
            label = f"injected, not the camera: {w}x{h}"
        roi = sc.roi
        if roi is None:
            roi = app.ctl.settings.roi_guess(src_w, src_h)

        def put() -> None:
            dpg.configure_item("cam_image", pmax=(dw, dh), uv_max=uv)
            dpg.configure_item("cam_draw", width=int(dw), height=int(dh))
            box = self.cam_base + 4
            dpg.configure_item("cam_scroll", width=box + (14 if zoom > 1 else 0), height=box + (14 if zoom > 1 else 0))
            dpg.set_value("cam_label", label)
            self._note(sc.camera_note, dh)
            self._banner(sc.banner)
            app.ctl.camera.draw_roi(roi)
            dpg.set_value("hist_series", [list(HIST_X), hist.astype(float).tolist()])
            dpg.set_axis_limits("hist_x", 0, 256)
            dpg.set_axis_limits("hist_y", 0, float(hist.max()) * 1.05 + 1)
            dpg.set_value("hist_text", f"camera: mean {st['mean']:.0f}  min {st['min']}  max {st['max']}  "
                                       f"std {st['std']:.0f}  clipped {st['clip_dark_pct']:.1f}/"
                                       f"{st['clip_bright_pct']:.1f} %")
            lay.reflow()  # the camera panel's width follows the frame size
        return put

    def _note(self, text: str, bottom: float) -> None:
        """An amber note over the bottom of the camera image (stale frame, preview)."""
        dpg.configure_item("cam_note", text=text, pos=(6, bottom - 20))
        if text:
            dpg.configure_item("cam_note_bg", pmin=(0, bottom - 22), pmax=(8 * len(text) + 12, bottom), show=True)
        else:
            dpg.configure_item("cam_note_bg", show=False)

    def flush(self) -> None:
        """Apply what waits for the next frames now (before a screenshot, after the last update)."""
        while self._later:
            later, self._later = self._later, []
            for fn in later:
                fn()
        self._hold = 0

    def _banner(self, text: str) -> None:
        """A banner over the top of the camera image, cut to fit it."""
        size = dpg.get_item_configuration("cam_banner")["size"]
        width = max(dpg.get_item_configuration("cam_draw")["width"], 60)
        fit = max(4, int((width - 8) / (0.6 * size)))
        if len(text) > fit:
            text = text[:fit - 1] + "~"
        dpg.configure_item("cam_banner", text=text)
        if text:
            w = min(width, int(0.6 * size * len(text)) + 14)
            dpg.configure_item("cam_banner_bg", pmin=(0, 0), pmax=(w, size + 8), show=True)
        else:
            dpg.configure_item("cam_banner_bg", show=False)

    def _stages(self, sc: Scene) -> Callable[[], None]:
        lay = self.app.layout
        side = lay.sizes.stage_side
        puts = []
        for name in STAGES:
            got = sc.stages.get(name)
            if got is None:
                self.hover.pop(f"{name}_draw", None)
                puts.append((name, None, "", None, 1, (0, 0)))
                continue
            img, note, bbox = got
            h, w = img.shape
            k = max(1, side // max(h, w))
            uv = lay.tex[name].show(images.enlarge(img, k))
            self.hover[f"{name}_draw"] = (img, k)
            puts.append((name, (w * k, h * k), note, bbox, k, uv))
        cands = sc.candidates

        def put() -> None:
            for name, size, note, bbox, k, uv in puts:
                title = STAGES[name]
                if size is None:
                    dpg.configure_item(f"{name}_image", pmax=(1, 1), uv_max=(0, 0))
                    dpg.configure_item(f"{name}_bbox", show=False)
                    dpg.set_value(f"{name}_label", title)
                    dpg.configure_item(f"{name}_label", color=TEXT)
                    self._candidates(name, [], 1)
                    continue
                dpg.configure_item(f"{name}_image", pmax=size, uv_max=uv)
                w, h = size[0] // k, size[1] // k
                text = f"{title} {w}x{h}" if name in ("work", "box") else title
                dpg.set_value(f"{name}_label", f"{text} ({note})" if note == "old" else text)
                dpg.configure_item(f"{name}_label", color=AMBER if note == "old" else (RERUN if note else TEXT))
                if bbox is not None and not cands:
                    x0, y0, x1, y1 = bbox
                    dpg.configure_item(f"{name}_bbox", pmin=(x0 * k, y0 * k), pmax=(x1 * k, y1 * k), show=True)
                else:
                    dpg.configure_item(f"{name}_bbox", show=False)
                self._candidates(name, cands if name != "box" else [], k)
        return put

    def _candidates(self, name: str, cands: list, k: int) -> None:
        for i in range(MAX_CANDIDATES):
            if i < len(cands):
                x, y, w, h, reason, chosen = cands[i]
                color = (60, 220, 90, 255) if chosen else (255, 90, 90, 220)
                dpg.configure_item(f"{name}_cand{i}", pmin=(x * k, y * k), pmax=((x + w) * k, (y + h) * k),
                                   color=color, thickness=2 if chosen else 1, show=True)
                names = getattr(P, "CAND_REASON_NAMES", CANDIDATE_REASONS)
                dpg.configure_item(f"{name}_candtext{i}", pos=(x * k + 2, max(0, y * k - 12)), show=name == "work",
                                   text="" if chosen else names.get(reason, f"reason {reason}"))
            else:
                dpg.configure_item(f"{name}_cand{i}", show=False)
                dpg.configure_item(f"{name}_candtext{i}", show=False)

    def _in28(self, sc: Scene) -> Callable[[], None]:
        lay = self.app.layout
        k = lay.sizes.in28_k
        if sc.in28 is None:
            self.hover.pop("in28_draw", None)

            def clear() -> None:
                dpg.configure_item("in28_image", pmax=(1, 1), uv_max=(0, 0))
                dpg.set_value("in28_label", "network input 28x28")
            return clear
        uv = lay.tex["in28"].show(images.enlarge(sc.in28, k))
        self.hover["in28_draw"] = (sc.in28, k)
        note = sc.in28_note
        rec = sc.record
        ident = "" if rec is None else (f"injected {rec.frame_id}" if rec.injected else f"frame {rec.frame_id}")
        label = f"28x28 x{k}, " + (note or ident)

        def put() -> None:
            dpg.configure_item("in28_image", pmax=(28 * k, 28 * k), uv_max=uv)
            dpg.set_value("in28_label", label)
            dpg.configure_item("in28_label", color=AMBER if note.startswith("old") else (RERUN if note else TEXT))
        return put

    def _prediction(self, sc: Scene) -> Callable[[], None]:
        lay = self.app.layout
        s = lay.sizes
        glyph_key = (sc.digit, s.digit_w, s.digit_h)
        if glyph_key != self._glyph:
            self._glyph = glyph_key
            uv = lay.tex["digit"].show(grey_glyph(sc.digit, s.digit_w, s.digit_h, BG_GREY))
        else:
            uv = None
        lines = list(sc.lines) + [("", TEXT)] * (4 - len(sc.lines))
        rec = sc.record
        label = "prediction" if rec is None else (
            f"prediction, {'injected' if rec.injected else 'frame'} {rec.frame_id}" + (", host re-run" if sc.rerun else ""))
        self.app.digit_text = "-" if sc.digit is None else str(sc.digit)
        frame_id = None if rec is None else rec.frame_id
        winner = sc.digit if isinstance(sc.digit, int) else None
        colors = (WIN_COLOR, BAR_COLOR)

        def put() -> None:
            if uv is not None:
                dpg.configure_item("digit_image", pmax=(s.digit_w, s.digit_h), uv_max=uv)
            for tag, (text, color) in zip(("digit_score", "digit_status", "digit_check", "digit_check2"), lines):
                dpg.set_value(tag, text)
                dpg.configure_item(tag, color=color)
            dpg.set_value("pred_label", label)
            lay.set_bar_geometry(sc.scores, winner, colors)
            self.app.shown_digit = self.app.digit_text
            self.app.shown_frame_id = frame_id
        return put

    # ---------------------------------------------------------------- header, history, log
    def _push_header(self) -> None:
        app = self.app
        s = app.state
        st = s.status
        since = ""
        if st.state == "disconnected" and s.status_since:
            ago = max(0.0, time.time() - s.status_since) if app.source.live else 0.0
            since = f" since {time.strftime('%H:%M:%S', time.localtime(s.status_since))} ({ago:.0f} s)"
        twin = app.twin_problem
        text = f"{st.state.upper()}{since}: {st.text}" + ("   [view frozen]" if app.ctl.camera.frozen else "")
        if twin:
            text = f"DISCONNECTED: {twin}"
        dpg.set_value("status_text", text)
        color = STATE_COLORS.get("disconnected" if twin else st.state, (220, 220, 220))
        dpg.configure_item("status_text", color=color)
        dpg.configure_item("restart_twin", show=bool(twin) and app.can_restart_twin)
        h = s.hello
        dev = "device: (no hello yet)" if h is None else (
            f"firmware {h.firmware_version} | model {h.model_name} ({h.model_kind_name}, {h.weights_hash}) | "
            f"capture {h.capture_width}x{h.capture_height}" + camera_text(h, s.stats))
        dpg.set_value("device_text", dev)
        dpg.configure_item("device_text", color=GREY_TEXT if app.source.live and st.state != "connected" else TEXT)
        dec = app.source.decoder_stats
        live_up = (not app.source.live) or st.state == "connected"
        dev_fps = s.prediction.result.fps if (s.prediction and live_up) else None
        stats = s.stats
        now = time.monotonic()
        self._counter("ctr_fps", (f"device {dev_fps:4.1f} fps" if dev_fps is not None else "device  -  fps")
                      + f" | GUI {s.gui_fps:4.1f} fps |", None, now)
        self._counter("ctr_rx", f"frames {s.frames_rx} | results {s.results_rx} |", None, now)
        self._counter("ctr_rate", f"{s.bytes_per_s / 1024:5.0f} KB/s |" if live_up else "  -  KB/s |", None, now)
        self._counter("ctr_crc", f"CRC {dec.crc_errors if dec else 0} |", dec.crc_errors if dec else 0, now)
        self._counter("ctr_decode", f"decode errors {dec.errors if dec else 0} |", dec.errors if dec else 0, now)
        self._counter("ctr_lost", f"lost {dec.lost if dec else 0} |", dec.lost if dec else 0, now)
        drops = stats.msgs_dropped if stats else 0
        self._counter("ctr_drops", f"device drops {drops} |", drops, now)
        self._counter("check_text", f"host check: {s.checks}, {s.check_failures} mismatches" if s.host_model
                      else "host check off", s.check_failures, now)
        dpg.set_value("message_text", app.message or s.last_error)

    def _counter(self, tag: str, text: str, value: int | None, now: float) -> None:
        """Counters of trouble turn amber for a while whenever they rise."""
        dpg.set_value(tag, text)
        color = TEXT
        if value is not None:
            old, t_rise = self._counters.get(tag, (value, -1e9))
            if value > old:
                t_rise = now
            self._counters[tag] = (value, t_rise)
            if now - t_rise < RISE_AMBER_S:
                color = AMBER
        dpg.configure_item(tag, color=color)

    def counter_color(self, tag: str) -> tuple:
        return tuple(dpg.get_item_configuration(tag)["color"])

    def _push_history(self) -> None:
        s = self.app.state
        t = s.recent(s.timing)
        if len(t):
            x = t[:, 0].tolist()
            for j, col in enumerate((1, 2)):
                dpg.set_value(f"fps_s{j}", [x, t[:, col].tolist()])
            for j, col in enumerate((3, 4, 5, 6)):
                dpg.set_value(f"times_s{j}", [x, t[:, col].tolist()])
        else:
            for j in range(2):
                dpg.set_value(f"fps_s{j}", [[], []])
            for j in range(4):
                dpg.set_value(f"times_s{j}", [[], []])
        heat = s.scores_heatmap(HEAT_BINS)[::-1]  # the plot's first row is the top one: digit 9
        dpg.set_value("scores_heat", [heat.ravel().tolist()])
        dpg.configure_item("scores_heat", bounds_min=(-s.history_window_s, 0.0), bounds_max=(0.0, 10.0))
        for tag in ("fps", "times", "scores"):
            dpg.set_axis_limits(f"{tag}_x", -s.history_window_s, 0.0)
        dpg.set_axis_limits("scores_y", 0.0, 10.0)
        dpg.set_axis_limits("fps_y", 0.0, max(5.0, float(t[:, 1:3].max()) * 1.15) if len(t) else 30.0)
        if len(t):
            dpg.fit_axis_data("times_y")
        if not self.app.source.live:
            dpg.set_value("replay_pos", self.app.source.position)

    def _push_log(self) -> None:
        """The log follows its newest line while 'follow' is ticked (untick it to read back)."""
        log = self.app.state.log
        if self._scroll_log:
            # the new scroll range is known once the new text was laid out: scroll on the next frames
            dpg.set_y_scroll("log_window", dpg.get_y_scroll_max("log_window"))
            self._scroll_log -= 1
        if log.added == self._log_added:
            return
        self._log_added = log.added
        dpg.set_value("log_text", "\n".join(log))
        if self.app.ctl.session.follow_log:
            self._scroll_log = 2

    # ---------------------------------------------------------------- hover
    def pixel_under_mouse(self) -> str:
        mouse = dpg.get_mouse_pos(local=False)
        for tag, name in (("in28_draw", "28x28"), ("cam_draw", "camera"), *((f"{n}_draw", n) for n in STAGES)):
            got = self.hover.get(tag)
            if got is not None and dpg.is_item_hovered(tag):
                img, k = got
                text = pixel_text(img, mouse, dpg.get_item_rect_min(tag), k)
                if text:
                    return f"{name} {text}"
        return ""


def pixel_text(img: np.ndarray, mouse: tuple[float, float], origin: tuple[float, float], factor: float) -> str:
    """'pixel (x, y) = v' for the image pixel under the mouse on an image shown enlarged by factor."""
    x, y = int((mouse[0] - origin[0]) // factor), int((mouse[1] - origin[1]) // factor)
    if 0 <= y < img.shape[0] and 0 <= x < img.shape[1]:
        v = img[y, x]
        return f"pixel ({x}, {y}) = {int(v) if np.ndim(v) == 0 else tuple(int(c) for c in v)}"
    return ""

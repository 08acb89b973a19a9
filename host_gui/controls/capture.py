"""Saved frames as data: keys 0-9 label the shown frame into a data set folder; "save PNGs"
keeps a capture with its own 28x28; "export CSV" writes every answer."""
from __future__ import annotations

import time
from typing import Any

import dearpygui.dearpygui as dpg

from pico4ml.common.pp_params import PreprocessParams

from pico4ml.host_gui.dataset import save_labelled, save_snapshot
from pico4ml.host_gui.widgets import callback, tooltip

DIGIT_KEYS = {getattr(dpg, f"mvKey_{d}"): d for d in range(10)}
DIGIT_KEYS.update({getattr(dpg, f"mvKey_NumPad{d}"): d for d in range(10) if hasattr(dpg, f"mvKey_NumPad{d}")})
TEXT_INPUTS = ("preset_path", "out_dir", "capture_dir", "inject_path", "replay_path", "tolerance")


class CaptureControl:
    def __init__(self, app: Any) -> None:
        self.app = app
        self.count = 0

    def build(self) -> None:
        app = self.app
        with dpg.collapsing_header(label="files and data set", default_open=True, tag="hdr_files"):
            with dpg.group(horizontal=True):
                dpg.add_input_text(tag="out_dir", default_value=str(app.out_dir), width=230)
                app.ctl.session.browse_button("out_dir", "output folder", directory=True)
            tooltip("out_dir", "Folder for PNG snapshots, CSV exports, recordings and exported frames.")
            with dpg.group(horizontal=True):
                dpg.add_button(label="save PNGs", tag="snapshot_button",
                               callback=callback(app, "save PNG", lambda v: self.on_snapshot()))
                dpg.add_button(label="export CSV", tag="csv_button",
                               callback=callback(app, "export CSV", lambda v: self.on_export_csv()))
            tooltip("snapshot_button", "Save the shown frame's capture and its own 28x28 as PNG (unique names).")
            tooltip("csv_button", "Every answer so far as CSV (injected images named in the file column).")
            dpg.add_checkbox(label="keys 0-9 label the shown frame", tag="capture_keys", default_value=True,
                             callback=callback(app, "label keys", self.on_keys_toggled))
            tooltip("capture_keys", "Press the digit that is really shown: the capture, its 28x28, the parameters "
                                    "and the board's answer go into <data set>/<digit>/, for pico4ml-eval --frames "
                                    "and pico4ml-train --extra-frames. Works live, frozen and in a replay.")
            with dpg.group(horizontal=True):
                dpg.add_input_text(tag="capture_dir", default_value=str(app.out_dir / "dataset"), width=230)
                app.ctl.session.browse_button("capture_dir", "data set folder", directory=True)
            dpg.add_text("", tag="capture_text", wrap=300)
        with dpg.handler_registry(tag="capture_keys_handlers"):
            on_key = callback(app, "capture", self.on_key)
            for key in DIGIT_KEYS:
                dpg.add_key_press_handler(key=key, callback=on_key, tag=f"key_{key}")

    # ---------------------------------------------------------------- labelled capture
    def on_keys_toggled(self, value: Any) -> None:
        self.app.say("keys 0-9 now save the shown frame with that label" if value else "keys 0-9 do nothing now")

    def typing(self) -> bool:
        """True while a text field has the keyboard (a digit typed there is not a label)."""
        return any(dpg.does_item_exist(t) and dpg.is_item_active(t) for t in TEXT_INPUTS)

    def on_key(self, key: Any) -> None:
        digit = DIGIT_KEYS.get(key)
        if digit is None or not dpg.get_value("capture_keys") or self.typing():
            return
        self.capture(digit)

    def capture(self, label: int) -> None:
        app = self.app
        rec = app.shown_record()
        if rec is None:
            app.say("nothing to capture yet")
            return
        image = rec.image if rec.injected else rec.frame
        if image is None:
            why = "the injected image is not known here" if rec.injected else (
                "no camera frame came with it (frames every Nth, or 'send frame' off)")
            app.say(f"frame {rec.frame_id} not captured: {why}")
            return
        pred = rec.prediction
        params = self.params_in_force()
        scale = 1 if rec.injected else rec.scale
        source = "inject" if rec.injected else ("live" if app.source.live else "replay")
        size = None
        if not rec.injected and rec.frame_msg is not None and rec.frame_msg.src_width:
            size = (rec.frame_msg.src_width, rec.frame_msg.src_height)
        path = save_labelled(dpg.get_value("capture_dir") or app.out_dir / "dataset", label, image, rec.input28,
                             frame_id=rec.frame_id, params=params,
                             answer=None if pred is None else pred.result.argmax,
                             score=None if pred is None else float(pred.scores[pred.result.argmax]),
                             status=None if pred is None else getattr(pred.result, "status", 0), source=source,
                             scale=scale, capture_size=size)
        self.count += 1
        note = (f" (a 1/{scale} preview, not the full capture: tick 'full-resolution frames')" if scale > 1 else "")
        answer = "-" if pred is None else pred.result.argmax
        text = f"labelled {label}: frame {rec.frame_id} (board said {answer}) -> {path.with_suffix('')}.*{note}"
        dpg.set_value("capture_text", f"{self.count} captured; last: {path.name}{note}")
        app.say(text)

    def params_in_force(self) -> PreprocessParams:
        """The parameters the board used: its own PARAMS answer when it sent one, else what was sent."""
        raw = self.app.state.device_params
        if raw:
            try:
                return PreprocessParams.from_bytes(raw)
            except ValueError:
                pass
        return self.app.settings.params

    # ---------------------------------------------------------------- snapshot, CSV
    def on_snapshot(self) -> None:
        app = self.app
        rec = app.shown_record()
        if rec is None:
            app.say("nothing to save yet")
            return
        image = rec.image if rec.injected else rec.frame
        tag = "injected" if rec.injected else (f"preview{rec.scale}" if rec.scale > 1 else "")
        saved = save_snapshot(app.out_dir_now(), rec.frame_id, image, rec.input28, tag=tag)
        if not saved:
            app.say(f"frame {rec.frame_id} has neither a camera image nor a 28x28 to save")
            return
        note = f" (the 1/{rec.scale} preview: tick 'full-resolution frames' for the capture)" if rec.scale > 1 else ""
        app.say("saved " + ", ".join(p.name for p in saved) + note)

    def on_export_csv(self) -> None:
        path = self.app.out_dir_now() / f"predictions-{time.strftime('%Y%m%d-%H%M%S')}.csv"
        n = self.app.state.export_csv(path)
        self.app.say(f"{n} predictions written to {path}")

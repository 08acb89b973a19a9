"""Recordings: record the live stream, open one, play, pause, step, speed, scrub, export.

An opened recording replaces the live view (the live link keeps running behind it, and
"back to live" returns to it); its views start empty, then show what the board sent at
the play head. While a recording is open the preprocessing sliders re-run the shown
frame on the host (debug controller).
"""
from __future__ import annotations

import time
from dataclasses import asdict, fields
from pathlib import Path
from typing import Any

import dearpygui.dearpygui as dpg

from pico4ml.common import protocol as P

from pico4ml.host_gui.state import State
from pico4ml.host_gui.widgets import callback, tooltip

SPEEDS = ["0.25x", "0.5x", "1x", "2x", "4x"]


def settings_header(settings: Any) -> dict:
    """The header fields of a recording that say what the board was set to."""
    def plain(obj: Any) -> dict:
        return {f.name: getattr(obj, f.name) for f in fields(obj) if f.name != "seq"}
    return {"params": asdict(settings.params), "stream": plain(settings.stream), "camera": plain(settings.camera)}


class ReplayControl:
    def __init__(self, app: Any) -> None:
        self.app = app
        self.live: tuple[Any, State] | None = None  # the live source and state behind an opened recording

    def build(self) -> None:
        app = self.app
        with dpg.collapsing_header(label="record and replay", default_open=not app.source.live, tag="hdr_replay"):
            dpg.add_button(label="record", tag="record_button", callback=callback(app, "record", lambda v: self.on_record()))
            tooltip("record_button", "Record the raw stream from the board (with its HELLO and the settings) to "
                                     "the output folder; replay it here or with pico4ml-monitor --replay.")
            with dpg.group(horizontal=True):
                dpg.add_input_text(tag="replay_path", hint=".p4rec file", width=230,
                                   default_value="" if app.source.live else str(app.source.path))
                app.ctl.session.browse_button("replay_path", "recording", extensions=(".p4rec",))
            with dpg.group(horizontal=True):
                dpg.add_button(label="open", tag="replay_open", callback=callback(app, "open replay", lambda v: self.on_open()))
                dpg.add_button(label="back to live", tag="replay_live",
                               callback=callback(app, "back to live", lambda v: self.on_go_live()))
            with dpg.group(horizontal=True):
                dpg.add_button(label="<", tag="replay_back", callback=callback(app, "step back", lambda v: self.on_step(-1)))
                dpg.add_button(label="play", tag="replay_play", callback=callback(app, "play", lambda v: self.on_play()))
                dpg.add_button(label=">", tag="replay_fwd", callback=callback(app, "step", lambda v: self.on_step(1)))
                dpg.add_combo(SPEEDS, tag="replay_speed", default_value="1x", width=70,
                              callback=callback(app, "speed", self.on_speed))
            tooltip("replay_back", "One camera frame back (pauses).")
            tooltip("replay_fwd", "One camera frame forward (pauses).")
            tooltip("replay_speed", "Playback speed.")
            dpg.add_slider_float(label="s", tag="replay_pos", min_value=0.0,
                                 max_value=max(getattr(app.source, "duration", 0.0), 0.01), width=230, format="%.2f",
                                 callback=callback(app, "scrub", self.on_scrub))
            tooltip("replay_pos", "Play head: drag to any moment of the recording.")
            with dpg.group(horizontal=True):
                dpg.add_button(label="export PNGs", tag="replay_export_png",
                               callback=callback(app, "export PNGs", lambda v: self.on_export("png")))
                dpg.add_button(label="export video", tag="replay_export_video",
                               callback=callback(app, "export video", lambda v: self.on_export("video")))
            tooltip("replay_export_png", "Every camera frame of the recording as PNG, with its 28x28 and an "
                                         "index.csv of the answers, into the output folder.")
            tooltip("replay_export_video", "The recording as a video (.avi, MJPG) with the 28x28 and the answer "
                                           "beside each frame, into the output folder.")

    # ---------------------------------------------------------------- recording
    def on_record(self) -> None:
        app = self.app
        if not app.source.live:
            app.say("replaying a recording: nothing to record")
            return
        if app.source.recorder is None:
            path = app.out_dir_now() / f"recording-{time.strftime('%Y%m%d-%H%M%S')}.p4rec"
            app.source.start_recording(path, hello=app.state.hello, **settings_header(app.settings))
            dpg.configure_item("record_button", label="stop recording")
            app.say(f"recording to {path}")
        else:
            rec = app.source.stop_recording()
            dpg.configure_item("record_button", label="record")
            dpg.set_value("replay_path", str(rec.path))  # ready to open
            app.say(f"recorded {rec.bytes} bytes to {rec.path}")

    # ---------------------------------------------------------------- replay
    def on_open(self) -> None:
        from pico4ml.host_gui.source import ReplaySource

        app = self.app
        replay = ReplaySource(dpg.get_value("replay_path"))
        replay.playing = False
        replay.speed = speed_of(dpg.get_value("replay_speed"))
        if app.source.live:
            self.live = (app.source, app.state)
        app.ctl.camera.set_frozen(False) if app.ctl.camera.frozen else None
        app.source = replay
        app.state = replay.seek(0.0, app.fresh_state())  # the live answer and plots are gone with the live view
        dpg.configure_item("replay_pos", max_value=max(replay.duration, 0.01))
        dpg.set_value("replay_pos", 0.0)
        self._play_label()
        app.ctl.debug.mode_changed(params=replay.params_bytes())
        app.binding.invalidate()
        h = replay.header.get("hello")
        made = f", board {h.get('firmware_version')} / {h.get('model_name')}" if isinstance(h, dict) else ""
        app.say(f"opened {replay.path.name}: {replay.duration:.1f} s, {len(replay.frame_times)} frames{made}")

    def on_go_live(self) -> None:
        app = self.app
        if self.live is None:
            app.say("no live link to go back to (started with --replay)")
            return
        app.source, app.state = self.live
        self.live = None
        app.ctl.debug.mode_changed()
        app.binding.invalidate()
        app.say("back to the live link")

    def _replaying(self) -> bool:
        if self.app.source.live:
            self.app.say("no recording open: open one first")
            return False
        return True

    def on_play(self) -> None:
        if not self._replaying():
            return
        src = self.app.source
        if not src.playing and src.position >= src.duration:
            self.app.state = src.seek(0.0, self.app.state)
        src.playing = not src.playing
        self._play_label()
        self.app.ctl.debug.mode_changed()

    def on_step(self, direction: int) -> None:
        if not self._replaying():
            return
        self.app.state = self.app.source.step(direction, self.app.state)
        self._play_label()
        self.app.ctl.debug.frame_changed()
        self.app.binding.invalidate()

    def on_speed(self, value: Any) -> None:
        speed = speed_of(value)
        if not self.app.source.live:
            self.app.source.speed = speed
        self.app.say(f"replay speed {value}")

    def on_scrub(self, value: Any) -> None:
        if not self._replaying():
            return
        self.app.state = self.app.source.seek(float(value), self.app.state)
        self.app.ctl.debug.frame_changed()
        self.app.binding.invalidate()

    def _play_label(self) -> None:
        playing = not self.app.source.live and self.app.source.playing
        dpg.configure_item("replay_play", label="pause" if playing else "play")

    def poll(self) -> None:
        """Once per frame: the play button follows the end of playback."""
        if not self.app.source.live:
            self._play_label()

    # ---------------------------------------------------------------- export
    def on_export(self, kind: str) -> None:
        from pico4ml.host_gui import export
        from pico4ml.host_gui.recording import load_replay

        app = self.app
        replay = app.source.replay if not app.source.live else None
        if replay is None:
            path = dpg.get_value("replay_path")
            if not path:
                app.say("open or choose a recording to export")
                return
            replay = load_replay(path)
        stem = Path(replay.path).stem
        if kind == "png":
            folder = app.out_dir_now() / f"{stem}-frames"
            n = export.export_pngs(replay, folder)
            app.say(f"exported {n} frames to {folder}")
        else:
            path = app.out_dir_now() / f"{stem}.avi"
            n = export.export_video(replay, path)
            app.say(f"exported {n} frames as video to {path}")


def speed_of(text: Any) -> float:
    try:
        return max(0.25, min(4.0, float(str(text).rstrip("x"))))
    except ValueError:
        return 1.0

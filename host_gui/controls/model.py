"""Model upload: send a blob (or an int8 checkpoint) to the board and switch to it without
reflashing (docs/model-format.md). The steps are pico4ml-upload's (host_gui/upload.py,
UploadJob), driven from the render loop: each BLOB_STATUS that arrives sends the next chunk,
and the progress bar follows the device's own count of bytes received."""
from __future__ import annotations

import time
from typing import Any

import dearpygui.dearpygui as dpg

from pico4ml.host_gui.widgets import callback, tooltip

ANSWER_TIMEOUT_S = 5.0


class ModelControl:
    def __init__(self, app: Any) -> None:
        self.app = app
        self.job: Any = None
        self._seen = 0          # state.blob_statuses when the last command went out
        self._sent_at = 0.0
        self._name = ""

    def build(self) -> None:
        app = self.app
        with dpg.collapsing_header(label="model", default_open=False, tag="hdr_model"):
            with dpg.group(horizontal=True):
                dpg.add_input_text(tag="model_path", hint="model .blob or int8 .safetensors", width=230)
                app.ctl.session.browse_button("model_path", "model to upload", extensions=(".blob", ".safetensors"))
            dpg.add_button(label="upload model", tag="model_upload",
                           callback=callback(app, "upload model", lambda v: self.on_upload()))
            tooltip("model_upload", "Send the model to the board's flash (no reflash, no reboot) and switch to it "
                                    "once the board has checked it; a cut upload leaves the running model.")
            dpg.add_progress_bar(tag="model_progress", default_value=0.0, width=-1)
            dpg.add_text("", tag="model_state")

    def on_upload(self) -> None:
        from pico4ml.export.blob import BlobError
        from pico4ml.host_gui.upload import UploadJob, load_model
        if self.job is not None and not self.job.done:
            self.app.say("an upload is already under way")
            return
        path = dpg.get_value("model_path")
        if not path:
            self.app.say("choose a model file to upload")
            return
        try:
            data = load_model(path)
        except (BlobError, OSError) as e:
            self.app.say(f"upload model: {e}")
            return
        hello = self.app.state.hello
        self.job = UploadJob(data, max_command_bytes=hello.max_command_bytes if hello else 0)
        self._name = str(path)
        self._send(self.job.first())
        dpg.set_value("model_progress", 0.0)
        dpg.set_value("model_state", f"uploading {len(data):,} bytes ...")

    def _send(self, msg: Any) -> None:
        self._seen = self.app.state.blob_statuses
        self._sent_at = time.monotonic()
        if not self.app.send(msg):
            self.job._fail("not sent: board not connected")
            self._finish()

    def poll(self) -> None:
        """Once per frame: the next step when the answer to the last one is in."""
        job, st = self.job, self.app.state
        if job is None or job.done:
            return
        if st.blob_statuses == self._seen:
            if time.monotonic() - self._sent_at > ANSWER_TIMEOUT_S:
                job._fail(f"no answer from the board in {ANSWER_TIMEOUT_S:g} s (an old firmware?)")
                self._finish()
            return
        nxt = job.on_status(st.blob_status)
        dpg.set_value("model_progress", job.progress)
        if nxt is not None:
            self._send(nxt)
            dpg.set_value("model_state", f"{job.status.received:,} / {len(job.data):,} bytes")
        else:
            self._finish()

    def _finish(self) -> None:
        job = self.job
        if job.stage == "done":
            st = job.status
            text = f"model {st.model_name!r} runs on the board (commit #{st.active_seq})"
        else:
            text = f"upload failed: {job.error}"
        dpg.set_value("model_state", text)
        self.app.say(text)

"""Debug a wrong answer: while a frame is frozen (or a recording is open), the preprocessing
sliders re-run that frame through the host build of the firmware pipeline, every stage and
the new answer show in the usual panels, and nothing reaches the board until "send to the
board". The debug panel shows which pixels pushed the answer and how close the 28x28 is to
each digit's training mean."""
from __future__ import annotations

from typing import Any

import numpy as np
import dearpygui.dearpygui as dpg

from pico4ml.common import protocol as P
from pico4ml.common.pp_params import PreprocessParams

from pico4ml.host_gui import images
from pico4ml.host_gui.rerun import HostPipeline, TrainingSet, gradient_x_input, saliency_rgb


class DebugControl:
    def __init__(self, app: Any) -> None:
        self.app = app
        self.pipeline = HostPipeline()
        self.training = TrainingSet()
        self.edited: PreprocessParams | None = None  # parameters being tried, not sent
        self.rerun: Any = None
        self._rerun_rec: Any = None
        self._shown: tuple | None = None

    def build(self) -> None:
        pass  # its panel is part of the layout; its buttons live with the preprocessing sliders

    @property
    def active(self) -> bool:
        """Frozen or replaying: parameters are tried on the host, not sent."""
        return self.app.ctl.camera.frozen or not self.app.source.live

    def rerun_for(self, rec: Any) -> Any:
        if self.rerun is not None and rec is not None and rec is self._rerun_rec:
            return self.rerun
        return None

    # ---------------------------------------------------------------- mode
    def mode_changed(self, params: bytes | None = None) -> None:
        """Freeze, unfreeze, open or leave a recording: show the panel, reset the sliders."""
        app = self.app
        active = self.active
        dpg.configure_item("panel_debug", show=active)
        dpg.configure_item("params_send", show=active and self._board() is not None)
        dpg.configure_item("params_undo", show=active)
        dpg.set_value("params_mode", "trying them on the shown frame (host re-run): nothing is sent until "
                                     "'send to the board'" if active else "sent to the board as you move them")
        app.layout.reflow()
        if params is not None:
            try:
                shown = PreprocessParams.from_bytes(params)
                app.ctl.settings.show_params(shown)
            except ValueError:
                pass
        if not active:
            if self.edited is not None and self.edited != app.settings.params:
                app.say("edited parameters were not sent (back to the board's)")
            self.edited, self.rerun, self._rerun_rec = None, None, None
            app.ctl.settings.show_params(app.settings.params)
        else:
            self.training.start()
        self._shown = None

    def frame_changed(self) -> None:
        """A new frame under the play head: re-run it if parameters are being tried."""
        if self.edited is not None:
            self.try_params(self.edited)

    def _board(self) -> Any:
        """The live source to send to: the current one, or the one behind an opened recording."""
        if self.app.source.live:
            return self.app.source
        behind = self.app.ctl.replay.live
        return behind[0] if behind else None

    # ---------------------------------------------------------------- re-run
    def try_params(self, params: PreprocessParams) -> None:
        app = self.app
        self.edited = params
        rec = app.shown_record()
        if rec is None:
            app.say("no frame to re-run yet")
            return
        image, scale = (rec.image, 1) if rec.injected else (rec.frame, rec.scale)
        if image is None:
            app.say(f"frame {rec.frame_id} has no camera image to re-run (frames every Nth?)")
            return
        self.rerun = self.pipeline.run(image, params, scale)
        self._rerun_rec = rec
        dev = rec.prediction
        said = "" if dev is None else f" (the board said {dev.result.argmax})"
        preview = f" on the 1/{scale} preview: tick 'full-resolution frames' for an exact re-run" if scale > 1 else ""
        app.say(f"host re-run of frame {rec.frame_id}: {self.rerun.digit} "
                f"({self.rerun.scores[self.rerun.digit] * 100:.1f} %, {self.rerun.status_text}){said}{preview}")

    def send_edited(self) -> None:
        app = self.app
        params = self.edited or app.ctl.settings.widget_params()
        board = self._board()
        if board is None:
            app.say("no board to send to (started with --replay)")
            return
        if board.send(P.SetParams(params.to_bytes())):
            app.settings.params = params
            app.say("parameters sent to the board")
        else:
            app.say("SetParams not sent: board not connected")

    def discard_edits(self) -> None:
        self.edited, self.rerun, self._rerun_rec = None, None, None
        self.app.ctl.settings.show_params(self.app.settings.params)
        self.app.binding.invalidate()
        self.app.say("back to the board's parameters")

    # ---------------------------------------------------------------- the why panel
    def poll(self) -> None:
        """Once per frame while active: refresh the panel when the frame, re-run or training set changed."""
        if not self.active:
            return
        rec = self.app.shown_record()
        rerun = self.rerun_for(rec)
        key = (id(rec), id(rerun), self.training.ready, self.app.layout.sizes.debug_k)
        if key == self._shown or rec is None:
            return
        self._shown = key
        if rerun is not None:
            in28, digit, who = rerun.in28, rerun.digit, "host re-run"
        elif rec.input28 is not None and rec.prediction is not None:
            in28, digit, who = rec.input28, rec.prediction.result.argmax, "board"
        else:
            dpg.set_value("debug_text", "no 28x28 and answer for this frame")
            return
        self.show_why(in28, digit, who)

    def show_why(self, in28: np.ndarray, digit: int, who: str) -> None:
        lay = self.app.layout
        k = lay.sizes.debug_k
        model = self.app.state.host_model
        lines = [f"the {who} said {digit}"]
        if model is not None:
            contrib = gradient_x_input(model.state, in28, digit)
            uv = lay.tex["saliency"].show(images.enlarge(saliency_rgb(contrib, in28), k))
            dpg.configure_item("sal_image", pmax=(28 * k, 28 * k), uv_max=uv)
            lines.append(f"gradient x input of the float model sums to {contrib.sum():.1f} (its logit for {digit})")
        else:
            lines.append("no host model: no pixel attribution")
        t = lay.sizes.thumb_k
        thumbs = np.full((2 * 28 * t + 2, 10 * 28 * t), 30, np.uint8)
        nb = self.training.neighbours(in28, k=10)
        if nb is not None and self.training.means is not None:
            for d in range(10):
                thumbs[:28 * t, d * 28 * t:(d + 1) * 28 * t] = images.enlarge(
                    np.clip(self.training.means[d], 0, 255).astype(np.uint8), t)
            for j, img in enumerate(nb.images[:10]):
                thumbs[28 * t + 2:, j * 28 * t:(j + 1) * 28 * t] = images.enlarge(img, t)
            best = int(np.argmin(nb.class_dist))
            dpg.configure_item("thumbs_pick", pmin=(best * 28 * t, 0), pmax=((best + 1) * 28 * t, 28 * t), show=True)
            near = ", ".join(f"{lab} ({dist:.1f})" for _, lab, dist in nb.nearest[:3])
            lines.append(f"closest class mean: {best} (distance {nb.class_dist[best]:.1f}; to {digit}: "
                         f"{nb.class_dist[digit]:.1f})")
            lines.append(f"nearest training examples (below the means): {near}")
            votes = np.bincount([lab for _, lab, _ in nb.nearest], minlength=10)
            lines.append(f"of the {len(nb.nearest)} nearest, {votes[digit]} are {digit}s")
        else:
            dpg.configure_item("thumbs_pick", show=False)
            lines.append(self.training.error or "loading the MNIST training set...")
        uv = lay.tex["thumbs"].show(thumbs)
        for name in ("saliency", "thumbs"):
            lay.tex[name].switch()  # a larger texture: used at once (its first frame may flash)
        dpg.configure_item("thumbs_image", pmax=(thumbs.shape[1], thumbs.shape[0]), uv_max=uv)
        dpg.set_value("debug_text", "\n".join(lines))

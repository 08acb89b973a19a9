"""One controller per feature of the window: each builds its controls and handles their callbacks.

camera (zoom, freeze, ROI drag), settings (preprocessing, stream, camera options, presets),
replay (record, open, play, step, speed, scrub, export), inject (files, drawn digits),
capture (labelled data set keys, PNG snapshots, CSV), debug (host re-run of a frame,
which pixels pushed the answer, nearest training examples), session (text size, host
tolerance, history window, log, file dialogs, restarting the twin), model (upload a model blob).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass
class Controllers:
    camera: Any
    settings: Any
    replay: Any
    inject: Any
    capture: Any
    debug: Any
    session: Any
    model: Any = None  # model upload

    def all(self) -> list[Any]:
        return [c for c in (self.camera, self.settings, self.replay, self.inject, self.capture, self.debug,
                            self.session, self.model) if c is not None]

"""The device settings the GUI controls, as one object that saves to / loads from a JSON preset.

Preprocessing parameters are pico4ml.common.pp_params.PreprocessParams (the mirror of the C
pp_params, sent as SET_PARAMS); stream and camera options are the protocol's SetStream and
SetCamera. A preset file holds all three, by field name, so it stays readable and diffable.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field, fields, replace
from pathlib import Path

from pico4ml.common import pp_params as _pp
from pico4ml.common import protocol as P
from pico4ml.common.pp_params import PreprocessParams

PRESET_FORMAT = 1
# Slider ranges of the preprocessing fields: the validation ranges (one place:
# pico4ml.common.pp_params.PARAM_RANGES, the C's pp_validate_params rules), ROI offsets
# limited to a frame, the fixed header fields left out.
PARAM_RANGES = {**{n: r for n, r in _pp.PARAM_RANGES.items() if n not in ("version", "size", "reserved")},
                "roi_x": (0, _pp.MAX_DIM - 1), "roi_y": (0, _pp.MAX_DIM - 1)}
# The GUI asks for the intermediate stages too: they are what this tool is for.
DEFAULT_STREAM_MASK = P.STREAM_ALL


class PresetError(ValueError):
    """A preset file that cannot be read or holds invalid values."""


def _stream_default() -> P.SetStream:
    return P.SetStream(mask=DEFAULT_STREAM_MASK)


@dataclass
class Settings:
    params: PreprocessParams = field(default_factory=PreprocessParams)
    stream: P.SetStream = field(default_factory=_stream_default)
    camera: P.SetCamera = field(default_factory=P.SetCamera)

    def messages(self) -> list[P.Message]:
        """The commands that put a device into these settings."""
        return [P.SetParams(self.params.to_bytes()), P.SetStream(**_fields(self.stream)),
                P.SetCamera(**_fields(self.camera))]

    def to_json(self) -> str:
        return json.dumps({"format": PRESET_FORMAT, "params": _fields(self.params),
                           "stream": _fields(self.stream), "camera": _fields(self.camera)}, indent=2) + "\n"

    @classmethod
    def from_json(cls, text: str, source: str = "preset") -> "Settings":
        try:
            data = json.loads(text)
        except ValueError as e:
            raise PresetError(f"{source}: not JSON ({e})") from e
        if not isinstance(data, dict) or data.get("format") != PRESET_FORMAT:
            raise PresetError(f"{source}: not a pico4ml preset (format {PRESET_FORMAT})")
        s = cls()
        try:
            s.params = replace(s.params, **_known(PreprocessParams, data.get("params", {})))
            s.stream = replace(s.stream, **_known(P.SetStream, data.get("stream", {})))
            s.camera = replace(s.camera, **_known(P.SetCamera, data.get("camera", {})))
        except (TypeError, ValueError) as e:
            raise PresetError(f"{source}: {e}") from e
        if s.params.validate() != 0:
            raise PresetError(f"{source}: preprocessing parameters out of range: {s.params}")
        return s

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(self.to_json())
        return path

    @classmethod
    def load(cls, path: str | Path) -> "Settings":
        path = Path(path)
        try:
            text = path.read_text()
        except OSError as e:
            raise PresetError(f"{path}: {e.strerror or e}") from e
        return cls.from_json(text, str(path))


def _fields(obj: object) -> dict:
    return {f.name: getattr(obj, f.name) for f in fields(obj) if f.name != "seq"}


def _known(cls: type, values: object) -> dict:
    if not isinstance(values, dict):
        raise PresetError(f"expected an object of {cls.__name__} fields")
    names = {f.name for f in fields(cls)} - {"seq"}
    unknown = set(values) - names
    if unknown:
        raise PresetError(f"unknown {cls.__name__} fields: {', '.join(sorted(unknown))}")
    for k, v in values.items():
        if not isinstance(v, int) or isinstance(v, bool):
            raise PresetError(f"{cls.__name__}.{k} must be an integer, got {v!r}")
    return dict(values)

"""The preprocessing parameters and their wire format (SET_PARAMS / PARAMS payload).

Mirror of pp_params in firmware/pico4ml/core/preprocess.h: same names, same defaults, same
order, packed as PARAMS_SIZE little-endian bytes (pp_params_pack / pp_params_unpack).
It lives in common so that every user of the protocol (GUI, monitor, twin tools) has the
wire format without the training package; train/preprocess.py re-exports it next to the
numpy preprocessing that reads it. The meaning of each field: docs/preprocessing.md.
"""
from __future__ import annotations

import struct
from dataclasses import astuple, dataclass, fields, replace

WORK = 64            # PP_WORK: side of the work grid
OUT = 28             # PP_OUT: side of the output image
MAX_DIM = 4096       # PP_MAX_DIM: largest accepted frame width/height
PARAMS_VERSION = 3   # PP_PARAMS_VERSION

POLARITY_DARK_ON_LIGHT = 0
POLARITY_LIGHT_ON_DARK = 1
POLARITY_AUTO = 2

OK = 0                # PP_OK
ERR_PARAMS = -2       # PP_ERR_PARAMS: parameters fail validation

_STRUCT = struct.Struct("<HHhhHH22BH")   # the packed little-endian pp_params layout
PARAMS_SIZE = _STRUCT.size              # 36 = PP_PARAMS_SIZE


@dataclass
class PreprocessParams:
    """Mirror of pp_params in core/preprocess.h (same names, same defaults, same order)."""
    version: int = PARAMS_VERSION
    size: int = PARAMS_SIZE
    roi_x: int = 0
    roi_y: int = 0
    roi_w: int = 0            # 0 (or roi_h 0): centred square of the whole frame
    roi_h: int = 0
    polarity: int = POLARITY_AUTO
    bg_remove: int = 1
    bg_radius: int = 6        # closing window radius on the work grid (> half a stroke)
    threshold_pct: int = 35   # 0 = Otsu
    saturate_pct: int = 80    # ink at this share of the range becomes 255
    min_contrast: int = 24    # below this ink range of the grid: no digit
    speck_min: int = 2        # 3x3 ink count a pixel needs to be part of a stroke (0/1 = off)
    border: int = 1           # work-grid pixels ignored at the edges
    box_size: int = 20        # MNIST: digit fitted into 20x20
    center_mass: int = 1      # 1: centre of mass at (14, 14); 0: centre the box
    min_size_pct: int = 8     # a digit is at least this high (% of the grid)
    max_size_pct: int = 95    # ... and at most this long
    thin_pct: int = 40        # a line this long and under 2 px thick is not a digit
    offcentre_pct: int = 40   # a digit's centre is at most this far from the middle
    merge_pct: int = 15       # parts this close (% of the digit's size) join it
    grow_pct: int = 150       # ... if the digit grows to at most this % of its size
    cand_contrast: int = 32   # the chosen digit's own ink range below this: no digit
    full_res: int = 1         # 1: resample the digit from the frame; 0: from the work grid
    min_score_pct: int = 47   # softmax score (%) below which the answer is UNSURE: the default model's (default_params)
    retry_radius: int = 4     # bg_radius of a second reading when the first is no confident digit (0: off)
    retry_score_pct: int = 80  # ... taken only at this softmax score (%) or more (core/reader.h)
    retry_radius2: int = 8    # bg_radius of a third reading when the second is not taken either (0: off)
    reserved: int = 0         # u16

    def to_bytes(self) -> bytes:
        return _STRUCT.pack(*astuple(self))

    @classmethod
    def from_bytes(cls, data: bytes) -> "PreprocessParams":
        if len(data) != PARAMS_SIZE:
            raise ValueError(f"pp_params is {PARAMS_SIZE} bytes, got {len(data)}")
        return cls(*_STRUCT.unpack(data))

    def validate(self) -> int:
        """0 if usable, else ERR_PARAMS (same rules as pp_validate_params)."""
        return validate_params(self)


# (low, high) of every field, the rules of pp_validate_params (version and size are fixed)
PARAM_RANGES = {
    "version": (PARAMS_VERSION, PARAMS_VERSION), "size": (PARAMS_SIZE, PARAMS_SIZE),
    "roi_x": (-32768, 32767), "roi_y": (-32768, 32767), "roi_w": (0, MAX_DIM), "roi_h": (0, MAX_DIM),
    "polarity": (0, 2), "bg_remove": (0, 1), "bg_radius": (1, 15), "threshold_pct": (0, 99),
    "saturate_pct": (1, 100), "min_contrast": (0, 255), "speck_min": (0, 9), "border": (0, WORK // 4),
    "box_size": (4, OUT), "center_mass": (0, 1), "min_size_pct": (0, 100), "max_size_pct": (1, 100),
    "thin_pct": (1, 100), "offcentre_pct": (1, 100), "merge_pct": (0, 100), "grow_pct": (100, 255),
    "cand_contrast": (0, 255), "full_res": (0, 1), "min_score_pct": (0, 100),
    "retry_radius": (0, 15), "retry_score_pct": (0, 100), "retry_radius2": (0, 15), "reserved": (0, 0),
}
assert list(PARAM_RANGES) == [f.name for f in fields(PreprocessParams)]


def validate_params(p: PreprocessParams) -> int:
    for name, (lo, hi) in PARAM_RANGES.items():
        v = getattr(p, name)
        if not hasattr(v, "__index__") or not lo <= int(v) <= hi:  # ints and numpy ints, not floats
            return ERR_PARAMS
    return OK


def further_radii(p: PreprocessParams) -> list[int]:
    """The bg_radius of each further reading, in the order core/reader.c tries them: retry_radius,
    then retry_radius2, each skipped when 0, equal to bg_radius, or already tried."""
    radii: list[int] = []
    for r in (p.retry_radius, p.retry_radius2):
        if r not in (0, p.bg_radius) and r not in radii:
            radii.append(r)
    return radii


def default_params(model: str | None = None) -> PreprocessParams:
    """The parameters a firmware built with `model` (a name or alias of the model manifest; None:
    the default model) starts with: these defaults with that model's calibrated UNSURE threshold
    (pp_default_params() with PICO4ML_MODEL_MIN_SCORE_PCT). A name the manifest does not know
    (an uploaded blob's) keeps the default model's."""
    from pico4ml.common import manifest
    try:
        threshold = manifest.get(model).min_score_pct
    except manifest.ManifestError:
        threshold = manifest.get().min_score_pct
    return replace(PreprocessParams(), min_score_pct=threshold)

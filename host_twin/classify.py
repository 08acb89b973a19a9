"""pico4ml-classify: run the exact firmware pipeline on saved camera frames.

The C preprocessing (core/preprocess.c), the built-in model's net() with the
classifier's verdict (core/classifier.c + the sources core/model/manifest.json names) and
the second reading of a frame that is no confident digit (core/reader.c) are
compiled for the host by cbuild and called through ctypes, so the answer is the board's
answer for the same frame and parameters. By default that is the firmware's default
model (the manifest's: the int8 MLP run by the hand-written kernel net_int8_fast());
`--model float` picks the float one.
Parameters are the defaults, or a GUI preset (`--preset FILE`) and/or `--param
NAME=VALUE` on top. Prints one line per frame: `<path> <digit> <score>`, or
`<path> - <score>` when there is no digit or the answer is unsure.
"""
from __future__ import annotations

import argparse
import ctypes
import json
import sys
from dataclasses import fields, replace
from pathlib import Path
from typing import NamedTuple

import numpy as np

from pico4ml.common import manifest
from pico4ml.common.cbuild import BuildError, build
from pico4ml.common.paths import CORE_DIR
from pico4ml.common.pp_params import further_radii
from pico4ml.train import preprocess as pp

OUT = 28
STATUS_NO_DIGIT = pp.NO_DIGIT                     # pp_run's status
DIGIT, NO_DIGIT, UNSURE = 0, 1, 2                 # CLASSIFIER_* (core/classifier.h)
STATUS_NAMES = ("digit", "no digit", "unsure")
PRESET_FORMAT = 1                                 # host_gui/presets.py writes this format
FIXED_FIELDS = ("version", "size", "reserved")    # set by the layout, not by a user


class ClassifierResult(ctypes.Structure):
    """Mirror of classifier_result (core/classifier.h)."""
    _fields_ = [("logits", ctypes.c_float * 10), ("argmax", ctypes.c_int), ("score", ctypes.c_float),
                ("status", ctypes.c_uint8)]


class Answer(NamedTuple):
    digit: int          # the network's top class (also for NO_DIGIT / UNSURE frames)
    score: float        # its softmax probability
    pp_status: int      # pp_run's return: pp.OK or pp.NO_DIGIT
    status: int         # DIGIT, NO_DIGIT or UNSURE, decided by classifier_set_status()
    second_reading: bool = False  # the answer is a second reading's (core/reader.h)
    second_tried: bool = False    # the frame was read again (the first was no confident digit)
    radius: int = 0               # bg_radius of the reading that answered


class FramePipeline:
    """pp_run + classifier_run + classifier_set_status from one shared library built from core/*.c."""

    def __init__(self, flags: list[str] | None = None, model: str | None = None) -> None:
        """model: a name or alias of core/model/manifest.json; None is the firmware's default."""
        self.model = manifest.get(model)
        sources = [CORE_DIR / "preprocess.c", CORE_DIR / "reader.c", *self.model.classifier_sources()]
        flags = list(flags if flags is not None else ["-O2"]) + self.model.defines()
        self.lib = ctypes.CDLL(str(build(f"pico4ml_pipeline_{self.model.name}", sources, shared=True, flags=flags)))
        self.lib.pp_run.restype = ctypes.c_int
        self.lib.pp_run.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_int, ctypes.c_int,
                                    ctypes.c_char_p, ctypes.c_void_p, ctypes.c_void_p]
        self.lib.classifier_run.argtypes = [ctypes.c_void_p, ctypes.POINTER(ClassifierResult)]
        self.lib.classifier_set_status.argtypes = [ctypes.POINTER(ClassifierResult), ctypes.c_int, ctypes.c_int]
        self.lib.classifier_model_name.restype = ctypes.c_char_p
        self.lib.reader_second_reading.restype = ctypes.c_int
        self.lib.reader_second_reading.argtypes = [
            ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int, ctypes.c_int, ctypes.c_int,
            ctypes.c_char_p, ctypes.c_void_p, ctypes.c_void_p, ctypes.POINTER(ClassifierResult),
            ctypes.POINTER(ctypes.c_int)]
        self.lib.pp_default_params.argtypes = [ctypes.c_char_p]
        defaults = ctypes.create_string_buffer(pp.PARAMS_SIZE)
        self.lib.pp_default_params(defaults)
        # what a firmware with this model starts with: the defaults with the model's UNSURE threshold
        self.params = pp.PreprocessParams.from_bytes(defaults.raw)

    @property
    def model_name(self) -> str:
        return self.lib.classifier_model_name().decode()

    def preprocess(self, frame: np.ndarray, params: pp.PreprocessParams | None = None,
                   stages: pp.CStages | None = None) -> tuple[np.ndarray, int]:
        frame = np.ascontiguousarray(frame, dtype=np.uint8)
        if frame.ndim != 2:
            raise ValueError("frame must be 2-D grayscale")
        out = np.zeros((OUT, OUT), np.uint8)
        raw = params.to_bytes() if params is not None else None
        status = self.lib.pp_run(frame.ctypes.data, frame.shape[1], frame.shape[0], frame.shape[1], raw,
                                 out.ctypes.data, ctypes.addressof(stages) if stages is not None else None)
        return out, status

    def classify28(self, in28: np.ndarray, pp_status: int = pp.OK, min_score_pct: int | None = None) -> ClassifierResult:
        """net() on a 28x28, with the status classifier_set_status gives it (min_score_pct:
        this build's default, the model's, when None)."""
        in28 = np.ascontiguousarray(in28, dtype=np.uint8).reshape(OUT * OUT)
        res = ClassifierResult()
        self.lib.classifier_run(in28.ctypes.data, ctypes.byref(res))
        threshold = self.params.min_score_pct if min_score_pct is None else min_score_pct
        self.lib.classifier_set_status(ctypes.byref(res), pp_status, threshold)
        return res

    def classify(self, frame: np.ndarray, params: pp.PreprocessParams | None = None,
                 stages: pp.CStages | None = None) -> Answer:
        """(digit, score, pp status, status) for one grayscale frame, as the firmware computes them."""
        params = params or self.params
        frame = np.ascontiguousarray(frame, dtype=np.uint8)
        in28, pp_status = self.preprocess(frame, params, stages)
        if pp_status < 0:
            raise ValueError(f"preprocessing refused the frame (status {pp_status})")
        res = self.classify28(in28, pp_status, params.min_score_pct)
        tried = res.status != DIGIT and bool(further_radii(params))                      # reader_wants_second
        status = ctypes.c_int(pp_status)
        second = self.lib.reader_second_reading(
            None, None, frame.ctypes.data, frame.shape[1], frame.shape[0], frame.shape[1], params.to_bytes(),
            in28.ctypes.data, ctypes.addressof(stages) if stages is not None else None, ctypes.byref(res),
            ctypes.byref(status))
        return Answer(res.argmax, float(res.score), status.value, res.status, bool(second), tried,
                      int(second) or params.bg_radius)


def camera_set_accuracy(pipeline: FramePipeline | None = None, **set_kwargs) -> dict:
    """Accuracy of the firmware pipeline on the simulated camera test set (train/camera_set.py).

    Returns {"n", "accuracy", "handwritten", "printed", "no_digit", "unsure"}: a frame counts as
    right when its status is DIGIT with the right label; set_kwargs go to camera_test_set."""
    from pico4ml.train.camera_set import camera_test_set
    pipeline = pipeline or FramePipeline()
    frames, labels, printed = camera_test_set(**set_kwargs)
    ok = np.zeros(len(frames), bool)
    status = np.zeros(len(frames), np.int64)
    for i, frame in enumerate(frames):
        a = pipeline.classify(frame)
        ok[i] = a.status == DIGIT and a.digit == labels[i]
        status[i] = a.status
    return {"n": int(len(frames)), "accuracy": float(ok.mean()),
            "handwritten": float(ok[~printed].mean()) if (~printed).any() else None,
            "printed": float(ok[printed].mean()) if printed.any() else None,
            "no_digit": int((status == NO_DIGIT).sum()), "unsure": int((status == UNSURE).sum())}


def read_frame(path: Path) -> tuple[np.ndarray, list[str]]:
    """An 8-bit grayscale frame from a PGM/PNG (or anything OpenCV reads) + warnings."""
    import cv2
    if not path.is_file():
        raise OSError("no such file" if not path.exists() else "not a regular file")
    data = np.fromfile(path, dtype=np.uint8)
    try:
        img = cv2.imdecode(data, cv2.IMREAD_UNCHANGED) if data.size else None
    except cv2.error:
        img = None
    if img is None or img.size == 0:
        raise OSError("cannot decode image (expected 8-bit grayscale PGM or PNG)")
    warnings = []
    if img.ndim == 3:
        warnings.append(f"{img.shape[2]}-channel image converted to grayscale")
        code = cv2.COLOR_BGRA2GRAY if img.shape[2] == 4 else cv2.COLOR_BGR2GRAY
        img = cv2.cvtColor(img, code) if img.shape[2] in (3, 4) else img[:, :, 0]
    if img.dtype != np.uint8:
        warnings.append(f"{img.dtype} pixels scaled to 8 bits")
        if np.issubdtype(img.dtype, np.integer):
            img = (img.astype(np.int64) >> (8 * img.dtype.itemsize - 8)).astype(np.uint8)
        else:
            img = np.clip(np.nan_to_num(img.astype(np.float64)) * 255.0, 0, 255).astype(np.uint8)
    if img.ndim != 2:
        raise OSError(f"unsupported image shape {img.shape}")
    return img, warnings


# ---------------------------------------------------------------------------
# parameters: GUI presets and NAME=VALUE

class ParamError(ValueError):
    """A preset or --param that cannot be used: the message says why."""


def _settable() -> list[str]:
    return [f.name for f in fields(pp.PreprocessParams) if f.name not in FIXED_FIELDS]


def set_param(params: pp.PreprocessParams, name: str, value, source: str) -> pp.PreprocessParams:
    """params with name = value, checked against pp_validate_params' range for that field."""
    if name not in _settable():
        raise ParamError(f"{source}: unknown parameter {name!r} (known: {', '.join(_settable())})")
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise ParamError(f"{source}: {name} must be an integer, not {value!r}")
    try:
        number = int(value) if isinstance(value, str) else value
    except ValueError:
        raise ParamError(f"{source}: {name} must be an integer, not {value!r}") from None
    lo, hi = pp.PARAM_RANGES[name]
    if not lo <= number <= hi:
        raise ParamError(f"{source}: {name} = {number} is out of range {lo}..{hi}")
    return replace(params, **{name: number})


def load_preset(path: Path, params: pp.PreprocessParams, warn=None) -> pp.PreprocessParams:
    """params with the "params" of a pico4ml-gui preset file applied (format 1). Names this
    version does not have (a preset saved by an older GUI) are skipped with a warning."""
    try:
        data = json.loads(Path(path).read_text())
    except OSError as e:
        raise ParamError(f"preset {path}: cannot read it ({e.strerror or e})") from None
    except ValueError as e:
        raise ParamError(f"preset {path}: not JSON ({e})") from None
    if not isinstance(data, dict) or data.get("format") != PRESET_FORMAT or not isinstance(data.get("params", {}), dict):
        raise ParamError(f"preset {path}: not a pico4ml-gui preset (format {PRESET_FORMAT} with a \"params\" object)")
    for name, value in data.get("params", {}).items():
        if name in FIXED_FIELDS:
            continue
        if name not in _settable():
            if warn:
                warn(f"preset {path}: parameter {name!r} is not in this version, ignored")
            continue
        params = set_param(params, name, value, f"preset {path}")
    return params


def parse_params(preset: Path | None, assignments: list[str], warn=None,
                 defaults: pp.PreprocessParams | None = None) -> pp.PreprocessParams:
    """The defaults (the default model's when None), then the preset, then each NAME=VALUE (in that order)."""
    params = defaults or pp.PreprocessParams()
    if preset is not None:
        params = load_preset(preset, params, warn)
    for item in assignments:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise ParamError(f"--param {item!r}: expected NAME=VALUE")
        params = set_param(params, name.strip(), value.strip(), "--param")
    return params


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="pico4ml-classify",
        description="Classify saved camera frames with the exact firmware pipeline (the C "
                    "preprocessing and the built-in model's net(), compiled for this machine). "
                    "Prints '<path> <digit> <score>' per frame, or '<path> - <score>' when there "
                    "is no digit or the answer is unsure (score below min_score_pct).")
    ap.add_argument("frames", nargs="+", metavar="FRAME", type=Path,
                    help="8-bit grayscale PGM or PNG, any size (the camera gives 324x324); "
                         "colour images are converted to gray with a warning")
    ap.add_argument("--model", choices=manifest.choices(), default=None,
                    help=f"built-in model (default: the firmware's, {manifest.default_name()}; "
                         "'float' is the float MLP)")
    ap.add_argument("--preset", type=Path, metavar="FILE",
                    help="preprocessing parameters from a pico4ml-gui preset (JSON)")
    ap.add_argument("--param", action="append", default=[], metavar="NAME=VALUE",
                    help="set one preprocessing parameter (repeatable; after --preset), e.g. "
                         "--param polarity=1 --param min_score_pct=50")
    args = ap.parse_args(argv)

    def warn(text: str) -> None:
        print(f"pico4ml-classify: warning: {text}", file=sys.stderr)

    try:
        pipeline = FramePipeline(model=args.model)
    except (BuildError, OSError) as e:
        print(f"pico4ml-classify: cannot build the firmware pipeline: {e}", file=sys.stderr)
        return 2
    try:
        params = parse_params(args.preset, args.param, warn, pipeline.params)
    except ParamError as e:
        print(f"pico4ml-classify: {e}", file=sys.stderr)
        return 2
    failures = 0
    for path in args.frames:
        stages = pp.CStages()
        try:
            frame, warnings = read_frame(path)
            a = pipeline.classify(frame, params, stages)
        except (OSError, ValueError) as e:
            print(f"pico4ml-classify: {path}: {e}", file=sys.stderr)
            failures += 1
            continue
        for w in warnings:
            print(f"pico4ml-classify: {path}: warning: {w}", file=sys.stderr)
        if a.status == NO_DIGIT:
            why = pp.NO_DIGIT_REASONS[stages.no_digit] if stages.no_digit < len(pp.NO_DIGIT_REASONS) else "?"
            print(f"pico4ml-classify: {path}: no digit found ({why})", file=sys.stderr)
        elif a.status == UNSURE:
            print(f"pico4ml-classify: {path}: unsure: {a.digit} scores {a.score:.4f}, under "
                  f"min_score_pct {params.min_score_pct} %", file=sys.stderr)
        shown = str(a.digit) if a.status == DIGIT else "-"
        print(f"{path} {shown} {a.score:.4f}", flush=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

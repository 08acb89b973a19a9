"""pico4ml-classify: run the exact firmware pipeline on saved camera frames.

The C preprocessing (core/preprocess.c, default parameters) and the firmware's default
model (core/classifier.c + the sources core/model/manifest.json names) are compiled for
the host by cbuild and called through ctypes, so the answer is the board's answer for the
same frame. Prints one
line per frame: `<path> <digit> <score>`.
"""
from __future__ import annotations

import argparse
import ctypes
import sys
from pathlib import Path

import numpy as np

from pico4ml.common import manifest
from pico4ml.common.cbuild import BuildError, build
from pico4ml.common.paths import CORE_DIR

OUT = 28
STATUS_NO_DIGIT = 1


class ClassifierResult(ctypes.Structure):
    """Mirror of classifier_result (core/classifier.h)."""
    _fields_ = [("logits", ctypes.c_float * 10), ("argmax", ctypes.c_int), ("score", ctypes.c_float)]


class FramePipeline:
    """pp_run + classifier_run from one shared library built from core/*.c."""

    def __init__(self, flags: list[str] | None = None, model: str | None = None) -> None:
        """model: a name or alias of core/model/manifest.json; None is the firmware's default."""
        self.model = manifest.get(model)
        sources = [CORE_DIR / "preprocess.c", *self.model.classifier_sources()]
        flags = list(flags if flags is not None else ["-O2"]) + self.model.defines()
        name = f"pico4ml_pipeline_{self.model.name}"
        self.lib = ctypes.CDLL(str(build(name, sources, shared=True, flags=flags)))
        self.lib.pp_run.restype = ctypes.c_int
        self.lib.pp_run.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_int, ctypes.c_int,
                                    ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p]
        self.lib.classifier_run.argtypes = [ctypes.c_void_p, ctypes.POINTER(ClassifierResult)]
        self.lib.classifier_model_name.restype = ctypes.c_char_p

    @property
    def model_name(self) -> str:
        return self.lib.classifier_model_name().decode()

    def preprocess(self, frame: np.ndarray) -> tuple[np.ndarray, int]:
        frame = np.ascontiguousarray(frame, dtype=np.uint8)
        if frame.ndim != 2:
            raise ValueError("frame must be 2-D grayscale")
        out = np.zeros((OUT, OUT), np.uint8)
        status = self.lib.pp_run(frame.ctypes.data, frame.shape[1], frame.shape[0], frame.shape[1],
                                 None, out.ctypes.data, None)
        return out, status

    def classify28(self, in28: np.ndarray) -> ClassifierResult:
        in28 = np.ascontiguousarray(in28, dtype=np.uint8).reshape(OUT * OUT)
        res = ClassifierResult()
        self.lib.classifier_run(in28.ctypes.data, ctypes.byref(res))
        return res

    def classify(self, frame: np.ndarray) -> tuple[int, float, int]:
        """(digit, score, pp status) for one grayscale frame, as the firmware computes them."""
        in28, status = self.preprocess(frame)
        if status < 0:
            raise ValueError(f"preprocessing refused the frame (status {status})")
        res = self.classify28(in28)
        return res.argmax, float(res.score), status


def camera_set_accuracy(pipeline: FramePipeline | None = None, **set_kwargs) -> dict:
    """Accuracy of the firmware pipeline on the simulated camera test set (train/camera_set.py).

    Returns {"n", "accuracy", "handwritten", "printed", "no_digit"}; set_kwargs go to
    camera_test_set (n, seed, size, ...)."""
    from pico4ml.train.camera_set import camera_test_set
    pipeline = pipeline or FramePipeline()
    frames, labels, printed = camera_test_set(**set_kwargs)
    preds, no_digit = np.empty(len(frames), np.int64), 0
    for i, frame in enumerate(frames):
        preds[i], _, status = pipeline.classify(frame)
        no_digit += status == STATUS_NO_DIGIT
    ok = preds == labels
    return {"n": int(len(frames)), "accuracy": float(ok.mean()),
            "handwritten": float(ok[~printed].mean()) if (~printed).any() else None,
            "printed": float(ok[printed].mean()) if printed.any() else None,
            "no_digit": int(no_digit)}


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


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="pico4ml-classify",
        description="Classify saved camera frames with the exact firmware pipeline (the C "
                    "preprocessing with default parameters and the built-in model's net(), "
                    "compiled for this machine). Prints '<path> <digit> <score>' per frame.")
    ap.add_argument("frames", nargs="+", metavar="FRAME", type=Path,
                    help="8-bit grayscale PGM or PNG, any size (the camera gives 324x324); "
                         "colour images are converted to gray with a warning")
    ap.add_argument("--model", choices=manifest.choices(), default=None,
                    help=f"built-in model (default: the firmware's, {manifest.default_name()}; "
                         "'float' is the float MLP)")
    args = ap.parse_args(argv)
    try:
        pipeline = FramePipeline(model=args.model)
    except (BuildError, OSError) as e:
        print(f"pico4ml-classify: cannot build the firmware pipeline: {e}", file=sys.stderr)
        return 2
    failures = 0
    for path in args.frames:
        try:
            frame, warnings = read_frame(path)
            digit, score, status = pipeline.classify(frame)
        except (OSError, ValueError) as e:
            print(f"pico4ml-classify: {path}: {e}", file=sys.stderr)
            failures += 1
            continue
        for w in warnings:
            print(f"pico4ml-classify: {path}: warning: {w}", file=sys.stderr)
        if status == STATUS_NO_DIGIT:
            print(f"pico4ml-classify: {path}: warning: no digit found (blank input)", file=sys.stderr)
        print(f"{path} {digit} {score:.4f}", flush=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

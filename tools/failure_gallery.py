"""Failure gallery: frames the firmware pipeline gets wrong, per camera condition, in one PNG.

    python tools/failure_gallery.py --out docs/img/failures-before.png
    python tools/failure_gallery.py --split tune --per-row 6 --conditions shadow,paper_edge --out /tmp/f.png

For each condition of bench/camera.py (same frames, same pipeline, same rule for a
right answer) the first few frames answered wrongly are shown as the firmware sees
them (162x162 binned by default), each with the 28x28 the preprocessing made of it
(scaled up 4x) and a caption "truth -> answer" ("-" for no digit). Conditions with no
failure say so. The TUNING split is the default: look at failures there, and keep the
held-out test split for the figures.
"""
from __future__ import annotations

import argparse
import importlib.util
import sys
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
CAPTION = 14
ZOOM = 4          # the 28x28 drawn 112x112
GAP = 4


def _bench():
    spec = importlib.util.spec_from_file_location("bench_camera", ROOT / "bench" / "camera.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _text(img: np.ndarray, text: str, x: int, y: int, scale: float = 0.9, colour: int = 0) -> None:
    cv2.putText(img, text, (x, y), cv2.FONT_HERSHEY_PLAIN, scale, colour, 1, cv2.LINE_AA)


def _label(v: int) -> str:
    return "-" if v < 0 else str(v)


def tile(frame: np.ndarray, in28: np.ndarray, caption: str) -> np.ndarray:
    """One failure: the frame, its 28x28 beside it, the caption above."""
    side = frame.shape[0]
    small = cv2.resize(in28, (28 * ZOOM, 28 * ZOOM), interpolation=cv2.INTER_NEAREST)
    t = np.full((CAPTION + side, side + GAP + 28 * ZOOM), 255, np.uint8)
    t[CAPTION:, :side] = frame
    t[CAPTION:CAPTION + 28 * ZOOM, side + GAP:] = small
    _text(t, caption, 2, CAPTION - 3)
    return t


def gallery(cs, answers: np.ndarray, pipe, per_row: int, conditions: list[str]) -> np.ndarray:
    side = cs.frames.shape[1]
    tile_w, tile_h = side + GAP + 28 * ZOOM, CAPTION + side
    name_w = 150
    rows = []
    for name in conditions:
        m = np.nonzero(cs.conditions == name)[0]
        if len(m) == 0:
            continue
        right = np.where(cs.labels[m] >= 0, answers[m] == cs.labels[m], answers[m] < 0)
        wrong = m[~right][:per_row]
        row = np.full((tile_h + GAP, name_w + per_row * (tile_w + GAP)), 255, np.uint8)
        _text(row, name, 4, 30, 1.0)
        _text(row, f"{100 * right.mean():.0f} % right", 4, 50)
        _text(row, f"{len(m) - right.sum()} of {len(m)} wrong", 4, 68)
        if len(wrong) == 0:
            _text(row, "no failure", name_w + 10, tile_h // 2)
        for j, i in enumerate(wrong):
            in28, _ = pipe.preprocess(cs.frames[i])
            kind = f" {cs.kinds[i]}" if cs.kinds[i] else ""
            t = tile(cs.frames[i], in28, f"{_label(int(cs.labels[i]))} -> {_label(int(answers[i]))}{kind}")
            x = name_w + j * (tile_w + GAP)
            row[:tile_h, x:x + tile_w] = t
        rows.append(row)
    return np.vstack(rows) if rows else np.full((10, 10), 255, np.uint8)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, required=True, help="PNG to write")
    ap.add_argument("--split", choices=["tune", "test"], default="tune", help="(default %(default)s)")
    ap.add_argument("--size", type=int, choices=[162, 324], default=162, help="frame size (default %(default)s)")
    ap.add_argument("--frames", type=int, help="frames per condition to search (default: the bench's)")
    ap.add_argument("--per-row", type=int, default=5, help="failures shown per condition (default %(default)s)")
    ap.add_argument("--model", help="built-in model (default: the firmware's)")
    ap.add_argument("--conditions", help="comma-separated subset")
    ap.add_argument("--data-dir", help="MNIST directory")
    args = ap.parse_args(argv)
    if args.per_row < 1:
        ap.error("--per-row must be >= 1")
    bench = _bench()
    from pico4ml.common.cbuild import BuildError
    from pico4ml.train.camera_conditions import CONDITIONS
    from pico4ml.train.camera_set import BENCH_PER_CONDITION, condition_set
    from pico4ml.train.data import MnistError
    conditions = [c.strip() for c in args.conditions.split(",")] if args.conditions else list(CONDITIONS)
    try:
        pipe = bench.make_pipeline(args.model)
        cs = condition_set(args.split, args.frames or BENCH_PER_CONDITION, args.size, tuple(conditions),
                           data_dir=args.data_dir)
    except (BuildError, OSError, MnistError, ValueError) as e:   # unknown model/condition, no MNIST, no compiler
        print(f"failure_gallery: {e}", file=sys.stderr)
        return 2
    answers = bench.run(pipe, cs.frames)
    img = gallery(cs, answers, pipe, args.per_row, conditions)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(args.out), img):
        print(f"failure_gallery: cannot write {args.out}", file=sys.stderr)
        return 2
    print(f"wrote {args.out} ({img.shape[1]}x{img.shape[0]})")
    return 0


if __name__ == "__main__":
    sys.exit(main())

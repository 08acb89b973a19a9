"""Calibrate pp_params.min_score_pct, the softmax score (%) below which an answer is UNSURE.

    python tools/calibrate_min_score.py              # the TUNING split of bench/camera.py, 300 frames a condition
    python tools/calibrate_min_score.py --frames 100 # quicker

Runs the default firmware pipeline (C preprocessing + the manifest's default net(), as
bench/camera.py) on the TUNE split's frames with the threshold off, once with the default
parameters and once as each further reading reads (bg_radius = retry_radius, then
retry_radius2), keeps each frame's answers and scores, and replays the verdicts of
classifier_set_status() and of the second reading (core/reader.c: the first further reading
that is a digit scored at retry_score_pct or more replaces a first reading that is no
confident digit) for every threshold 0..100 %: a digit frame is right when preprocessing found a digit, the answer
is its digit and the score reaches the threshold; an empty frame is right when
preprocessing found none or the score stays below it. The threshold chosen maximises the
mean of the two, all digit frames right (`all`) and empty frames answered "no digit"
(`no_digit`), among the thresholds that keep the clean sheet no worse than the pipeline
before issue 8 (its TUNE figure, recorded in bench/results/camera-before-tune.json; an
UNSURE answer for a clean digit is a wrong answer too), the lowest on ties. Never run it
on the TEST split: that one is held out. The model's scores move when it is retrained,
so calibrate again after. Each built-in model has its own threshold (its `min_score_pct`
in core/model/manifest.json, the default parameters of a build with it): `--model NAME
--write` calibrates that model's and stores it there.

Prints the curve and ends with one JSON line: the chosen `min_score_pct`, its `all`,
`worst` (lowest digit condition), `no_digit`, and the split, model and frames used.
"""
from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np


def answers(pipe, cs, params) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(digit, float32 score, preprocessing found a digit) of every frame for one reading:
    threshold and second reading off."""
    from pico4ml.train import preprocess as pp
    params = replace(params, min_score_pct=0, retry_radius=0)
    digit = np.zeros(len(cs), np.int64)
    score = np.zeros(len(cs), np.float32)
    found = np.zeros(len(cs), bool)
    for i, frame in enumerate(cs.frames):
        a = pipe.classify(frame, params)
        digit[i], score[i], found[i] = a.digit, a.score, a.pp_status == pp.OK
    return digit, score, found


BEFORE = Path(__file__).resolve().parent.parent / "bench" / "results" / "camera-before-tune.json"


def clean_floor() -> float | None:
    try:
        return float(json.loads(BEFORE.read_text())["figures"]["clean"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def curve(cs, first: tuple, seconds: list[tuple] = (), retry_score_pct: int = 0) -> list[dict]:
    """For each threshold 0..100: all, worst, no_digit. first: answers() of the first reading;
    seconds: those of the further readings, in the order the firmware tries them (none: off);
    the rules of classifier_set_status() and of reader_second_reading() (core/reader.c), in float32."""
    from pico4ml.train.camera_conditions import DIGIT_CONDITIONS
    is_digit = cs.labels >= 0
    hundred = np.float32(100)
    rows = []
    for t in range(101):
        digit, score, found = first
        sure = found & (score * hundred >= np.float32(t))
        for digit2, score2, found2 in seconds:
            take = ~sure & found2 & (score2 * hundred >= np.float32(t)) & (score2 * hundred >= np.float32(retry_score_pct))
            sure, digit = sure | take, np.where(take, digit2, digit)
        right = np.where(is_digit, sure & (digit == cs.labels), ~sure)
        per = {c: float(right[cs.conditions == c].mean()) for c in DIGIT_CONDITIONS if (cs.conditions == c).any()}
        rows.append({"min_score_pct": t, "all": float(right[is_digit].mean()) if is_digit.any() else 0.0,
                     "clean": per.get("clean"),
                     "worst": min(per.values()) if per else 0.0,
                     "worst_condition": min(per, key=per.get) if per else None,
                     "no_digit": float(right[~is_digit].mean()) if (~is_digit).any() else 0.0})
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--frames", type=int, default=None, help="frames per condition (default: the bench's 300)")
    ap.add_argument("--model", default=None, help="built-in model of core/model/manifest.json (default: the firmware's)")
    ap.add_argument("--clean-floor", type=float, default=clean_floor(),
                    help="the clean sheet's accuracy not to go below (default: the recorded pre-issue-8 "
                         "TUNE figure, %(default)s)")
    ap.add_argument("--data-dir", help="MNIST directory (default: $PICO4ML_MNIST_DIR, ../shared/data/mnist)")
    ap.add_argument("--write", action="store_true",
                    help="store the chosen threshold as the model's min_score_pct in core/model/manifest.json "
                         "(the default parameters of every build with that model)")
    args = ap.parse_args(argv)
    from pico4ml.common.cbuild import BuildError
    from pico4ml.host_twin.classify import FramePipeline
    from pico4ml.train.camera_set import BENCH_PER_CONDITION, condition_set
    from pico4ml.train.data import MnistError
    from pico4ml.common.pp_params import further_radii
    per = args.frames or BENCH_PER_CONDITION
    if per < 1:
        ap.error("--frames must be >= 1")
    try:
        pipe = FramePipeline(model=args.model)
        cs = condition_set("tune", per, 162, data_dir=args.data_dir)
    except (BuildError, OSError, MnistError, ValueError) as e:
        print(f"calibrate_min_score: {e}", file=sys.stderr)
        return 2
    params = pipe.params
    first = answers(pipe, cs, params)
    seconds = [answers(pipe, cs, replace(params, bg_radius=r)) for r in further_radii(params)]
    rows = curve(cs, first, seconds, params.retry_score_pct)
    floor = args.clean_floor
    allowed = [r for r in rows if floor is None or r["clean"] is None or r["clean"] >= floor - 1e-9] or rows[:1]
    best = max(allowed, key=lambda r: ((r["all"] + r["no_digit"]) / 2, -r["min_score_pct"]))
    print(f"TUNE split, {len(cs)} frames ({per} per condition), pipeline: C preprocessing + {pipe.model_name}")
    print(f"clean sheet kept at or above {100 * floor:.1f} %" if floor is not None else "no clean-sheet floor")
    print(f"{'min_score_pct':>13} {'all digits':>10} {'clean':>7} {'worst':>7} {'no digit':>9}")
    for r in rows:
        if r["min_score_pct"] % 5 == 0 or r is best:
            mark = "  <- chosen" if r is best else ""
            print(f"{r['min_score_pct']:>13} {100 * r['all']:>9.1f}% {100 * (r['clean'] or 0):>6.1f}% "
                  f"{100 * r['worst']:>6.1f}% {100 * r['no_digit']:>8.1f}%  {r['worst_condition']}{mark}")
    print(json.dumps({**{k: (round(v, 4) if isinstance(v, float) else v) for k, v in best.items()},
                      "clean_floor": floor, "split": "tune", "model": pipe.model.name,
                      "frames_per_condition": per}))
    if args.write:
        write_threshold(pipe.model.name, best["min_score_pct"])
    return 0


def write_threshold(model: str, threshold: int) -> None:
    """Set the model's min_score_pct in the manifest, the rest of the file as it was."""
    from pico4ml.common.manifest import MANIFEST
    data = json.loads(MANIFEST.read_text())
    data["models"][model]["min_score_pct"] = int(threshold)
    MANIFEST.write_text(json.dumps(data, indent=2) + "\n")
    print(f"{MANIFEST}: {model} min_score_pct = {threshold}", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())

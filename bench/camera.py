"""Benchmark: the firmware pipeline's accuracy per camera condition (issue 8).

    python bench/camera.py                    # held-out TEST split, 162x162 binned, int8 (the default)
    python bench/camera.py --split tune       # the TUNING split: tune preprocessing against this one
    python bench/camera.py --size 324         # full-resolution frames instead of binned ones
    python bench/camera.py --frames 40        # fewer frames per condition (quick look)

What runs: the default firmware pipeline exactly, the C preprocessing (core/preprocess.c,
default parameters) and the firmware's default net() (the manifest's default, int8;
`--model float` for the float build), compiled for the host (pico4ml.host_twin.classify.FramePipeline). What it
reads: simulated HM01B0 frames of every condition of issue 8's table
(train/camera_conditions.py; 300 per condition by default), rendered at 324x324 and
2x2-binned to 162x162 as the firmware captures them (`--size 324` feeds the full frames).
Digits come from sources training never sees (MNIST test digits, held-out fonts and
pen-stroke writers: train/digit_sources.py).

Two splits with their own seeds (train/camera_set.py):
  * `--split tune` (TUNE_SEED): the set to tune preprocessing, thresholds and training
    against. Tune against this one only.
  * `--split test` (TEST_SEED, the default): HELD OUT. Report figures from it; never
    tune against it, so that it predicts what an independent set of the same conditions
    (and users) will see.

A frame's answer is a digit or "none". The pipeline answers none when its result says so:
when the result carries a `status` field (the classifier status of protocol v2: 0 DIGIT,
1 NO_DIGIT, 2 UNSURE), any status other than DIGIT is none; otherwise (today's pipeline,
which returns (digit, score, preprocessing status)) none means preprocessing returned
PP_NO_DIGIT. A digit frame is right when the answer is its digit; an empty frame
(condition "empty") is right when the answer is none.

Prints a table (accuracy, share answered none, and the variants of some conditions) and
ends with one JSON line: a key per digit condition (accuracy 0..1), `all` (all digit
frames of all digit conditions together), `worst` (the lowest digit condition) and its
name `worst_condition`, `no_digit` (share of empty frames answered none),
`second_reading_tried` / `_taken` (shares of all frames read a second time, and answered
by that reading: core/reader.h), `wrong_kinds` (per condition, why its wrong digit frames
were wrong: no digit found, something else framed, unsure, or misread by the model on the
right box) and `wrong_totals` (the same over all conditions), and the run's `split`, `size`, `model`,
`frames_per_condition`.
"""
from __future__ import annotations

import argparse
import json
import sys
import time

import numpy as np

NONE = -1
STATUS_DIGIT, STATUS_NO_DIGIT, STATUS_UNSURE = 0, 1, 2  # protocol v2 classifier status
PP_NO_DIGIT = 1           # preprocessing status: nothing that looks like ink


def make_pipeline(model: str | None = None):
    """The firmware pipeline built for the host: C preprocessing + net() of `model` (a name
    or alias of core/model/manifest.json; None: the firmware's default)."""
    from pico4ml.host_twin.classify import FramePipeline
    return FramePipeline(model=model)


def model_choices() -> list[str]:
    from pico4ml.common import manifest
    return manifest.choices()


def answer(pipe, frame: np.ndarray) -> tuple[int, float]:
    """(digit or NONE, score) for one frame, as the board would show it."""
    return answer_of(pipe.classify(frame))


def answer_of(result) -> tuple[int, float]:
    """(digit or NONE, score) of one pipeline result (see the module's docstring)."""
    status = getattr(result, "status", None)
    if status is not None:                          # a result object with the classifier's status
        digit = getattr(result, "digit", getattr(result, "argmax", None))
        score = float(getattr(result, "score", 0.0))
        return (NONE if int(status) != STATUS_DIGIT or digit is None else int(digit)), score
    digit, score, pp_status = result[:3]
    return (NONE if pp_status == PP_NO_DIGIT else int(digit)), float(score)


def run(pipe, frames: np.ndarray) -> np.ndarray:
    return np.array([answer(pipe, f)[0] for f in frames], np.int64)


WRONG_KINDS = ("none", "framed", "unsure", "misread")
FRAMED_IOU = 0.5  # below this overlap with the digit's own ink box, something else was framed


def box_iou(a, b) -> float:
    """Intersection over union of two (x0, y0, x1, y1) boxes, x1/y1 exclusive."""
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    inter = max(0, w) * max(0, h)
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def chosen_box(stages) -> tuple[int, int, int, int]:
    """The digit box preprocessing chose (work grid) in frame pixels: work bin i covers ROI pixels
    [i * n // grid, (i + 1) * n // grid) (train/preprocess._bins), the ROI the one it used."""
    gw, gh, rw, rh = stages.work_w, stages.work_h, stages.roi_w, stages.roi_h
    x0, y0 = stages.bbox_x, stages.bbox_y
    x1, y1 = x0 + stages.bbox_w, y0 + stages.bbox_h
    return (stages.roi_x + x0 * rw // gw, stages.roi_y + y0 * rh // gh,
            stages.roi_x + x1 * rw // gw, stages.roi_y + y1 * rh // gh)


def wrong_kind(result, stages, box) -> str:
    """Why a wrongly answered digit frame was wrong: `none` (no digit found), `framed` (the box
    chosen overlaps the digit's own ink box, from the simulator, by less than FRAMED_IOU: a
    shadow, an edge or a neighbour was read instead, or a part of the digit), `unsure` (the
    digit's box, answered "?"), `misread` (the digit's box, a confident wrong digit: the
    model's error). Tells preprocessing's share of the errors from the model's."""
    if int(result.status) == STATUS_NO_DIGIT:
        return "none"
    if box_iou(chosen_box(stages), box) < FRAMED_IOU:
        return "framed"
    return "unsure" if int(result.status) == STATUS_UNSURE else "misread"


def read_set(pipe, cs) -> tuple[np.ndarray, dict]:
    """Every frame of the ConditionSet classified once, with its stages: (the answers, figures:
    the shares of all frames read a second time and answered by that reading (core/reader.h),
    and per condition the wrong_kind() counts of its wrongly answered digit frames)."""
    from pico4ml.train import preprocess as pp
    answers = np.empty(len(cs), np.int64)
    kinds: dict[str, dict[str, int]] = {}
    tried = taken = 0
    for i, frame in enumerate(cs.frames):
        stages = pp.CStages()
        result = pipe.classify(frame, None, stages)
        answers[i] = answer_of(result)[0]
        tried += bool(result.second_tried)
        taken += bool(result.second_reading)
        if cs.labels[i] >= 0 and answers[i] != cs.labels[i]:
            row = kinds.setdefault(str(cs.conditions[i]), dict.fromkeys(WRONG_KINDS, 0))
            row[wrong_kind(result, stages, cs.boxes[i])] += 1
    n = max(1, len(cs))
    return answers, {"second_reading_tried": round(tried / n, 4), "second_reading_taken": round(taken / n, 4),
                     "wrong_kinds": kinds}


def summarise(cs, answers: np.ndarray) -> tuple[dict, list[str]]:
    """(the JSON figures, the table's lines) for a ConditionSet and its answers."""
    from pico4ml.train.camera_conditions import CONDITIONS
    figures, lines = {}, []
    right = np.where(cs.labels >= 0, answers == cs.labels, answers == NONE)
    lines.append(f"{'condition':<12} {'frames':>6} {'right':>7} {'none':>6}  variants / what it is")
    for name, what in CONDITIONS.items():
        m = cs.conditions == name
        if not m.any():
            continue
        acc = float(right[m].mean())
        none = float((answers[m] == NONE).mean())
        kinds = sorted(set(cs.kinds[m].tolist()) - {""})
        detail = ", ".join(f"{k} {100 * right[m & (cs.kinds == k)].mean():.0f} %" for k in kinds) or what
        lines.append(f"{name:<12} {int(m.sum()):>6} {100 * acc:>6.1f}% {100 * none:>5.1f}%  {detail}")
        if name == "empty":
            figures["no_digit"] = round(acc, 4)
        else:
            figures[name] = round(acc, 4)
    digit = cs.labels >= 0
    if digit.any():
        figures["all"] = round(float(right[digit].mean()), 4)
        worst = min((k for k in figures if k in CONDITIONS), key=lambda k: figures[k], default=None)
        if worst is not None:
            figures["worst"], figures["worst_condition"] = figures[worst], worst
    figures.setdefault("no_digit", None)
    return figures, lines


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--split", choices=["test", "tune"], default="test",
                    help="test: held out, report on it (default); tune: the set to tune against")
    ap.add_argument("--size", type=int, choices=[162, 324], default=162,
                    help="162: 2x2-binned as the firmware captures (default); 324: the full sensor")
    ap.add_argument("--frames", type=int, default=None, help="frames per condition (default: the bench's 300)")
    ap.add_argument("--model", choices=model_choices(), default=None,
                    help="built-in model of core/model/manifest.json (default: the firmware's)")
    ap.add_argument("--conditions", help="comma-separated subset of the conditions")
    ap.add_argument("--workers", type=int, help="processes rendering frames (default 2)")
    ap.add_argument("--no-cache", action="store_true", help="render the frames again")
    ap.add_argument("--data-dir", help="MNIST directory (default: $PICO4ML_MNIST_DIR, ../shared/data/mnist)")
    args = ap.parse_args(argv)

    from pico4ml.common.cbuild import BuildError
    from pico4ml.train import digit_fonts
    from pico4ml.train.camera_set import BENCH_PER_CONDITION, condition_set
    from pico4ml.train.data import MnistError
    per = args.frames or BENCH_PER_CONDITION
    if per < 1:
        ap.error("--frames must be >= 1")
    conditions = tuple(c.strip() for c in args.conditions.split(",")) if args.conditions else None
    try:
        pipe = make_pipeline(args.model)
    except (BuildError, OSError) as e:
        print(f"bench/camera.py: cannot build the firmware pipeline: {e}", file=sys.stderr)
        return 2
    t0 = time.perf_counter()
    try:
        cs = condition_set(args.split, per, args.size, conditions, cache=not args.no_cache, workers=args.workers,
                           data_dir=args.data_dir)
    except (MnistError, ValueError) as e:
        print(f"bench/camera.py: {e}", file=sys.stderr)
        return 2
    t1 = time.perf_counter()
    answers, readings = read_set(pipe, cs)
    t2 = time.perf_counter()
    figures, lines = summarise(cs, answers)
    figures |= readings
    figures["wrong_totals"] = {w: sum(k[w] for k in figures["wrong_kinds"].values()) for w in WRONG_KINDS}
    print(f"camera bench: {args.split} split ({'held out' if args.split == 'test' else 'for tuning'}), "
          f"{len(cs)} frames {args.size}x{args.size}, {per} per condition, pipeline: C preprocessing + "
          f"{pipe.model_name if hasattr(pipe, 'model_name') else args.model} net()")
    missing = digit_fonts.missing_packages()
    if missing:
        print(f"fonts missing (replaced by Hershey fonts, fewer styles): {' '.join(missing)}")
    print("\n".join(lines))
    print(f"why digit frames were wrong ({', '.join(WRONG_KINDS)}; 'framed': box IoU with the digit "
          f"< {FRAMED_IOU}): " + "; ".join(f"{c} " + "/".join(str(k[w]) for w in WRONG_KINDS)
                                           for c, k in figures["wrong_kinds"].items()))
    print("  all conditions: " + ", ".join(f"{w} {n}" for w, n in figures["wrong_totals"].items()))
    print(f"second reading: tried on {100 * figures['second_reading_tried']:.1f} % of the frames, the answer of "
          f"{100 * figures['second_reading_taken']:.1f} %")
    print(f"all digit conditions {100 * figures.get('all', 0):.1f} %, worst {figures.get('worst_condition')} "
          f"{100 * figures.get('worst', 0):.1f} %, empty frames answered 'no digit' "
          f"{100 * (figures['no_digit'] or 0):.1f} %   (frames {t1 - t0:.0f} s, pipeline {t2 - t1:.1f} s)")
    model = getattr(getattr(pipe, "model", None), "name", None) or args.model
    out = {**figures, "split": args.split, "size": args.size, "model": model, "frames_per_condition": per}
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())

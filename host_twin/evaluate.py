"""pico4ml-eval: how well a model reads digits, on MNIST, on simulated camera frames, or on
frames you captured yourself.

  pico4ml-eval                          MNIST test set, the committed checkpoint
  pico4ml-eval --camera 2000            + 2000 simulated camera frames
  pico4ml-eval --frames captures/       the firmware pipeline on your frames, per label
  pico4ml-eval --frames captures/ --checkpoint models/mine.safetensors
                                        + a (fine-tuned) checkpoint on the same frames

--frames DIR reads the frames of DIR/<label>/ (*.pgm, *.png; the -in28 files are ignored),
as the GUI's data-set capture writes them, and scores the firmware pipeline: the C
preprocessing with its default parameters and the firmware's built-in model, compiled for
this machine (pico4ml.host_twin.classify.FramePipeline), so the answers are the board's.
With --checkpoint as well, that checkpoint is scored on the same frames through the numpy
twin of the preprocessing, with the parameters that firmware starts with (its built-in
model's "unsure" threshold, which a blob uploaded to it runs with): a fine-tuned model can be
checked before it is exported.
"""
from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable

import numpy as np

from pico4ml.common import manifest
from pico4ml.common.pp_params import further_radii
from pico4ml.common.argtypes import existing_dir
from pico4ml.common.cbuild import BuildError
from pico4ml.train import evaluate as mnist_eval
from pico4ml.train.frame_set import FrameSet, FrameSetError, load_frame_set

DIGIT, NO_DIGIT, UNSURE = 0, 1, 2  # the answer's status, CLASSIFIER_* of core/classifier.h
MAX_LISTED = 30  # wrong answers listed by file


@dataclass
class FrameScores:
    name: str
    labels: np.ndarray
    answers: np.ndarray                # -1: preprocessing refused the frame
    scores: np.ndarray
    no_digit: np.ndarray               # no digit found: the board shows "-"
    paths: list[Path] = field(default_factory=list)
    unsure: np.ndarray | None = None   # a digit, but below the confidence threshold: the board shows "?"

    def __post_init__(self) -> None:
        if self.unsure is None:
            self.unsure = np.zeros(len(self.labels), bool)

    @property
    def right(self) -> np.ndarray:
        """The board showed the right digit (not "-", not "?")."""
        return (self.answers == self.labels) & ~self.no_digit & ~self.unsure

    @property
    def accuracy(self) -> float:
        return float(self.right.mean()) if len(self.labels) else 0.0

    def confusion(self) -> np.ndarray:
        ok = self.answers >= 0
        return mnist_eval.confusion_matrix(self.labels[ok], self.answers[ok])

    def per_label(self) -> dict[int, dict]:
        out = {}
        for d in sorted(set(self.labels.tolist())):
            m = self.labels == d
            wrong = collections_count(self.answers[m & (self.answers != d)])
            out[d] = {"frames": int(m.sum()), "right": int(self.right[m].sum()),
                      "accuracy": float(self.right[m].mean()), "read_as": wrong,
                      "no_digit": int(self.no_digit[m].sum()), "unsure": int(self.unsure[m].sum())}
        return out

    def summary(self) -> dict:
        return {"name": self.name, "n": int(len(self.labels)), "accuracy": self.accuracy,
                "no_digit": int(self.no_digit.sum()), "unsure": int(self.unsure.sum()),
                "refused": int((self.answers < 0).sum()),
                "per_label": {str(k): v for k, v in self.per_label().items()},
                "confusion": self.confusion().tolist()}


def collections_count(values: np.ndarray) -> dict[str, int]:
    """{"7": 9, ...}: how often each wrong answer came, most frequent first."""
    uniq, counts = np.unique(values, return_counts=True)
    order = np.argsort(-counts, kind="stable")
    return {str(int(uniq[i])): int(counts[i]) for i in order}


def score(fs: FrameSet, name: str, classify: Callable[[np.ndarray], tuple[int, float, int]]) -> FrameScores:
    """classify(frame) -> (digit, score, status DIGIT/NO_DIGIT/UNSURE), ValueError when
    preprocessing refuses the frame. Only a DIGIT answer with the right label counts as right."""
    n = len(fs)
    answers, scores = np.full(n, -1, np.int64), np.zeros(n, np.float64)
    status = np.full(n, DIGIT, np.int64)
    for i, frame in enumerate(fs.frames):
        try:
            answers[i], scores[i], status[i] = classify(frame)
        except ValueError:
            continue
    return FrameScores(name, np.asarray(fs.labels, np.int64), answers, scores, status == NO_DIGIT,
                       list(fs.paths), unsure=status == UNSURE)


def pipeline_classifier(pipeline) -> Callable[[np.ndarray], tuple[int, float, int]]:
    """The firmware pipeline's answer with its status, as the board shows it."""
    def classify(frame: np.ndarray) -> tuple[int, float, int]:
        a = pipeline.classify(frame)
        return a.digit, a.score, a.status
    return classify


def checkpoint_classifier(path: Path, params) -> tuple[Callable[[np.ndarray], tuple[int, float, int]], str]:
    """A checkpoint on the numpy twin of the preprocessing with the given parameters: those the
    firmware starts with (its built-in model's min_score_pct), which a blob uploaded to it runs with."""
    from pico4ml.train import preprocess
    from pico4ml.train.models import load_state, numpy_forward

    state, meta = load_state(path)

    def read(frame: np.ndarray, params) -> tuple[int, float, int]:
        out, stages = preprocess.preprocess(frame, params, return_stages=True)
        logits = numpy_forward(state, out[None])[0].astype(np.float64)
        p = np.exp(logits - logits.max())
        p /= p.sum()
        # the rule of classifier_set_status() (core/classifier.c)
        status = (NO_DIGIT if int(stages["status"]) != preprocess.OK
                  else UNSURE if p.max() * 100 < params.min_score_pct else DIGIT)
        return int(p.argmax()), float(p.max()), status

    def classify(frame: np.ndarray) -> tuple[int, float, int]:
        first = read(frame, params)
        if first[2] == DIGIT:
            return first
        # the second reading of core/reader.c: other closing windows when not a confident digit
        for radius in further_radii(params):
            second = read(frame, replace(params, bg_radius=radius))
            if second[2] == DIGIT and second[1] * 100 >= params.retry_score_pct:
                return second
        return first

    return classify, f"checkpoint {path} ({meta.get('architecture')}) on the numpy preprocessing twin"


def print_report(r: FrameScores, root: Path) -> None:
    print(f"{r.name}: {len(r.labels)} frames from {root}")
    print(" label  frames  right  accuracy  wrong answers")
    for d, row in r.per_label().items():
        wrong = ", ".join(f"{k} x{v}" for k, v in row["read_as"].items())
        nd = "".join(f"  ({row[k]} {what})" for k, what in (("no_digit", "without a digit found"),
                                                              ("unsure", "unsure")) if row[k])
        print(f"{d:>6d}  {row['frames']:>6d}  {row['right']:>5d}  {row['accuracy'] * 100:7.1f} %  {wrong}{nd}".rstrip())
    right = int(r.right.sum())
    print(f"{'all':>6s}  {len(r.labels):>6d}  {right:>5d}  {r.accuracy * 100:7.1f} %")
    refused = int((r.answers < 0).sum())
    if refused:
        print(f"preprocessing refused {refused} frame(s) (size outside 1..4096?)")
    print("confusion (rows: label, columns: answer)")
    print(mnist_eval.format_confusion(r.confusion()))
    wrong = [i for i in range(len(r.labels)) if not r.right[i]]
    for i in wrong[:MAX_LISTED]:
        said = ("refused" if r.answers[i] < 0 else "no digit found" if r.no_digit[i]
                else f"unsure: {r.answers[i]} at {r.scores[i] * 100:.0f} %" if r.unsure[i]
                else f"read as {r.answers[i]} ({r.scores[i] * 100:.0f} %)")
        print(f"  {r.paths[i].relative_to(root)}: {said}")
    if len(wrong) > MAX_LISTED:
        print(f"  ... and {len(wrong) - MAX_LISTED} more")


def run_frames(args: argparse.Namespace) -> int:
    try:
        fs = load_frame_set(args.frames)
    except FrameSetError as e:
        print(f"pico4ml-eval: {e}", file=sys.stderr)
        return 2
    for why in fs.skipped:
        print(f"pico4ml-eval: skipped {why}", file=sys.stderr)
    for note in fs.notes():
        print(f"pico4ml-eval: note: {note}", file=sys.stderr)
    results = []
    try:
        from pico4ml.host_twin.classify import FramePipeline
        pipeline = FramePipeline(model=args.model)
    except (BuildError, OSError) as e:
        print(f"pico4ml-eval: cannot build the firmware pipeline: {e}", file=sys.stderr)
        return 2
    results.append(score(fs, f"firmware pipeline (C preprocessing + built-in {pipeline.model.name}, "
                             f"{pipeline.model_name})", pipeline_classifier(pipeline)))
    if args.checkpoint is not None:
        from pico4ml.train.models import CheckpointError
        try:
            classify, name = checkpoint_classifier(args.checkpoint, pipeline.params)
        except CheckpointError as e:
            print(f"pico4ml-eval: {e}", file=sys.stderr)
            return 2
        results.append(score(fs, name, classify))
    for i, r in enumerate(results):
        if i:
            print()
        print_report(r, args.frames)
    if args.json:
        print(json.dumps({"frames": str(args.frames), "skipped": fs.skipped,
                          "results": [r.summary() for r in results]}))
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="pico4ml-eval", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    mnist_eval.add_arguments(p)
    p.add_argument("--frames", type=existing_dir, metavar="DIR",
                   help="score the firmware pipeline on your captured frames in DIR/<label>/ instead of MNIST")
    p.add_argument("--model", choices=manifest.choices(), default=None,
                   help=f"with --frames: the built-in model (default: the firmware's, {manifest.default_name()})")
    p.add_argument("--json", action="store_true", help="with --frames: end with one JSON line of the figures")
    args = p.parse_args(argv)
    if args.frames is None:
        if args.model is not None or args.json:
            p.error("--model and --json go with --frames")
        return mnist_eval.run(args)
    if args.camera:
        p.error("--camera scores simulated frames; with --frames the frames are yours: give one of them")
    return run_frames(args)


if __name__ == "__main__":
    sys.exit(main())

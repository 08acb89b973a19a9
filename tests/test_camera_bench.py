"""bench/camera.py, tools/failure_gallery.py and the training generator, on tiny runs."""
from __future__ import annotations

import importlib.util
import json
from collections import namedtuple
from pathlib import Path

import cv2
import numpy as np
import pytest

from pico4ml.train import camera_data
from pico4ml.train.camera_conditions import DIGIT_CONDITIONS
from pico4ml.train.camera_set import TEST_SEED, TUNE_SEED, condition_set, render_jobs

ROOT = Path(__file__).resolve().parent.parent


def _load(path: Path):
    spec = importlib.util.spec_from_file_location(path.stem + "_under_test", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


bench = _load(ROOT / "bench" / "camera.py")


class _Answers:
    """A pipeline double returning prepared results: only to pin down how answers are read."""

    def __init__(self, result):
        self.result = result

    def classify(self, frame):
        return self.result


def test_answer_reads_a_status_when_the_result_has_one():
    frame = np.zeros((8, 8), np.uint8)
    assert bench.answer(_Answers((3, 0.9, 0)), frame) == (3, 0.9)             # today: (digit, score, pp status)
    assert bench.answer(_Answers((3, 0.9, 1)), frame)[0] == bench.NONE        # PP_NO_DIGIT
    Result = namedtuple("Result", "digit score status")
    assert bench.answer(_Answers(Result(5, 0.99, 0)), frame)[0] == 5          # protocol v2 DIGIT
    assert bench.answer(_Answers(Result(5, 0.99, 1)), frame)[0] == bench.NONE  # NO_DIGIT
    assert bench.answer(_Answers(Result(5, 0.40, 2)), frame)[0] == bench.NONE  # UNSURE


def test_sets_are_deterministic_and_the_splits_differ(mnist):
    a = condition_set("tune", 2, 162, ("clean", "empty"), cache=False, workers=1)
    b = condition_set("tune", 2, 162, ("clean", "empty"), cache=False, workers=2)
    np.testing.assert_array_equal(a.frames, b.frames)
    np.testing.assert_array_equal(a.labels, b.labels)
    assert a.frames.shape == (4, 162, 162) and list(a.labels[2:]) == [-1, -1]
    t = condition_set("test", 2, 162, ("clean", "empty"), cache=False, workers=1)
    assert not np.array_equal(a.frames, t.frames) and TUNE_SEED != TEST_SEED
    assert (a.boxes[:2] >= 0).all() and (a.boxes[2:] == -1).all()
    with pytest.raises(ValueError):
        condition_set("train", 2)


@pytest.mark.hostc
def test_bench_prints_a_table_and_one_json_line(capsys, mnist):
    rc = bench.main(["--frames", "3", "--split", "tune"])
    out = capsys.readouterr().out.strip().splitlines()
    assert rc == 0
    figures = json.loads(out[-1])
    for key in (*DIGIT_CONDITIONS, "all", "worst", "no_digit"):
        assert key in figures and 0.0 <= figures[key] <= 1.0, key
    assert figures["worst"] == min(figures[c] for c in DIGIT_CONDITIONS)
    from pico4ml.common import manifest
    assert figures["split"] == "tune" and figures["size"] == 162 and figures["model"] == manifest.default_name()
    assert any(line.startswith("dark_ground") for line in out)
    wrong = round((1 - figures["all"]) * 3 * len(DIGIT_CONDITIONS))  # every wrong digit frame has one kind
    assert sum(figures["wrong_totals"].values()) == wrong and set(figures["wrong_totals"]) == set(bench.WRONG_KINDS)


def test_box_iou_by_hand():
    assert bench.box_iou((0, 0, 10, 10), (0, 0, 10, 10)) == 1.0
    assert bench.box_iou((0, 0, 10, 10), (5, 0, 15, 10)) == pytest.approx(50 / 150)
    assert bench.box_iou((0, 0, 10, 10), (10, 0, 20, 10)) == 0.0  # touching, exclusive ends
    assert bench.box_iou((0, 0, 0, 0), (0, 0, 0, 0)) == 0.0


@pytest.mark.hostc
def test_the_chosen_box_is_in_frame_pixels_also_for_a_cropped_frame():
    """A 324x244 frame is read through its centred 244x244 ROI: the box of a bar drawn at a known
    place comes back there, not shifted by the crop."""
    from pico4ml.train import preprocess as pp
    frame = np.full((244, 324), 200, np.uint8)
    frame[100:150, 150:160] = 20
    stages = pp.CStages()
    bench.make_pipeline().classify(frame, None, stages)
    assert bench.box_iou(bench.chosen_box(stages), (150, 100, 160, 150)) > 0.6


@pytest.mark.hostc
def test_wrong_digit_frames_are_told_apart_by_why(mnist):
    """Frames whose truth is set by hand: a digit filed under another label is a misread (its
    box is right), the same digit with its ink box put in a corner is "framed", a blank sheet
    filed as a digit is "none", and with a threshold nothing reaches, the right box is "unsure"."""
    from dataclasses import replace
    from pico4ml.train.camera_set import ConditionSet
    pipe = bench.make_pipeline()
    clean = condition_set("tune", 3, 162, conditions=("clean",))  # the digit's ink box from the simulator
    k = next(k for k in range(3) if bench.answer(pipe, clean.frames[k])[0] == clean.labels[k])
    frame, digit, box = clean.frames[k], int(clean.labels[k]), list(clean.boxes[k])
    blank = np.full_like(frame, int(np.median(frame)))

    def conditions_set(labels, boxes, frames):
        n = len(labels)
        return ConditionSet(np.stack(frames), np.array(labels), np.array(["clean", "far", "shadow"][:n]),
                            np.array([""] * n), np.array([""] * n), np.array(boxes))
    other = (digit + 1) % 10
    cs = conditions_set([other, other, 4], [box, [0, 0, 12, 12], [-1] * 4], [frame, frame, blank])
    answers, readings = bench.read_set(pipe, cs)
    assert list(answers) == [digit, digit, bench.NONE]
    assert readings["wrong_kinds"] == {"clean": {"none": 0, "framed": 0, "unsure": 0, "misread": 1},
                                       "far": {"none": 0, "framed": 1, "unsure": 0, "misread": 0},
                                       "shadow": {"none": 1, "framed": 0, "unsure": 0, "misread": 0}}
    right = conditions_set([digit], [box], [frame])
    assert bench.read_set(pipe, right)[1]["wrong_kinds"] == {}  # a right answer has no kind
    pipe.params = replace(pipe.params, min_score_pct=100)
    answers, readings = bench.read_set(pipe, right)
    assert list(answers) == [bench.NONE]
    assert readings["wrong_kinds"] == {"clean": {"none": 0, "framed": 0, "unsure": 1, "misread": 0}}


@pytest.mark.hostc
def test_the_one_pass_with_stages_answers_as_the_plain_pipeline_does(mnist):
    """read_set() classifies with stages (for the kinds): its answers and second-reading shares
    are those of classify() without stages, on frames where second readings happen."""
    pipe = bench.make_pipeline()
    cs = condition_set("tune", 12, 162, conditions=("shadow", "tilted", "empty"))
    answers, readings = bench.read_set(pipe, cs)
    plain = [pipe.classify(f) for f in cs.frames]
    assert list(answers) == list(bench.run(pipe, cs.frames))
    assert readings["second_reading_tried"] == round(sum(r.second_tried for r in plain) / len(cs), 4) > 0


@pytest.mark.hostc
def test_failure_gallery_writes_a_png(tmp_path, mnist):
    gallery = _load(ROOT / "tools" / "failure_gallery.py")
    out = tmp_path / "f.png"
    assert gallery.main(["--out", str(out), "--frames", "4", "--per-row", "2",
                         "--conditions", "empty,dark_ground"]) == 0
    img = cv2.imread(str(out), cv2.IMREAD_GRAYSCALE)
    assert img is not None and img.shape[0] >= 2 * 162 and img.shape[1] >= 2 * 162
    assert img.min() < 50 and img.max() == 255


def test_training_frames_come_from_the_training_side_only(mnist):
    x_train, y_train = mnist[0][:3000], mnist[1][:3000]
    counts = camera_data.condition_counts(130)
    assert sum(counts.values()) == 130 and set(counts) == set(DIGIT_CONDITIONS)
    assert counts["clean"] > max(v for k, v in counts.items() if k != "clean")
    cs = camera_data.conditions_frames(x_train, y_train, 130, seed=0, workers=1)
    assert (cs.labels >= 0).all() and set(cs.conditions) == set(DIGIT_CONDITIONS)
    names = set(cs.sources.tolist())
    assert all(n.startswith(("mnist-train-", "writer-train-", "font-")) for n in names)
    from pico4ml.train import digit_fonts
    test_fonts = {f"font-{f.name}" for f in digit_fonts.ALL_FONTS if f.split == "test"}
    assert not names & test_fonts
    mnist_ids = {int(n.rsplit("-", 1)[1]) for n in names if n.startswith("mnist")}
    assert mnist_ids and max(mnist_ids) < 3000             # only the images it was given
    # the same condition and index as the bench frames, yet other frames (other random streams)
    bench_frames = render_jobs("train", (TEST_SEED,), 162, [("clean", 0)], workers=1)
    assert not np.array_equal(bench_frames.frames[0], cs.frames[0])


def test_conditions_pool_gives_firmware_inputs(mnist):
    x_train, y_train = mnist[0][:2000], mnist[1][:2000]
    x, y = camera_data.conditions_pool(x_train, y_train, 60, seed=1, cache=False, workers=1)
    again = camera_data.conditions_pool(x_train, y_train, 60, seed=1, cache=False, workers=1)
    np.testing.assert_array_equal(x, again[0])
    assert x.dtype == np.uint8 and x.shape[1:] == (28, 28) and 30 <= len(x) <= 60
    assert ((y >= 0) & (y <= 9)).all() and np.median(x.reshape(len(x), -1).max(1)) > 200


def test_train_cli_with_the_conditions_mix(tmp_path, mnist):
    from pico4ml.train import train as train_mod
    from pico4ml.train.models import load_state
    out = tmp_path / "m.safetensors"
    rc = train_mod.main(["--arch", "mlp784_64_10", "--camera-mix", "conditions", "--limit", "400",
                         "--camera-samples", "120", "--max-steps", "4", "--out", str(out), "--no-progress"])
    assert rc == 0
    _, meta = load_state(out)
    assert meta["camera_mix"] == "conditions" and 60 <= meta["camera_samples"] <= 120


def test_junk_pool_holds_empty_frames_that_preprocessing_frames_as_a_digit(mnist):
    from pico4ml.train import preprocess
    x_train, y_train = mnist[0][:2000], mnist[1][:2000]
    junk = camera_data.junk_pool(x_train, y_train, 60, seed=1, cache=False, workers=1)
    again = camera_data.junk_pool(x_train, y_train, 60, seed=1, cache=False, workers=1)
    np.testing.assert_array_equal(junk, again)
    assert junk.dtype == np.uint8 and junk.shape[1:] == (28, 28) and 1 <= len(junk) < 60
    # exactly the empty frames of the training side whose preprocessing did not say "no digit"
    cs = render_jobs("train", (camera_data.TRAIN_KEY, 1), 162, [("empty", i) for i in range(60)], workers=1,
                     mnist=(x_train, y_train))
    assert (cs.labels < 0).all()
    x, status = preprocess.preprocess_batch(cs.frames, return_status=True)
    np.testing.assert_array_equal(junk, x[np.asarray(status) == preprocess.OK])
    assert (junk.reshape(len(junk), -1).max(1) > 0).all()


def test_outlier_exposure_lowers_the_top_score_on_junk_not_on_digits(mnist):
    """The same short run with and without the junk loss: with it, the network's top softmax
    score on non-digits drops, while MNIST digits keep theirs."""
    from pico4ml.train import train as train_mod
    from pico4ml.train.models import numpy_forward
    x_train, y_train = mnist[0][:3000], mnist[1][:3000]
    junk = camera_data.junk_pool(x_train, y_train, 200, seed=3, cache=False, workers=1)

    def top(state, x):
        lg = numpy_forward(state, x)
        p = np.exp(lg - lg.max(1, keepdims=True))
        return (p / p.sum(1, keepdims=True)).max(1)

    runs = {}
    for w in (None, 0.5):
        kw = dict(junk_frames=200, junk_weight=w) if w else dict(junk_frames=0)
        model, meta = train_mod.train("mlp784_64_10", epochs=5, limit=3000, camera_samples=150, seed=3,
                                      progress=False, max_steps=120, **kw)
        runs[w] = train_mod.model_state(model), meta
    assert runs[None][1]["junk_samples"] == 0 and runs[0.5][1]["junk_samples"] == len(junk) > 0
    plain, exposed = runs[None][0], runs[0.5][0]
    digits, labels = mnist[2][:500], mnist[3][:500]
    junk_plain, junk_exposed = np.median(top(plain, junk)), np.median(top(exposed, junk))
    assert junk_exposed < junk_plain - 0.1
    # ... more than on digits, which stay as often right
    assert np.median(top(exposed, digits)) - junk_exposed > np.median(top(plain, digits)) - junk_plain + 0.05
    acc = {k: (numpy_forward(st, digits).argmax(1) == labels).mean() for k, (st, _) in runs.items()}
    assert acc[0.5] >= acc[None] - 0.03

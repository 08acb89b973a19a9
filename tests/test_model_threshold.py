"""Each built-in model's UNSURE threshold (min_score_pct in core/model/manifest.json) is what a
build with that model starts with: the C defaults, the host pipeline, pico4ml-classify, the
twin's PARAMS answer and the GUI all take it. Expected values are read from the manifest file
itself, the calibration's record, not from the code under test."""
from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import replace

import numpy as np
import pytest

from pico4ml.common import manifest
from pico4ml.common.pp_params import PreprocessParams, default_params

MANIFEST = json.loads(manifest.MANIFEST.read_text())
THRESHOLDS = {name: m["min_score_pct"] for name, m in MANIFEST["models"].items()}


def test_every_model_has_a_threshold_and_the_default_model_s_is_the_parameters_default():
    assert set(THRESHOLDS) == set(manifest.names())
    assert all(isinstance(t, int) and 0 <= t <= 100 for t in THRESHOLDS.values())
    assert PreprocessParams().min_score_pct == THRESHOLDS[MANIFEST["default"]]
    for name, threshold in THRESHOLDS.items():
        assert default_params(name) == replace(PreprocessParams(), min_score_pct=threshold)
    assert default_params("cnn") == default_params("cnn_int8")  # an alias
    assert default_params("a blob's name") == PreprocessParams()


def test_a_manifest_threshold_out_of_range_is_refused_with_the_model_named(tmp_path):
    data = json.loads(manifest.MANIFEST.read_text())
    data["models"]["cnn_int8"]["min_score_pct"] = 130
    bad = tmp_path / "manifest.json"
    bad.write_text(json.dumps(data))
    with pytest.raises(manifest.ManifestError, match="cnn_int8: min_score_pct 130"):
        manifest._load(bad)


@pytest.mark.parametrize("model", ["mlp_int8_fast", "cnn_int8"])
def test_the_host_build_of_a_model_starts_with_its_threshold(model):
    from pico4ml.host_twin.classify import FramePipeline
    pipe = FramePipeline(model=model)
    assert pipe.params == replace(PreprocessParams(), min_score_pct=THRESHOLDS[model])  # pp_default_params()


def unsure_frame(mnist, pipe, low: float, high: float):
    """A camera frame whose first reading scores between low and high (the further readings off)."""
    from pico4ml.train import camera_sim
    rng = np.random.default_rng(5)
    one_reading = replace(pipe.params, min_score_pct=0, retry_radius=0, retry_radius2=0)
    for i in range(300):
        frame = camera_sim.render_handwritten(mnist[2][i], rng, size=162)
        if low < pipe.classify(frame, one_reading).score < high:
            return frame
    pytest.fail(f"no frame of 300 scores between {low} and {high}")


def test_classify_decides_with_the_model_s_threshold_unless_told(mnist, tmp_path):
    """pico4ml-classify --model cnn: a frame the CNN scores between the default model's threshold
    and its own is decided by the CNN's (unsure if that is the higher one, a digit if the lower),
    and the other way round with --param min_score_pct set to the default model's."""
    import cv2
    from pico4ml.host_twin.classify import FramePipeline
    cnn, default = THRESHOLDS["cnn_int8"], THRESHOLDS[MANIFEST["default"]]
    low, high = sorted((default, cnn))
    assert low + 3 < high, "the two thresholds are too close to tell apart"
    path = tmp_path / "frame.png"
    cv2.imwrite(str(path), unsure_frame(mnist, FramePipeline(model="cnn"), (low + 1) / 100, (high - 1) / 100))
    one = ["--param", "retry_radius=0", "--param", "retry_radius2=0"]

    def classify(*extra):
        out = subprocess.run([sys.executable, "-m", "pico4ml.host_twin.classify", "--model", "cnn", *one, *extra,
                              str(path)], capture_output=True, text=True, timeout=300)
        assert out.returncode == 0, out.stderr
        return out
    def unsure(out, threshold):
        answer = out.stdout.split()[1]
        assert answer in "0123456789" or f"under min_score_pct {threshold} %" in out.stderr, out.stderr
        return answer == "-"
    assert unsure(classify(), cnn) == (cnn == high)
    assert unsure(classify("--param", f"min_score_pct={default}"), default) == (default == high)


def test_calibration_writes_the_threshold_into_the_manifest_and_nothing_else(tmp_path, monkeypatch):
    sys.path.insert(0, str(manifest.MANIFEST.parents[4] / "tools"))
    import calibrate_min_score as cal
    copy = tmp_path / "manifest.json"
    copy.write_text(manifest.MANIFEST.read_text())
    monkeypatch.setattr(manifest, "MANIFEST", copy)
    cal.write_threshold("mlp_q4", 12)
    expected = json.loads(json.dumps(MANIFEST))
    expected["models"]["mlp_q4"]["min_score_pct"] = 12
    assert json.loads(copy.read_text()) == expected


@pytest.mark.parametrize("define", [None, 61])
def test_pp_default_params_in_c_takes_the_build_s_threshold_or_the_default_model_s(define):
    """core/preprocess.c without PICO4ML_MODEL_MIN_SCORE_PCT (a build of the core alone) starts
    with the manifest default model's threshold; with it, with the one given."""
    import ctypes
    from conftest import host_build
    from pico4ml.common.paths import REPO_ROOT
    from pico4ml.common.pp_params import PARAMS_SIZE
    core = REPO_ROOT / "firmware" / "pico4ml" / "core"
    flags = ["-O1"] + ([f"-DPICO4ML_MODEL_MIN_SCORE_PCT={define}"] if define is not None else [])
    lib = ctypes.CDLL(str(host_build(f"pp_defaults_{define}", [core / "preprocess.c"], shared=True, flags=flags)))
    raw = ctypes.create_string_buffer(PARAMS_SIZE)
    lib.pp_default_params(raw)
    want = THRESHOLDS[MANIFEST["default"]] if define is None else define
    assert PreprocessParams.from_bytes(raw.raw).min_score_pct == want

"""pico4ml-classify: the firmware pipeline (C preprocessing + net() + the verdict) on saved frames.

Expected answers come from an independent path: the numpy preprocessing twin (bit-exact
with the C, tests/test_preprocess.py) and the numpy int8 reference of the committed
model (train/quantize.py), with the UNSURE rule of docs/preprocessing.md."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from pico4ml.common import manifest
from pico4ml.common.paths import DEFAULT_CHECKPOINT
from pico4ml.host_twin import classify
from pico4ml.train import preprocess as pp
from pico4ml.train.camera_set import camera_test_set, write_pgm
from pico4ml.train.quantize import float_logits, int8_forward, int8_path, load_quantized

pytestmark = pytest.mark.hostc


@pytest.fixture(scope="module")
def pipeline():
    return classify.FramePipeline()       # a build error fails the tests: no skip


@pytest.fixture(scope="module")
def frames(mnist):
    return camera_test_set(n=40, size=324)


@pytest.fixture(scope="module")
def int8_model():
    return load_quantized(int8_path(DEFAULT_CHECKPOINT))


def reference(frame: np.ndarray, q, params: pp.PreprocessParams | None = None) -> tuple[str, float]:
    """(the digit or "-", the score) from the numpy twin + the numpy int8 model."""
    params = params or pp.PreprocessParams()
    in28, st = pp.preprocess(frame, params, return_stages=True)
    logits = float_logits(q, int8_forward(q, in28[None]))[0]
    e = np.exp(logits - logits.max())
    score = float(e.max() / e.sum())
    sure = st["status"] == pp.OK and score * 100 >= params.min_score_pct
    return (str(int(np.argmax(logits))) if sure else "-"), score


def test_default_is_the_firmwares_model(pipeline, frames):
    """The manifest's default (the firmware's int8 MLP with the fast kernel); `float` swaps
    the float model in behind the same classifier API, and reads the same digits."""
    assert pipeline.model.name == manifest.default_name() and pipeline.model.kind == "int8"
    assert "int8" in pipeline.model_name
    other = classify.FramePipeline(model="float")
    assert other.model.kind == "float" and other.model_name != pipeline.model_name
    same = sum(other.classify(f).digit == pipeline.classify(f).digit for f in frames[0])
    assert same >= 0.9 * len(frames[0])
    with pytest.raises(ValueError):
        classify.FramePipeline(model="int4")


def test_pipeline_is_c_preprocess_plus_net(pipeline, frames, int8_model):
    f, labels, _ = frames
    correct = 0
    for frame, label in zip(f, labels):
        in28, status = pipeline.preprocess(frame)
        np.testing.assert_array_equal(in28, pp.preprocess(frame))   # same C as the twin proves
        res = pipeline.classify28(in28, status)
        ref = float_logits(int8_model, int8_forward(int8_model, in28[None]))[0]
        np.testing.assert_allclose(np.array(res.logits), ref, rtol=1e-5, atol=1e-5)
        e = np.exp(ref - ref.max())
        assert res.argmax == int(np.argmax(ref)) and res.score == pytest.approx(e.max() / e.sum(), rel=1e-5)
        correct += res.argmax == label and res.status == classify.DIGIT
    assert correct >= 0.8 * len(labels)     # the committed model reads camera frames


def test_status_rule(pipeline, frames):
    """NO_DIGIT whatever the score when preprocessing found nothing; UNSURE below min_score_pct."""
    in28, status = pipeline.preprocess(frames[0][0])
    assert status == pp.OK
    score = pipeline.classify28(in28, pp.OK, 0).score
    pct = score * 100
    assert pipeline.classify28(in28, pp.OK, 0).status == classify.DIGIT
    assert pipeline.classify28(in28, pp.NO_DIGIT, 0).status == classify.NO_DIGIT
    assert pipeline.classify28(in28, pp.OK, int(np.floor(pct))).status == classify.DIGIT
    if pct < 100:
        assert pipeline.classify28(in28, pp.OK, int(np.floor(pct)) + 1).status == classify.UNSURE
    assert pipeline.classify28(in28, pp.OK, 100).status == (classify.DIGIT if pct >= 100 else classify.UNSURE)
    blank = pipeline.classify(np.full((162, 162), 180, np.uint8))
    assert blank.pp_status == pp.NO_DIGIT and blank.status == classify.NO_DIGIT


def test_cli_prints_one_line_per_frame(tmp_path, frames, int8_model, capsys):
    f, labels, _ = frames
    paths = []
    for i in range(3):
        p = tmp_path / f"frame{i}.pgm"
        write_pgm(p, f[i])
        paths.append(p)
    png = tmp_path / "frame3.png"
    cv2.imwrite(str(png), f[3])
    paths.append(png)
    assert classify.main([str(p) for p in paths]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 4
    for line, path, frame in zip(lines, paths, f):
        name, digit, score = line.rsplit(" ", 2)
        expect_digit, expect_score = reference(frame, int8_model)
        assert name == str(path) and digit == expect_digit
        assert float(score) == pytest.approx(expect_score, abs=1e-4)


def test_cli_no_digit_and_unsure_print_a_dash(tmp_path, frames, int8_model, capsys):
    blank = tmp_path / "blank.pgm"
    write_pgm(blank, np.full((50, 60), 180, np.uint8))
    sure = tmp_path / "sure.pgm"
    write_pgm(sure, frames[0][0])
    _, score = reference(frames[0][0], int8_model)
    assert classify.main([str(blank), str(sure)]) == 0
    out, err = capsys.readouterr()
    lines = out.strip().splitlines()
    assert lines[0].startswith(f"{blank} - ") and "no digit found" in err
    assert lines[1].split()[1] != "-"
    # the same frame with a threshold above its score: "-" and the score, and why on stderr
    above = min(100, int(np.floor(score * 100)) + 1)
    assert classify.main([str(sure), "--param", f"min_score_pct={above}"]) == 0
    out, err = capsys.readouterr()
    if score * 100 < 100:
        assert out.split() == [str(sure), "-", f"{score:.4f}"] and "unsure" in err


def test_cli_params_and_presets(tmp_path, frames, int8_model, capsys):
    frame = 255 - frames[0][0]                            # light on dark
    path = tmp_path / "chalk.pgm"
    write_pgm(path, frame)
    forced = pp.PreprocessParams(polarity=pp.POLARITY_DARK_ON_LIGHT, threshold_pct=40)
    preset = tmp_path / "preset.json"
    # as pico4ml-gui saves one (host_gui/presets.py), with an older field this version lacks
    preset.write_text(json.dumps({"format": 1, "params": {"version": 1, "size": 24, "polarity": 0,
                                                          "threshold_pct": 40, "max_gap": 3},
                                  "stream": {}, "camera": {}}))
    assert classify.main([str(path), "--preset", str(preset)]) == 0
    out, err = capsys.readouterr()
    assert out.split()[1:] == [reference(frame, int8_model, forced)[0], f"{reference(frame, int8_model, forced)[1]:.4f}"]
    assert "max_gap" in err and "ignored" in err
    # --param after --preset wins
    again = pp.PreprocessParams(polarity=pp.POLARITY_LIGHT_ON_DARK, threshold_pct=40)
    assert classify.main([str(path), "--preset", str(preset), "--param", "polarity=1"]) == 0
    out, _ = capsys.readouterr()
    assert out.split()[1:] == [reference(frame, int8_model, again)[0], f"{reference(frame, int8_model, again)[1]:.4f}"]


@pytest.mark.parametrize("args, message", [
    (["--param", "threshold=3"], "unknown parameter 'threshold'"),
    (["--param", "bg_radius=0"], "bg_radius = 0 is out of range 1..15"),
    (["--param", "polarity=dark"], "polarity must be an integer"),
    (["--param", "polarity"], "expected NAME=VALUE"),
    (["--param", "version=1"], "unknown parameter 'version'"),
    (["--preset", "MISSING"], "cannot read it"),
])
def test_cli_bad_params_are_refused(tmp_path, frames, args, message, capsys):
    path = tmp_path / "f.pgm"
    write_pgm(path, frames[0][0])
    args = [str(tmp_path / a) if a == "MISSING" else a for a in args]
    assert classify.main([str(path), *args]) == 2
    out, err = capsys.readouterr()
    assert out == "" and message in err


def test_cli_bad_presets_are_refused(tmp_path, frames, capsys):
    path = tmp_path / "f.pgm"
    write_pgm(path, frames[0][0])
    for text, message in [("{not json", "not JSON"), ('{"format": 7, "params": {}}', "not a pico4ml-gui preset"),
                          ('{"format": 1, "params": {"border": 99}}', "border = 99 is out of range")]:
        preset = tmp_path / "p.json"
        preset.write_text(text)
        assert classify.main([str(path), "--preset", str(preset)]) == 2
        assert message in capsys.readouterr().err


def test_cli_bad_files_keep_going(tmp_path, frames, capsys):
    f, _, _ = frames
    good = tmp_path / "good.pgm"
    write_pgm(good, f[0])
    junk = tmp_path / "junk.png"
    junk.write_bytes(b"not an image at all")
    empty = tmp_path / "empty.pgm"
    empty.write_bytes(b"")
    colour = tmp_path / "colour.png"
    cv2.imwrite(str(colour), cv2.cvtColor(f[1], cv2.COLOR_GRAY2BGR))
    deep = tmp_path / "deep.png"
    cv2.imwrite(str(deep), f[2].astype(np.uint16) * 257)
    rc = classify.main([str(tmp_path / "missing.pgm"), str(junk), str(empty), str(good), str(colour), str(deep),
                        str(tmp_path)])
    out, err = capsys.readouterr()
    assert rc == 1
    lines = out.strip().splitlines()
    assert [ln.split()[0] for ln in lines] == [str(good), str(colour), str(deep)]
    assert "missing.pgm: no such file" in err
    assert "junk.png: cannot decode" in err and "empty.pgm: cannot decode" in err
    assert "colour.png: warning: 3-channel image converted to grayscale" in err
    assert "deep.png: warning: uint16 pixels scaled to 8 bits" in err
    assert "not a regular file" in err
    # the colour and 16-bit copies give the same answer as the gray originals
    assert lines[1].split()[1:] == lines_for(f[1])
    assert lines[2].split()[1:] == lines_for(f[2])


def lines_for(frame: np.ndarray) -> list[str]:
    a = classify.FramePipeline().classify(frame)
    return [str(a.digit) if a.status == classify.DIGIT else "-", f"{a.score:.4f}"]


def test_console_script_help():
    exe = Path(sys.executable).with_name("pico4ml-classify")    # this venv's, not another on PATH
    if not exe.is_file():
        pytest.skip("pico4ml-classify not installed in this venv (pip install -e .)")
    proc = subprocess.run([str(exe), "--help"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and "FRAME" in proc.stdout and "--preset" in proc.stdout and "--param" in proc.stdout
    proc = subprocess.run([str(exe)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and "FRAME" in proc.stderr

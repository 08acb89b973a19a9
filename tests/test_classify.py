"""pico4ml-classify: the firmware pipeline (C preprocessing + net()) on saved frames."""
from __future__ import annotations

import shutil
import subprocess

import cv2
import numpy as np
import pytest

from pico4ml.host_twin import classify
from pico4ml.train import preprocess as pp
from pico4ml.train.camera_set import camera_test_set, write_pgm

pytestmark = pytest.mark.hostc


@pytest.fixture(scope="module")
def pipeline():
    from pico4ml.common.cbuild import BuildError
    try:
        return classify.FramePipeline()
    except BuildError as e:
        pytest.skip(f"cannot build the firmware pipeline: {e}")


@pytest.fixture(scope="module")
def frames(mnist):
    return camera_test_set(n=40, size=324)


def test_pipeline_is_c_preprocess_plus_net(pipeline, frames):
    f, labels, _ = frames
    correct = 0
    for frame, label in zip(f, labels):
        in28, status = pipeline.preprocess(frame)
        np.testing.assert_array_equal(in28, pp.preprocess(frame))   # same C as the twin proves
        res = pipeline.classify28(in28)
        logits = np.array(res.logits)
        assert res.argmax == int(np.argmax(logits))
        e = np.exp(logits - logits.max())
        assert res.score == pytest.approx(e.max() / e.sum(), rel=1e-5)
        correct += res.argmax == label
    assert correct >= 0.8 * len(labels)     # the committed model reads camera frames


def test_model_switch_point(frames, pipeline):
    """A manifest entry's define swaps the model behind the same classifier API; the default
    is the firmware's int8 model, `float` the float one."""
    assert "int8" in pipeline.model_name
    other = classify.FramePipeline(model="float")
    assert other.model_name != pipeline.model_name
    f, labels, _ = frames
    same = 0
    for frame in f:
        d, s, _ = other.classify(frame)
        same += d == pipeline.classify(frame)[0]
        assert 0.0 < s <= 1.0
    assert same >= 0.9 * len(f)


def test_cli_prints_one_line_per_frame(tmp_path, frames, pipeline, capsys):
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
        assert name == str(path)
        expect_digit, expect_score, _ = pipeline.classify(frame)
        assert int(digit) == expect_digit and float(score) == pytest.approx(expect_score, abs=1e-4)


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
    # the colour and 16-bit copies give the same answer as the gray original
    assert lines[1].split()[1:] == _line_for(f[1])
    assert lines[2].split()[1:] == _line_for(f[2])


def _line_for(frame: np.ndarray) -> list[str]:
    digit, score, _ = classify.FramePipeline().classify(frame)
    return [str(digit), f"{score:.4f}"]


def test_cli_blank_frame_warns(tmp_path, capsys):
    p = tmp_path / "blank.pgm"
    write_pgm(p, np.full((50, 60), 180, np.uint8))
    assert classify.main([str(p)]) == 0
    out, err = capsys.readouterr()
    assert out.startswith(str(p) + " ") and "no digit found" in err


def test_console_script_help():
    exe = shutil.which("pico4ml-classify")
    if exe is None:
        pytest.skip("pico4ml-classify not installed (pip install -e .)")
    proc = subprocess.run([exe, "--help"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and "FRAME" in proc.stdout
    proc = subprocess.run([exe], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and "FRAME" in proc.stderr

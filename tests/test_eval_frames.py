"""pico4ml-eval --frames DIR: the firmware pipeline (C preprocessing + the built-in int8 net())
scored per label on a folder of captures laid out as the GUI writes them. The expected
answers come from an independent implementation: the numpy twin of the preprocessing and the
numpy integer reference of the int8 model (pico4ml.train.quantize)."""
from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from test_train import write_capture

pytestmark = pytest.mark.hostc


def test_eval_frames_scores_the_firmware_pipeline_per_label(tmp_path, mnist):
    from conftest import require_tool
    require_tool("gcc")
    from pico4ml.common.paths import DEFAULT_CHECKPOINT
    from pico4ml.train import camera_sim, preprocess, quantize
    assert quantize.int8_path(DEFAULT_CHECKPOINT).is_file(), "the int8 checkpoint is committed next to the default model"
    q = quantize.load_quantized(quantize.int8_path(DEFAULT_CHECKPOINT))
    x_test, y_test = mnist[2], mnist[3]
    rng = np.random.default_rng(21)
    root = tmp_path / "captures"
    frames, labels = [], []
    for i in range(36):
        label = int(y_test[i])
        if i == 5:
            label = (label + 1) % 10  # a capture filed under the wrong label: must show as an error
        frame = camera_sim.render_handwritten(x_test[i], rng, size=324)
        write_capture(root, label, frame, i)
        frames.append(frame)
        labels.append(label)
    (root / "3" / "broken.png").parent.mkdir(exist_ok=True)
    (root / "3" / "broken.png").write_bytes(b"not an image")

    proc = subprocess.run([sys.executable, "-m", "pico4ml.host_twin.evaluate", "--frames", str(root), "--json"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "broken.png: cannot decode it as an image" in proc.stderr
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    firmware = report["results"][0]
    assert firmware["n"] == 36 and "firmware pipeline" in firmware["name"]  # -in28 files are not frames

    # the same frames through the numpy twin and the int8 reference, in the order eval reads them
    order = sorted(range(36), key=lambda k: (labels[k], f"20250101-120000-{1000 + k}-0.pgm"))
    y = np.array([labels[k] for k in order])
    x28 = np.stack([preprocess.preprocess(frames[k]) for k in order])
    want = quantize.int8_forward(q, x28).argmax(1)
    cm = np.zeros((10, 10), int)
    np.add.at(cm, (y, want), 1)
    assert firmware["confusion"] == cm.tolist()
    assert firmware["accuracy"] == pytest.approx(float((want == y).mean()))
    for d, row in firmware["per_label"].items():
        assert row["frames"] == int((y == int(d)).sum())
        assert row["right"] == int(((y == int(d)) & (want == y)).sum())
    assert firmware["accuracy"] < 1.0 and firmware["accuracy"] > 0.8  # the misfiled one at least is wrong
    misfiled = labels[5]
    assert "read as" in proc.stdout and f"{misfiled}/20250101-120000-1005-0.pgm" in proc.stdout


def test_a_checkpoint_is_scored_with_the_threshold_of_the_firmware_it_would_be_uploaded_to(tmp_path, mnist):
    """--checkpoint runs with the parameters the chosen firmware starts with: a frame the checkpoint
    scores between the default model's min_score_pct and the CNN's is a digit next to the default
    firmware and "?" next to the CNN one. Thresholds from the manifest file; scores from the numpy
    twin and the checkpoint's numpy forward pass."""
    from conftest import require_tool
    require_tool("gcc")
    from dataclasses import replace
    from pico4ml.common import manifest
    from pico4ml.train import preprocess
    from pico4ml.train.camera_set import condition_set
    from pico4ml.train.models import load_state, numpy_forward
    data = json.loads(manifest.MANIFEST.read_text())
    default, cnn = data["models"][data["default"]]["min_score_pct"], data["models"]["cnn_int8"]["min_score_pct"]
    low, high = sorted((default, cnn))
    assert low + 3 < high
    checkpoint = manifest.MANIFEST.parents[4] / "models" / "cnn8_24_10.safetensors"
    state, _ = load_state(checkpoint)
    params = preprocess.PreprocessParams()

    def score(frame, bg_radius):
        x28, stages = preprocess.preprocess(frame, replace(params, bg_radius=bg_radius), return_stages=True)
        logits = numpy_forward(state, x28[None])[0].astype(np.float64)
        p = np.exp(logits - logits.max())
        return (p / p.sum()).max() * 100 if int(stages["status"]) == preprocess.OK else 0.0
    cs = condition_set("tune", 100, 162, conditions=("shadow", "tilted", "pencil", "blur", "dim", "far"), cache=False)
    for i, frame in enumerate(cs.frames):
        first = score(frame, params.bg_radius)  # a digit at `low`, and neither it nor a further reading at `high`
        if low + 0.5 < first < high - 0.5 and all(score(frame, r) < high - 0.5
                                                  for r in (params.retry_radius, params.retry_radius2)):
            break
    else:
        pytest.fail(f"no frame of {len(cs)} scored between the two thresholds")
    root = tmp_path / "captures"
    write_capture(root, int(cs.labels[i]), frame, i)

    def checkpoint_unsure(model):
        proc = subprocess.run([sys.executable, "-m", "pico4ml.host_twin.evaluate", "--frames", str(root), "--json",
                               "--model", model, "--checkpoint", str(checkpoint)],
                              capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, proc.stderr
        result = json.loads(proc.stdout.strip().splitlines()[-1])["results"][1]
        assert result["n"] == 1 and result["no_digit"] == 0
        return result["unsure"]
    assert checkpoint_unsure("cnn_int8") == int(cnn == high)
    assert checkpoint_unsure(data["default"]) == int(default == high)

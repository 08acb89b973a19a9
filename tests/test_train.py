"""Training smoke test, checkpoints, and the committed default model."""
import json

import numpy as np
import pytest
from tinygrad.nn.state import safe_save
from tinygrad import Tensor

from pico4ml.train import train as train_mod
from pico4ml.train.augment import augment_batch
from pico4ml.train.models import CheckpointError, load_state, numpy_forward
from pico4ml.common.paths import DEFAULT_CHECKPOINT


def test_smoke_training_learns_and_saves(tmp_path, mnist):
    out = tmp_path / "m.safetensors"
    rc = train_mod.main(["--arch", "mlp784_64_10", "--augment", "mnist", "--limit", "2000", "--epochs", "2",
                         "--out", str(out), "--no-progress", "--seed", "3"])
    assert rc == 0
    state, meta = load_state(out)
    assert meta["widths"] == [784, 64, 10] and meta["seed"] == 3 and meta["tinygrad_version"] == "0.14.0"
    # 30 steps on 2000 digits is far from converged but far above chance
    assert meta["accuracy"] > 0.6
    x_test, y_test = mnist[2], mnist[3]
    assert abs((numpy_forward(state, x_test).argmax(1) == y_test).mean() - meta["accuracy"]) < 1e-9


def test_training_is_deterministic(mnist):
    a, _ = train_mod.train("mlp784_64_10", epochs=1, augment="mnist", limit=512, max_steps=3, seed=7, progress=False)
    b, _ = train_mod.train("mlp784_64_10", epochs=1, augment="mnist", limit=512, max_steps=3, seed=7, progress=False)
    sa, sb = train_mod.model_state(a), train_mod.model_state(b)
    assert all(np.array_equal(sa[k], sb[k]) for k in sa)


def test_existing_checkpoint_is_not_overwritten(tmp_path, capsys):
    out = tmp_path / "m.safetensors"
    out.write_bytes(b"precious")
    assert train_mod.main(["--out", str(out), "--max-steps", "1", "--no-progress"]) == 2
    assert "--force" in capsys.readouterr().err
    assert out.read_bytes() == b"precious"


def test_wrong_shape_checkpoint_is_rejected(tmp_path):
    bad = tmp_path / "bad.safetensors"
    safe_save({"layers.0.weight": Tensor.zeros(400, 700).contiguous(), "layers.0.bias": Tensor.zeros(400).contiguous(),
               "layers.1.weight": Tensor.zeros(10, 400).contiguous(), "layers.1.bias": Tensor.zeros(10).contiguous()},
              str(bad))
    bad.with_suffix(".json").write_text(json.dumps({"architecture": "mlp784_400_10", "widths": [784, 400, 10]}))
    with pytest.raises(CheckpointError, match="do not match architecture"):
        load_state(bad)


def test_garbage_checkpoint_is_rejected(tmp_path):
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"\x00" * 100)
    bad.with_suffix(".json").write_text(json.dumps({"widths": [784, 400, 10]}))
    with pytest.raises(CheckpointError, match="not a readable safetensors"):
        load_state(bad)


def test_augmentation_keeps_digits_recognisable(mnist, rng):
    state, _ = load_state(DEFAULT_CHECKPOINT)
    x, y = mnist[2][:1000], mnist[3][:1000]
    aug = augment_batch(x, rng)
    assert aug.shape == x.shape and aug.dtype == np.uint8
    assert not np.array_equal(aug, x)
    assert (numpy_forward(state, aug).argmax(1) == y).mean() > 0.9


def test_default_model_meets_the_mnist_bar(mnist):
    state, meta = load_state(DEFAULT_CHECKPOINT)
    acc = (numpy_forward(state, mnist[2]).argmax(1) == mnist[3]).mean()
    assert acc >= 0.983
    assert abs(acc - meta["accuracy"]) < 1e-3  # the metadata tells the truth about the weights

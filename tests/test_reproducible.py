"""Training is reproducible for real: the versions that change the numbers are pinned
(constraints.txt, which CI and the README install with), and a short training run gives
the same weights twice and the same weights as when its hash was recorded."""
from __future__ import annotations

import re
from importlib.metadata import PackageNotFoundError, version

import pytest

from pico4ml.common.paths import REPO_ROOT
from pico4ml.train import train as train_mod
from pico4ml.train.models import weights_sha256

# sha256 of the weights of SHORT_RUN on the pinned versions (re-record only together with a
# pin bump or a change of the training code, and say so in the commit)
SHORT_RUN = dict(arch="mlp784_64_10", epochs=1, augment="mnist", limit=512, max_steps=3, seed=7, progress=False)
SHORT_RUN_SHA256 = "b967d062ac0aa509d15ad681b3771125bf12fdc224a8101bd92911a1da911a2b"  # the regularised recipe (dropout, elastic)


def pins() -> dict[str, str]:
    out = {}
    for line in (REPO_ROOT / "constraints.txt").read_text().splitlines():
        m = re.match(r"^([A-Za-z0-9_.-]+)==(\S+)", line.strip())
        if m:
            out[m[1]] = m[2]
    return out


def test_pinned_versions_are_installed():
    assert {"numpy", "opencv-python-headless", "tinygrad"} <= set(pins())
    wrong = {}
    for name, want in pins().items():
        try:
            got = version(name)
        except PackageNotFoundError:
            got = "not installed"
        if got != want:
            wrong[name] = f"{got} (constraints.txt: {want})"
    assert not wrong, f"install with `pip install -c constraints.txt -e '.[dev]'`: {wrong}"


def test_a_short_training_run_reproduces_its_recorded_weights(mnist):
    a = weights_sha256(train_mod.model_state(train_mod.train(**SHORT_RUN)[0]))
    b = weights_sha256(train_mod.model_state(train_mod.train(**SHORT_RUN)[0]))
    assert a == b, "two identical training runs gave different weights"
    assert a == SHORT_RUN_SHA256, f"the short run now gives {a}: pinned versions or training code changed"


def test_camera_augmented_training_is_deterministic(mnist):
    pytest.importorskip("cv2", reason="OpenCV not installed")
    run = dict(SHORT_RUN, augment="camera", limit=256, camera_samples=256, max_steps=2)
    a = weights_sha256(train_mod.model_state(train_mod.train(**run)[0]))
    b = weights_sha256(train_mod.model_state(train_mod.train(**run)[0]))
    assert a == b

"""Shared fixtures: where MNIST is, and skips with reasons when a tool is missing."""
from __future__ import annotations

import shutil

import numpy as np
import pytest

from pico4ml.train.data import MnistError, load_mnist


@pytest.fixture(scope="session")
def mnist():
    """(x_train, y_train, x_test, y_test); skips when no MNIST copy can be found."""
    try:
        return load_mnist()
    except MnistError as e:
        pytest.skip(f"MNIST not available: {e}")


def require_tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.skip(f"{name} not installed (apt-get install {name})")
    return path


def host_build(*args, **kwargs):
    """common.cbuild.build(), skipping the test only when there is no host C compiler:
    a compile error fails the test (it must never hide behind a skip)."""
    from pico4ml.common.cbuild import CompilerMissing, build
    try:
        return build(*args, **kwargs)
    except CompilerMissing as e:
        pytest.skip(str(e))


@pytest.fixture
def rng():
    return np.random.default_rng(1234)

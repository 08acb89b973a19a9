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


# ---------------------------------------------------------------- GUI tests (Dear PyGui)
@pytest.fixture(scope="session")
def host_model():
    """The committed model for the device-vs-host check (None when no checkpoint is committed)."""
    from pico4ml.host_gui.hostcheck import try_load

    model, _ = try_load()
    return model


@pytest.fixture
def gui_app(tmp_path, host_model):
    """The real GUI (every widget built, no window) around a FakeSource; tests drive it with gui_helpers.fire."""
    dpg = pytest.importorskip("dearpygui.dearpygui", reason="Dear PyGui not installed")
    from gui_helpers import FakeSource

    from pico4ml.host_gui import view
    from pico4ml.host_gui.state import State

    dpg.create_context()
    app = view.App(FakeSource(), State(host_model=host_model), out_dir=tmp_path)
    app.build_ui()
    yield app
    dpg.destroy_context()


@pytest.fixture
def display():
    """Skips with the reason when no display can be had (no DISPLAY and no xvfb-run, or no Dear PyGui)."""
    from pico4ml.host_gui.headless import why_no_display

    reason = why_no_display()
    if reason:
        pytest.skip(reason)


def read_until(port, dec, done, timeout: float = 30.0) -> list:
    """Messages read from `port` (a pyserial port) through the protocol decoder `dec` until
    done(messages) is true; at the timeout the test fails with the last message types."""
    import time
    msgs: list = []
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        msgs += dec.feed(port.read(65536))
        if done(msgs):
            return msgs
    pytest.fail(f"timed out; got {len(msgs)} messages, the last {[type(m).__name__ for m in msgs][-20:]}, "
                f"decoder {dec.stats}")

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


def twin_model_session(mnist, model: str, n_frames: int = 6, timeout_s: float = 30.0):
    """Run the twin with built-in `model` over a pty on n_frames camera frames of MNIST test
    digits; returns (HELLO, {frame_id: INPUT28 array}, the RESULTs of those frames)."""
    import time
    serial = pytest.importorskip("serial")
    from pico4ml.common import protocol as P
    from pico4ml.host_twin.twin import start_twin
    from pico4ml.train import camera_sim
    rng = np.random.default_rng(5)
    frames = [camera_sim.render_handwritten(mnist[2][i], rng, size=162) for i in range(n_frames)]
    dec, msgs = P.Decoder(), []
    with start_twin(frames=frames, port="pty", fps=30, model=model) as tw, \
            serial.Serial(tw.path, timeout=0.05) as port:
        port.write(P.encode(P.Ping(P.PING_WANT_HELLO, 1)))
        end = time.monotonic() + timeout_s
        while time.monotonic() < end and not (any(isinstance(m, P.Hello) for m in msgs)
                                              and sum(isinstance(m, P.Result) for m in msgs) >= n_frames):
            msgs += dec.feed(port.read(4096))
    hello = next(m for m in msgs if isinstance(m, P.Hello))
    inputs = {m.frame_id: m.to_array() for m in msgs if isinstance(m, P.Input28)}
    results = [m for m in msgs if isinstance(m, P.Result) and m.frame_id in inputs]
    assert results, f"the twin with {model} sent no RESULT for its frames in {timeout_s:.0f} s"
    return hello, inputs, results


def m0plus_sections(source, include_dir, tmp_path) -> dict[str, int]:
    """Compile one model's C for the Cortex-M0+ on its own (-O2 -Werror -pedantic) and
    return its sections' sizes; skips when arm-none-eabi-gcc is missing, fails on a
    compile error."""
    import re
    import subprocess
    gcc = require_tool("arm-none-eabi-gcc")
    obj = tmp_path / (source.stem + ".o")
    r = subprocess.run([gcc, "-std=c11", "-mcpu=cortex-m0plus", "-mthumb", "-O2", "-Wall", "-Wextra", "-Werror",
                        "-pedantic", f"-I{include_dir}", "-c", str(source), "-o", str(obj)],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    out = subprocess.run(["arm-none-eabi-size", "-A", str(obj)], capture_output=True, text=True, check=True).stdout
    return {m.group(1): int(m.group(2)) for m in re.finditer(r"^(\.\S+)\s+(\d+)", out, re.M)}


def section_bytes(sections: dict[str, int], prefix: str) -> int:
    return sum(v for k, v in sections.items() if k.startswith(prefix))


def require_sdk():
    """The Pico SDK's path, or a skip naming what is missing (the SDK, cmake, the ARM compiler)."""
    from pico4ml.common import fwbuild
    sdk = fwbuild.find_pico_sdk()
    if sdk is None:
        where = ", ".join(str(p) for p in fwbuild.sdk_candidates())
        pytest.skip(f"Pico SDK not found (looked in: {where}); set PICO_SDK_PATH to build the firmware")
    missing = fwbuild.missing_tools()
    if missing:
        pytest.skip(f"missing {', '.join(missing)} (apt-get install cmake gcc-arm-none-eabi)")
    return sdk


def elf_symbols(elf) -> dict[str, tuple[int, int, str]]:
    """{name: (address, size, nm type)} of an ARM ELF, as arm-none-eabi-nm -S lists them."""
    import subprocess
    out = subprocess.run(["arm-none-eabi-nm", "-S", str(elf)], capture_output=True, text=True, check=True).stdout
    syms = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 4:
            syms[parts[3]] = (int(parts[0], 16), int(parts[1], 16), parts[2])
    return syms


def sdk_model_build_symbols(model: str):
    """Build the SDK firmware with -DPICO4ML_MODEL=model, check it fits the SRAM and flash
    budgets, and return (its symbols, elf_symbols, and the build)."""
    from pico4ml.common import fwbuild
    fw = fwbuild.build_firmware(sdk=require_sdk(), model=model)
    m = fwbuild.memory_use(fw.elf)
    assert m["sram_static_bytes"] <= fwbuild.SRAM_BUDGET_BYTES
    assert m["flash_bytes"] <= fwbuild.FLASH_BUDGET_BYTES
    return elf_symbols(fw.elf), fw

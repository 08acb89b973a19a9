"""Build and load the compiled inner loop (loop.pyx) on first use.

The loop cimports rp2040py's own .pxd declarations, so it is compiled against the installed
package (pinned: rp2040py==0.3.6) with Cython and the host C compiler, cached under
build/emulator/ by a hash of the source, the package version and the Python ABI.
"""
from __future__ import annotations

import hashlib
import importlib.machinery
import importlib.util
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

from pico4ml.common.cbuild import CompilerMissing, compiler
from pico4ml.common.paths import BUILD_DIR

RP2040PY_VERSION = "0.3.6"
SOURCE = Path(__file__).with_name("loop.pyx")


class EmulatorUnavailable(RuntimeError):
    """A tool the emulator needs is missing (the message names it)."""


class EmulatorBuildError(RuntimeError):
    """The inner loop did not compile: a bug, never a reason to skip."""


def _rp2040py_dir() -> Path:
    try:
        import rp2040py
    except ImportError as e:
        raise EmulatorUnavailable(f"rp2040py not installed (pip install rp2040py=={RP2040PY_VERSION})") from e
    from importlib.metadata import version
    if version("rp2040py") != RP2040PY_VERSION:
        raise EmulatorUnavailable(f"rp2040py {version('rp2040py')} installed, the emulator needs exactly "
                                  f"{RP2040PY_VERSION} (it compiles against that version's .pxd layouts)")
    return Path(rp2040py.__file__).resolve().parent


def _cython() -> list[str]:
    try:
        import Cython  # noqa: F401
    except ImportError as e:
        raise EmulatorUnavailable("Cython not installed (pip install Cython): the emulator's inner loop "
                                  "is compiled on first use") from e
    return [sys.executable, "-m", "cython"]


_loaded = None


def load_loop():
    """The compiled loop module (compiling it if needed)."""
    global _loaded
    if _loaded is not None:
        return _loaded
    pkg = _rp2040py_dir()
    cython = _cython()
    try:
        cc = compiler()
    except CompilerMissing as e:
        raise EmulatorUnavailable(str(e)) from e
    suffix = importlib.machinery.EXTENSION_SUFFIXES[0]
    # the package's own extension files name its ABI (abi3 wheel or a full-API rebuild)
    natives = " ".join(sorted(p.name for p in (pkg / "native").glob("*.so")))
    key = hashlib.sha256(SOURCE.read_bytes() + RP2040PY_VERSION.encode() + suffix.encode()
                         + sys.version.encode() + natives.encode()).hexdigest()[:16]
    out_dir = BUILD_DIR / "emulator" / key
    so = out_dir / f"pico4ml_emu_loop{suffix}"
    if not so.is_file():
        tmp = out_dir.with_name(key + ".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        pyx = tmp / "pico4ml_emu_loop.pyx"
        pyx.write_bytes(SOURCE.read_bytes())
        c_file = tmp / "pico4ml_emu_loop.c"
        inc = sysconfig.get_paths()["include"]
        steps = [cython + ["-3", "-I", str(pkg.parent), "-o", str(c_file), str(pyx)],
                 [cc, "-shared", "-fPIC", "-O2", "-w", f"-I{inc}", str(c_file), "-o", str(tmp / so.name)]]
        for cmd in steps:
            p = subprocess.run(cmd, capture_output=True, text=True)
            if p.returncode != 0:
                raise EmulatorBuildError(f"{' '.join(cmd)} failed:\n{p.stdout[-3000:]}\n{p.stderr[-3000:]}")
        shutil.rmtree(out_dir, ignore_errors=True)
        tmp.rename(out_dir)
    spec = importlib.util.spec_from_file_location("pico4ml_emu_loop", so)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    _loaded = mod
    return mod

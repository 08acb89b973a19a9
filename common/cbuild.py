"""Build the portable firmware C (firmware/pico4ml/core) for the host with gcc.

One place that knows the compiler flags, so tests, the host twin and
`pico4ml-classify` all run the very same C. Outputs are cached under build/host/
by a hash of the sources and flags, so repeated calls cost nothing.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from pathlib import Path

from pico4ml.common.paths import BUILD_DIR, CORE_DIR

WARN_FLAGS = ["-std=c11", "-Wall", "-Wextra"]
SANITIZE_FLAGS = ["-fsanitize=address,undefined", "-fno-sanitize-recover=all", "-g", "-O1"]


class BuildError(RuntimeError):
    """The host C compiler is missing or the sources do not compile."""


class CompilerMissing(BuildError):
    """No host C compiler: the one case in which a test may skip instead of failing."""


def compiler() -> str:
    cc = os.environ.get("CC", "gcc")
    if shutil.which(cc) is None:
        raise CompilerMissing(f"C compiler '{cc}' not found: install gcc (apt-get install gcc) or set CC")
    return cc


def _digest(paths: list[Path], flags: list[str]) -> str:
    h = hashlib.sha256(" ".join(flags).encode())
    for p in paths:
        h.update(str(p).encode())
        h.update(p.read_bytes())
    return h.hexdigest()[:16]


def build(name: str, sources: list[Path], *, shared: bool = False, flags: list[str] | None = None,
          include_dirs: list[Path] | None = None, libs: list[str] | None = None) -> Path:
    """Compile `sources` into build/host/<name>-<hash>[.so] and return its path.

    Headers in CORE_DIR (and include_dirs) are part of the cache key.
    """
    flags = list(flags if flags is not None else ["-O2"])
    include_dirs = [CORE_DIR, CORE_DIR / "model", *(include_dirs or [])]
    headers = sorted(h for d in include_dirs if d.is_dir() for h in d.glob("*.h"))
    sources = [Path(s).resolve() for s in sources]
    for s in sources:
        if not s.is_file():
            raise BuildError(f"source file not found: {s}")
    cmd_flags = WARN_FLAGS + flags + (["-shared", "-fPIC"] if shared else [])
    key = _digest(sources + headers, cmd_flags + (libs or []))
    out_dir = BUILD_DIR / "host"
    out_dir.mkdir(parents=True, exist_ok=True)
    out = out_dir / (f"lib{name}-{key}.so" if shared else f"{name}-{key}")
    if out.exists():
        return out
    tmp = out.with_name(out.name + f".tmp{os.getpid()}")
    cmd = [compiler(), *cmd_flags, *[f"-I{d}" for d in include_dirs], *map(str, sources), "-o", str(tmp), "-lm",
           *(libs or [])]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise BuildError(f"host build of {name} failed:\n{' '.join(cmd)}\n{proc.stderr}")
    tmp.replace(out)  # atomic, so parallel builders never see half a binary
    return out

"""The model manifest (firmware/pico4ml/core/model/manifest.json): which built-in models
exist, their C sources, entry function and kind, and which one the firmware runs by default.

CMake reads the same file (firmware/pico4ml/CMakeLists.txt, option PICO4ML_MODEL), so the
firmware, the host twin, pico4ml-classify, the benches and the tests all agree on what
"the board's model" is.
"""
from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from pico4ml.common.paths import CORE_DIR, MODEL_C_DIR

MANIFEST = MODEL_C_DIR / "manifest.json"
KINDS = ("float", "int8")


class ManifestError(ValueError):
    """The manifest is missing, malformed, or names a model it does not have."""


@dataclass(frozen=True)
class Model:
    name: str
    kind: str              # "float" or "int8" (what net() takes and gives)
    sources: tuple[Path, ...]
    header: str
    function: str
    define: str            # the -D that selects it in core/classifier.c
    description: str
    min_score_pct: int     # its UNSURE threshold: the default parameters of a build with it
    open: str = ""         # run once before the first net() (a built-in blob's check), "" for none

    def classifier_sources(self) -> list[Path]:
        """The portable C of the firmware's classifier with this model built in."""
        return [CORE_DIR / "classifier.c", *self.sources]

    def portable_sources(self) -> list[Path]:
        """All of the firmware's portable C (every core/*.c, as CMake's glob takes them) with
        this model built in: what a host build of the firmware's logic compiles."""
        core = [p for p in sorted(CORE_DIR.glob("*.c")) if p.name != "classifier.c"]
        return list(dict.fromkeys(core + self.classifier_sources()))  # a model may name core/*.c (mlp_q4: blob.c)

    def defines(self) -> list[str]:
        """What selects it in a build: the model, its threshold as pp_default_params()'s, and
        its id (as CMake passes them)."""
        return [f"-D{self.define}=1", f"-DPICO4ML_MODEL_MIN_SCORE_PCT={self.min_score_pct}",
                f'-DPICO4ML_MODEL_ID="{self.name}"']


@lru_cache(maxsize=None)
def _load(path: Path) -> tuple[str, dict[str, Model], dict[str, str]]:
    try:
        data = json.loads(path.read_text())
        models = {}
        for name, m in data["models"].items():
            if m["kind"] not in KINDS:
                raise ManifestError(f"{path}: model {name}: kind {m['kind']!r} is not one of {KINDS}")
            # normpath: "../blob.c" is the very path core/*.c globs to, so builds can drop the duplicate
            sources = tuple(Path(os.path.normpath(path.parent / s)) for s in m["sources"])
            threshold = m["min_score_pct"]
            if not isinstance(threshold, int) or isinstance(threshold, bool) or not 0 <= threshold <= 100:
                raise ManifestError(f"{path}: model {name}: min_score_pct {threshold!r} is not an integer 0..100")
            opener = m.get("open", "")
            if not isinstance(opener, str) or (opener and not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", opener)):
                raise ManifestError(f"{path}: model {name}: open {opener!r} is not a C function name")
            models[name] = Model(name, m["kind"], sources, m["header"],
                                 m["function"], m["define"], m.get("description", ""), threshold, opener)
        default = data["default"]
        aliases = dict(data.get("aliases", {}))
    except (OSError, json.JSONDecodeError, KeyError, TypeError) as e:
        raise ManifestError(f"cannot read the model manifest {path}: {e}") from e
    if default not in models:
        raise ManifestError(f"{path}: default model {default!r} is not among {sorted(models)}")
    for alias, target in aliases.items():
        if target not in models:
            raise ManifestError(f"{path}: alias {alias!r} names no model ({target!r})")
    return default, models, aliases


def names() -> list[str]:
    return list(_load(MANIFEST)[1])


def choices() -> list[str]:
    """What a --model option accepts: every model name and its short aliases (float, int8)."""
    _, models, aliases = _load(MANIFEST)
    return [*models, *aliases]


def default_name() -> str:
    return _load(MANIFEST)[0]


def get(name: str | None = None) -> Model:
    """The named model (or alias), or the firmware's default when name is None."""
    default, models, aliases = _load(MANIFEST)
    name = default if name is None else aliases.get(name, name)
    if name not in models:
        raise ManifestError(f"no model {name!r} in {MANIFEST.name}: choose one of {', '.join(models)}")
    return models[name]

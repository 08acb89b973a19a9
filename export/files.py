"""What every exporter does with its output files: refuse to overwrite without --force,
write each file whole (never a half-written file under the real name), and turn the
expected failures into one clear message and exit code 2."""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Callable


def display_path(path: Path) -> str:
    """A path as generated files name their source: relative to the repository when inside it."""
    from pico4ml.common.paths import REPO_ROOT
    try:
        return str(Path(path).resolve().relative_to(REPO_ROOT))
    except ValueError:
        return Path(path).name


def refuse_existing(outputs: list[Path], force: bool) -> None:
    existing = [p for p in outputs if p.exists()]
    if existing and not force:
        raise FileExistsError(f"{', '.join(map(str, existing))} exist(s); pass --force to overwrite")


def write_all(outputs: list[Path], texts: list[str]) -> list[Path]:
    outputs[0].parent.mkdir(parents=True, exist_ok=True)
    for path, text in zip(outputs, texts, strict=True):
        tmp = path.with_name(path.name + ".part")
        tmp.write_text(text)
        tmp.replace(path)
    return outputs


def run_cli(export: Callable[[], list[Path]], out_dir: Path, expected: tuple[type[BaseException], ...]) -> int:
    """Run an export; print what it wrote, or the reason it could not (exit code 2)."""
    try:
        paths = export()
    except (*expected, FileExistsError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except OSError as e:  # --out-dir not writable
        print(f"error: cannot write to {out_dir}: {e.strerror or e}", file=sys.stderr)
        return 2
    for path in paths:
        print(f"wrote {path} ({path.stat().st_size} bytes)")
    return 0

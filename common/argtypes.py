"""argparse types that refuse bad values with a clear message instead of a traceback later.

Every number a command line takes goes through one of these, so `--epochs 0`, `--count -1`
or `--fps nan` stop at parse time with `error: argument --epochs: must be >= 1, got 0`
(exit status 2), before any data is loaded or any port opened.
"""
from __future__ import annotations

import argparse
import math
from pathlib import Path
from typing import Callable


def _number(kind: type, text: str) -> float | int:
    try:
        value = kind(text)
    except ValueError:
        what = "a whole number" if kind is int else "a number"
        raise argparse.ArgumentTypeError(f"must be {what}, got {text!r}") from None
    if kind is float and not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be a finite number, got {text!r}")
    return value


def ranged(kind: type = int, lo: float | None = None, hi: float | None = None, *,
           lo_open: bool = False) -> Callable[[str], float | int]:
    """int or float within [lo, hi] (lo excluded when lo_open); None: no bound on that side."""
    def parse(text: str) -> float | int:
        value = _number(kind, text)
        if lo is not None and (value <= lo if lo_open else value < lo):
            raise argparse.ArgumentTypeError(f"must be {'>' if lo_open else '>='} {lo:g}, got {text}")
        if hi is not None and value > hi:
            raise argparse.ArgumentTypeError(f"must be <= {hi:g}, got {text}")
        return value

    parse.__name__ = kind.__name__  # argparse names the type in its "invalid ... value" fallback
    return parse


positive_int = ranged(int, 1)
non_negative_int = ranged(int, 0)
positive_float = ranged(float, 0, lo_open=True)
non_negative_float = ranged(float, 0)


def _existing(text: str, is_kind, kind: str) -> Path:
    p = Path(text)
    if not p.exists():
        raise argparse.ArgumentTypeError(f"{text}: no such {kind}")
    if not is_kind(p):
        raise argparse.ArgumentTypeError(f"{text}: not a {kind}")
    return p


def existing_file(text: str) -> Path:
    return _existing(text, Path.is_file, "file")


def existing_dir(text: str) -> Path:
    return _existing(text, Path.is_dir, "folder")


def existing_path(text: str) -> Path:
    p = Path(text)
    if not p.exists():
        raise argparse.ArgumentTypeError(f"{text}: no such file or folder")
    return p


def c_identifier(text: str) -> str:
    """A name that can be a C symbol (exported function and file names)."""
    if not text or not (text[0].isalpha() or text[0] == "_") or not all(c.isalnum() or c == "_" for c in text) \
            or not text.isascii():
        raise argparse.ArgumentTypeError(f"must be a C identifier (letters, digits, _; not starting with a digit), "
                                         f"got {text!r}")
    return text

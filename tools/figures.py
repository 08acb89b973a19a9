"""Figures in README.md and docs/ come from the benchmarks' JSON lines, never typed by hand.

Every bench under bench/ ends with one JSON line of its figures. This tool records that line
(`run`), and fills the figures into the documents (`render`); `check` fails when a document
no longer shows what the recorded lines say (tests/test_figures.py runs it).

    python tools/figures.py run bench/firmware.py                  # -> bench/results/firmware.json
    python tools/figures.py run bench/firmware.py --as firmware_float -- --model float
    python tools/figures.py render                                 # rewrite the marked figures in place
    python tools/figures.py check                                  # exit 1 and a diff if any is stale

In a document a figure is a marker pair around its text:

    <!-- fig firmware.sram_static_bytes int -->188,088<!-- /fig -->

`firmware` names bench/results/firmware.json, `sram_static_bytes` a key of its figures
(`a.b` for nested keys, `a.0` for list items) and `int` the format (see FORMATS).
"""
from __future__ import annotations

import argparse
import difflib
import json
import re
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
RESULTS = REPO_ROOT / "bench" / "results"
DOCUMENTS = [REPO_ROOT / "README.md", *sorted((REPO_ROOT / "docs").glob("*.md")),
             *sorted((REPO_ROOT / "firmware").rglob("README.md")), REPO_ROOT / "host_gui" / "README.md"]
MARKER = re.compile(r"<!-- fig (?P<src>[\w-]+)\.(?P<key>[\w.]+) (?P<fmt>\w+) -->(?P<text>.*?)<!-- /fig -->", re.S)


def _pct(digits: int):
    return lambda v: f"{100 * v:.{digits}f} %"


FORMATS = {
    "int": lambda v: f"{int(round(v)):,}",             # 188,088
    "raw": lambda v: str(v),
    "f1": lambda v: f"{v:.1f}",
    "f2": lambda v: f"{v:.2f}",
    "pct0": _pct(0), "pct1": _pct(1), "pct2": _pct(2),  # a share 0..1 as percent
    "M": lambda v: f"{v / 1e6:.2f} M",                  # cycles in millions
    "M1": lambda v: f"{v / 1e6:.1f} M",
    "K": lambda v: f"{v / 1e3:.0f} K",
    "e1": lambda v: f"{v:.1e}",
    "s0": lambda v: f"{v:.0f} s",
    "ms1": lambda v: f"{v:.1f} ms",
    "x1": lambda v: f"{v:.1f}x",
}


class FigureError(RuntimeError):
    """A marker names a result, key or format that does not exist."""


def load(name: str) -> dict:
    path = RESULTS / f"{name}.json"
    try:
        return json.loads(path.read_text())["figures"]
    except FileNotFoundError:
        raise FigureError(f"no recorded result {path.relative_to(REPO_ROOT)}: run `python tools/figures.py run "
                          f"bench/<bench>.py --as {name}`") from None
    except (json.JSONDecodeError, KeyError) as e:
        raise FigureError(f"{path}: not a recorded result ({e})") from None


def lookup(figures: dict, key: str):
    v = figures
    for part in key.split("."):
        if isinstance(v, list) and part.isdigit() and int(part) < len(v):
            v = v[int(part)]
        elif isinstance(v, dict) and part in v:
            v = v[part]
        else:
            raise FigureError(f"no figure {key!r} (at {part!r})")
    if v is None:
        raise FigureError(f"figure {key!r} is null: the bench did not measure it")
    return v


def render_text(text: str, where: str = "") -> str:
    cache: dict[str, dict] = {}

    def sub(m: re.Match) -> str:
        src, key, fmt = m["src"], m["key"], m["fmt"]
        if fmt not in FORMATS:
            raise FigureError(f"{where}: unknown format {fmt!r} (one of {', '.join(FORMATS)})")
        if src not in cache:
            cache[src] = load(src)
        try:
            value = FORMATS[fmt](lookup(cache[src], key))
        except FigureError as e:
            raise FigureError(f"{where}: {src}.{key}: {e}") from None
        return f"<!-- fig {src}.{key} {fmt} -->{value}<!-- /fig -->"

    return MARKER.sub(sub, text)


def stale_documents() -> list[tuple[Path, str, str]]:
    """(path, current text, rendered text) for every document whose figures are out of date."""
    out = []
    for path in DOCUMENTS:
        if not path.is_file():
            continue
        text = path.read_text()
        new = render_text(text, str(path.relative_to(REPO_ROOT)))
        if new != text:
            out.append((path, text, new))
    return out


def run_bench(bench: Path, name: str | None, args: list[str]) -> Path:
    name = name or bench.stem
    proc = subprocess.run([sys.executable, str(bench), *args], cwd=REPO_ROOT, text=True,
                          stdout=subprocess.PIPE)
    if proc.returncode != 0:
        raise FigureError(f"{bench} exited with {proc.returncode}")
    lines = [ln for ln in proc.stdout.strip().splitlines() if ln.strip()]
    try:
        figures = json.loads(lines[-1])
    except (IndexError, json.JSONDecodeError):
        raise FigureError(f"{bench}: the last line of its output is not JSON") from None
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"{name}.json"
    out.write_text(json.dumps({"command": ["python", str(bench.relative_to(REPO_ROOT)) if bench.is_absolute()
                                           else str(bench), *args],
                               "recorded": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
                               "figures": figures}, indent=1, sort_keys=False) + "\n")
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run", help="run a bench and record its JSON line")
    r.add_argument("bench", type=Path)
    r.add_argument("--as", dest="name", help="result name (default: the bench's file name)")
    r.epilog = "arguments after -- go to the bench"
    sub.add_parser("render", help="rewrite the figures in README.md and docs/ from the recorded results")
    sub.add_parser("check", help="exit 1 when a document shows figures other than the recorded ones")
    argv = list(sys.argv[1:] if argv is None else argv)
    bench_args = argv[argv.index("--") + 1:] if "--" in argv else []  # before parsing: --as may follow the bench
    a = ap.parse_args(argv[:argv.index("--")] if "--" in argv else argv)
    try:
        if a.cmd == "run":
            if not a.bench.is_file():
                ap.error(f"{a.bench}: no such bench")
            print(f"recorded {run_bench(a.bench, a.name, bench_args)}")
            return 0
        stale = stale_documents()
    except FigureError as e:
        print(f"figures: {e}", file=sys.stderr)
        return 2
    if a.cmd == "render":
        for path, _, new in stale:
            path.write_text(new)
            print(f"updated {path.relative_to(REPO_ROOT)}")
        return 0
    for path, old, new in stale:
        rel = str(path.relative_to(REPO_ROOT))
        sys.stdout.writelines(difflib.unified_diff(old.splitlines(True), new.splitlines(True), rel, rel + " (rendered)"))
    if stale:
        print(f"\n{len(stale)} document(s) show figures that are not the recorded ones: "
              "run `python tools/figures.py render`", file=sys.stderr)
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())

"""Figures in README.md and docs/ are the benches' recorded JSON lines, never typed by hand:
`tools/figures.py check` fails when a document no longer shows what bench/results/ says."""
from __future__ import annotations

import importlib.util
import json
import subprocess
import sys

import pytest

from pico4ml.common.paths import REPO_ROOT

TOOL = REPO_ROOT / "tools" / "figures.py"


@pytest.fixture(scope="module")
def figures():
    spec = importlib.util.spec_from_file_location("figures_tool", TOOL)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_documents_show_the_recorded_figures():
    proc = subprocess.run([sys.executable, str(TOOL), "check"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_every_marker_names_a_recorded_figure(figures):
    markers = [(p, m) for p in figures.DOCUMENTS if p.is_file() for m in figures.MARKER.finditer(p.read_text())]
    assert len(markers) >= 40  # the README's and docs' measured tables are marked
    for path, m in markers:
        assert m["fmt"] in figures.FORMATS, (path, m[0])
        figures.lookup(figures.load(m["src"]), m["key"])  # raises FigureError when missing


def test_a_changed_result_makes_the_check_fail(figures, tmp_path, monkeypatch):
    """Change one recorded figure that a document shows: the document is then stale."""
    path, m = next((p, m) for p in figures.DOCUMENTS if p.is_file() for m in figures.MARKER.finditer(p.read_text())
                   if m["fmt"] != "raw")
    for f in figures.RESULTS.glob("*.json"):
        (tmp_path / f.name).write_text(f.read_text())
    rec = json.loads((tmp_path / f"{m['src']}.json").read_text())
    node, parts = rec["figures"], m["key"].split(".")
    for part in parts[:-1]:
        node = node[int(part)] if isinstance(node, list) else node[part]
    last = int(parts[-1]) if isinstance(node, list) else parts[-1]
    node[last] = node[last] * 2 + 7 if not isinstance(node[last], bool) else not node[last]
    (tmp_path / f"{m['src']}.json").write_text(json.dumps(rec))
    assert not figures.stale_documents()
    monkeypatch.setattr(figures, "RESULTS", tmp_path)
    stale = figures.stale_documents()
    assert path in [s[0] for s in stale]


def test_recorded_results_say_how_they_were_made(figures):
    results = sorted(figures.RESULTS.glob("*.json"))
    assert results
    for f in results:
        rec = json.loads(f.read_text())
        assert rec["command"][0] == "python" and rec["command"][1].startswith(("bench/", "tools/")), f
        assert (REPO_ROOT / rec["command"][1]).is_file(), f
        assert isinstance(rec["figures"], dict) and rec["recorded"], f

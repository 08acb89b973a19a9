"""The Python packages import each other in one direction only (docs/architecture.md):
common <- train <- export <- host_twin <- emulator <- host_gui. A package may import
any package below it and none above, so each can be understood and tested without those
that use it. Read from the source with ast, so lazy imports inside functions count too."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

from pico4ml.common.paths import REPO_ROOT

LAYERS = ["common", "train", "export", "host_twin", "emulator", "host_gui"]


def imported_packages(path: Path, package: str, depth: int = 1) -> set[tuple[str, int]]:
    """(imported project package, line) for every import of pico4ml.<pkg> in a file that sits
    `depth` packages below pico4ml (1: pico4ml.<package>.x, 2: pico4ml.<package>.sub.x)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: inside its own package unless it climbs out of it
                if node.level > depth:
                    names = [f"pico4ml.{node.module or ''}"] + [f"pico4ml.{node.module}.{a.name}" if node.module
                                                               else f"pico4ml.{a.name}" for a in node.names]
                else:
                    continue
            else:
                names = [node.module or ""] + [f"{node.module}.{a.name}" for a in node.names]
        else:
            continue
        for n in names:
            parts = n.split(".")
            if len(parts) >= 2 and parts[0] == "pico4ml" and parts[1] in LAYERS:
                found.add((parts[1], node.lineno))
    found.discard((package, 0))
    return {(p, line) for p, line in found if p != package}


def package_files():
    for pkg in LAYERS:
        for path in sorted((REPO_ROOT / pkg).rglob("*.py")):
            yield pkg, path


@pytest.mark.parametrize("pkg,path", list(package_files()), ids=lambda v: str(v.relative_to(REPO_ROOT))
                         if isinstance(v, Path) else v)
def test_imports_go_downwards_only(pkg: str, path: Path):
    level = LAYERS.index(pkg)
    depth = len(path.relative_to(REPO_ROOT / pkg).parts)
    upward = [f"{path.relative_to(REPO_ROOT)}:{line} imports pico4ml.{dep}"
              for dep, line in sorted(imported_packages(path, pkg, depth)) if LAYERS.index(dep) > level]
    assert not upward, f"{pkg} may only import {LAYERS[:level]}:\n" + "\n".join(upward)


def test_the_checker_sees_an_upward_import(tmp_path: Path):
    """The rule can fail: a lazy upward import inside a function is found."""
    f = tmp_path / "x.py"
    f.write_text("def f():\n    from pico4ml.host_gui.view import App\n    import pico4ml.common.paths\n"
                 "from ..host_twin import twin\nfrom ..sibling import x\n")
    assert imported_packages(f, "train") == {("host_gui", 2), ("common", 3), ("host_twin", 4)}
    assert imported_packages(f, "train", depth=2) == {("host_gui", 2), ("common", 3)}  # .. stays inside

"""The one rule between the packages, read from the source: the runtime (rt_style) imports nothing
from torch, train, export or evaluation; train and export never import evaluation, and train
never imports export. Imports inside functions count too: a lazy import still ships. And no
shipped package points into the developers' data folder (../shared)."""

from __future__ import annotations

import ast

import pytest

from tests.conftest import ROOT

FORBIDDEN = {
    "rt_style": {"torch", "train", "export", "evaluation"},
    "train": {"evaluation", "export"},
    "export": {"evaluation"},
}
SHIPPED = ("rt_style", "train", "export", "evaluation")


def imported_packages(source: str, package: str) -> dict[str, int]:
    """Top-level package of every import in `source` (a module of `package`) → first line."""
    found: dict[str, int] = {}
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            names = [package if node.level else node.module or ""]
        else:
            continue
        for name in names:
            found.setdefault(name.split(".")[0], node.lineno)
    return found


def violations(package: str) -> list[str]:
    out = []
    for path in sorted((ROOT / package).rglob("*.py")):
        imported = imported_packages(path.read_text(encoding="utf-8"), package)
        out += [f"{path.relative_to(ROOT)}:{line} imports {name}"
                for name, line in imported.items() if name in FORBIDDEN[package]]
    return out


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_no_import_points_the_wrong_way(package):
    assert list((ROOT / package).rglob("*.py")), f"no modules found in {package}/"
    assert violations(package) == []


def test_the_scan_sees_every_kind_of_import():
    """Plain, dotted, from-, aliased and lazy imports inside functions are all found."""
    source = ("import numpy\nimport torch.nn as nn\nfrom train.losses import gram\n"
              "def f():\n    from evaluation import temporal\n    import export.parity\n"
              "from . import engine\n")
    assert imported_packages(source, "rt_style") == {
        "numpy": 1, "torch": 2, "train": 3, "evaluation": 5, "export": 6, "rt_style": 7}


def shared_paths(source: str) -> list[int]:
    """Lines of string constants that name the developers' data folder."""
    return sorted(node.lineno for node in ast.walk(ast.parse(source))
                  if isinstance(node, ast.Constant) and isinstance(node.value, str)
                  and (node.value == "shared" or "../shared" in node.value
                       or "shared/data" in node.value))


@pytest.mark.parametrize("package", SHIPPED)
def test_no_default_path_into_the_developers_data(package):
    found = [f"{path.relative_to(ROOT)}:{line}" for path in sorted((ROOT / package).rglob("*.py"))
             for line in shared_paths(path.read_text(encoding="utf-8"))]
    assert found == []


def test_the_data_scan_sees_a_default_path():
    source = 'DATA = ROOT.parent / "shared" / "data"\nhelp = "default: ../shared/data/video"\n'
    assert shared_paths(source) == [1, 2]
    assert shared_paths('"""Flows shared by every output."""') == []

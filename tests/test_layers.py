"""Imports point down: web and app, the domains, cases, the shared base (pyproject.toml's
[tool.importlinter] contract, checked by import-linter)."""

import pkgutil
import tomllib
from pathlib import Path

from importlinter.cli import lint_imports

import kuaichu

PYPROJECT = Path(__file__).parent.parent / "pyproject.toml"


def test_no_module_imports_a_layer_above_it(capsys):
    broken = lint_imports(config_filename=str(PYPROJECT), no_cache=True)
    assert broken == 0, capsys.readouterr().out


def test_every_module_of_the_package_has_a_layer():
    config = tomllib.loads(PYPROJECT.read_text())["tool"]["importlinter"]
    (layers,) = (c["layers"] for c in config["contracts"] if c["id"] == "layers")
    placed = {name.strip() for layer in layers for name in layer.replace(":", "|").split("|")}
    modules = {f"kuaichu.{m.name}" for m in pkgutil.iter_modules(kuaichu.__path__)}
    assert modules - placed == set()

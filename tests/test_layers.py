"""Imports point down: web and app, the domains, cases, the shared base (pyproject.toml's
[tool.importlinter] contract, checked by import-linter)."""

import pkgutil
import subprocess
import sys
import tomllib
from pathlib import Path

import kuaichu

PYPROJECT = Path(__file__).parent.parent / "pyproject.toml"


def test_no_module_imports_a_layer_above_it() -> None:
    # In its own process: import-linter configures logging, which the other tests' caplog needs.
    lint_imports = Path(sys.executable).with_name("lint-imports")
    command = [str(lint_imports), "--config", str(PYPROJECT), "--no-cache"]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_module_of_the_package_has_a_layer() -> None:
    config = tomllib.loads(PYPROJECT.read_text())["tool"]["importlinter"]
    (layers,) = (c["layers"] for c in config["contracts"] if c["id"] == "layers")
    placed = {name.strip() for layer in layers for name in layer.replace(":", "|").split("|")}
    modules = {f"kuaichu.{m.name}" for m in pkgutil.iter_modules(kuaichu.__path__)}
    assert modules - placed == set()

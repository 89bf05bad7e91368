"""Every console script the package installs starts something that exists."""

import importlib
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
SCRIPTS = PROJECT["project"]["scripts"]
PACKAGED = {p.rstrip("*") for p in PROJECT["tool"]["setuptools"]["packages"]["find"]["include"]}


@pytest.mark.parametrize("name", sorted(SCRIPTS))
def test_console_script_target_exists_in_an_installed_package(name: str) -> None:
    module, _, attr = SCRIPTS[name].partition(":")
    # Only what setuptools packages is installed; anything else works in a checkout only.
    assert module.split(".")[0] in PACKAGED, SCRIPTS[name]
    assert callable(getattr(importlib.import_module(module), attr))

"""The lock files pin every dependency of pyproject.toml, each with the hashes of its files.

`make lock` writes them; these checks catch a pyproject.toml changed without it, or a lock
edited by hand. They read files only: no network.
"""

import re
import tomllib
from pathlib import Path
from typing import NamedTuple

import pytest
from packaging.requirements import Requirement
from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parent.parent
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
REQUIREMENTS = ROOT / "requirements"
LOCKS = ("runtime.lock", "dev.lock")

# name[extras]==version ; marker --hash=sha256:... --hash=sha256:...
PIN = re.compile(
    r"(?P<name>[a-z0-9][a-z0-9-]*)(?:\[(?P<extras>[a-z0-9,-]+)\])?==(?P<version>\S+)"
    r"(?: ; (?P<marker>.+?))?(?: --hash=sha256:[0-9a-f]{64})+"
)


class Pin(NamedTuple):
    version: Version
    extras: frozenset[str]


def requirement_lines(path: Path) -> list[str]:
    """The file's requirements, one a line: a backslash continues one, comments stand alone."""
    words = (line.split() for line in path.read_text().replace("\\\n", " ").splitlines())
    return [" ".join(w) for w in words if w and not w[0].startswith("#")]


def pins(lock: str) -> dict[NormalizedName, Pin]:
    found: dict[NormalizedName, Pin] = {}
    for line in requirement_lines(REQUIREMENTS / lock):
        match = PIN.fullmatch(line)
        assert match, f"{lock}: not one pinned version with its hashes: {line[:120]}"
        name = canonicalize_name(match["name"])
        assert name not in found, f"{lock}: {name} is pinned twice"
        extras = frozenset((match["extras"] or "").split(",")) - {""}
        found[name] = Pin(Version(match["version"]), extras)
    return found


RUNTIME = [
    *PROJECT["project"]["dependencies"],
    *PROJECT["build-system"]["requires"],
    *requirement_lines(REQUIREMENTS / "build.in"),
]
DEV = [*RUNTIME, *PROJECT["project"]["optional-dependencies"]["dev"]]


def assert_locked(lock: str, wanted: list[str]) -> None:
    locked = pins(lock)
    for line in wanted:
        requirement = Requirement(line)
        pin = locked.get(canonicalize_name(requirement.name))
        assert pin, f"{requirement.name} is not in requirements/{lock}: run make lock"
        assert requirement.specifier.contains(pin.version, prereleases=True), (
            f"requirements/{lock} pins {requirement.name}=={pin.version}, "
            f"pyproject.toml asks {requirement}: run make lock"
        )
        assert requirement.extras <= pin.extras, (
            f"requirements/{lock} lacks {requirement}: run make lock"
        )


@pytest.mark.parametrize("lock", LOCKS)
def test_every_line_pins_one_version_with_its_hashes(lock: str) -> None:
    assert len(pins(lock)) > 10


@pytest.mark.parametrize("lock", LOCKS)
def test_every_runtime_dependency_is_locked(lock: str) -> None:
    assert_locked(lock, RUNTIME)


def test_every_dev_tool_is_locked() -> None:
    assert_locked("dev.lock", DEV)


def test_the_image_runs_the_versions_the_tests_ran() -> None:
    dev = pins("dev.lock")
    runtime = pins("runtime.lock")
    assert runtime.keys() <= dev.keys()
    assert {name: dev[name].version for name in runtime} == {
        name: pin.version for name, pin in runtime.items()
    }


def test_venv_and_image_install_from_the_locks_only() -> None:
    makefile = (ROOT / "Makefile").read_text()
    dockerfile = (ROOT / "Dockerfile").read_text()
    dockerignore = (ROOT / ".dockerignore").read_text().split()
    assert re.search(r"pip install .*--require-hashes -r requirements/dev\.lock$", makefile, re.M)
    assert re.search(r"pip install .*--no-deps --no-build-isolation -e \.$", makefile, re.M)
    assert re.search(r"^\$\(STAMP\):.* requirements/dev\.lock", makefile, re.M)
    assert re.search(r"^COPY requirements/runtime\.lock ", dockerfile, re.M)
    assert re.search(
        r"pip install .*--require-hashes -r requirements/runtime\.lock$", dockerfile, re.M
    )
    assert re.search(r"pip install .*--no-deps --no-build-isolation \. ", dockerfile, re.M)
    assert not {"requirements", "requirements/", "*.lock", "**/*.lock"} & set(dockerignore)

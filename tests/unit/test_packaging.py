"""What ships: the image and the installed package carry every package of the code."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).parents[2]


def packages() -> set[str]:
    return {path.parent.name for path in ROOT.glob("*/__init__.py")} - {"tests", "bench"}


def test_pyproject_installs_every_package() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    included = config["tool"]["setuptools"]["packages"]["find"]["include"]
    assert {name.removesuffix("*") for name in included} == packages()


def test_the_image_copies_every_package() -> None:
    copied = set(re.findall(r"^COPY (\w+) \1$", (ROOT / "Dockerfile").read_text(), re.MULTILINE))
    assert copied == packages()


def test_the_license_is_an_spdx_string_that_setuptools_reads_without_deprecation() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert config["project"]["license"] == "MIT"  # PEP 639; a table is deprecated
    # setuptools reads a string `license` only from 77 on (older ones refuse it).
    [setuptools] = [r for r in config["build-system"]["requires"] if r.startswith("setuptools")]
    assert setuptools == "setuptools>=77"

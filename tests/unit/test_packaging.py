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


def test_the_image_installs_the_locked_versions_and_the_project_without_resolving() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "COPY requirements.lock ./" in dockerfile
    assert "pip install --require-hashes --no-deps -r requirements.lock" in dockerfile
    assert "RUN pip install --no-deps . " in dockerfile
    # The lock pins every dependency pyproject names, each with its hashes.
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    lock = (ROOT / "requirements.lock").read_text()
    pinned = {
        match.group(1).lower().replace("_", "-")
        for match in re.finditer(r"^([A-Za-z0-9_.-]+)==\S+ \\\n\s+--hash=sha256:", lock, re.M)
    }
    wanted = {re.split(r"[\[<>=!~ ]", dep)[0].lower() for dep in config["project"]["dependencies"]}
    assert wanted <= pinned


def test_compose_has_an_optional_tls_front_for_public_url() -> None:
    import yaml

    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    tls = compose["services"]["tls"]
    assert tls["profiles"] == ["tls"]  # only with `docker compose --profile tls up`
    assert tls["environment"]["PUBLIC_URL"] == "${PUBLIC_URL:-}"
    assert "./Caddyfile:/etc/caddy/Caddyfile:ro" in tls["volumes"]
    assert {"80:80", "443:443"} <= set(tls["ports"])
    assert {"caddydata", "caddyconfig"} <= set(compose["volumes"])
    # Caddy hands requests to the port the web process listens on.
    web_port = compose["services"]["web"]["command"][-1]
    caddyfile = (ROOT / "Caddyfile").read_text()
    assert "{$PUBLIC_URL} {" in caddyfile
    # Every web replica, found by Docker's DNS as they come and go (`--scale web=2`).
    assert f"dynamic a web {web_port}" in caddyfile
    assert web_port in (ROOT / "Dockerfile").read_text().split("EXPOSE", 1)[1].split()[0]


def test_compose_scales_the_web_and_the_worker() -> None:
    """`docker compose up --scale web=2 --scale worker=2`: no fixed name or host port that
    a second replica would clash on (the web's host port is a range, one per replica)."""
    import yaml

    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    for name in ("web", "worker"):
        service = compose["services"][name]
        assert "container_name" not in service
        for port in service.get("ports", []):
            host = str(port).rsplit(":", 1)[0]
            assert "-" in host, f"{name}'s host port {port} fits one replica only"

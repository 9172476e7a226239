"""The image holds every package the project ships (the Dockerfile copies them one by one:
`governor` was once left out, and every process would have failed to import it)."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_dockerfile_copies_every_shipped_package() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    shipped = {pattern.rstrip("*") for pattern in
               project["tool"]["setuptools"]["packages"]["find"]["include"]}
    copied = set(re.findall(r"^COPY (\w+) \1$", (ROOT / "Dockerfile").read_text(), re.M))
    assert shipped <= copied, f"not copied into the image: {sorted(shipped - copied)}"
    for package in shipped:
        assert (ROOT / package / "__init__.py").is_file()

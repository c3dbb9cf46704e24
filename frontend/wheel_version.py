"""The front-end wheel's version: ``BASE_VERSION + "+" + <hash of everything the wheel is built from>``.

hatchling reads it when it builds the wheel (``frontend/pyproject.toml``: ``[tool.hatch.version]
source = "code"``), and ``scripts/build_assets.py`` imports it to know the wheel's file name before
building (an up-to-date wheel is not rebuilt) and to check that what hatchling packed is exactly
``package_sources()``. The hash covers every file of ``oddsui/`` (path and bytes), this file and
``pyproject.toml`` (metadata, the pinned build backend): any change gives a new version, so a new,
immutable URL in manifest.json; the same inputs give the same version and, with the fixed
``SOURCE_DATE_EPOCH`` build_assets.py sets, the same wheel bytes.

Not part of the wheel. Stdlib only: it runs inside hatchling's isolated build environment.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

__all__ = ["BASE_VERSION", "PACKAGE", "package_sources", "source_hash", "version"]

BASE_VERSION = "0.1.0"
PACKAGE = "oddsui"
HERE = Path(__file__).resolve().parent
HASH_LENGTH = 12


def package_sources(root: Path = HERE) -> list[tuple[str, bytes]]:
    """(archive path, bytes) of every file the wheel carries from ``root/oddsui``, sorted by path.

    The same selection hatchling makes by default: no ``__pycache__``, no compiled files; hidden
    files are left out too.
    """
    package = root / PACKAGE
    if not (package / "__init__.py").is_file():
        raise FileNotFoundError(f"{package} is not a Python package (no __init__.py)")
    files = []
    for path in sorted(package.rglob("*")):
        rel = path.relative_to(root)
        if not path.is_file() or "__pycache__" in rel.parts or path.suffix in {".pyc", ".pyo"}:
            continue
        if any(part.startswith(".") for part in rel.parts):
            continue
        files.append((rel.as_posix(), path.read_bytes()))
    return files


def source_hash(files: list[tuple[str, bytes]], build_inputs: list[bytes] = ()) -> str:
    """sha256 over the base version, the build inputs (pyproject.toml, this file) and every file."""
    digest = hashlib.sha256()
    digest.update(f"{BASE_VERSION}\n".encode())
    for data in build_inputs:
        digest.update(hashlib.sha256(data).digest())
    for name, data in files:
        digest.update(name.encode() + b"\0" + hashlib.sha256(data).digest())
    return digest.hexdigest()


def build_inputs(root: Path = HERE) -> list[bytes]:
    return [(root / "pyproject.toml").read_bytes(), (root / "wheel_version.py").read_bytes()]


def version(root: Path = HERE) -> str:
    """The wheel's version for the sources under ``root`` (PEP 440: a local version label)."""
    return f"{BASE_VERSION}+{source_hash(package_sources(root), build_inputs(root))[:HASH_LENGTH]}"

"""Make the front-end package (frontend/oddsui) and the fakes importable under CPython."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
for path in (ROOT / "frontend", Path(__file__).resolve().parent):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

from ui_fakes import FakeDom, FakePlatform  # noqa: E402


@pytest.fixture
def platform() -> FakePlatform:
    return FakePlatform()


@pytest.fixture
def dom() -> FakeDom:
    return FakeDom()

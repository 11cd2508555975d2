"""Fixtures shared by every test package."""

from __future__ import annotations

from pathlib import Path

import pytest

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
"""Public benchmark and network data, read in place beside the repository."""


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The shared data folder; tests that need it skip where it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"shared data folder {SHARED_DATA} is absent")
    return SHARED_DATA

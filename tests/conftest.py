"""Shared fixtures: the public trace corpus beside the repository, when present."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).parent))

REPO = Path(__file__).resolve().parents[1]
DATA = Path(__file__).parent / "data"
SHARED_TRACES = REPO.parent / "shared" / "traces"


@pytest.fixture(scope="session")
def shared_traces() -> Path:
    """../shared/traces (the public corpus); tests using it skip when it is absent."""
    if not (SHARED_TRACES / "MANIFEST.md").exists():
        pytest.skip(f"the shared trace corpus is not at {SHARED_TRACES} (needed for corpus tests)")
    return SHARED_TRACES


@pytest.fixture
def data_dir() -> Path:
    return DATA

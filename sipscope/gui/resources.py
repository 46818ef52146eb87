"""Find files of resources/ (icons, demo trace) in a checkout, a bundle or an install."""

from __future__ import annotations

import sys
from pathlib import Path


def _roots() -> list[Path]:
    roots = []
    bundle = getattr(sys, "_MEIPASS", None)          # PyInstaller one-file / one-dir bundle
    if bundle:
        roots.append(Path(bundle) / "resources")
    roots.append(Path(__file__).resolve().parents[2] / "resources")   # source checkout
    roots.append(Path(sys.prefix) / "share" / "sipscope")              # data-files install
    return roots


def resource_path(*parts: str) -> Path | None:
    """The first existing resources/<parts...>, or None."""
    for root in _roots():
        candidate = root.joinpath(*parts)
        if candidate.exists():
            return candidate
    return None


def demo_trace() -> Path | None:
    return resource_path("demo", "forked-call-demo.txt")

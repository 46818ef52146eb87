"""`SIPSCOPE_SMOKE_TEST=1 sipscope FILE`: open FILE in the real window, print one line when its
findings are in, and quit (exit 0; 1 when the load failed; 3 after the time limit).  The build
script runs it on the frozen app to prove the GUI, its Qt plugins and the rules were bundled."""

from __future__ import annotations

import os
import sys

TIME_LIMIT_MS = 120_000


def requested() -> bool:
    return os.environ.get("SIPSCOPE_SMOKE_TEST") == "1"


def watch(app, window) -> None:
    from PySide6.QtCore import QTimer
    controller = window.controller

    def done(session) -> None:
        print(f"sipscope smoke test: {window.windowTitle()}: {len(session.calls)} calls, "
              f"{len(session.messages)} messages, {len(session.findings or ())} findings",
              flush=True)
        app.exit(0)

    def failed(text: str) -> None:
        print(f"sipscope smoke test: load failed: {text}", file=sys.stderr, flush=True)
        app.exit(1)

    controller.sig_findings_changed.connect(done)
    controller.sig_load_failed.connect(failed)
    QTimer.singleShot(TIME_LIMIT_MS, lambda: app.exit(3))

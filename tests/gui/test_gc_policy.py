"""The GUI keeps the shown model frozen out of the collector (gcpause); a dropped one is collected
at once and what survives is frozen again."""

from __future__ import annotations

import gc
import weakref

from sipscope.core.model import gcpause
from sipscope.core.model.gcpause import gc_paused


class _Holder:
    def __init__(self, session) -> None:
        self.session = session


def test_the_controller_collects_the_session_it_drops(qtbot):
    from sipscope.core.model.session import Session
    from sipscope.gui.controller import Controller
    gcpause.freeze_after_bulk_work(True)
    try:
        controller = Controller()
        first = Session()
        first.media = _Holder(first)             # a model is full of reference cycles
        controller.set_session(first, "first")
        with gc_paused():
            pass                                 # as a load ends: the survivors are frozen
        watch = weakref.ref(first.media)
        del first
        assert watch() is not None and gc.get_freeze_count() > 0
        controller.set_session(Session(), "second")
        assert watch() is None                   # collected when dropped, not left frozen
        assert gc.get_freeze_count() > 0         # the rest is frozen again
    finally:
        gcpause.freeze_after_bulk_work(False)
        gcpause.thaw()

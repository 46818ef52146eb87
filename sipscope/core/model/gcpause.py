"""Pause Python's cyclic garbage collector around bulk work (building and analysing a session).

Loading a big capture allocates millions of long-lived objects (messages, transactions, dialogs);
each full collection rescans all of them, which costs seconds and frees nothing.  Reference
counting still frees every temporary; the collector is switched back on (if it was on) afterwards.

Switched back on, the collector would first walk everything allocated during the pause (all of it
is in its youngest generation): 1.2 s after building a 1-million-message model, with the GIL held,
for 45 objects freed.  The application's entry points (CLI, GUI) therefore ask for the objects
alive after bulk work to be frozen (`gc.freeze`, moved out of every generation): they are the
model, kept while it is shown.  Whoever drops a session calls `collect_dropped()`: one full
collection frees its reference cycles and the survivors are frozen again.  Libraries and tests
keep the default: nothing frozen.
"""

from __future__ import annotations

import gc
from contextlib import contextmanager

_freeze_after = False


def freeze_after_bulk_work(on: bool = True) -> None:
    """Entry points call this: after each paused block the surviving objects are frozen."""
    global _freeze_after
    _freeze_after = on


def thaw() -> None:
    """Give every frozen object back to the collector."""
    gc.unfreeze()


def collect_dropped() -> None:
    """A session was dropped: collect its reference cycles now, in one pass, and freeze what
    survives again (the shown model), so no later collection walks it."""
    if not _freeze_after and not gc.get_freeze_count():
        return                       # nothing frozen: the collector finds the cycles itself
    gc.unfreeze()
    gc.collect()
    if _freeze_after:
        gc.freeze()


@contextmanager
def gc_paused():
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    except BaseException:
        if was_enabled:
            gc.enable()              # a failed or cancelled load: its garbage stays collectable
        raise
    if was_enabled:
        if _freeze_after:
            gc.freeze()
        gc.enable()

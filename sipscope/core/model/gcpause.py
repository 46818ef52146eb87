"""Pause Python's cyclic garbage collector around bulk work (building and analysing a session).

Loading a big capture allocates millions of long-lived objects (messages, transactions, dialogs);
each full collection rescans all of them, which costs seconds and frees nothing.  Reference
counting still frees every temporary; the collector is switched back on (if it was on) afterwards.
"""

from __future__ import annotations

import gc
from contextlib import contextmanager


@contextmanager
def gc_paused():
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()

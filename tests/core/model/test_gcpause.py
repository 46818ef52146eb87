"""gc_paused: the collector is off during bulk work; with the entry points' policy the objects
that survive it are frozen (no later collection walks a big model again), and thaw() gives
them back."""

from __future__ import annotations

import gc
import weakref

import pytest

from sipscope.core.model import gcpause
from sipscope.core.model.gcpause import gc_paused


@pytest.fixture
def policy():
    gcpause.freeze_after_bulk_work(True)
    yield
    gcpause.freeze_after_bulk_work(False)
    gcpause.thaw()


class Node:
    def __init__(self) -> None:
        self.me = self               # a reference cycle, as Message <-> Transaction


def test_by_default_nothing_is_frozen():
    before = gc.get_freeze_count()
    with gc_paused():
        assert not gc.isenabled()
        kept = [Node() for _ in range(1000)]
    assert gc.isenabled() and gc.get_freeze_count() == before and len(kept) == 1000


def test_survivors_of_bulk_work_are_frozen_and_thaw_releases_them(policy):
    gcpause.thaw()
    with gc_paused():
        kept = [Node() for _ in range(1000)]
    assert gc.isenabled()
    assert gc.get_freeze_count() >= 1000 + len(kept)       # the list and its cycles
    gcpause.thaw()
    assert gc.get_freeze_count() == 0


def test_a_failed_block_freezes_nothing(policy):
    gcpause.thaw()
    with pytest.raises(RuntimeError):
        with gc_paused():
            garbage = [Node() for _ in range(100)]
            raise RuntimeError(len(garbage))
    assert gc.isenabled() and gc.get_freeze_count() == 0



def test_collect_dropped_frees_dropped_cycles_and_freezes_the_rest(policy):
    with gc_paused():
        dropped, kept = Node(), [Node()]
    watch = weakref.ref(dropped)
    del dropped
    assert watch() is not None               # frozen: no collection reaches it
    gcpause.collect_dropped()
    assert watch() is None and gc.get_freeze_count() >= 2 and kept

"""Lists that start as the shared empty tuple (issue: big captures).

A million-message model has hundreds of thousands of objects whose list of ACKs, fork sets,
dialogs or RTP streams stays empty; an empty list costs 56 bytes each, the shared `()` nothing.
Readers iterate either the same way; writers grow the field with `appended`.
"""

from __future__ import annotations

from typing import TypeVar

T = TypeVar("T")


def appended(items: list[T] | tuple, item: T) -> list[T]:
    """`items` with `item` at the end: the same list when it already is one, else a new list."""
    if isinstance(items, list):
        items.append(item)
        return items
    return [*items, item]

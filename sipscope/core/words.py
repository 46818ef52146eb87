"""Counting in words: the one plural helper of every text sipscope writes (rule texts, loader
warnings, the GUI, the CLI)."""

from __future__ import annotations


def plural(count: int, noun: str) -> str:
    """`1 call`, `11,021 calls`, `1 more message`, `3 more messages`."""
    return f"{count:,} {noun}" + ("" if count == 1 else "s")


def verb(count: int, singular: str, many: str) -> str:
    """The verb that agrees with a count: verb(1, "has", "have") -> "has"."""
    return singular if count == 1 else many

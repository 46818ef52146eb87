"""Identifiers: tags, branches (RFC 3261 §8.1.1.7 magic cookie) and Call-IDs unique by construction."""

from __future__ import annotations

from random import Random

KIND_CALL, KIND_OPTIONS, KIND_REGISTER = "c", "o", "r"


def tag(rng: Random) -> str:
    return f"{rng.getrandbits(40):010x}"


def branch(rng: Random) -> str:
    return f"z9hG4bK{rng.getrandbits(52):013x}"


def call_id(rng: Random, kind: str, n: int, host: str | None) -> str:
    """16 random hex digits, a kind letter at a fixed place, then n: unique for each (kind, n)."""
    core = f"{rng.getrandbits(64):016x}{kind}{n:x}"
    return f"{core}@{host}" if host else core

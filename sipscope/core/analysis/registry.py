"""The rule registry: `@rule(id, text=...)` registers a detector; families are listed explicitly."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from sipscope.core.analysis.catalog import CATALOG

# One module per catalog family (core/analysis/rules/<family>.py), registered here explicitly.
RULE_MODULES = (
    "transaction", "dialog", "forking", "timers", "syntax",      # fault rules, part 1
    "nat", "sdp", "rtp", "registration", "security",             # fault rules, part 2
    "transfer", "events",                                        # beyond the catalog
    "interop",                                      # beyond the catalog: the reviewed corpus
)


@dataclass(slots=True)
class Rule:
    id: str
    func: Callable
    text: str                 # the tech text template of the catalog entry
    family: str
    index: str | None = None  # the shared per-session index it reads: "media" or "security"

    @property
    def severity(self) -> str:
        return CATALOG[self.id][1]


RULES: dict[str, Rule] = {}


INDEXES = ("media", "security")


def rule(rule_id: str, text: str, index: str | None = None) -> Callable:
    """Register `func(ctx) -> Iterable[Finding]` as the detector for a catalog id.  index names
    the big shared index the rule reads (media.calls.media_index, rules.security.security_index):
    the runner groups those rules so that one index is dropped before the other is built."""
    if index is not None and index not in INDEXES:
        raise ValueError(f"unknown index {index!r}")
    if rule_id not in CATALOG:
        raise ValueError(f"{rule_id!r} is not a fault-catalog id")

    def register(func: Callable[..., Iterable]) -> Callable:
        family = func.__module__.rpartition(".")[2]
        RULES[rule_id] = Rule(id=rule_id, func=func, text=text, family=family, index=index)
        return func

    return register


def load_rules() -> dict[str, Rule]:
    """Import every family module (each registers its rules on import)."""
    for family in RULE_MODULES:
        importlib.import_module(f"sipscope.core.analysis.rules.{family}")
    return RULES

"""Small text helpers shared by the rule families: filling the catalog's tech texts and times."""

from __future__ import annotations

import datetime as _dt

from sipscope.core.model.message import Message
from sipscope.core.sources.datagram import TIME_UNKNOWN
from sipscope.core import timefmt
from sipscope.core.words import plural  # noqa: F401 - the rules import it from here


class _Keep(dict):
    """format_map mapping that keeps unknown {braces} as they are."""

    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def fill(template: str, **values) -> str:
    """The catalog tech text with its {braces} filled from the evidence (unknown ones kept)."""
    text = template.format_map(_Keep(values))
    if text.startswith(("the ", "a ", "an ")):       # "{device} ..." opens a sentence
        text = text[:1].upper() + text[1:]
    return text


def clock(message: Message) -> str:
    """Time of day of a message for the tech text (`09:40:27.713`), or its number when unknown.
    The time of day only: also right for TIME_NO_DATE inputs, whose dates are not real."""
    if message.flags & TIME_UNKNOWN:
        return f"message {message.index}"
    return timefmt.clock(message.ts, message.flags, 3)


def when(ts: float) -> str:
    """Date and time of day (UTC) for source-scoped findings."""
    return _dt.datetime.fromtimestamp(ts, _dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S")

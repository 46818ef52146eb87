"""The caption every exported PNG carries, so a picture in a ticket says where it came from:
the file, the call (number and Call-ID), what the times are (zone and origin) and the sipscope
version.  Plain text lines, capture values shown with their control characters made visible."""

from __future__ import annotations

from sipscope import __version__
from sipscope.core import timefmt
from sipscope.core.sources.datagram import TIME_NO_DATE, TIME_UNKNOWN
from sipscope.core.untrusted import visible_controls


def caption_lines(session, call, view: str, what: str = "") -> list[str]:
    """Two or three lines: `sipscope 0.1.0 · ladder · call 3 of 3 · Call-ID …`, the input
    files, and the time origin and zone (or that the input has no times)."""
    first = [f"sipscope {__version__}", view + (f" of {what}" if what else "")]
    if call is not None:
        first.append(f"call {call.index + 1} of {len(session.calls):,}")
        first.append(f"Call-ID {visible_controls(call.call_id)}")
    files = [visible_controls(_name(report.path)) for report in session.inputs]
    lines = [" · ".join(first)]
    if files:
        lines.append(("file " if len(files) == 1 else "files ") + ", ".join(files))
    lines.append(time_note(session, call))
    return lines


def time_note(session, call) -> str:
    messages = call.messages if call is not None else session.messages
    if not messages:
        return "no messages"
    start = messages[0]
    if start.flags & TIME_UNKNOWN:
        return "times: none in the input (#n are ordering numbers, not seconds)"
    origin = timefmt.stamp(start.ts, start.flags)
    if start.flags & TIME_NO_DATE:
        return f"times UTC (the input gives no date); 0 s = {origin} (first message)"
    return f"times UTC; 0 s = {origin} UTC (first message)"


def _name(path) -> str:
    text = str(path)
    return text.replace("\\", "/").rsplit("/", 1)[-1] or text

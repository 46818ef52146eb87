"""One way to write times, for every view, export and the CLI.

Times are cut, never rounded, to the digits shown, so every shorter form is a prefix of a longer
one: the report's 09:40:18.325507 is 09:40:18.325 in the lists, the ladder and the PNGs.  An
input without times (a pasted trace) has ordering numbers instead: they are written `#n`, and a
delta or a duration between them is no time at all (empty / "—").
"""

from __future__ import annotations

import datetime as _dt
import math

from sipscope.core.sources.datagram import TIME_NO_DATE, TIME_UNKNOWN

NO_TIME = "—"


def clock(ts: float, flags: int = 0, digits: int = 3) -> str:
    """`09:40:18.325` (UTC time of day), `#7` without times, `?` for a broken value."""
    if flags & TIME_UNKNOWN:
        return f"#{int(ts)}"
    moment = _moment(ts)
    if moment is None:
        return "?"
    digits = min(max(digits, 0), 6)
    text = f"{moment.hour:02d}:{moment.minute:02d}:{moment.second:02d}"
    if digits:
        text += "." + f"{moment.microsecond:06d}"[:digits]     # cut, never rounded up
    return text


def stamp(ts: float, flags: int = 0) -> str:
    """`2026-03-04 09:40:18.325507` for the report; the time alone when the date is unknown."""
    if flags & TIME_UNKNOWN:
        return f"#{int(ts)}"
    moment = _moment(ts)
    if moment is None:
        return "?"
    time_of_day = clock(ts, 0, 6)
    return time_of_day if flags & TIME_NO_DATE else f"{moment.date().isoformat()} {time_of_day}"


def _moment(ts: float) -> _dt.datetime | None:
    """The UTC moment, microseconds as the capture stored them (datetime's own rounding)."""
    try:
        return _dt.datetime.fromtimestamp(ts, _dt.timezone.utc)
    except (OverflowError, OSError, ValueError):
        return None


def delta(seconds: float, flags: int = 0) -> str:
    """Time since the previous message: `+0.079`, `+50.620`, `+3m05s`, `+1h02m`; empty when
    the input has no times."""
    if flags & TIME_UNKNOWN or not math.isfinite(seconds) or seconds < 0:
        return ""
    if seconds < 60:
        # a difference of two capture times is rounded to the millisecond (cutting it would
        # turn 0.0629999 into +0.062 between .416 and .479)
        millis = (round(seconds * 1_000_000) + 500) // 1000
        return f"+{millis // 1000}.{millis % 1000:03d}"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"+{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"+{hours}h{minutes:02d}m"


def duration(seconds: float, flags: int = 0) -> str:
    """`0.063 s`, `12.5 s`, `1m00s`, `2h05m`; "—" when the input has no times."""
    if flags & TIME_UNKNOWN or not math.isfinite(seconds):
        return NO_TIME
    if seconds < 60:
        return f"{seconds:.3f} s" if seconds < 10 else f"{seconds:.1f} s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"

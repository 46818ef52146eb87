"""One time format for every view, export and the CLI (core/timefmt.py): the ladder, the lists
and the report agree digit for digit, and an input without times shows order, never seconds."""

from __future__ import annotations

import datetime as dt
import random

from sipscope.core import timefmt
from sipscope.core.sources.datagram import TIME_UNKNOWN


def test_shorter_forms_are_prefixes_of_the_report_time():
    rng = random.Random(7)
    for _ in range(20_000):
        ts = rng.uniform(0, 2e9)
        report = dt.datetime.fromtimestamp(ts, dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f")
        assert timefmt.stamp(ts) == report
        assert report.endswith(timefmt.clock(ts, 0, 6))
        assert report.split(" ")[1].startswith(timefmt.clock(ts, 0, 3))


def test_deltas_and_durations():
    assert timefmt.delta(50.62) == "+50.620"
    assert timefmt.delta(0.0629999) == "+0.063"
    assert timefmt.delta(185) == "+3m05s"
    assert timefmt.duration(60.155) == "1m00s" and timefmt.duration(0.063) == "0.063 s"


def test_without_times_there_are_no_seconds():
    assert timefmt.clock(7.0, TIME_UNKNOWN) == "#7"
    assert timefmt.delta(1.0, TIME_UNKNOWN) == ""
    assert timefmt.duration(5.0, TIME_UNKNOWN) == "—"


def test_every_view_writes_the_same_time(data_dir):
    from sipscope.core.export.report import format_time
    from sipscope.core.ladder.layout import build_layout
    from sipscope.core.model.loader import load_files
    from sipscope.gui.models.call_rows import format_clock
    session = load_files([str(data_dir / "blog-grandstream-forked-call.txt")])
    layout = build_layout(session, session.calls[0].messages)
    for arrow in layout.arrows:
        message = session.messages[arrow.message_index]
        assert arrow.time_text == format_clock(message.ts, message.flags)
        assert format_time(message).split(" ")[-1].startswith(arrow.time_text)

"""Ladder diagram layout as plain data: lanes, one arrow per message, labels, colours as indices.

The screen (gui/views/ladder_view) and the PNG export (render/png) draw the same LadderLayout with
render/painter.paint_ladder, and `sipscope ladder` prints it with core/ladder/ascii.  Everything
here is pixels and strings, no Qt.  Building is O(n) in the number of messages: one pass for the
lanes, one for the arrows; a message's full parse is only needed for its SDP summary and for the
User-Agent of the first message each lane sends.

    time          10.0.0.1:5060          10.0.0.2:5060
                  Asterisk PBX           Grandstream GXP2000
    09:40:18.325  |------ INVITE ------->|      label above the arrow
    +0.000        |  SDP audio 4000 PCMU |      detail (SDP) below it
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sipscope.core.model.message import Message, host_of
from sipscope.core.sources.datagram import TIME_UNKNOWN
from sipscope.core import timefmt

try:        # the SDP summary is optional: without these modules arrows just have no detail
    from sipscope.core.sip.multipart import find_sdp
    from sipscope.core.sip.sdp import parse_sdp
except ImportError:  # pragma: no cover
    find_sdp = parse_sdp = None

# Finding.severity, worst first; an inconclusive finding counts as info.
SEVERITY_RANK = {"error": 3, "warning": 2, "info": 1}

HEADER_HEIGHT = 86.0          # title line + lane header boxes
LEGEND_HEIGHT = 20.0          # a legend line under the title (branches, copies, findings)
TIME_COLUMN_WIDTH = 112.0     # time and +delta on the left
BOTTOM_MARGIN = 16.0
HIT_TOLERANCE = 6.0           # px around an arrow that still count as "on" it (arrow_at)
TITLE_CHAR_WIDTH = 9.3        # px per character of the bold title: widen narrow ladders to fit it
MAX_TITLE_WIDTH = 1100.0
LOOP_FRACTION = 0.42          # a self-loop reaches this share of a lane to the right

MAX_TITLE = 40                # characters of a lane title (long IPv6 / masked names)
MAX_SUBTITLE = 34             # characters of a User-Agent
# 30 px a row: the label above the line (14 px) and the SDP line under it (12 px), with their
# gaps, fit in the row without touching the next row's label (render/painter.label_rect and
# detail_rect place them; tests/render/test_label_layout.py checks every rectangle).
ROW_HEIGHT = 30.0
MAX_LABEL = 48                # characters of "486 Busy Here" style labels
MAX_DETAIL = 90               # characters of an SDP summary
MAX_CODECS = 3                # codecs named per m= line before "+n"


@dataclass(slots=True)
class Lane:
    """One column of the ladder: an element (transport address, or host with merge_hosts)."""

    index: int
    addresses: list[str]
    title: str          # the address ("10.0.0.1:5060"), or the host when addresses are merged
    subtitle: str       # User-Agent / Server of the first message this lane sent, or ""
    x: float            # centre of the lifeline, px


@dataclass(slots=True)
class Arrow:
    """One message drawn from its source lane to its destination lane."""

    message_index: int              # index into Session.messages
    row: int
    y: float                        # px of the arrow line
    from_lane: int
    to_lane: int
    x1: float
    x2: float
    label: str                      # "INVITE", "180 Ringing" (plain text, drawn literally)
    detail: str                     # "SDP audio 10.0.0.1:4000 PCMU,PCMA sendrecv" or ""
    time_text: str                  # "09:40:18.325" or "#12" when the input has no time
    delta_text: str                 # "+0.079" since the previous row, "" on the first row
    kind: str                       # request | provisional | success | response | error
    dimmed: bool                    # a retransmission or a capture duplicate (catalog D2)
    branch_color: int | None        # palette index of its fork branch (catalog D4), else None
    severity: str | None            # worst finding on this message: error | warning | info
    self_loop: bool                 # source and destination map to the same lane


@dataclass(slots=True)
class MediaBand:
    """One RTP direction drawn as a band from its sender's lane to its receiver's, over the rows
    during which it flowed (or, for a direction never seen, while it should have flowed)."""

    from_lane: int
    to_lane: int
    x1: float
    x2: float
    top: float                      # px: the row where the media starts
    bottom: float                   # px: the row where it ends
    label: str                      # "RTP PCMA/8000 ×500, 2 lost" / "no RTP (negotiated)"
    missing: bool                   # a direction the SDP negotiated that never arrived
    slot: int = 0                   # 0, 1, ...: bands between the same lanes stack their labels
    row: Any = None                 # the media/table.py StreamRow


@dataclass(slots=True)
class LadderLayout:
    """Lanes and arrows in pixel coordinates, with the lookups a view needs."""

    lanes: list[Lane]
    arrows: list[Arrow]
    width: float
    height: float
    header_height: float
    row_height: float
    time_column_width: float
    title: str
    lane_width: float = 190.0
    legend: list[tuple[int, str]] = field(default_factory=list)   # (colour, "branch .2 -> addr")
    media: list[MediaBand] = field(default_factory=list)   # RTP bands (add_media_bands)
    media_label_x: float = 0.0                             # where the bands' labels start
    _by_message: dict[int, Arrow] = field(default_factory=dict, repr=False)

    def arrow_for(self, message_index: int) -> Arrow | None:
        """The arrow drawn for a Session.messages index (None when not in this ladder)."""
        if not self._by_message and self.arrows:
            self._by_message.update((a.message_index, a) for a in self.arrows)
        return self._by_message.get(message_index)

    def row_at(self, y: float) -> int | None:
        """The row under a y coordinate, None in the header or below the last row."""
        if y < self.header_height or not self.arrows:
            return None
        row = int((y - self.header_height) // self.row_height)
        return row if 0 <= row < len(self.arrows) else None

    def arrow_at(self, x: float, y: float) -> int | None:
        """The message index under a point: on its row, within the arrow's span (a few px of
        tolerance) or in the time column; None elsewhere."""
        row = self.row_at(y)
        if row is None:
            return None
        arrow = self.arrows[row]
        if x < self.time_column_width:
            return arrow.message_index
        low, high = min(arrow.x1, arrow.x2), max(arrow.x1, arrow.x2)
        if arrow.self_loop:
            high = arrow.x1 + self.lane_width * LOOP_FRACTION
        if low - HIT_TOLERANCE <= x <= high + HIT_TOLERANCE:
            return arrow.message_index
        return None

    def lane_at(self, x: float) -> int | None:
        """The index of the lane whose column holds x, None outside the lanes."""
        if x < self.time_column_width or not self.lanes:
            return None
        index = int((x - self.time_column_width) // self.lane_width)
        return index if 0 <= index < len(self.lanes) else None

    def band_at(self, x: float, y: float) -> MediaBand | None:
        """The media band under a point (its label line at the top, or its span), None if none."""
        for band in reversed(self.media):
            low, high = min(band.x1, band.x2), max(band.x1, band.x2)
            if band.top <= y <= band.bottom and (low <= x <= high or x >= self.media_label_x):
                return band
        return None

    def rows_between(self, top: float, bottom: float) -> range:
        """Rows whose band intersects [top, bottom] (what a painter with a clip must draw)."""
        first = max(0, int((top - self.header_height) // self.row_height))
        last = min(len(self.arrows), int((bottom - self.header_height) // self.row_height) + 1)
        return range(first, max(first, last))


# -- building ----------------------------------------------------------------------------
def build_layout(session: Any, messages: Sequence[Message], *, merge_hosts: bool = False,
                 findings: Iterable[Any] | None = None, row_height: float = ROW_HEIGHT,
                 lane_width: float = 190, media_rows: Sequence[Any] | None = None
                 ) -> LadderLayout:
    """Lay out `messages` (time order) as a ladder: columns in order of first appearance; with
    merge_hosts, the addresses of one host share a column.  `findings` defaults to
    session.findings; `session` may be None (then no fork colours and no findings).
    `media_rows`: streams-table rows (media/table.py) to draw as media bands."""
    lane_of, lanes = _lanes(messages, merge_hosts, lane_width)
    colours, legend = _branch_colours(session, messages)
    severity = session.from_findings("ladder severities", _severities) \
        if findings is None and session is not None else _severities(findings or ())
    header = HEADER_HEIGHT
    if legend or any(m.copy or m.index in severity for m in messages):
        header += LEGEND_HEIGHT
    arrows: list[Arrow] = []
    previous: Message | None = None
    for row, message in enumerate(messages):
        a, b = lane_of[message.src], lane_of[message.dst]
        arrows.append(Arrow(
            message_index=message.index, row=row,
            y=header + row * row_height + row_height * 0.56,
            from_lane=a, to_lane=b, x1=lanes[a].x, x2=lanes[b].x,
            label=clean_text(message.label, MAX_LABEL), detail=sdp_summary(message),
            time_text=time_text(message), delta_text=delta_text(message, previous),
            kind=kind_of(message), dimmed=message.copy,
            branch_color=colours.get(message.index), severity=severity.get(message.index),
            self_loop=a == b))
        previous = message
    title = _title(session, messages)
    width = TIME_COLUMN_WIDTH + lane_width * max(len(lanes), 1) + 12
    width = max(width, min(24 + TITLE_CHAR_WIDTH * len(title), MAX_TITLE_WIDTH))
    height = header + row_height * len(arrows) + BOTTOM_MARGIN
    layout = LadderLayout(lanes=lanes, arrows=arrows, width=width, height=height,
                          header_height=header, row_height=float(row_height),
                          time_column_width=TIME_COLUMN_WIDTH, title=title,
                          lane_width=float(lane_width), legend=legend,
                          _by_message={a.message_index: a for a in arrows})
    if media_rows:
        add_media_bands(layout, messages, media_rows, merge_hosts)
    return layout


# -- media bands ---------------------------------------------------------------------------
MAX_BANDS = 16
MEDIA_LABEL_WIDTH = 330.0      # px right of the lanes for the bands' labels


def _media_lane(layout: LadderLayout, address: str, merge_hosts: bool) -> int:
    """The lane of a media address: the lane of that very address, else of its host (the SIP
    column of the same device), else a new column for it."""
    host = host_of(address)
    for lane in layout.lanes:
        if address in lane.addresses:
            return lane.index
    for lane in layout.lanes:
        if any(host_of(a) == host for a in lane.addresses):
            return lane.index
    index = len(layout.lanes)
    x = TIME_COLUMN_WIDTH + layout.lane_width * (index + 0.5)
    key = host if merge_hosts else address
    layout.lanes.append(Lane(index, [address], clean_text(key, MAX_TITLE), "media only", x))
    layout.width = max(layout.width, TIME_COLUMN_WIDTH + layout.lane_width * len(layout.lanes)
                       + 12)
    return index


def _row_top(layout: LadderLayout, times: list[float], t: float) -> float:
    """y of the top of the first row at or after time t (the bottom of the rows if none)."""
    from bisect import bisect_left
    return layout.header_height + bisect_left(times, t) * layout.row_height


def _row_bottom(layout: LadderLayout, times: list[float], t: float) -> float:
    """y of the bottom of the last row at or before time t."""
    from bisect import bisect_right
    return layout.header_height + bisect_right(times, t) * layout.row_height


def band_label(row: Any) -> str:
    codec = row.codec or "?"
    if row.expected_only:
        return clean_text(f"no RTP {row.direction_text} (negotiated {codec}, none captured)",
                          MAX_LABEL + 20)
    text = f"RTP {codec} ×{row.packets:,}"
    if row.lost:
        text += f", {row.lost:,} lost ({row.lost_pct:.1f} %)"
    if row.mos is not None:
        text += f", MOS≈{row.mos:.1f}"
    return clean_text(text, MAX_LABEL + 20)


def add_media_bands(layout: LadderLayout, messages: Sequence[Message], rows: Sequence[Any],
                    merge_hosts: bool = False) -> None:
    """Add one band per streams-table row (at most MAX_BANDS): from the sender's lane to the
    receiver's, from the row where its first packet falls to the row of its last; a direction
    that never arrived spans its media session (answer to BYE, or to the last message)."""
    times = [m.ts for m in messages]
    rows_end = layout.header_height + len(times) * layout.row_height
    tail = False
    slots: dict[tuple[int, int], int] = {}
    for row in list(rows)[:MAX_BANDS]:
        a = _media_lane(layout, row.src, merge_hosts)
        b = _media_lane(layout, row.dst, merge_hosts)
        if row.expected_only:
            ms = row.media_session
            start_msg = (ms.ack or ms.answered) if ms is not None else None
            start = start_msg.ts if start_msg is not None else (times[0] if times else 0.0)
            end = ms.ended if ms is not None and ms.ended is not None else float("inf")
        else:
            start, end = row.first_ts, row.last_ts
        # a direction never seen: from the row after the ACK (media may flow from then on)
        top = _row_bottom(layout, times, start) if row.expected_only \
            else _row_top(layout, times, start)
        bottom = max(_row_bottom(layout, times, end), top)
        if bottom - top < layout.row_height * 0.8:
            bottom = top + layout.row_height * 0.8
        if bottom > rows_end:
            tail = True
        pair = (min(a, b), max(a, b))
        slot = slots.get(pair, 0)
        slots[pair] = slot + 1
        x1, x2 = layout.lanes[a].x, layout.lanes[b].x
        if a == b:                  # both ends in one column: a band beside its lifeline
            x2 = x1 + layout.lane_width * LOOP_FRACTION
        layout.media.append(MediaBand(a, b, x1, x2, top, bottom, band_label(row),
                                      row.expected_only, slot, row))
    if layout.media:            # the bands' labels go in a margin right of the last lane
        layout.media_label_x = TIME_COLUMN_WIDTH + layout.lane_width * len(layout.lanes) + 4
        layout.width = max(layout.width, layout.media_label_x + MEDIA_LABEL_WIDTH)
    if tail:                    # media after the last message: room below the last row
        bottom = max(band.bottom for band in layout.media)
        layout.height = max(layout.height, bottom + BOTTOM_MARGIN)


def _lanes(messages: Sequence[Message], merge_hosts: bool,
           lane_width: float) -> tuple[dict[str, int], list[Lane]]:
    """address -> lane index, and the lanes in order of first appearance (src before dst)."""
    lane_of: dict[str, int] = {}
    by_key: dict[str, int] = {}
    lanes: list[Lane] = []
    needs_agent: set[int] = set()
    for message in messages:
        for address in (message.src, message.dst):
            if address in lane_of:
                continue
            key = host_of(address) if merge_hosts else address
            index = by_key.get(key)
            if index is None:
                index = by_key[key] = len(lanes)
                x = TIME_COLUMN_WIDTH + lane_width * (index + 0.5)
                lanes.append(Lane(index, [], clean_text(key, MAX_TITLE), "", x))
                needs_agent.add(index)
            lane_of[address] = index
            lanes[index].addresses.append(address)
        sender = lane_of[message.src]
        if sender in needs_agent:           # the first message this lane sends names its UA
            needs_agent.discard(sender)
            lanes[sender].subtitle = _user_agent(message)
    return lane_of, lanes


def _user_agent(message: Message) -> str:
    try:
        return clean_text(message.sip.user_agent, MAX_SUBTITLE)
    except Exception:  # noqa: BLE001 - a capture's bytes never break the ladder
        return ""


def _branch_colours(session: Any, messages: Sequence[Message]
                    ) -> tuple[dict[int, int], list[tuple[int, str]]]:
    """Message index -> palette index for every message of a fork branch (Call.forks)."""
    colours: dict[int, int] = {}
    legend: list[tuple[int, str]] = []
    if session is None:
        return colours, legend
    wanted = {m.index for m in messages}
    seen_calls: set[str] = set()
    for message in messages:
        if message.call_id in seen_calls:
            continue
        seen_calls.add(message.call_id)
        call = session.call(message.call_id)
        for fork in getattr(call, "forks", None) or ():
            for branch in fork.branches:
                shown = [m.index for m in branch.messages if m.index in wanted]
                if not shown:
                    continue
                colour = branch.position - 1
                colours.update((index, colour) for index in shown)
                legend.append((colour, clean_text(f"{branch.label} -> {branch.target}", 60)))
    return colours, legend


def _severities(findings: Iterable[Any]) -> dict[int, str]:
    """Message index -> worst severity of the findings pointing at it."""
    worst: dict[int, str] = {}
    for finding in findings:
        level = "info" if getattr(finding, "inconclusive", False) else finding.severity
        if level not in SEVERITY_RANK:
            level = "info"
        rank = SEVERITY_RANK[level]
        for index in finding.messages:
            current = worst.get(index)
            if current is None or SEVERITY_RANK[current] < rank:
                worst[index] = level
    return worst


def _title(session: Any, messages: Sequence[Message]) -> str:
    if not messages:
        return "no messages"
    call_ids = {m.call_id for m in messages}
    span = messages[-1].ts - messages[0].ts
    timed = not messages[0].flags & TIME_UNKNOWN
    tail = f"{len(messages):,} messages" + (f", {span:.3f} s" if timed else "")
    if len(call_ids) == 1:
        call = session.call(messages[0].call_id) if session is not None else None
        number = f"Call {call.index + 1}" if call is not None else "Call"
        method = call.first_method if call is not None else messages[0].cseq_method
        call_id = clean_text(messages[0].call_id, 48)
        return clean_text(f"{number} · {method} · {call_id} · {tail}", 140)
    return f"{len(call_ids):,} calls · {tail}"


# -- text of one arrow -------------------------------------------------------------------
def kind_of(message: Message) -> str:
    """request, or a response class: provisional (1xx), success (2xx), response (3xx), error."""
    if message.is_request or not message.status:
        return "request"
    if message.status < 200:
        return "provisional"
    if message.status < 300:
        return "success"
    if message.status < 400:
        return "response"
    return "error"


def time_text(message: Message) -> str:
    """HH:MM:SS.mmm (UTC, cut as `sipscope report` writes it), or "#n" without times."""
    return timefmt.clock(message.ts, message.flags, 3)


def delta_text(message: Message, previous: Message | None) -> str:
    """Time since the previous row: "+0.079", "+50.620", "+3m05s"; "" without times."""
    if previous is None:
        return ""
    return timefmt.delta(max(0.0, message.ts - previous.ts), message.flags | previous.flags)


def sdp_summary(message: Message) -> str:
    """"SDP audio 10.0.0.1:4000 PCMU,PCMA,+1 sendrecv" for a message carrying SDP, else ""."""
    if not message.body_length or parse_sdp is None:
        return ""
    try:
        sip = message.sip
        raw = find_sdp(sip.get("Content-Type"), sip.body)
        if not raw:
            return ""
        sdp = parse_sdp(raw)
    except Exception:  # noqa: BLE001 - no summary rather than no ladder
        return ""
    if not sdp.media:
        return "SDP (no media)"
    parts, last_address = [], None
    for media in sdp.media:
        parts.append(_media_summary(media, show_address=media.address != last_address))
        last_address = media.address
    return clean_text("SDP " + "; ".join(parts), MAX_DETAIL)


def _media_summary(media: Any, show_address: bool = True) -> str:
    """"audio 10.0.0.1:4000 PCMU,PCMA,+2 sendrecv"; the address only when it changes."""
    if media.port == 0:
        return f"{media.kind} rejected"                      # RFC 3264 §6: port 0
    names = media.codec_names()
    if len(names) > MAX_CODECS:
        names = names[:MAX_CODECS] + [f"+{len(names) - MAX_CODECS}"]
    where = f"{media.address}:{media.port}" if media.address and show_address else str(media.port)
    return f"{media.kind} {where} {','.join(names) or '-'} {media.direction}"


def clean_text(text: str | None, limit: int) -> str:
    """Capture text made safe for one line: control characters become spaces, runs of
    whitespace collapse, and long text ends in an ellipsis.  Markup stays literal."""
    if not text:
        return ""
    if not text.isprintable():
        text = "".join(c if c.isprintable() else " " for c in text)
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


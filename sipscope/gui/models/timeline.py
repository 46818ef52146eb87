"""What the timeline draws, as plain data: lanes of messages or RTP activity, and RFC timers.

Lanes group the messages of the shown calls per transaction (RFC 3261 §17), per fork branch
(catalog D4) or per dialog (§12).  Timers are the waits that decide a failure: the 64*T1 window
in which a UAS retransmits an unacknowledged 2xx (§13.3.1.4), Timer B after an INVITE that got
no response (§17.1.1.2), Timer F for a non-INVITE (§17.1.2.2) and Timer H after a non-2xx final
that got no ACK (§17.2.1).  Qt-free.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sipscope.core.sources.datagram import TIME_UNKNOWN

T1 = 0.5
TIMER_64T1 = 64 * T1          # 32 s: Timers B, F, H and the 2xx retransmission window
MODES = ("transaction", "branch", "dialog")
MAX_LABEL = 36
MEDIA_SLACK = 0.5             # s: media starting after the call's last message is another call's
MAX_MEDIA_LANES = 16
MAX_SIP_LANES = 150           # beyond this, lanes group by method (a REGISTER flood, a scanner)


@dataclass(slots=True)
class Lane:
    label: str
    kind: str                                  # "sip" | "rtp"
    messages: list = field(default_factory=list)
    stream: object = None                      # RtpStream for an RTP lane
    branch: object = None                      # the fork Branch of a branch lane
    row: object = None                         # media/table.py StreamRow of a media lane
    holds: list = field(default_factory=list)  # (start, end) absolute: the session on hold
    window: tuple | None = None                # (start, end) absolute: answer to BYE / capture end


@dataclass(slots=True)
class TimerSpan:
    lane: int
    start: float                               # absolute epoch seconds
    length: float
    label: str
    message: int                               # the message that started the wait


@dataclass(slots=True)
class TimelineData:
    t0: float
    lanes: list[Lane]
    timers: list[TimerSpan]
    lane_of: dict[int, int]                    # message index -> lane
    end: float                                 # capture end (absolute)


def _short(text: str, limit: int = MAX_LABEL) -> str:
    text = " ".join("".join(c if c.isprintable() else " " for c in text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _transaction_label(transaction, lookup) -> str:
    number = transaction.cseq_num if transaction.cseq_num is not None else "?"
    label = f"{transaction.method} {number}"
    request = transaction.request or (transaction.messages[0] if transaction.messages else None)
    branch = lookup.branch_of(request) if request is not None else None
    if branch is not None:
        label += f" · {branch.label}"
    acked = transaction.acked_invite
    if transaction.method == "ACK" and acked is not None and acked.branch != transaction.branch:
        label += " (2xx)"        # an ACK to a 2xx has its own branch (RFC 3261 §17.1.1.3)
    return _short(label)


def _by_transaction(messages, lookup, skip: set[int]) -> list[Lane]:
    lanes: list[Lane] = []
    seen: dict[int, Lane] = {}
    for message in messages:
        if message.index in skip:
            continue
        transaction = message.transaction
        key = id(transaction) if transaction is not None else -message.index
        lane = seen.get(key)
        if lane is None:
            label = _transaction_label(transaction, lookup) if transaction is not None \
                else _short(message.label)
            lane = seen[key] = Lane(label=label, kind="sip")
            lanes.append(lane)
        lane.messages.append(message)
    return lanes


def _by_method(messages) -> list[Lane]:
    """One lane per CSeq method: what is left readable when a call has hundreds of
    transactions."""
    lanes: dict[str, Lane] = {}
    for message in messages:
        method = message.cseq_method or message.short_label
        lane = lanes.get(method)
        if lane is None:
            lane = lanes[method] = Lane(label=_short(f"all {method}"), kind="sip")
        lane.messages.append(message)
    for lane in lanes.values():
        transactions = len({id(m.transaction) for m in lane.messages})
        lane.label = _short(f"{lane.label[4:]} ×{transactions:,}")
    return list(lanes.values())


def times_unknown(messages) -> bool:
    """The input gave no times: message positions are ordering numbers (#0, #1, ...)."""
    return bool(messages) and bool(messages[0].flags & TIME_UNKNOWN)


def build_timeline(session, calls, messages, lookup, mode: str = "transaction",
                   stream_rows: list | None = None) -> TimelineData:
    """Lanes for `messages` (the shown calls' messages, time order) plus media and timers.
    `stream_rows`: the shown calls' rows of the streams table (media/table.py): one lane per
    direction of each media session, a direction that never arrived included (kind
    "rtp-missing"); without them, RTP lanes are found by the SDP addresses of the messages."""
    t0 = messages[0].ts if messages else 0.0
    lanes: list[Lane] = []
    if mode == "branch":
        taken: set[int] = set()
        for branch in lookup.branches(calls):
            members = [m for m in branch.messages]
            lanes.append(Lane(label=_short(f"{branch.label} → {branch.target}"), kind="sip",
                              messages=members, branch=branch))
            taken.update(m.index for m in members)
        lanes += _by_transaction(messages, lookup, taken)
    elif mode == "dialog":
        by_dialog: dict[int, Lane] = {}
        rest: list = []
        for message in messages:
            dialog = message.dialog
            if dialog is None:
                rest.append(message)
                continue
            lane = by_dialog.get(id(dialog))
            if lane is None:
                label = f"dialog {dialog.callee_tag[:10] or '?'} ({dialog.state})"
                lane = by_dialog[id(dialog)] = Lane(label=_short(label), kind="sip")
                lanes.append(lane)
            lane.messages.append(message)
        if rest:
            lanes += _by_transaction(rest, lookup, set())
    else:
        lanes = _by_transaction(messages, lookup, set())
    if len(lanes) > MAX_SIP_LANES:
        lanes = _by_method(messages)
    lane_of = {m.index: number for number, lane in enumerate(lanes) for m in lane.messages}
    lanes += row_lanes(session, stream_rows) if stream_rows is not None \
        else media_lanes(session, messages)
    # Without times in the input the positions are message numbers: no RFC timer has a length
    # on that axis (a "32 s" band over ordering numbers would be invented).
    timers = [] if times_unknown(messages) else rfc_timers(calls, lane_of)
    end = session.end if session is not None else (messages[-1].ts if messages else 0.0)
    for lane in lanes:
        if lane.kind == "rtp":
            end = max(end, lane.stream.last_ts)
    return TimelineData(t0=t0, lanes=lanes, timers=timers, lane_of=lane_of, end=end)


def media_addresses(messages) -> set[str]:
    """ip:port of every RTP destination the SDP of these messages names."""
    from sipscope.core.sip.multipart import find_sdp
    from sipscope.core.sip.sdp import parse_sdp
    found: set[str] = set()
    for message in messages:
        if not message.body_length:
            continue
        try:
            sip = message.sip
            raw = find_sdp(sip.get("Content-Type"), sip.body)
            if not raw:
                continue
            for media in parse_sdp(raw).media:
                if media.port and media.address:
                    host = f"[{media.address}]" if ":" in media.address else media.address
                    found.add(f"{host}:{media.port}")
        except Exception:  # noqa: BLE001 - a broken SDP only means no media lane
            continue
    return found


def media_lanes(session, messages) -> list[Lane]:
    media = getattr(session, "media", None) if session is not None else None
    streams = getattr(media, "streams", None) if media is not None else None
    if not streams:
        return []
    wanted = media_addresses(messages)
    if not wanted or not messages:
        return []
    first, last = messages[0].ts, messages[-1].ts
    # RTP goes to an address an SDP of the call advertised (RFC 3264 §5), while the call lasts.
    # Several calls may share one media port (a SIPp UAS, catalog D10), so a stream whose source
    # was advertised too (symmetric RTP) is preferred; NATed sources fall back to dst only.
    during = [s for s in streams if s.dst in wanted and s.first_ts <= last + MEDIA_SLACK
              and s.last_ts >= first - MEDIA_SLACK]
    strict = [s for s in during if s.src in wanted]
    chosen = (strict or during)[:MAX_MEDIA_LANES]
    return [Lane(label=_short(f"RTP {s.src}" + (f" pt {s.main_pt}" if s.main_pt is not None
                                                else "")), kind="rtp", stream=s)
            for s in chosen]


MEDIA_LABEL = 44


def row_label(row) -> str:
    """'caller → callee PCMA/8000 ×500, 3 lost' or 'callee → caller PCMA/8000: no packets'."""
    codec = (row.codec or "?").split("/")[0]
    if row.expected_only:
        return _short(f"{row.direction_text} {codec}: no packets", MEDIA_LABEL)
    text = f"{row.direction_text} {codec} ×{row.packets:,}"
    if row.lost:
        text += f", {row.lost:,} lost"
    return _short(text, MEDIA_LABEL)


def hold_periods(ms, end: float) -> list[tuple[float, float]]:
    """(start, end) where the session's audio was on hold: after an answer that leaves either
    side's audio sendonly, inactive or on a 0.0.0.0 address (RFC 3264 §8.4), until the next
    answer that does not."""
    out: list[tuple[float, float]] = []
    start = None
    for exchange in ms.completed():
        offer, answer = exchange.offer_desc.audio(), exchange.answer_desc.audio()
        held = any(line is not None and line.held for line in (offer, answer))
        t = exchange.answer.ts
        if held and start is None:
            start = t
        elif not held and start is not None:
            out.append((start, t))
            start = None
    if start is not None and end > start:
        out.append((start, end))
    return out


def row_lanes(session, rows: list) -> list[Lane]:
    """One lane per row of the streams table (at most MAX_MEDIA_LANES)."""
    end_of_capture = session.end if session is not None else 0.0
    lanes = []
    for row in rows[:MAX_MEDIA_LANES]:
        ms = row.media_session
        window = None
        holds: list = []
        if ms is not None:
            start = (ms.ack or ms.answered).ts if (ms.ack or ms.answered) is not None else None
            end = ms.ended if ms.ended is not None else end_of_capture
            if start is not None:
                window = (start, max(start, end))
            holds = hold_periods(ms, end)
        lanes.append(Lane(label=row_label(row), kind="rtp-missing" if row.expected_only else "rtp",
                          stream=row.stream, row=row, holds=holds, window=window))
    return lanes


def rfc_timers(calls, lane_of: dict[int, int]) -> list[TimerSpan]:
    spans: list[TimerSpan] = []

    def add(message, label: str) -> None:
        lane = lane_of.get(message.index)
        if lane is not None:
            spans.append(TimerSpan(lane, message.ts, TIMER_64T1, label, message.index))

    for call in calls:
        for transaction in call.transactions:
            request = transaction.request
            if transaction.method == "ACK" or request is None:
                continue
            responses = [m for m in transaction.messages if m.is_response]
            final = transaction.final
            if transaction.method == "INVITE":
                if not responses:
                    add(request, "Timer B 64·T1 = 32 s: INVITE unanswered (RFC 3261 §17.1.1.2)")
                elif final is not None and 200 <= final.status < 300:
                    acked = [a for a in transaction.acks if a.ts >= final.ts
                             and (a.branch != transaction.branch or transaction.rfc2543)]
                    if not acked:
                        add(final, "64·T1 = 32 s: 2xx not ACKed, UAS retransmits "
                                   "(RFC 3261 §13.3.1.4)")
                elif final is not None and final.status >= 300:
                    if not [a for a in transaction.acks if a.ts >= final.ts]:
                        add(final, "Timer H 64·T1 = 32 s: non-2xx final not ACKed "
                                   "(RFC 3261 §17.2.1)")
            elif final is None:
                add(request, f"Timer F 64·T1 = 32 s: {transaction.method} without final "
                             "response (RFC 3261 §17.1.2.2)")
    return spans

"""`sipscope report`: the Session as JSON (the schema other tools rely on) or as text tables."""

from __future__ import annotations

from collections import Counter

from sipscope.core.analysis.overview import fault_overview
from sipscope.core.analysis.text import plural
from sipscope.core.model.call import Call
from sipscope.core.model.message import Message
from sipscope.core.model.session import Session
from sipscope.core.sources.datagram import TIME_NO_DATE, TIME_UNKNOWN
from sipscope.core import timefmt

SEVERITY_ORDER = {"error": 0, "warning": 1, "info": 2}


# -- JSON ----------------------------------------------------------------------------------
def message_json(message: Message) -> dict:
    data: dict = {"index": message.index, "time": message.ts, "src": message.src,
                  "dst": message.dst, "transport": message.transport}
    if message.is_request:
        data["method"] = message.method
        data["request_uri"] = message.request_uri
    else:
        data["status"] = message.status
        data["reason"] = message.reason
    data.update({
        "call_id": message.call_id,
        "cseq": f"{message.cseq_num if message.cseq_num is not None else ''} {message.cseq_method}".strip(),
        "branch": message.branch,
        "from_tag": message.from_tag, "to_tag": message.to_tag,
        "transaction": message.transaction.id if message.transaction else None,
        "dialog": message.dialog.id if message.dialog else None,
        "retransmission": message.retransmission, "duplicate": message.duplicate,
        "frame": message.frame, "input": message.input_index,
        "time_known": not message.flags & TIME_UNKNOWN,
        "date_known": not message.flags & (TIME_UNKNOWN | TIME_NO_DATE),
    })
    if message.note:
        data["note"] = message.note
    return data


def call_json(session: Session, call: Call) -> dict:
    data = {"index": call.index + 1, "call_id": call.call_id,
            "start": call.start, "end": call.end,
            "first_method": call.first_method, "final_status": call.final_status,
            "messages": [m.index for m in call.messages],
            "transactions": [t.id for t in call.transactions],
            "dialogs": [d.to_json() for d in call.dialogs],
            "forks": [f.to_json() for f in call.forks]}
    if getattr(session.media, "streams_for_call", None) is not None:
        from sipscope.core.media.table import stream_rows
        data["streams"] = [row.to_json() for row in stream_rows(session, call)]
    return data


def session_json(session: Session) -> dict:
    return {"inputs": [r.to_json() for r in session.inputs],
            "messages": [message_json(m) for m in session.messages],
            "calls": [call_json(session, c) for c in session.calls],
            "findings": [f.to_json() for f in session.findings],
            "analysis_warnings": list(session.analysis_warnings)}


def summary_json(session: Session) -> dict:
    severities = Counter(f.severity for f in session.findings)
    return {"inputs": [r.to_json() for r in session.inputs],
            "messages": len(session.messages), "calls": len(session.calls),
            "transactions": len(session.transactions), "dialogs": len(session.dialogs),
            "fork_sets": sum(len(c.forks) for c in session.calls),
            "retransmissions": sum(1 for m in session.messages if m.retransmission),
            "duplicates": sum(1 for m in session.messages if m.duplicate),
            "other_payloads": session.non_sip_payloads,
            "findings": dict(severities),
            "finding_ids": dict(Counter(f.id for f in session.findings))}


# -- text ----------------------------------------------------------------------------------
def format_time(message_or_ts, flags: int = 0) -> str:
    if isinstance(message_or_ts, Message):
        return timefmt.stamp(message_or_ts.ts, message_or_ts.flags)
    return timefmt.stamp(message_or_ts, flags)


def _table(rows: list[list[str]], header: list[str]) -> list[str]:
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]
    line = "  ".join(h.ljust(w) for h, w in zip(header, widths))
    out = [line, "  ".join("-" * w for w in widths)]
    out += ["  ".join(str(c).ljust(w) for c, w in zip(row, widths)).rstrip() for row in rows]
    return out


def input_lines(session: Session) -> list[str]:
    lines = []
    for report in session.inputs:
        lines.append(f"{report.path}: {report.format}, {report.packets:,} packets")
        lines += [f"  warning: {w}" for w in report.warnings]
    lines += [f"warning: {w}" for w in session.analysis_warnings]
    return lines


def calls_table(session: Session) -> list[str]:
    rows = []
    for call in session.calls:
        first = call.messages[0]
        worst = _worst(session, call)
        rows.append([str(call.index + 1), format_time(first), first.src, first.dst,
                     call.first_method, str(call.final_status or "-"),
                     f"{call.duration:.3f}", str(len(call.messages)),
                     str(len(call.forks)), worst, call.call_id[:48]])
    return _table(rows, ["#", "start", "from", "to", "method", "final", "secs", "msgs", "forks",
                         "worst", "Call-ID"])


def _worst(session: Session, call: Call) -> str:
    severities = [f.severity for f in session.findings_for(call)]
    return min(severities, key=lambda s: SEVERITY_ORDER.get(s, 9)) if severities else "-"


def messages_table(call: Call) -> list[str]:
    rows = []
    previous = None
    for message in call.messages:
        delta = f"+{message.ts - previous:.3f}" if previous is not None else ""
        previous = message.ts
        flags = "retrans" if message.retransmission else "dup" if message.duplicate else ""
        rows.append([str(message.index), format_time(message), delta,
                     f"{message.src} -> {message.dst}", message.transport, message.label,
                     f"{message.cseq_num} {message.cseq_method}", message.branch[-24:], flags])
    return _table(rows, ["idx", "time", "delta", "src -> dst", "tr", "message", "CSeq", "branch", ""])


def stream_lines(session: Session, call: Call) -> list[str]:
    """The call's RTP streams (tied to it by its SDP offer/answer), one line each."""
    streams_for_call = getattr(session.media, "streams_for_call", None)
    if streams_for_call is None:
        return []
    streams = streams_for_call(session, call)
    if not streams:
        return []
    from sipscope.core.media.calls import media_index, stream_line
    from sipscope.core.media.table import TEXT_HEADER, stream_rows, text_row
    index = media_index(session)
    table = _table([text_row(row) for row in stream_rows(session, call)], TEXT_HEADER)
    return ["", "media streams:"] + [f"  {stream_line(s, index.toward(s), index.pt_names(s))}"
                                     for s in streams] + [f"  {line}" for line in table]


ROLE_HEADINGS = (("headline", "Headline"), ("contributing", "Contributing"),
                 ("consequence", "What the customer saw"), ("separate", "Also found"))


def findings_lines(session: Session, call: Call | None = None) -> list[str]:
    """The findings cause first (catalog §13): headline, contributing causes, consequences, rest."""
    findings = session.findings if call is None else session.findings_for(call)
    lines = []
    for role, heading in ROLE_HEADINGS:
        group = [f for f in findings if f.role == role]
        if not group:
            continue
        lines.append(f" {heading}:")
        for finding in group:
            lines.extend(finding.text_lines())
    return lines


def text_report(session: Session, faults_only: bool = False) -> str:
    lines = input_lines(session)
    if not faults_only:
        lines += ["", f"{plural(len(session.messages), 'SIP message')} in "
                      f"{plural(len(session.calls), 'call')}", ""]
        lines += calls_table(session)
    for call in session.calls:
        call_findings = session.findings_for(call)
        if faults_only and not call_findings:
            continue
        lines += ["", f"== call {call.index + 1}: {call.call_id}"]
        if not faults_only:
            lines += messages_table(call)
            for fork in call.forks:
                targets = ", ".join(f"{b.label} -> {b.target}" for b in fork.branches)
                lines.append(f"fork set from {fork.sender}: {targets}")
            lines += stream_lines(session, call)
        if call_findings:
            lines += ["", "findings:"] + findings_lines(session, call)
    unattached = [f for f in session.findings if f.call_id is None]
    # catalog §11: security findings have their own section and are never a call's headline
    security = [f for f in unattached if f.id.startswith("sec-")]
    others = [f for f in unattached if not f.id.startswith("sec-")]
    for title, members in (("== security findings (per source address)", security),
                           ("== findings about sources / the whole capture", others)):
        if not members:
            continue
        lines += ["", title]
        if members is security:      # no story of causes here: one finding per source and kind
            for finding in members:
                lines.extend(finding.text_lines())
            continue
        for role, heading in ROLE_HEADINGS:
            group = [f for f in members if f.role == role]
            if group:
                lines.append(f" {heading}:")
                for finding in group:
                    lines.extend(finding.text_lines())
    return "\n".join(lines) + "\n"


def fault_table(session: Session) -> list[str]:
    """One row per fault id (analysis/overview.py): worst severity, findings, on how many of the
    calls (or from how many sources, for the per-source security faults), what it means."""
    total = len(session.calls)
    rows = [[count.id, count.severity, f"{count.findings:,}", count.where(total), count.title]
            for count in fault_overview(session.findings)]
    return _table(rows, ["fault", "severity", "findings", "on", "what"])


def summary_text(session: Session) -> str:
    data = summary_json(session)
    lines = input_lines(session)
    lines.append(f"{plural(data['messages'], 'SIP message')}, {plural(data['calls'], 'call')}, "
                 f"{plural(data['transactions'], 'transaction')}, "
                 f"{plural(data['dialogs'], 'dialog')}, {plural(data['fork_sets'], 'fork set')}, "
                 f"{plural(data['retransmissions'], 'retransmission')}, "
                 f"{plural(data['duplicates'], 'capture duplicate')}")
    if data["findings"]:
        lines.append("findings: " + ", ".join(f"{n:,} {s}" for s, n in sorted(
            data["findings"].items(), key=lambda kv: SEVERITY_ORDER.get(kv[0], 9))))
        lines += [""] + fault_table(session) + [""]
    streams = getattr(session.media, "streams", None)
    if streams is not None:
        lines.append(f"media streams: {len(streams):,}")
    return "\n".join(lines) + "\n"

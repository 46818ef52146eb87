"""Message-syntax fault rules (catalog §12): Content-Length against the body, and invalid headers.

Both rules share one cheap pass over the capture (`_scan`): per message a regex lists the header
names of the head (no full parse), and the result is memoised per header-name sequence, because
the messages of one device share their structure.  Only the few messages that look wrong are
parsed fully, so a million-message capture is read once at C speed.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from sipscope.core.analysis.context import Context
from sipscope.core.analysis.finding import Finding
from sipscope.core.analysis.registry import rule
from sipscope.core.analysis.rules.transaction import a_an, ua_near
from sipscope.core.media.calls import sdp_parts
from sipscope.core.model.message import Message
from sipscope.core.model.transaction import MAGIC_COOKIE
from sipscope.core.sip import names
from sipscope.core.sip.message import split_head
from sipscope.core.sources.datagram import EXCERPT, REDACTED
from sipscope.core.sip.numbers import header_int
from sipscope.core.words import plural

_NAME = re.compile(rb"^([A-Za-z][A-Za-z0-9._!%*+`'~-]*)[ \t]*:", re.M)
_CONTENT_LENGTH = re.compile(rb"(?im)^(?:content-length|l)[ \t]*:[ \t]*([^\r\n]*)")
_CONTENT_TYPE = re.compile(rb"(?im)^(?:content-type|c)[ \t]*:[ \t]*([^\r\n;]*)")
_CONTACT = re.compile(rb"(?im)^(?:contact|m)[ \t]*:[ \t]*([^\r\n]*)")
_SDP_LINE = re.compile(rb"(?m)^([a-zA-Z])=")
_SDP_MEDIA = re.compile(rb"(?m)^m=[^ \r\n]+ +(\d+)(?:/\d+)? +([^ \r\n]+)([^\r\n]*)")
_RTPMAP = re.compile(rb"(?m)^a=rtpmap:[ \t]*(\d{1,20})(?!\d)")   # numbers.py: no more
TEXT_FORMATS = frozenset({"ngrep", "asterisk", "freeswitch", "sipp_log", "raw_sip"})
# Text pasted by hand (sources/raw_sip.py, e.g. copied from a web page or documentation): a
# rendering of the message, not its wire bytes, and possibly trimmed by whoever pasted it
PASTED_FORMATS = frozenset({"raw_sip"})
_VIA_LINE = re.compile(rb"(?im)^(?:via|v)[ \t]*:[ \t]*([^\r\n]*)")
_VIA_PARTS = re.compile(rb"^SIP[ \t]*/[ \t]*2\.0[ \t]*/[ \t]*([A-Za-z0-9-]*)[ \t]*([^;,\s]*)", re.I)
SCAN_LIMIT = 200_000        # messages checked in full; beyond that every SAMPLE-th one
SAMPLE = 10
SHOWN = 20                  # highlighted messages per finding (the count is in the evidence)

REQUEST_MANDATORY = ("to", "from", "cseq", "call-id", "via")      # RFC 3261 §8.1.1
RESPONSE_MANDATORY = ("via", "from", "to", "call-id", "cseq")     # RFC 3261 §8.2.6.2
SINGLE = tuple(sorted(names.SINGLE_HEADERS - {"content-length"}))  # §7.3.1 (CL: 12.1)
REDACTABLE = frozenset({"to", "from", "contact", "record-route", "route", "refer-to",
                        "referred-by", "p-asserted-identity", "reply-to", "diversion"})


@dataclass(slots=True)
class _Shape:
    """What the header names of a head tell, memoised per name sequence."""

    counts: dict[str, int]
    missing_request: list[str] = field(default_factory=list)
    missing_response: list[str] = field(default_factory=list)
    repeated: list[str] = field(default_factory=list)     # single-value headers seen twice

    def __post_init__(self) -> None:
        counts = self.counts
        self.missing_request = [names.canonical(k) for k in REQUEST_MANDATORY if k not in counts]
        self.missing_response = [names.canonical(k) for k in RESPONSE_MANDATORY if k not in counts]
        self.repeated = [k for k in SINGLE if counts.get(k, 0) > 1]

    def has(self, key: str) -> bool:
        return key in self.counts


@dataclass(slots=True)
class _Scan:
    """The shared pass: every checked message's raw bytes are read once, and both rules' checks
    run on them there; each rule then only turns its collected problems into findings.  A check
    that raises is kept per rule and re-raised by that rule alone (the runner reports it)."""

    length: _Collector
    header: _Collector
    length_error: BaseException | None = None
    header_error: BaseException | None = None
    sampled: bool = False
    total: int = 0


def _scan(ctx: Context) -> _Scan:
    cached = getattr(ctx, "_syntax_scan", None)
    if cached is not None:
        return cached
    scan = _Scan(_Collector(), _Collector())
    length, header = scan.length, scan.header
    shapes: dict[tuple, _Shape] = {}
    pasted = {i for i, report in enumerate(ctx.session.inputs) if report.format in PASTED_FORMATS}
    seen = 0
    for message in ctx.session.messages:
        if message.copy:
            continue                 # D2: a copy is not a new message
        seen += 1
        if seen > SCAN_LIMIT and seen % SAMPLE:
            scan.sampled = True
            continue
        raw = message.raw
        head, body_offset = split_head(raw)
        found = tuple(_NAME.findall(head))
        shape = shapes.get(found)
        if shape is None:
            counts: dict[str, int] = {}
            for name in found:
                key = names.key(name.decode("ascii", "replace"))
                counts[key] = counts.get(key, 0) + 1
            shape = shapes[found] = _Shape(counts)
        if scan.length_error is None:
            # Text traces copied from web pages lose every <...> value (REDACTED, e.g. the blog
            # trace), and ngrep's trailing-dot line ends are restored by the reader: their bodies
            # need not match Content-Length byte for byte, so such messages are never judged.
            # Text pasted by hand or picked as an excerpt is a rendering, not the wire: its body
            # length cannot prove a wire-level mismatch (reviewed corpus, file 13).
            curated = bool(message.flags & EXCERPT) or bool(pasted) and \
                message.input_index in pasted
            if not (message.flags & REDACTED or curated
                    or (message.note and "truncat" in message.note.lower())):
                try:
                    _content_length(ctx, message, shape, head, raw[body_offset:], length)
                except Exception as exc:  # noqa: BLE001 - re-raised by its own rule
                    scan.length_error = exc
        if scan.header_error is None:
            try:
                _headers(message, shape, head, header, bool(message.flags & EXCERPT) or bool(
                    pasted) and message.input_index in pasted)
                if message.body_length > 0 and shape.has("content-type"):
                    _sdp(message, head, raw[body_offset:], header)
            except Exception as exc:  # noqa: BLE001 - re-raised by its own rule
                scan.header_error = exc
    scan.total = seen
    _SDP_SEEN.clear()                # per capture: no memory kept for the rules that follow
    ctx._syntax_scan = scan          # type: ignore[attr-defined]
    return scan


def _is_text_input(ctx: Context, message: Message) -> bool:
    inputs = ctx.session.inputs
    return 0 <= message.input_index < len(inputs) and \
        inputs[message.input_index].format in TEXT_FORMATS


class _Collector:
    """Problems aggregated per (call, sender, kind): one finding each, not one per message.

    One defect is one finding (issue 14, pattern 5): a message a proxy relays keeps its bottom
    Via, CSeq and Call-ID (RFC 3261 §16.6), so the copies of one message on several hops share
    an identity; the first copy captured (the one nearest the element that made it) opens the
    group and the later copies on other hops are kept as `relayed` evidence, not new defects."""

    def __init__(self) -> None:
        self.groups: dict[tuple, list] = {}
        self._origin: dict[tuple, tuple] = {}      # (identity, kind) -> group key

    def add(self, message: Message, kind: str, severity: str, detail: str, scope: str = "call"):
        identity = _identity(message) if scope != "source" else None
        if identity is not None:
            opened = self._origin.get((identity[:-1], kind))
            # a relayed copy comes from another address and carries another number of Vias (the
            # proxy adds or removes its own); the same Vias from another port is a replay
            if opened is not None and opened[0][1] != message.src and opened[1] != identity[-1]:
                self.groups[opened[0]][4].append(message)
                return
        key = (message.call_id if scope != "source" else None, message.src, kind)
        group = self.groups.setdefault(key, [severity, detail, [], scope, []])
        if _rank(severity) < _rank(group[0]):
            group[0], group[1] = severity, detail
        group[2].append(message)
        if identity is not None:
            self._origin.setdefault((identity[:-1], kind), (key, identity[-1]))


def _vias(message: Message) -> list[bytes]:
    """The Via values of a message, top first (a cheap read of the head, no full parse)."""
    values = []
    for line in _VIA_LINE.findall(split_head(message.raw)[0]):
        values += [v.strip() for v in line.split(b",") if v.strip()]
    return values


def _identity(message: Message) -> tuple | None:
    """What stays the same on every hop a proxy relays this message over (RFC 3261 §16.6: the
    bottom Via, Call-ID, CSeq; the status and To tag of a response), then the Via count, which
    changes on each hop."""
    vias = _vias(message)
    if not vias:
        return None
    if message.is_request:
        return (message.call_id, message.method, message.cseq_num, vias[-1], len(vias))
    return (message.call_id, message.status, message.cseq_num, message.cseq_method,
            message.to_tag, vias[-1], len(vias))


def _sent_by(via: bytes) -> str:
    match = _VIA_PARTS.match(via)
    return match.group(2).decode("ascii", "replace") if match else ""


def _rank(severity: str) -> int:
    return {"error": 0, "warning": 1, "info": 2}.get(severity, 3)


def _sample_note(scan: _Scan) -> dict:
    if not scan.sampled:
        return {}
    return {"sampled": f"capture of {scan.total:,} messages: the first {SCAN_LIMIT:,} were checked, "
                       f"then every {SAMPLE}th"}


# -- 12.1 syn-content-length-mismatch ------------------------------------------------------------

CONTENT_LENGTH_TEXT = (
    "This message says its attachment (the {content_type}, for example the audio description) is {CL} "
    "bytes, but {B} bytes arrived. The receiver has to cut it or throw it away: a reply with a short "
    "body is silently dropped, as if it had never been sent, and a request may be rejected with '400 "
    "Bad Request'. This usually happens when something in the path (a router's 'SIP ALG' feature, a "
    "session border controller or a buggy PBX relaying the call) rewrote addresses inside the body "
    "without fixing the length.")


@rule("syn-content-length-mismatch", text=CONTENT_LENGTH_TEXT)
def syn_content_length_mismatch(ctx: Context) -> Iterable[Finding]:
    scan = _scan(ctx)
    if scan.length_error is not None:
        raise scan.length_error
    problems = scan.length
    for (call_id, src, kind), (severity, detail, messages, _, relayed) in problems.groups.items():
        first = messages[0]
        outcome, result = _outcome(ctx, first)
        if result == "rejected" or kind not in _LENGTH_CAUSE:
            advice = LENGTH_ADVICE.get(kind, "")
        elif "bare LF" in detail:
            advice = ""                  # the detail already names the cause
        elif not relayed and first.src_host == first.dst_host:
            # sent on one host (loopback lab): no router, SBC or PBX between to blame
            advice = ("Sender and receiver are on the same host, so nothing in between rewrote "
                      "it: the sender got the length wrong.")
        else:
            advice = _LENGTH_CAUSE[kind]
        text = " ".join(part for part in (f"{_what(first)} from {src} {detail}.", outcome, advice)
                        if part)
        if len(messages) > 1:
            text += f" The same holds for {plural(len(messages) - 1, 'more message')} from this sender."
        text += _relayed_note(relayed)
        yield ctx.finding("syn-content-length-mismatch", f"Content-Length problem: {kind}", text,
                          (messages[:SHOWN] + relayed[:SHOWN]), severity=severity, scope="call",
                          rfc="RFC 3261 §18.3; §20.14; §20.15; RFC 7118 §5.1",
                          evidence={"kind": kind, "detail": detail,
                                    "content_type": _content_type(first) or "body",
                                    "messages": len(messages), "outcome": result,
                                    "more": len(messages) - 1, "source": src,
                                    "relayed_by": sorted({m.src for m in relayed}),
                                    **_sample_note(scan)})


# What a wrong length means for the receiver; stated where the capture does not show the outcome
# (a rejection, or an answer that shows the receiver coped, replaces the general statement)
LENGTH_ADVICE = {
    "missing on TCP": ("Without it the receiver cannot tell where this message ends and the next "
                       "one begins: it may wait for bytes that never come, or read the next message "
                       "as part of this one. The sender's SIP stack is faulty."),
    "body without Content-Type": ("A strict receiver may also ignore the body (for example the "
                                  "audio description, so the call gets no media). The sender, or "
                                  "something rewriting the message, is faulty."),
    "not a number": ("The receiver cannot tell where the body ends. The sender, or something "
                     "rewriting the message, is faulty."),
}
# the cause of a length that disagrees with the body: the capture rarely shows who changed it
_LENGTH_CAUSE = {
    kind: ("The capture does not show who got the length wrong: the sender, or something in the "
           "path that rewrote the body without fixing the length (a router's 'SIP ALG' feature, "
           "a session border controller, a PBX relaying the call).")
    for kind in ("body shorter than declared", "extra bytes")}
LENGTH_ADVICE["conflicting"] = LENGTH_ADVICE["not a number"]


def _content_type(message: Message) -> str:
    match = _CONTENT_TYPE.search(split_head(message.raw)[0])
    return match.group(1).strip().decode("ascii", "replace").lower() if match else ""


def _what(message: Message) -> str:
    return f"This {message.label}"


def _content_length(ctx: Context, message: Message, shape: _Shape, head: bytes, body: bytes,
                    problems: _Collector) -> None:
    values = [v.strip() for v in _CONTENT_LENGTH.findall(head)]
    transport = (message.transport or "UDP").upper()
    if not values:
        # RFC 3261 §18.3: mandatory on stream transports; RFC 7118 §5.1 exempts WebSocket
        if transport in ("TCP", "TLS"):
            problems.add(message, "missing on TCP", "error",
                         f"has no Content-Length although it was sent over {transport}, where the "
                         "length is the only way to find where the message ends")
        declared = len(body)
    else:
        if len(set(values)) > 1:
            shown = ", ".join(v.decode("ascii", "replace") for v in values)
            problems.add(message, "conflicting", "error",
                         f"carries {len(values)} Content-Length headers with different values ({shown})")
            return
        if header_int(values[0]) is None:
            problems.add(message, "not a number", "error",
                         f"has a Content-Length of {values[0].decode('ascii', 'replace')!r}, which is "
                         "not a byte count")
            return
        declared = header_int(values[0])
    if declared > 0 and not shape.has("content-type"):
        problems.add(message, "body without Content-Type", "error",
                     f"carries a {declared}-byte body but no Content-Type, so the receiver cannot "
                     "tell what it is (RFC 3261 §20.15)")
    if not values or transport != "UDP":
        return                       # stream readers frame by Content-Length: nothing to compare
    available = len(body)
    if declared == available:
        return
    if _is_text_input(ctx, message) and _text_artifact(declared, body):
        return                       # the text trace lost or added line ends, not the sender
    kind = _content_type(message) or "body"
    if declared > available:
        consequence = ("RFC 3261 §18.3 has the receiver discard such a response" if
                       message.is_response else "RFC 3261 §18.3 has the receiver answer such a "
                       "request '400 Bad Request'")
        bare_lf = body.count(b"\n") - body.count(b"\r\n")
        hint = ("; the difference is exactly the number of its bare LF line ends, so the sender "
                "counted CRLF line ends but sent LF" if bare_lf and declared - available == bare_lf
                else "")
        problems.add(message, "body shorter than declared", "error",
                     f"says its attachment (the {kind}) is {declared} bytes, but {available} bytes "
                     f"arrived: {consequence}{hint}")
        return
    excess = body[declared:]
    if len(excess) <= 4 and not excess.strip(b"\r\n\t \x00"):
        # a stray CRLF after the body is harmless (RFC 3261 §18.3 discards it), unless this
        # capture shows the receiver refusing the request for it (a strict parser's 400)
        if not (message.is_request and _refused_400(message)):
            return
        # a warning: the rejection itself is the error (reg-failed, call-failed)
        problems.add(message, "extra bytes", "warning",
                     f"declares a {declared}-byte body, but {plural(available - declared, 'more byte')} "
                     "(line ends) follow the header block")
        return
    problems.add(message, "extra bytes", "warning",
                 f"says its attachment (the {kind}) is {declared} bytes, but {available} bytes "
                 f"arrived: a receiver discards the last {available - declared} bytes "
                 "(RFC 3261 §18.3)")


def _refused_400(request: Message) -> Message | None:
    """The 400 final response the capture shows for this request, if any."""
    transaction = request.transaction
    if transaction is None:
        return None
    return next((m for m in transaction.messages if m.status == 400), None)


def _outcome(ctx: Context, message: Message) -> tuple[str, str]:
    """What this capture shows the receiver did with a faulty message (issue 14, pattern 1): a
    clause for the text and a key for the evidence (rejected / accepted / processed / unanswered
    / unknown).  A consequence is stated as a fact only where the capture shows it."""
    if message.is_request:
        if message.method == "ACK":
            return ("An ACK gets no answer, so whether its receiver accepted it cannot be seen.",
                    "unknown")
        transaction = message.transaction
        # only what came after this message answers it: a replay of an old request (same
        # branch and CSeq, reviewed file 12) is filed in the old transaction, whose 400 came first
        answers = [m for m in (transaction.messages if transaction else ())
                   if m.is_response and m.index > message.index]
        final = next((m for m in answers if m.status >= 200), None)
        shown = final or (answers[0] if answers else None)
        if shown is None:
            return ("No answer to it appears in the capture; a strict receiver answers '400 Bad "
                    "Request' or ignores such a message.", "unanswered")
        if shown.status == 400:
            return f"The receiver rejected it ({shown.label}).", "rejected"
        if 200 <= shown.status < 300:
            return (f"Yet the receiver accepted it here ({shown.label}); a stricter receiver may "
                    "answer '400 Bad Request'.", "accepted")
        return (f"The receiver processed it here (it answered {shown.label}); a stricter receiver "
                "may answer '400 Bad Request'.", "processed")
    call = ctx.session.call(message.call_id)
    later = None
    if call is not None:
        later = next((m for m in call.messages if m.index > message.index and m.is_request
                      and not m.copy and m.src_host == message.dst_host), None)
    if later is not None:
        return (f"Its receiver carried on here (it sent {a_an(later.method)} next); a stricter "
                "receiver may ignore such a response.", "accepted")
    return ("Nothing in the capture shows what its receiver did with it; a strict receiver "
            "ignores such a response.", "unknown")


def _relayed_note(relayed: list[Message]) -> str:
    if not relayed:
        return ""
    hops = sorted({m.src for m in relayed})
    return (f" It was relayed unchanged by {', '.join(hops)} ({len(relayed)} relayed "
            f"cop{'y' if len(relayed) == 1 else 'ies'}, shown with it): one defect, made before "
            "the relay.")


def _text_artifact(declared: int, body: bytes) -> bool:
    """A text trace changed the body's line ends (CRLF <-> LF, or the last one dropped)."""
    lf = body.replace(b"\r\n", b"\n")
    crlf = lf.replace(b"\n", b"\r\n")
    lengths = set()
    for variant in (body, lf, crlf):
        lengths.update((len(variant), len(variant) + 1, len(variant) + 2,
                        len(variant.rstrip(b"\r\n")), len(variant.rstrip(b"\r\n")) + 2))
    return declared in lengths


# -- 12.2 syn-header-invalid ---------------------------------------------------------------------

HEADER_INVALID_TEXT = (
    "This {message} from {device} ({ua}) is {missing {field} | contradicts itself: {detail}}. A "
    "strict receiver rejects such a message ('400 Bad Request') or ignores it, so what it was meant "
    "to do (set up, hang up, register) fails. The sender, or something rewriting messages in "
    "between, is faulty: give this capture to its vendor.")
_CONTACT_NEEDED = ("INVITE", "SUBSCRIBE", "REFER")      # RFC 3261 §8.1.1.8, RFC 6665, RFC 3515
DIALOG_METHODS = ("INVITE", "SUBSCRIBE", "REFER", "NOTIFY")


@rule("syn-header-invalid", text=HEADER_INVALID_TEXT)
def syn_header_invalid(ctx: Context) -> Iterable[Finding]:
    scan = _scan(ctx)
    if scan.header_error is not None:
        raise scan.header_error
    problems = scan.header
    for (call_id, src, kind), (severity, detail, messages, scope, relayed) in \
            problems.groups.items():
        yield _header_finding(ctx, src, kind, severity, detail, messages, scope, scan, relayed)


def _headers(message: Message, shape: _Shape, head: bytes, problems: _Collector,
             curated: bool = False) -> None:
    redacted = bool(message.flags & REDACTED)
    missing = shape.missing_request if message.is_request else shape.missing_response
    if missing:
        problems.add(message, "missing " + "/".join(missing), "error",
                     f"is missing {', '.join(missing)}")
    if message.is_request:
        _request_headers(message, shape, head, redacted, problems, curated)
    else:
        _response_headers(message, shape, redacted, problems, head)
    for key in shape.repeated:
        if redacted and key in REDACTABLE:
            continue
        values = [h.value.strip() for h in message.sip.headers if h.key == key]
        if len(set(values)) > 1:
            problems.add(message, f"two {names.canonical(key)}", "error",
                         f"contradicts itself: it has {len(values)} {names.canonical(key)} "
                         f"headers with different values ({' | '.join(values[:3])})")
        else:
            problems.add(message, f"repeated {names.canonical(key)}", "info",
                         f"repeats its {names.canonical(key)} header with the same value")


def _request_headers(message: Message, shape: _Shape, head: bytes, redacted: bool,
                     problems: _Collector, curated: bool = False) -> None:
    method = message.method
    if not shape.has("max-forwards"):
        # §8.1.1 makes it mandatory, but §16.3 lets proxies pass requests without it: a warning;
        # an ACK (never answered, never forwarded far) or a pasted copy that may have been trimmed
        # is at most info (issue 14, patterns 5 and 8)
        if method == "ACK":
            problems.add(message, "missing Max-Forwards", "info",
                         "is missing Max-Forwards (RFC 3261 §8.1.1; on an ACK this is harmless "
                         "unless the ACK is routed through a loop)")
        elif curated:
            problems.add(message, "missing Max-Forwards", "info",
                         "is missing Max-Forwards in this pasted or excerpted text, which may have "
                         "been trimmed: the wire message may have had it")
        else:
            problems.add(message, "missing Max-Forwards", "warning", "is missing Max-Forwards")
    elif shape.counts.get("via") == 1 and b"orwards: 70\r" not in head:
        # RFC 3261 §8.1.1.6: a UAC SHOULD start at 70 (only the originator's copy, one Via;
        # the common "Max-Forwards: 70" is passed by a substring test, not the regex)
        match = _MAX_FORWARDS.search(head)
        if match and len(match.group(1)) <= 6 and int(match.group(1)) > 70:
            problems.add(message, "Max-Forwards above 70", "info",
                         f"starts with Max-Forwards {int(match.group(1))}, above the 70 RFC 3261 "
                         "§8.1.1.6 recommends: harmless, it only lets a loop run longer")
    if method in _CONTACT_NEEDED:
        if not shape.has("contact"):
            problems.add(message, f"{method} without Contact", "error",
                         "is missing Contact, so the other side does not know where to send "
                         "requests inside this call")
        elif not redacted:
            _contact_count(message, head, problems)
    if shape.has("cseq"):
        if message.cseq_num is None:
            problems.add(message, "CSeq not numeric", "error",
                         "contradicts itself: its CSeq number is not a number")
        elif message.cseq_num >= 2 ** 31:
            problems.add(message, "CSeq too large", "error",
                         f"contradicts itself: its CSeq number {message.cseq_num} is not below 2^31")
        elif message.cseq_method and message.cseq_method != method:
            # RFC 3261 §8.1.1.5: the CSeq method matches the request method (ACK/CANCEL included)
            problems.add(message, "CSeq method mismatch", "error",
                         f"contradicts itself: it is {a_an(method)} but its CSeq says "
                         f"{message.cseq_num} {message.cseq_method}")
    if shape.has("via") and not message.branch.startswith(MAGIC_COOKIE):
        problems.add(message, "RFC 2543 branch", "info",
                     f"uses a Via branch without the z9hG4bK cookie ({message.branch or 'none'}): "
                     "the device predates RFC 3261, so its transactions are matched with the older "
                     "RFC 2543 rules", scope="source")


def _contact_count(message: Message, head: bytes, problems: _Collector) -> None:
    values = _CONTACT.findall(head)
    if len(values) == 1 and b"," not in values[0] and values[0].strip() != b"*":
        return                       # the common case: one Contact with one URI, no parse
    contacts = message.sip.contacts
    if len(contacts) != 1 or contacts[0].uri is None or not contacts[0].uri.scheme:
        problems.add(message, "Contact not one URI", "error",
                     f"contradicts itself: {a_an(message.method)} must carry exactly one Contact URI, "
                     f"and this one has {len(contacts)} ({message.sip.get('Contact')!r})")


_MAX_FORWARDS = re.compile(rb"(?im)^max-forwards[ \t]*:[ \t]*(\d+)")
_WARNING = re.compile(rb"(?im)^warning[ \t]*:[ \t]*([^\r\n]*)")
_WARNING_VALUE = re.compile(rb'^\s*\d{3} [^\s",]+ "')      # RFC 3261 §20.43 warning-value


def _response_headers(message: Message, shape: _Shape, redacted: bool,
                      problems: _Collector, head: bytes = b"") -> None:
    status = message.status
    if shape.has("max-forwards"):
        problems.add(message, "Max-Forwards in a response", "info",
                     "carries a Max-Forwards header, which only requests use (RFC 3261 §20.22): "
                     "meaningless but harmless")
    if shape.has("warning"):
        for value in _WARNING.findall(head):
            if not _WARNING_VALUE.match(value):
                problems.add(message, "Warning header grammar", "info",
                             f"has a Warning header that does not follow RFC 3261 §20.43 "
                             f"(code, warn-agent, quoted text): {value.decode('utf-8', 'replace')!r}"
                             "; only a display detail")
                break
    if message.cseq_method == "INVITE" and not shape.has("contact"):
        if 200 <= status < 300:
            problems.add(message, "2xx without Contact", "error",
                         "is missing Contact, so the caller does not know where to send the ACK "
                         "and the hang-up (RFC 3261 §12.1.1)")
        elif 100 < status < 200 and message.to_tag:
            problems.add(message, "1xx without Contact", "warning",
                         "is missing Contact although it sets up an early dialog (RFC 3261 §12.1.1)")
    request = message.transaction.request if message.transaction is not None else None
    if status != 100 and not message.to_tag and request is not None and not request.to_tag \
            and shape.has("to") and not redacted:
        # RFC 3261 §8.2.6.2 (a MUST); a UAC treats a missing tag as empty (§12.1.2, RFC 2543
        # compatibility), so one defect has one severity whatever the method (issue 14, pattern 5)
        severity = "warning"
        to = message.sip.to
        inside = to.uri is not None and any(k.lower() == "tag" for k, _ in to.uri.params)
        detail = ("puts its To tag inside the <...> brackets, where it is a URI parameter and does "
                  "not count as the tag every answer except '100 Trying' must add" if inside else
                  "is missing the To tag that every answer except '100 Trying' must add")
        problems.add(message, "no To tag", severity, detail + " (RFC 3261 §8.2.6.2; a receiver "
                     "takes the missing tag as empty, §12.1.2, but two such answers to one "
                     "request cannot be told apart)")


def _sdp(message: Message, head: bytes, body: bytes, problems: _Collector) -> None:
    match = _CONTENT_TYPE.search(head)
    if not match or match.group(1).strip().lower() != b"application/sdp":
        return
    body = body[:message.body_length] if message.body_length >= 0 else body
    detail = _sdp_problems(body)
    if detail and not message.flags & REDACTED:
        problems.add(message, "broken SDP", "error",
                     "carries a broken session description (SDP): " + "; ".join(detail))


_SDP_SEEN: dict[tuple, list[str]] = {}


def _sdp_problems(body: bytes) -> list[str]:
    """What is broken in an SDP body, memoised per device template: the checks read the o= line
    only as a line kind and the m= ports only as zero or not (media/calls.py sdp_parts)."""
    template, _, ports = sdp_parts(body)
    key = (template, tuple(port == b"0" for port in ports))
    found = _SDP_SEEN.get(key)
    if found is None:
        if len(_SDP_SEEN) > 20_000:
            _SDP_SEEN.clear()
        found = _SDP_SEEN[key] = _check_sdp(body)
    return found


def _check_sdp(body: bytes) -> list[str]:
    kinds = [k.lower() for k in _SDP_LINE.findall(body)]
    lacking = [f"{k}=" for k in ("v", "o", "s", "t") if k.encode() not in kinds]
    detail = []
    if lacking:
        detail.append("no " + ", ".join(lacking) + " line")
    media = _SDP_MEDIA.findall(body)
    if b"m" in kinds:
        first_m = kinds.index(b"m")
        session_c = b"c" in kinds[:first_m]
        sections = _sections(kinds[first_m:])
        # RFC 3264 §6: a stream with port 0 is rejected/disabled and needs no address
        active = [section for section, line in zip(sections, media) if line[0] != b"0"]
        if not session_c and any(b"c" not in section for section in active):
            detail.append("a media line without any c= address")
    maps = {int(pt) for pt in _RTPMAP.findall(body)}
    for port, proto, formats in media:
        if b"RTP/" not in proto.upper() or port == b"0":
            continue                 # RFC 3264 §6: the formats of a port-0 stream are ignored
        for pt in formats.split():
            if len(pt) <= 3 and pt.isdigit() and 96 <= int(pt) <= 127 and int(pt) not in maps:
                detail.append(f"dynamic payload type {int(pt)} without a=rtpmap")
    return detail


def _sections(kinds: list[bytes]) -> list[list[bytes]]:
    sections: list[list[bytes]] = []
    for kind in kinds:
        if kind == b"m":
            sections.append([])
        elif sections:
            sections[-1].append(kind)
    return sections


def _header_finding(ctx: Context, src: str, kind: str, severity: str, detail: str,
                    messages: list[Message], scope: str, scan: _Scan,
                    relayed: list[Message]) -> Finding:
    first = messages[0]
    who, made_by, ua = _maker(ctx, src, messages, hop_local=kind in HOP_LOCAL)
    if severity == "info" and kind == "RFC 2543 branch":
        text = (f"This {first.label} from {who} {detail}. Nothing fails by itself, but such old stacks "
                "often mishandle CANCEL and ACK matching.")
        result = "unknown"
    elif severity == "info":
        text, result = f"This {first.label} from {who} {detail}.", "unknown"   # harmless: no outcome
    else:
        outcome, result = _outcome(ctx, first)
        text = (f"This {first.label} from {who} {detail}. {outcome} The element that made it is "
                "faulty: give this capture to its vendor.")
    if len(messages) > 1:
        text += f" The same holds for {plural(len(messages) - 1, 'more message')} from this sender."
    text += _relayed_note(relayed)
    if relayed and kind == "missing Max-Forwards":
        text += " A proxy relaying a request without one must add it (RFC 3261 §16.6 step 3)."
    return ctx.finding("syn-header-invalid", f"{kind}", text, messages[:SHOWN] + relayed[:SHOWN],
                       severity=severity, scope=scope, source=src if scope == "source" else None,
                       rfc="RFC 3261 §8.1.1; §8.2.6.2; §7.3.1; §12.1.1; RFC 8866 §5",
                       evidence={"kind": kind, "detail": detail, "messages": len(messages),
                                 "more": len(messages) - 1, "source": src,
                                 "user_agent": ua, "made_by": made_by, "outcome": result,
                                 "relayed_by": sorted({m.src for m in relayed}),
                                 "relayed_copies": len(relayed), **_sample_note(scan)})


# defects in what each hop writes itself (its own top Via): made by the packet's sender
HOP_LOCAL = frozenset({"RFC 2543 branch"})


def _maker(ctx: Context, src: str, messages: list[Message],
           hop_local: bool = False) -> tuple[str, str, str]:
    """(words for the element that made the message, its address, its User-Agent/Server).

    A request's bottom Via is its originator's (RFC 3261 §16.6 step 8 only adds Vias on top): when
    the first copy captured already carries more than one Via, the element that made it is that
    bottom one, and `src` only relayed it.  Its User-Agent header travels with it unchanged."""
    first = messages[0]
    vias = _vias(first) if first.is_request and not hop_local else []
    if len(vias) > 1:
        made_by = _sent_by(vias[-1]) or src
        if len(made_by) > 60:
            made_by = made_by[:57] + "…"      # a hostile capture's Via may be kilobytes long
        ua = first.sip.user_agent
        label = f"{made_by}, {ua}" if ua else made_by
        return (f"the element whose Via is at the bottom of the stack ({label}), relayed here by "
                f"{src},", made_by, ua)
    if hop_local and first.is_request and len(_vias(first)) > 1:
        ua = _own_user_agent(ctx, src)      # not the relayed request's (another device's) UA
    else:
        ua = ua_near(ctx, src, messages[:5])
    return (f"{src} ({ua})" if ua else src), src, ua


def _own_user_agent(ctx: Context, address: str, limit: int = 50) -> str:
    """The User-Agent of a request this element made itself (one Via), '' when none is seen: a
    relay's own name, never that of a device whose request it relays."""
    for message in ctx._sent_by_address().get(address, ())[:limit]:
        if message.is_request and len(_vias(message)) == 1:
            found = message.sip.user_agent
            if found:
                return found
    return ""

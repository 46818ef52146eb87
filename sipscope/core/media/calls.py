"""Tie RTP streams to calls through each dialog's SDP offer/answer (catalog D9, D10).

`media_index(session)` pairs every offer with its answer per dialog (per To tag) and per hop, keeps
a compact description of each SDP (no Sdp objects, no bodies), and hands the RTP streams of the
session's MediaCollector to those dialogs with `attach.attach_streams` (destination = advertised
address; NAT-latched streams by source address and peer SIP IP).  The SDP and RTP fault rules and
the report read the same index, built once per session.

D9 pairing, implemented here:
  - INVITE with SDP: the answer is the first reliable 1xx (RFC 3262) or 2xx with SDP, per To tag;
    an unreliable 1xx with SDP is only a preview (RFC 3261 §13.2.1).
  - INVITE without SDP (late offer): the offer is the first reliable 1xx / 2xx with SDP, the answer
    the ACK (§13.2.1) or the PRACK (RFC 3262 §5) with SDP.
  - UPDATE (RFC 3311 §5) and PRACK with SDP are offers answered by their 2xx.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from dataclasses import dataclass, field
from functools import lru_cache

from sipscope.core.media.attach import CALLER_TO_CALLEE, norm_ip, split_addr, stream_direction
from sipscope.core.model.call import Call
from sipscope.core.model.message import Message, host_of
from sipscope.core.model.session import Session
from sipscope.core.model.shared_empty import appended
from sipscope.core.model.transaction import Transaction
from sipscope.core.sip.multipart import find_sdp
from sipscope.core.sip.sdp import DIRECTIONS, HOLD_ADDRESSES, STATIC_PAYLOAD_TYPES, parse_sdp
from sipscope.core.sip.numbers import header_int

CALLER, CALLEE = "caller", "callee"
_SDP_CONTEXT = frozenset({"INVITE", "UPDATE", "PRACK", "ACK"})


# -- compact SDP descriptions ---------------------------------------------------------------------
@dataclass(slots=True, frozen=True)
class Fmt:
    """One format of an m= line: payload type (None for non-RTP), lower-case name, rate, channels."""

    fmt: str
    pt: int | None
    name: str
    rate: int | None
    channels: int = 1

    def label(self) -> str:
        if self.pt is None:
            return self.fmt
        name = self.name.upper() if self.name not in ("telephone-event", "opus") else self.name
        return f"{name or '?'}/{self.rate}" if self.rate else (name or self.fmt)


@dataclass(slots=True, unsafe_hash=True)
class MLine:
    """One m= section as the rules need it (RFC 8866 §5.14).  Never changed once made; not a
    frozen dataclass only because one is made per SDP of a big capture, and a frozen dataclass
    is made four times slower (hash and equality are those of a frozen one)."""

    kind: str
    port: int
    proto: str
    address: str | None
    direction: str
    formats: tuple[Fmt, ...]
    rtcp_mux: bool = False
    maxptime: int | None = None          # a=maxptime (RFC 8866 §6.4): most ms of audio per packet

    @property
    def is_rtp(self) -> bool:
        return "RTP" in self.proto.upper()

    @property
    def rejected(self) -> bool:
        return self.port == 0

    @property
    def held(self) -> bool:
        """RFC 3264 §8.4: sendonly / inactive, or the legacy c=0.0.0.0."""
        return not self.rejected and (self.direction in ("sendonly", "inactive")
                                      or self.address in HOLD_ADDRESSES)

    def endpoint(self) -> tuple[str, int] | None:
        """(ip, port) where this side wants to receive, None when rejected or on hold address."""
        if self.rejected or not self.address or self.address in HOLD_ADDRESSES:
            return None
        return norm_ip(self.address), self.port

    def pts(self, name: str) -> list[int]:
        return [f.pt for f in self.formats if f.name == name and f.pt is not None]

    def codec_labels(self) -> list[str]:
        return [f.label() for f in self.formats]


@dataclass(slots=True, unsafe_hash=True)
class Desc:
    """A compact session description: origin, t=, media lines, ICE, a hash of the body
    (never changed once made, like MLine)."""

    origin: tuple[str, str, int | None, str] | None      # username, sess-id, version, address
    timing: tuple[str, ...]
    media: tuple[MLine, ...]
    ice: bool
    body_hash: int            # hash of the body bytes (normalise with `fingerprint` to compare)
    broken: bool              # parse_sdp found no v= or no m= line

    def audio(self) -> MLine | None:
        for line in self.media:
            if line.kind.lower() == "audio":
                return line
        return None

    def summary(self) -> str:
        parts = []
        for line in self.media:
            text = f"{line.kind} {line.port} {','.join(line.codec_labels()) or '-'} {line.direction}"
            if line.address in HOLD_ADDRESSES:
                text += f" c={line.address}"
            parts.append(text)
        return "; ".join(parts) or "no media"


_SHARED: dict = {}


def _share(value):
    """One copy of each repeated value (codec lists, directions, addresses): a busy capture has
    hundreds of thousands of SDPs made of the same few parts."""
    if len(_SHARED) > 200_000:
        _SHARED.clear()
    return _SHARED.setdefault(value, value)


def fingerprint(body: bytes) -> int:
    """RFC 3264 §8 comparison: ignore the o= line, whitespace, and the order of a= lines."""
    sections: list[list[str]] = [[]]
    attributes: list[list[str]] = [[]]
    for raw in body.decode("utf-8", "replace").split("\n"):
        line = " ".join(raw.split())
        if not line or line.startswith("o="):
            continue
        if line.startswith("m="):
            sections.append([])
            attributes.append([])
        (attributes if line.startswith("a=") else sections)[-1].append(line)
    return hash(tuple((tuple(s), tuple(sorted(a))) for s, a in zip(sections, attributes)))


@lru_cache(maxsize=2048)
def describe(body: bytes) -> Desc:
    """Parse an SDP body into a Desc (never raises).  Cached by body: a proxy or B2BUA repeats
    the same SDP on each leg, and Desc is immutable, so legs share one.  Plain well-formed bodies
    (the common case) take a compact parser; anything unusual the full one."""
    found = _from_template(body)
    if found is not None:
        return found
    found = _describe_plain(body)
    return found if found is not None else _describe_full(body)


# The SDPs of one device differ per call only in the o= line (session id and version, RFC 8866
# §5.2) and the m= ports (§5.14); everything else (codecs, addresses, attributes) is its template.
# A Desc is kept per template and filled with a body's own origin and ports.  A template is stored
# only after filling it from the body it came from gave exactly the Desc the parser gave.
_VARIABLE_PARTS = re.compile(rb"(?m)^o=([^\r\n]*)|^(m=[^ \r\n]+ +)(\d+)(?![^ /\r\n])")
_TEMPLATES: dict = {}


def sdp_parts(body: bytes) -> tuple[tuple, list[bytes], list[bytes]]:
    """(template, o= values, m= port digits) of an SDP body; the template is all the rest,
    what one device repeats in every call."""
    pieces = _VARIABLE_PARTS.split(body)
    return ((tuple(pieces[0::4]), tuple(pieces[2::4])),
            [value for value in pieces[1::4] if value is not None],
            [value for value in pieces[3::4] if value is not None])


def _from_template(body: bytes) -> Desc | None:
    key, origins, ports = sdp_parts(body)
    template = _TEMPLATES.get(key)
    if template is None:
        found = _describe_plain(body)
        if found is not None and _fill(found, origins, ports, body) == found:
            if len(_TEMPLATES) > 20_000:
                _TEMPLATES.clear()
            _TEMPLATES[key] = found
        return found
    for origin in origins:
        if _UNUSUAL.search(origin) is not None:
            return None              # the o= line is not plain ASCII: the parsers decide
    return _fill(template, origins, ports, body)


def _fill(template: Desc, origins: list[bytes], ports: list[bytes], body: bytes) -> Desc | None:
    """The template's Desc with this body's origin (its only o= line) and m= ports."""
    if len(origins) != 1 or len(ports) != len(template.media):
        return None
    parts = origins[0].decode("ascii").split()
    origin = None
    if len(parts) >= 3:              # as _describe_plain
        if len(parts) != 6:
            parts = (parts + ["", "", ""])[:6]
        origin = (_share(parts[0]), parts[1], _plain_int(parts[2]), _share(parts[5]))
    media = []
    for line, digits in zip(template.media, ports):
        port = header_int(digits) or 0
        port = port if port <= 65535 else 0
        media.append(line if port == line.port else
                     MLine(line.kind, port, line.proto, line.address, line.direction,
                           line.formats, line.rtcp_mux, line.maxptime))
    return Desc(origin, template.timing, tuple(media), template.ice, hash(body), template.broken)


def _describe_full(body: bytes) -> Desc:
    """Desc from the full lenient parse (sip/sdp.py)."""
    sdp = parse_sdp(body)
    lines = []
    for m in sdp.media:
        formats = []
        for fmt in m.formats:
            if m.is_rtp and (pt := header_int(fmt)) is not None:
                codec = m.codec(pt)
                if codec is not None:
                    formats.append(Fmt(fmt, pt, codec.name.lower(), codec.rate,
                                       codec.channels or 1))
                else:
                    formats.append(Fmt(fmt, pt, "", None))
            else:
                formats.append(Fmt(fmt, None, fmt.lower(), None))
        lines.append(MLine(kind=_share(m.kind.lower()), port=m.port, proto=_share(m.proto),
                           address=_share(m.address.strip()) if m.address else None,
                           direction=_share(m.direction), formats=_share(tuple(formats)),
                           rtcp_mux=m.rtcp_mux,
                           maxptime=_plain_int(m.attribute("maxptime") or sdp.attribute("maxptime")
                                               or "")))
    origin = None
    if sdp.origin is not None:
        o = sdp.origin
        origin = (_share(o.username), o.sess_id, o.sess_version, _share(o.address))
    ice = b"a=candidate" in body and any(key.lower() == "candidate" for m in sdp.media
                                         for key, _ in m.attributes)            # RFC 8445 §5.1
    return Desc(origin=origin, timing=_share(tuple(sdp.timing)), media=tuple(lines), ice=ice,
                body_hash=hash(bytes(body)),
                broken=sdp.version is None or not sdp.media)


_UNUSUAL = re.compile(rb"[^\t\n\r\x20-\x7e]")        # anything but printable ASCII lines
_FORMATS: dict = {}


def _describe_plain(body: bytes) -> Desc | None:
    """The Desc that parse_sdp + _describe_full give, for a body of printable ASCII lines that
    all read `<lower-case letter>=...`, the first and only v= line first; None for anything else
    (the caller then takes the full parser).  Same rules as parse_sdp (RFC 8866): session-level
    c=, o=, t= and a= before the first m=; per m= section its first c=, a=rtpmap (a later one
    for the same payload type wins), direction attributes (the last wins, else the first
    session-level one, else sendrecv, RFC 8866 §6.7) and a=rtcp-mux (RFC 5761)."""
    body = bytes(body)
    if _UNUSUAL.search(body) is not None:
        return None
    origin = connection = session_direction = session_maxptime = None
    timing: list[str] = []
    # [kind, port, proto, formats, connection, direction, rtpmap, mux, maxptime]
    media: list[list] = []
    current = None
    ice = seen_v = False
    for line in body.decode("ascii").split("\n"):
        line = line.strip()
        if not line:
            continue
        kind = line[0]
        if line[1:2] != "=" or not "a" <= kind <= "z":
            return None
        if kind == "v":                          # first, and only once
            if seen_v:
                return None
            seen_v = True
            continue
        if not seen_v:
            return None
        value = line[2:]
        if kind == "a":
            name, _, val = value.partition(":")
            name = name.strip()
            if not name:
                continue
            key = name.lower()
            if current is None:
                if session_direction is None and key in DIRECTIONS:
                    session_direction = key
                elif key == "maxptime" and session_maxptime is None:
                    session_maxptime = _plain_int(val)
                continue
            if key == "rtpmap":
                found = _RTPMAPS.get(val)
                if found is None:
                    found = _RTPMAPS[val] = _plain_rtpmap(val)
                if found[0] is not None:
                    current[6][found[0]] = found[1]
            elif key in DIRECTIONS:
                current[5] = key
            elif key == "rtcp-mux":
                current[7] = True
            elif key == "maxptime" and current[8] is None:
                current[8] = _plain_int(val)
            elif key == "candidate":
                ice = True
        elif kind == "m":
            parts = value.split()
            port = _plain_int(parts[1].partition("/")[0]) if len(parts) > 1 else None
            current = [parts[0] if parts else "",
                       port if port is not None and port <= 65535 else 0,
                       parts[2] if len(parts) > 2 else "", parts[3:], None, None, {}, False,
                       None]
            media.append(current)
        elif kind == "c":
            parts = value.split()
            address = (parts[2] if len(parts) >= 3 else parts[-1]).split("/")[0] \
                if parts else None
            if current is None:
                if connection is None:
                    connection = address
            elif current[4] is None:
                current[4] = address
        elif current is not None:
            continue
        elif kind == "o":
            if origin is None:
                parts = value.split()
                if len(parts) >= 3:              # shorter: parse_sdp keeps no origin
                    if len(parts) != 6:
                        parts = (parts + ["", "", ""])[:6]
                    origin = (_share(parts[0]), parts[1], _plain_int(parts[2]),
                              _share(parts[5]))
        elif kind == "t":
            timing.append(value.strip())
    if not seen_v:
        return None
    lines = []
    for kind, port, proto, formats, address, direction, rtpmap, mux, maxptime in media:
        address = address if address is not None else connection
        is_rtp = "RTP" in proto.upper()
        key = (is_rtp, tuple(formats), tuple(rtpmap.items()))
        fmts = _FORMATS.get(key)
        if fmts is None:
            fmts = _share(tuple(_plain_fmt(fmt, is_rtp, rtpmap) for fmt in formats))
            if len(_FORMATS) > 20_000:
                _FORMATS.clear()
            _FORMATS[key] = fmts
        lines.append(MLine(kind=_share(kind.lower()), port=port, proto=_share(proto),
                           address=_share(address.strip()) if address else None,
                           direction=_share(direction or session_direction or "sendrecv"),
                           formats=fmts, rtcp_mux=mux,
                           maxptime=maxptime if maxptime is not None else session_maxptime))
    return Desc(origin=origin, timing=_share(tuple(timing)), media=tuple(lines),
                ice=ice and b"a=candidate" in body, body_hash=hash(body), broken=not media)


_RTPMAPS: dict = {}


def _plain_rtpmap(value: str) -> tuple:
    """`0 PCMU/8000` -> (0, ("PCMU", 8000, 1)); (None, None) when unusable (RFC 8866 §6.6)."""
    if len(_RTPMAPS) > 20_000:
        _RTPMAPS.clear()
    pt_text, _, enc = value.strip().partition(" ")
    pt = _plain_int(pt_text)
    pieces = enc.strip().split("/")
    if pt is None or not pieces[0]:
        return None, None
    rate = _plain_int(pieces[1]) if len(pieces) > 1 else None
    channels = _plain_int(pieces[2]) if len(pieces) > 2 else 1
    return pt, (pieces[0], rate, channels or 1)


def _plain_int(text: str) -> int | None:
    return header_int(text)


def _plain_fmt(fmt: str, is_rtp: bool, rtpmap: dict) -> Fmt:
    if is_rtp and (pt := header_int(fmt)) is not None:
        found = rtpmap.get(pt)
        if found is not None:
            return Fmt(fmt, pt, found[0].lower(), found[1], found[2])
        if pt in STATIC_PAYLOAD_TYPES:
            name, rate, channels = STATIC_PAYLOAD_TYPES[pt]
            return Fmt(fmt, pt, name.lower(), rate, channels or 1)
        return Fmt(fmt, pt, "", None)
    return Fmt(fmt, None, fmt.lower(), None)


# -- offer/answer exchanges -------------------------------------------------------------------------
@dataclass(slots=True, eq=False)
class Exchange:
    """One offer and its answer (D9) on one hop, for one dialog (To tag)."""

    transaction: Transaction
    kind: str                              # initial | reinvite | update | prack
    offer: Message | None
    offer_desc: Desc | None
    answer: Message | None = None
    answer_desc: Desc | None = None
    preview: bool = False                  # the answer is an unreliable 1xx (only a preview)
    caller_tag: str = ""
    callee_tag: str = ""
    offer_side: str = CALLER               # caller | callee: who sent the offer
    late: bool = False                     # the INVITE had no SDP: the offer came in a response

    @property
    def complete(self) -> bool:
        return self.offer_desc is not None and self.answer_desc is not None

    @property
    def answer_side(self) -> str:
        return CALLEE if self.offer_side == CALLER else CALLER

    @property
    def time(self) -> float:
        first = self.offer or self.answer
        return first.ts if first is not None else 0.0

    @property
    def hop(self) -> frozenset[str]:
        first = self.offer or self.answer
        return frozenset((first.src, first.dst)) if first is not None else frozenset()

    def desc_of(self, side: str) -> Desc | None:
        return self.offer_desc if side == self.offer_side else self.answer_desc

    def message_of(self, side: str) -> Message | None:
        return self.offer if side == self.offer_side else self.answer


@dataclass(slots=True, eq=False)
class MediaSession:
    """One dialog's media on one hop: its exchanges and the streams each way (D10)."""

    call: Call
    caller_tag: str
    callee_tag: str
    exchanges: list[Exchange] = field(default_factory=list)
    # RtpStream lists, caller -> callee and back (a SIP-only capture has none: shared_empty.py)
    to_callee: list | tuple = ()
    to_caller: list | tuple = ()
    answered: Message | None = None       # the 2xx that confirmed the dialog
    ack: Message | None = None            # the ACK of that 2xx
    bye: Message | None = None            # first BYE of the dialog
    ended: float | None = None            # BYE, or the failure final of an early dialog

    def streams(self, toward: str) -> list | tuple:
        return self.to_callee if toward == CALLEE else self.to_caller

    def add_stream(self, toward: str, stream) -> None:
        if toward == CALLEE:
            self.to_callee = appended(self.to_callee, stream)
        else:
            self.to_caller = appended(self.to_caller, stream)

    def addresses(self, side: str, kind: str | None = None) -> set[tuple[str, int]]:
        """Every (ip, port) this side advertised on this hop (of one media kind if given)."""
        out = set()
        for exchange in self.exchanges:
            desc = exchange.desc_of(side)
            if desc is not None:
                out.update(e for e in (m.endpoint() for m in desc.media
                                       if kind is None or m.kind == kind) if e)
        return out

    def sip_ip(self, side: str) -> str | None:
        for exchange in self.exchanges:
            message = exchange.message_of(side)
            if message is not None:
                return host_of(message.src)
        return None

    def completed(self) -> list[Exchange]:
        """Completed offer/answer pairs (previews excluded), in answer order (D9 session state)."""
        done = [e for e in self.exchanges if e.complete and not e.preview]
        return sorted(done, key=lambda e: e.answer.ts)


class MediaIndex:
    """Offer/answer exchanges and media sessions of every call of one session."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self._descs: dict[int, Desc | None] = {}
        self.exchanges: dict[str, list[Exchange]] = {}
        self.sessions: dict[str, list[MediaSession]] = {}
        self.direction: dict[int, tuple[str, MediaSession]] = {}   # id(stream) -> (toward, session)
        for call in session.calls:
            exchanges = self._call_exchanges(call)
            if exchanges:
                self.exchanges[call.call_id] = exchanges
                self.sessions[call.call_id] = _group(call, exchanges)
        _TEMPLATES.clear()           # the SDPs are described: no memory kept for the rules
        self._attach()

    # -- SDP of a message (parsed once, kept compact) --------------------------------------
    def desc(self, message: Message | None) -> Desc | None:
        if message is None or message.body_length <= 0:
            return None
        key = message.index
        if key in self._descs:
            return self._descs[key]
        body = sdp_body(message)
        found = describe(bytes(body)) if body else None
        self._descs[key] = found
        return found

    # -- pairing (D9) ------------------------------------------------------------------------
    def _call_exchanges(self, call: Call) -> list[Exchange]:
        caller_tag = _caller_tag(call)
        out: list[Exchange] = []
        for transaction in call.transactions:
            if transaction.method == "INVITE":
                out += self._invite(transaction, call, caller_tag)
            elif transaction.method in ("UPDATE", "PRACK"):
                request = transaction.request
                offer = self.desc(request)
                if offer is None:
                    continue
                answer = next((m for m in transaction.messages if 200 <= m.status < 300
                               and not m.copy and self.desc(m) is not None), None)
                out.append(self._exchange(transaction, transaction.method.lower(), request,
                                          answer, caller_tag))
        out.sort(key=lambda e: e.time)
        return out

    def _exchange(self, transaction, kind, offer, answer, caller_tag, preview=False,
                  late=False) -> Exchange:
        first = offer or answer
        tags = {first.from_tag, first.to_tag} if first is not None else set()
        if answer is not None:
            tags |= {answer.from_tag, answer.to_tag}
        callee_tag = next((t for t in sorted(tags) if t and t != caller_tag), "")
        side = CALLER
        if offer is not None:
            side = _side(offer, caller_tag)
        return Exchange(transaction=transaction, kind=kind, offer=offer,
                        offer_desc=self.desc(offer), answer=answer, answer_desc=self.desc(answer),
                        preview=preview, caller_tag=caller_tag, callee_tag=callee_tag,
                        offer_side=side, late=late)

    def _invite(self, transaction: Transaction, call: Call, caller_tag: str) -> list[Exchange]:
        request = transaction.request
        kind = "reinvite" if request is not None and request.to_tag else "initial"
        responses = [m for m in transaction.messages if m.is_response and not m.copy]
        by_tag: dict[str, list[Message]] = {}
        for response in responses:
            if response.to_tag and 100 < response.status < 300:
                by_tag.setdefault(response.to_tag, []).append(response)
        out = []
        if request is not None and self.desc(request) is not None:
            for tag, group in by_tag.items():
                with_sdp = [m for m in group if self.desc(m) is not None]
                final = [m for m in with_sdp if m.status >= 200 or _reliable(m)]
                if final:
                    out.append(self._exchange(transaction, kind, request, final[0], caller_tag))
                elif with_sdp:
                    out.append(self._exchange(transaction, kind, request, with_sdp[0], caller_tag,
                                              preview=True))
            if not out:
                out.append(self._exchange(transaction, kind, request, None, caller_tag))
            return out
        # late offer (RFC 3261 §13.2.1): offer in a reliable 1xx or the 2xx, answer in ACK/PRACK
        for tag, group in by_tag.items():
            offer = next((m for m in group if self.desc(m) is not None
                          and (m.status >= 200 or _reliable(m))), None)
            if offer is None:
                continue
            answer = None
            if offer.status >= 200:
                answer = next((a for a in transaction.acks if a.to_tag == tag
                               and self.desc(a) is not None), None)
            else:
                answer = _prack_answer(call, offer, self)
            exchange = self._exchange(transaction, kind, offer, answer, caller_tag,
                                      late=request is not None)
            if request is None:        # the INVITE was not captured: cannot tell who offered
                exchange.offer, exchange.offer_desc, exchange.late = None, None, False
                exchange.answer, exchange.answer_desc = offer, self.desc(offer)
            out.append(exchange)
        return out

    # -- streams (D10) -------------------------------------------------------------------------
    def _attach(self) -> None:
        """Give each stream to the best media session (attach.stream_direction scores: 3 both
        addresses, 2 destination, 1 NAT-latched; then inside the session's time window, then the
        latest session started before the stream).  Candidates come from per-address lists sorted
        by start time, so a port that every call shares (SIPp's UAS) costs a bisect, not a scan."""
        media = self.session.media
        streams = getattr(media, "streams", None)
        if not streams:
            return
        prepared: list[_Prepared] = []
        by_addr: dict[tuple[str, int], list[_Prepared]] = {}
        for sessions in self.sessions.values():
            for ms in sessions:
                caller, callee = ms.addresses(CALLER), ms.addresses(CALLEE)
                if not caller and not callee:
                    continue
                item = _Prepared(ms, frozenset(caller), frozenset(callee), ms.exchanges[0].time,
                                 ms.ended, ms.sip_ip(CALLER), ms.sip_ip(CALLEE), len(prepared))
                prepared.append(item)
                for addr in caller | callee:
                    by_addr.setdefault(addr, []).append(item)
        starts: dict[tuple[str, int], list[float]] = {}
        for addr, items in by_addr.items():
            items.sort(key=lambda p: (p.start, p.order))
            starts[addr] = [p.start for p in items]
        for stream in streams:
            s, d = split_addr(stream.src), split_addr(stream.dst)
            if s is None or d is None:
                continue
            best = None
            ranked = []
            for addr in sorted((d, s), key=lambda a: len(by_addr.get(a, ()))):
                items = by_addr.get(addr)
                if not items:
                    continue
                for item in _nearby(items, starts[addr], stream.first_ts):
                    rank = item.rank(stream)
                    if rank is not None:
                        ranked.append((rank, item))
                        if best is None or rank > best[0]:
                            best = (rank, item)
                if best is not None and best[0][0] == 3:
                    break
            if best is None:
                continue
            # the best session, plus sessions of other legs that advertised exactly the same
            # addresses and hold the stream too (a B2BUA passing the SDP through)
            rank, item = best
            twins = {id(i): (r, i) for r, i in ranked if i is item or (
                r[:3] == rank[:3] and i.caller == item.caller and i.callee == item.callee)}
            for r, twin in twins.values():
                toward = CALLEE if r[-1] == CALLER_TO_CALLEE else CALLER
                twin.ms.add_stream(toward, stream)
                if twin is item:
                    self.direction[id(stream)] = (toward, item.ms)

    # -- queries -------------------------------------------------------------------------------
    def call_sessions(self, call: Call) -> list[MediaSession]:
        return self.sessions.get(call.call_id, [])

    def call_exchanges(self, call: Call) -> list[Exchange]:
        return self.exchanges.get(call.call_id, [])

    def streams_for_call(self, call: Call) -> list:
        seen: dict[int, object] = {}
        for ms in self.call_sessions(call):
            for stream in (*ms.to_callee, *ms.to_caller):
                seen.setdefault(id(stream), stream)
        return sorted(seen.values(), key=lambda s: (s.first_ts, s.src, s.dst, s.ssrc))

    def pt_names(self, stream) -> dict[int, str]:
        """Payload type -> codec label, from the SDP of the side the stream goes to (a payload
        type in an SDP says what its author expects to receive, RFC 3264 §5.1)."""
        found = self.direction.get(id(stream))
        if found is None:
            return {}
        toward, ms = found
        names: dict[int, str] = {}
        for exchange in ms.exchanges:
            desc = exchange.desc_of(toward)
            for line in desc.media if desc is not None else ():
                for f in line.formats:
                    if f.pt is not None and f.name:
                        names.setdefault(f.pt, f.label())
        return names

    def toward(self, stream) -> str | None:
        """'callee' or 'caller': which side of its call a stream goes to."""
        found = self.direction.get(id(stream))
        return found[0] if found else None


_NEARBY_BEFORE, _NEARBY_AFTER = 32, 4      # candidate sessions looked at around a stream's start
_SLACK = 2.0                               # media may start a little before its SDP is captured


@dataclass(slots=True, eq=False)
class _Prepared:
    ms: MediaSession
    caller: frozenset
    callee: frozenset
    start: float
    end: float | None
    caller_ip: str | None
    callee_ip: str | None
    order: int

    def rank(self, stream) -> tuple | None:
        found = stream_direction(stream.src, stream.dst, self.caller, self.callee,
                                 self.caller_ip, self.callee_ip)
        if not found:
            return None
        inside = not (self.end is not None and stream.first_ts > self.end + _SLACK) \
            and not stream.last_ts < self.start - _SLACK
        before = self.start <= stream.first_ts + _SLACK
        return (found[1], inside, before, self.start if before else float("-inf"), -self.order,
                found[0])


def _nearby(items: list[_Prepared], starts: list[float], t: float) -> list[_Prepared]:
    """The sessions on one address that started shortly before or after time t."""
    i = bisect_right(starts, t + _SLACK)
    return items[max(0, i - _NEARBY_BEFORE): i + _NEARBY_AFTER]


def _side(message: Message, caller_tag: str) -> str:
    """Who sent it: requests carry their sender's tag in From, responses in To (§12.1)."""
    tag = message.from_tag if message.is_request else message.to_tag
    return CALLER if not caller_tag or tag == caller_tag else CALLEE


def _caller_tag(call: Call) -> str:
    """The From tag of the initial INVITE (D5: the caller side owns it)."""
    for transaction in call.transactions:
        request = transaction.request
        if transaction.method == "INVITE" and request is not None and not request.to_tag:
            return request.from_tag
    for message in call.messages:
        if message.is_request and message.method == "INVITE":
            return message.from_tag
    return call.messages[0].from_tag if call.messages else ""


def _reliable(message: Message) -> bool:
    """RFC 3262 §7.1: a reliable provisional response carries RSeq (and Require: 100rel)."""
    return 100 < message.status < 200 and _RSEQ.search(message.raw) is not None


def sdp_body(message: Message) -> bytes | None:
    """The SDP of a message, read straight from the raw bytes (the full SIP parse only for
    multipart bodies, RFC 5621): the body is the Content-Length bytes after the blank line."""
    raw = message.raw
    end = raw.find(b"\r\n\r\n")
    start = end + 4
    if end < 0:
        end = raw.find(b"\n\n")
        start = end + 2
    if end < 0:
        return None
    found = _CONTENT_TYPE.search(raw, 0, end + 2)
    kind = found.group(1).strip().lower() if found else b""
    if kind.startswith(b"multipart/"):
        sip = message.sip
        return find_sdp(sip.get("Content-Type"), sip.body)
    body = raw[start:start + message.body_length]
    if kind == b"application/sdp" or (not kind and body.lstrip().startswith(b"v=")):
        return body
    return None


_RSEQ = re.compile(rb"^rseq[ \t]*:", re.I | re.M)
_CONTENT_TYPE = re.compile(rb"^(?:content-type|c)[ \t]*:[ \t]*([^;\r\n]+)", re.I | re.M)


def _prack_answer(call: Call, offer: Message, index: MediaIndex) -> Message | None:
    for transaction in call.transactions:
        request = transaction.request
        if transaction.method == "PRACK" and request is not None and request.ts >= offer.ts \
                and offer.to_tag in (request.to_tag, request.from_tag) \
                and index.desc(request) is not None:
            return request
    return None


def _group(call: Call, exchanges: list[Exchange]) -> list[MediaSession]:
    """Media sessions: per dialog (tags) and per hop; hops with the same addresses are merged."""
    groups: dict[tuple, MediaSession] = {}
    for exchange in exchanges:
        key = (exchange.caller_tag, exchange.callee_tag, exchange.hop)
        ms = groups.get(key)
        if ms is None:
            ms = groups[key] = MediaSession(call, exchange.caller_tag, exchange.callee_tag)
        ms.exchanges.append(exchange)
    merged: list[MediaSession] = []
    seen: dict[tuple, MediaSession] = {}
    for ms in groups.values():
        signature = (ms.caller_tag, ms.callee_tag, frozenset(ms.addresses(CALLER)),
                     frozenset(ms.addresses(CALLEE)))
        if signature in seen and (signature[2] or signature[3]):
            seen[signature].exchanges.extend(ms.exchanges)
            continue
        seen[signature] = ms
        merged.append(ms)
    for ms in merged:
        ms.exchanges.sort(key=lambda e: e.time)
        _dialog_times(call, ms)
    return merged


def _dialog_times(call: Call, ms: MediaSession) -> None:
    tags = {ms.caller_tag, ms.callee_tag}
    for exchange in ms.exchanges:
        transaction = exchange.transaction
        if transaction.method != "INVITE" or exchange.kind != "initial" or ms.answered:
            continue
        ok = next((m for m in transaction.messages if 200 <= m.status < 300 and not m.copy
                   and m.to_tag == ms.callee_tag), None)
        if ok is not None:
            ms.answered = ok
            ms.ack = next((a for a in sorted(transaction.acks, key=lambda a: a.ts)
                           if a.to_tag == ms.callee_tag and a.ts >= ok.ts), None)
        elif transaction.final is not None and transaction.final.status >= 300:
            ms.ended = transaction.final.ts
    if ms.answered is None:
        # a dialog that started before the capture: a 2xx to a re-INVITE confirms it too
        for exchange in ms.exchanges:
            answer = exchange.answer
            if answer is not None and 200 <= answer.status < 300 and exchange.kind == "reinvite":
                ms.answered = answer
                break
    for transaction in call.transactions:
        request = transaction.request
        if transaction.method == "BYE" and request is not None \
                and {request.from_tag, request.to_tag} == tags:
            if ms.bye is None or request.ts < ms.bye.ts:
                ms.bye = request
    if ms.bye is not None:
        ms.ended = ms.bye.ts


# -- one index per session ----------------------------------------------------------------------
_LAST: list = [None, None]          # [session, MediaIndex]: the index of the last session asked


def media_index(session: Session) -> MediaIndex:
    """The MediaIndex of a session, built once and kept while the same session is asked for."""
    if _LAST[0] is session and _LAST[1] is not None:
        return _LAST[1]
    index = MediaIndex(session)
    _LAST[0], _LAST[1] = session, index
    return index


def release_media_index(session: Session) -> None:
    """Forget the session's index (the rules are done with it); media_index builds it again if
    something asks later."""
    if _LAST[0] is session:
        _LAST[0] = _LAST[1] = None
    _TEMPLATES.clear()


def streams_for_call(session: Session, call: Call) -> list:
    """The RTP streams of one call (what MediaCollector.streams_for_call delegates to)."""
    return media_index(session).streams_for_call(call)


def stream_line(stream, toward: str | None, names: dict[int, str] | None = None) -> str:
    """One text line about a stream: packets, duration, payload types, loss, jitter, direction."""
    names = names or {}
    parts = []
    for pt, n in sorted(stream.payload_types.items(), key=lambda kv: -kv[1]):
        label = f"{pt} ({names[pt]})" if pt in names else f"{pt} {_pt_name(pt)}".strip()
        parts.append(f"{label} x{n:,}")
    pts = ", ".join(parts)
    where = {CALLEE: "caller -> callee", CALLER: "callee -> caller"}.get(toward, "direction unknown")
    loss = f"{stream.lost:,} lost ({100 * stream.loss_ratio:.1f} %)"
    return (f"{stream.src} -> {stream.dst} ssrc 0x{stream.ssrc:08X}: {stream.packets:,} packets "
            f"in {stream.duration:.1f} s, PT {pts}, {loss}, jitter {stream.jitter_ms:.1f} ms, "
            f"{where}")


def _pt_name(pt: int) -> str:
    known = STATIC_PAYLOAD_TYPES.get(pt)
    return f"({known[0]})" if known else ""

"""SIP message text for the generator: requests, responses and SDP (RFC 3261 §7, §8, §20; RFC 4566)."""

from __future__ import annotations

from dataclasses import dataclass

DOMAIN = "pbx.example.net"
ALLOW = "INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, REFER, NOTIFY, UPDATE, PRACK"

# RFC 3261 §7.3.3 compact forms, used by a few user agents to exercise lenient parsers
_COMPACT = {"Via": "v", "From": "f", "To": "t", "Call-ID": "i", "Contact": "m",
            "Content-Type": "c", "Content-Length": "l", "Supported": "k"}


@dataclass(slots=True)
class Party:
    """One SIP element as seen in a call: address, identity and habits."""

    ip: str
    port: int
    user: str
    display: str
    agent: str
    transport: str = "UDP"
    compact: bool = False

    def via(self, branch: str) -> str:
        return f"SIP/2.0/{self.transport} {self.ip}:{self.port};branch={branch};rport"

    def uri(self) -> str:
        tp = ";transport=tcp" if self.transport == "TCP" else ""
        return f"sip:{self.user}@{self.ip}:{self.port}{tp}"

    def contact(self) -> str:
        return f"<{self.uri()}>"

    def name_addr(self, tag: str | None = None) -> str:
        disp = f'"{self.display}" ' if self.display else ""
        tail = f";tag={tag}" if tag else ""
        return f"{disp}<sip:{self.user}@{DOMAIN}>{tail}"


@dataclass(slots=True)
class Txn:
    """What a response copies from its request (RFC 3261 §8.2.6.2)."""

    vias: list[str]
    from_: str
    to: str
    call_id: str
    cseq: int
    method: str


def render(start: str, headers: list[tuple[str, str]], body: bytes, compact: bool) -> bytes:
    """Start line, headers in the given order, Content-Length always (needed for TCP framing)."""
    if compact:
        lines = [start] + [f"{_COMPACT.get(n, n)}: {v}" for n, v in headers]
        lines.append(f"l: {len(body)}")
    else:
        lines = [start] + [f"{n}: {v}" for n, v in headers]
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def request(txn: Txn, ruri: str, sender: Party, *, contact: bool = True, max_forwards: int = 70,
            extra: tuple[tuple[str, str], ...] = (), body: bytes = b"") -> bytes:
    """A request whose header values come from txn (RFC 3261 §8.1.1)."""
    h = [("Via", v) for v in txn.vias]
    h += [("Max-Forwards", str(max_forwards)), ("From", txn.from_), ("To", txn.to),
          ("Call-ID", txn.call_id), ("CSeq", f"{txn.cseq} {txn.method}")]
    h += extra
    if contact:
        h.append(("Contact", sender.contact()))
    if txn.method in ("INVITE", "REGISTER", "OPTIONS"):
        h.append(("Allow", ALLOW))
    h.append(("User-Agent", sender.agent))
    if body:
        h.append(("Content-Type", "application/sdp"))
    return render(f"{txn.method} {ruri} SIP/2.0", h, body, sender.compact)


def response(txn: Txn, code: int, reason: str, sender: Party, *, to_tag: str | None = None,
             contact: bool = False, extra: tuple[tuple[str, str], ...] = (),
             body: bytes = b"") -> bytes:
    """A response copying Via, From, To, Call-ID and CSeq from txn (RFC 3261 §8.2.6.2)."""
    to = f"{txn.to};tag={to_tag}" if to_tag and ";tag=" not in txn.to else txn.to
    h = [("Via", v) for v in txn.vias]
    h += [("From", txn.from_), ("To", to), ("Call-ID", txn.call_id),
          ("CSeq", f"{txn.cseq} {txn.method}"), ("Server", sender.agent)]
    h += extra
    if contact:
        h.append(("Contact", sender.contact()))
    if code == 200 and txn.method in ("INVITE", "OPTIONS"):
        h += [("Allow", ALLOW), ("Supported", "replaces, timer")]
    if body:
        h.append(("Content-Type", "application/sdp"))
    return render(f"SIP/2.0 {code} {reason}", h, body, sender.compact)


def sdp(ip: str, port: int, sess_id: int, version: int, payload_types: tuple[int, ...],
        user: str = "-", direction: str = "sendrecv") -> bytes:
    """An audio offer or answer (RFC 4566 §5; RFC 3264 §5-6) with G.711 and telephone-event."""
    names = {0: "PCMU/8000", 8: "PCMA/8000", 101: "telephone-event/8000"}
    fmts = " ".join(str(pt) for pt in payload_types)
    lines = ["v=0", f"o={user} {sess_id} {version} IN IP4 {ip}", "s=SIP Call",
             f"c=IN IP4 {ip}", "t=0 0", f"m=audio {port} RTP/AVP {fmts}"]
    lines += [f"a=rtpmap:{pt} {names[pt]}" for pt in payload_types]
    if 101 in payload_types:
        lines.append("a=fmtp:101 0-16")
    lines += ["a=ptime:20", f"a={direction}"]
    return ("\r\n".join(lines) + "\r\n").encode()

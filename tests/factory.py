"""Factories for synthetic SIP flows used by the unit tests (real traces live in tests/data)."""

from __future__ import annotations

import re

from sipscope.core.analysis.options import AnalysisOptions
from sipscope.core.model.builder import build_session
from sipscope.core.model.loader import analyze
from sipscope.core.model.session import Session
from sipscope.core.sources.datagram import EXCERPT, Datagram, InputReport

T0 = 1_700_000_000.0   # 2023-11-14 22:13:20 UTC


def sip(start_line: str, headers: list[tuple[str, str]], body: str | bytes = b"") -> bytes:
    """A SIP message with CRLF endings; Content-Length is added unless given."""
    body_bytes = body.encode() if isinstance(body, str) else body
    if isinstance(body, str) and body and not body.endswith("\r\n"):
        body_bytes = body.replace("\r\n", "\n").replace("\n", "\r\n").encode()
    lines = [start_line] + [f"{name}: {value}" for name, value in headers]
    if not any(name.lower() in ("content-length", "l") for name, _ in headers):
        lines.append(f"Content-Length: {len(body_bytes)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body_bytes


def sdp(address: str = "10.0.0.1", port: int = 4000, codecs: str = "0 8 101",
        direction: str = "sendrecv", version: int = 1, user: str = "-") -> str:
    lines = ["v=0", f"o={user} 1000 {version} IN IP4 {address}", "s=-", f"c=IN IP4 {address}",
             "t=0 0", f"m=audio {port} RTP/AVP {codecs}"]
    names = {"0": "PCMU/8000", "8": "PCMA/8000", "18": "G729/8000", "9": "G722/8000",
             "101": "telephone-event/8000", "96": "opus/48000/2"}
    for pt in codecs.split():
        if pt in names:
            lines.append(f"a=rtpmap:{pt} {names[pt]}")
    if direction:
        lines.append(f"a={direction}")
    return "\r\n".join(lines) + "\r\n"


def request(method: str, ruri: str, *, call_id: str = "call-1@test", from_tag: str = "ftag",
            to_tag: str | None = None, cseq: int = 1, cseq_method: str | None = None,
            branch: str = "z9hG4bK-1", via: str = "10.0.0.1:5060", extra_vias: tuple = (),
            from_uri: str = "sip:alice@example.com", to_uri: str = "sip:bob@example.com",
            contact: str | None = "sip:alice@10.0.0.1:5060", body: str = "",
            extra: tuple[tuple[str, str], ...] = (), transport: str = "UDP",
            max_forwards: int = 70) -> bytes:
    headers = [("Via", f"SIP/2.0/{transport} {via};branch={branch}")]
    headers += [("Via", v) for v in extra_vias]
    headers += [("Max-Forwards", str(max_forwards)),
                ("From", f"<{from_uri}>;tag={from_tag}"),
                ("To", f"<{to_uri}>" + (f";tag={to_tag}" if to_tag else "")),
                ("Call-ID", call_id), ("CSeq", f"{cseq} {cseq_method or method}")]
    if contact:
        headers.append(("Contact", f"<{contact}>"))
    headers += list(extra)
    if body:
        headers.append(("Content-Type", "application/sdp"))
    return sip(f"{method} {ruri} SIP/2.0", headers, body)


_HEADER = re.compile(rb"^(Via|From|To|Call-ID|CSeq|v|f|t|i)\s*:\s*(.*?)\r$", re.I | re.M)


def response(req: bytes, status: int, reason: str, *, to_tag: str | None = None,
             body: str = "", extra: tuple[tuple[str, str], ...] = (),
             contact: str | None = None, cseq_method: str | None = None) -> bytes:
    """A response to `req`: copies its Vias, From, To (adding to_tag), Call-ID and CSeq."""
    headers = []
    for match in _HEADER.finditer(req):
        name, value = match.group(1).decode(), match.group(2).decode()
        if name.lower() in ("to", "t") and to_tag and ";tag=" not in value:
            value = f"{value};tag={to_tag}"
        if name.lower() == "cseq" and cseq_method:
            value = f"{value.split()[0]} {cseq_method}"
        headers.append((name, value))
    if contact:
        headers.append(("Contact", f"<{contact}>"))
    headers += list(extra)
    if body:
        headers.append(("Content-Type", "application/sdp"))
    return sip(f"SIP/2.0 {status} {reason}", headers, body)


class Flow:
    """A list of datagrams with times relative to T0; .session() builds and analyses it."""

    def __init__(self) -> None:
        self.datagrams: list[Datagram] = []

    def add(self, t: float, src: str, dst: str, payload: bytes, transport: str = "UDP",
            flags: int = 0) -> bytes:
        self.datagrams.append(Datagram(T0 + t, src, dst, transport, payload,
                                       frame=len(self.datagrams) + 1, flags=flags))
        return payload

    def session(self, excerpt: bool = False, rules: bool = True,
                options: AnalysisOptions | None = None, media=None) -> Session:
        report = InputReport(path="<synthetic>", format="synthetic",
                             packets=len(self.datagrams), excerpt=excerpt)
        datagrams = self.datagrams
        if excerpt:
            for d in datagrams:
                d.flags |= EXCERPT
        session = build_session(datagrams, [report], media_sink=media)
        return analyze(session, options) if rules else session


def ids(session: Session, severity: str | None = None) -> list[str]:
    return [f.id for f in session.findings if severity is None or f.severity == severity]

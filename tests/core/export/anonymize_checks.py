"""What a round trip through `sipscope anonymize` must keep and must remove (shared by tests)."""

from __future__ import annotations

import ipaddress
import re

import dpkt

from sipscope.core.analysis.rules.security import SCANNER_UA, TEST_TOOL_UA
from sipscope.core.export import report
from sipscope.core.export.anonymize_packets import frames, is_capture
from sipscope.core.export.pseudonyms import KEPT_SUFFIXES, KEPT_WORDS, is_number
from sipscope.core.export.rewrite_text import GRAMMAR, TOOL_DEFAULT_URIS
from sipscope.core.model.loader import load_files
from sipscope.core.sip.detect import sip_start
from sipscope.core.sip.message import parse_message
from sipscope.core.sip.params import parse_name_addr, parse_uri, split_unquoted
from sipscope.core.sources import linktypes
from sipscope.core.sources.registry import open_input

# The Digest response is replaced, so a weak password can no longer be found (by design).
DIGEST_DERIVED = frozenset(("sec-weak-digest-password",))
IPV4 = re.compile(rb"(?<![0-9.])(?:\d{1,3}\.){3}\d{1,3}(?![0-9])")
NAME_HEADERS = ("from", "to", "contact", "p-asserted-identity", "p-preferred-identity",
                "remote-party-id", "diversion", "referred-by", "refer-to")
_AUTH_USER = re.compile(r'username[ \t]*=[ \t]*"?([^",\s]+)', re.I)


def structure(path: str) -> tuple:
    """Messages, per call (messages, fork sets, streams), and (call, finding id, messages)."""
    data = report.session_json(load_files([path]))
    calls = [(c["messages"], c["forks"], c["streams"]) for c in data["calls"]]
    calls = [tuple(len(v) if isinstance(v, list) else v for v in c) for c in calls]
    index = {c["call_id"]: i for i, c in enumerate(data["calls"])}
    findings = sorted((index.get(f["call_id"], -1), f["id"], tuple(f["messages"]))
                      for f in data["findings"] if f["id"] not in DIGEST_DERIVED)
    return len(data["messages"]), calls, findings


def _named(text: str) -> bool:
    """Worth searching for: names someone (not grammar, not a tool, not a kept word)."""
    low = text.lower()
    return (len(text) >= 3 and low not in KEPT_WORDS and low not in GRAMMAR
            and not SCANNER_UA.search(text) and not TEST_TOOL_UA.search(text))


def _kept_address(text: str) -> bool:
    addr = ipaddress.ip_address(text)
    return (addr.is_loopback or addr.is_unspecified or addr.is_multicast
            or text == "255.255.255.255")


class Identities:
    """Every identity of the original capture, found with the readers and the SIP parser.

    Not searched (kept on purpose, see `sipscope anonymize --help`): loopback, unspecified,
    multicast and broadcast addresses; words of SIP grammar; attack tools' names and
    SIPVicious' default From; names that the capture's own User-Agent/Server text or SDP
    codec lines also use (a product name such as asterisk or mod_sofia, a codec such as
    PCMA/8000); numbers of zeros only.  An extension of 3-5 digits is searched where it names
    someone (sip:100@, tel:100, "100", username="100"), since elsewhere it may be a CSeq.
    """

    def __init__(self, path: str) -> None:
        self.kept_text = ""
        self.v4: set[str] = set()
        self.users: set[str] = set()
        self.numbers: set[str] = set()
        self.names: set[str] = set()
        self.domains: set[str] = set()
        _, datagrams = open_input(path)
        for datagram in datagrams:
            if datagram is None:
                continue
            for end in (datagram.src, datagram.dst):
                self.host(end.rpartition(":")[0].strip("[]"))
            if sip_start(datagram.payload) >= 0:
                self.message(parse_message(datagram.payload))

    def host(self, host: str) -> None:
        try:
            addr = ipaddress.ip_address(host)
        except ValueError:
            if re.fullmatch(r"[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+", host) and \
                    not host.lower().endswith(KEPT_SUFFIXES) and not host.replace(".", "").isdigit():
                self.domains.add(host.lower())
            return
        if addr.version == 4 and not _kept_address(host):
            self.v4.add(host)

    def message(self, message) -> None:
        uris = [message.request_uri] if message.request_uri else []
        for line in message.body.decode("latin-1").splitlines():
            if line.startswith(("a=rtpmap", "a=fmtp", "o=", "s=")):
                self.kept_text += line.lower() + "\n"
        for header in message.headers:
            value = header.value
            for uri in TOOL_DEFAULT_URIS:
                value = value.replace(uri, "")
            if header.key in ("user-agent", "server"):
                self.kept_text += value.lower() + "\n"
            else:
                for found in IPV4.findall(value.encode("latin-1", "replace")):
                    self.host(found.decode())
            if header.key in NAME_HEADERS:
                for part in split_unquoted(header.value, ","):
                    name_addr = parse_name_addr(part)
                    display = name_addr.display.strip('\\"')
                    if is_number(display):
                        self.user(display)
                    elif display and _named(display):
                        self.names.add(display)
                    if name_addr.uri is not None:
                        uris.append(name_addr.uri.text)
            if header.key == "call-id" and "@" in value:
                self.host(value.rpartition("@")[2].strip())
            for user in _AUTH_USER.findall(header.value):
                self.user(user)
        for text in uris:
            uri = parse_uri(text.strip("<>"))
            if f"{uri.user}@{uri.host}" in TOOL_DEFAULT_URIS:
                continue
            self.user(uri.user)
            self.host(uri.host)

    def user(self, user: str) -> None:
        if is_number(user):
            if sum(ch.isdigit() for ch in user) >= 3 and user.strip("+0"):
                self.numbers.add(user)
        elif _named(user):
            self.users.add(user)

    def leaks(self, out: bytes) -> list[str]:
        """Every identity still found in the anonymized bytes."""
        found = []
        for uri in TOOL_DEFAULT_URIS:
            out = out.replace(uri.encode(), b"")
        for addr in self.v4:
            if re.search(rb"(?<![0-9.])" + re.escape(addr.encode()) + rb"(?![0-9])", out):
                found.append(f"address {addr} as text")
        found += [f"address {a} in an IP header" for a in header_addresses(out) & self.v4]
        for user in self.users:
            if user.lower() in self.kept_text:
                continue
            if re.search(rb"(?<![A-Za-z0-9])" + re.escape(user.encode()) + rb"(?![A-Za-z0-9])",
                         out, re.I):
                found.append(f"user {user}")
        for number in self.numbers:
            if number.lstrip("+") in self.kept_text and len(number.lstrip("+")) < 6:
                continue
            digits = number.lstrip("+").encode()
            if len(digits) >= 6:
                pattern = rb"(?<![0-9])" + re.escape(digits) + rb"(?![0-9])"
            else:   # a short extension: where it names someone (elsewhere it may be a CSeq)
                pattern = (rb"(?:sips?:|tel:|\"|username=\"?)\+?" + re.escape(digits)
                           + rb"[@\";>]")
            if re.search(pattern, out):
                found.append(f"number {number}")
        for name in self.names:
            if name.lower() in self.kept_text:
                continue
            if re.search(rb"(?<![A-Za-z0-9])" + re.escape(name.encode("utf-8")) + rb"(?![A-Za-z0-9])",
                         out):
                found.append(f"display name {name}")
        for domain in self.domains:
            if re.search(rb"(?<![A-Za-z0-9-])" + re.escape(domain.encode()) + rb"(?![A-Za-z0-9-])",
                         out, re.I):
                found.append(f"domain {domain}")
        return sorted(found)


def header_addresses(data: bytes) -> set[str]:
    """The IPv4 source and destination of every IP header in a capture (dpkt)."""
    seen: set[str] = set()
    if not is_capture(data[:4]):
        return seen
    buf = bytearray(data)
    for linktype, start, end in frames(buf):
        found = linktypes.network_start(linktype, bytes(buf[start:end]))
        if found and found[0] == 4:
            try:
                ip = dpkt.ip.IP(bytes(buf[start + found[1]:end]))
            except (dpkt.UnpackError, ValueError):
                continue
            seen.update(str(ipaddress.ip_address(a)) for a in (ip.src, ip.dst))
    return seen

"""Anonymize captures and text traces for a ticket: same structure, no identities.

anonymize_files() reads every input twice.  First the readers and our SIP parser find what the
capture uses as identities (user parts, host names, Call-IDs, tags, branches, Digest values);
then each file is rewritten with one PseudonymMap shared by all inputs given together, so the
same address, number or name gets the same pseudonym in every file:

- pcap/pcapng -> the same container (anonymize_packets.py: IP headers, tunnels, SIP over UDP,
  TCP, WebSocket, SCTP, HEP3; RTP payload silenced on request; checksums recomputed by dpkt);
- a text trace (ngrep, Asterisk, FreeSWITCH, SIPp log, raw SIP) -> the same text format.

Kept on purpose: User-Agent and Server text (only addresses and known names inside are
replaced), methods, status codes, header names, SDP codecs and ports, timestamps.
A gzip-compressed input is written uncompressed.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import re
import struct
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from sipscope.core.export.anonymize_packets import PacketRewriter, frames, is_capture
from sipscope.core.export.output import OutputError, refuse_inputs, written_atomically
from sipscope.core.export.pseudonyms import PseudonymMap
from sipscope.core.export.rewrite_text import IPV4, KnownIdentities, TextRewriter
from sipscope.core.sip.detect import sip_start
from sipscope.core.sip.message import SipMessage, parse_message
from sipscope.core.sip.params import parse_name_addr, parse_uri, parse_via, split_unquoted
from sipscope.core.sip.sdp import parse_sdp
from sipscope.core.words import plural

SUFFIX = ".anon"
# Headers whose values are name-addr/addr-spec lists (RFC 3261 §20; RFC 3325, 3515, 3892, 5806).
URI_HEADERS = frozenset((
    "from", "to", "contact", "p-asserted-identity", "p-preferred-identity", "remote-party-id",
    "diversion", "referred-by", "refer-to", "route", "record-route", "path", "service-route",
    "p-called-party-id", "history-info", "reply-to"))
AUTH_HEADERS = frozenset(("authorization", "proxy-authorization", "www-authenticate",
                          "proxy-authenticate", "authentication-info"))
_AUTH_PARAM = re.compile(r'([A-Za-z-]+)[ \t]*=[ \t]*"?([^",]*)')
_ID_PARAMS = ("tag", "branch")


@dataclass(slots=True)
class AnonymizeResult:
    """What was written and what the tech should know about it."""

    outputs: list[str] = field(default_factory=list)
    counts: Counter = field(default_factory=Counter)
    pseudonyms: PseudonymMap | None = None
    text: TextRewriter | None = None          # the rewriter, e.g. to translate a Call-ID

    def summary(self) -> list[str]:
        pmap = self.pseudonyms
        lines = [f"{plural(len(self.outputs), 'file')} written"]
        if pmap is not None:
            addresses = len(pmap.addresses)
            lines.append(f"pseudonyms for {addresses:,} IP address"
                         f"{'' if addresses == 1 else 'es'}, {plural(len(pmap.digits), 'number')}"
                         f", {plural(len(pmap.labels), 'host-name label')} and "
                         f"{plural(len(pmap.tokens), 'other value')} (user names, display names, "
                         "Call-IDs, tags, branches, Digest values)")
        lines += [f"{what}: {n:,}" for what, n in sorted(self.counts.items())]
        return lines


# -- pass 1: what the capture uses as identities ------------------------------------------------

def learn_message(known: KnownIdentities, message: SipMessage) -> None:
    """Note the identities one parsed SIP message carries (RFC 3261 §20)."""
    if message.request_uri:
        _learn_uri(known, message.request_uri)
    for header in message.headers:
        key, value = header.key, header.value
        if key not in ("user-agent", "server"):
            known.addresses.update(IPV4.findall(value))
        if key in ("call-id", "replaces", "join", "target-dialog"):
            local, _, host = value.split(";")[0].strip().rpartition("@")
            known.add_id(local or host)
            if local:
                known.add_host(host)
        elif key == "via":
            for part in split_unquoted(value, ","):
                via = parse_via(part)
                known.add_host(via.host)
                known.add_id(via.branch)
        elif key in URI_HEADERS:
            for part in split_unquoted(value, ","):
                name_addr = parse_name_addr(part)
                known.add_display(name_addr.display)
                if name_addr.uri is not None:
                    _learn_uri(known, name_addr.uri.text)
                for name, param_value in name_addr.params:
                    if name.lower() in _ID_PARAMS and param_value:
                        known.add_id(param_value)
        elif key in AUTH_HEADERS:
            for name, param_value in _AUTH_PARAM.findall(value):
                name = name.lower()
                if name == "username":
                    known.add_user(param_value)
                elif name == "realm":
                    known.add_host(param_value)
                elif name in ("nonce", "cnonce", "response", "opaque", "nextnonce", "rspauth"):
                    known.add_token(param_value)
        elif key == "warning":
            for part in split_unquoted(value, ","):
                fields = part.split()
                if len(fields) > 1:
                    known.add_host(fields[1].rpartition(":")[0] or fields[1])
    known.addresses.update(IPV4.findall(message.body.decode("latin-1")))
    if b"o=" in message.body or b"c=" in message.body:
        sdp = parse_sdp(message.body)
        if sdp.origin is not None:
            known.add_host(sdp.origin.address)
        if sdp.connection:
            known.add_host(sdp.connection)


def _learn_uri(known: KnownIdentities, text: str) -> None:
    uri = parse_uri(text.strip().strip("<>"))
    if uri.user:
        known.add_user(uri.user)
    if uri.host:
        known.add_host(uri.host)


def collect_identities(paths: list[str], format_name: str | None = None) -> KnownIdentities:
    """Pass 1 over every input: the readers give the SIP messages, our parser their values."""
    from sipscope.core.sources.registry import open_input
    known = KnownIdentities()
    for index, path in enumerate(paths):
        _, datagrams = open_input(path, format_name, index)
        for datagram in datagrams:
            if datagram is None:
                continue
            for end in (datagram.src, datagram.dst):
                known.addresses.add(end.rpartition(":")[0].strip("[]"))
            if sip_start(datagram.payload) >= 0:
                learn_message(known, parse_message(datagram.payload))
    return known


# -- pass 2: writing ----------------------------------------------------------------------------

def read_input(path: str) -> bytes:
    """The bytes of an input, gunzipped when compressed (what is readable of a damaged one)."""
    with open(path, "rb") as handle:
        data = handle.read()
    if data[:2] == b"\x1f\x8b":
        out = bytearray()
        try:
            with gzip.GzipFile(fileobj=io.BytesIO(data)) as stream:
                while chunk := stream.read(1 << 20):
                    out += chunk
        except (OSError, EOFError):
            pass
        return bytes(out)
    return data


def output_path(path: str, out: str | None, several: bool) -> str:
    """Where one input's anonymized copy goes: OUT itself for one input (unless OUT is a
    directory), else OUT/NAME.anon.EXT (next to the input without OUT).  A .gz is dropped."""
    source = Path(path)
    name = source.name[:-3] if source.name.lower().endswith(".gz") else source.name
    stem, dot, ext = name.partition(".") if "." in name else (name, "", "")
    anon_name = f"{stem}{SUFFIX}{dot}{ext}"
    if out is None:
        return str(source.with_name(anon_name))
    target = Path(out)
    if several or target.is_dir() or out.endswith(os.sep):
        return str(target / anon_name)
    return str(target)


def write_output(path: str, data: bytes) -> None:
    """Write beside the target and rename (output.written_atomically); create its folder."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with written_atomically(path) as temporary, open(temporary, "wb") as out:
        out.write(data)


def anonymize_bytes(data: bytes, text: TextRewriter, packets: PacketRewriter) -> bytes:
    """One input's anonymized bytes: a capture frame by frame, anything else as text."""
    if not is_capture(data[:4]):
        return text.rewrite(data)
    out = bytearray(data)
    where = list(frames(out))
    packets.collect = True
    for linktype, start, end in where:
        packets.frame(out, linktype, start, end)
    packets.prepare()
    for linktype, start, end in where:
        packets.frame(out, linktype, start, end)
    if out[:4] == b"\x0a\x0d\x0d\x0a":
        _rewrite_pcapng_text(out, text)
    return bytes(out)


def _rewrite_pcapng_text(data: bytearray, text: TextRewriter) -> None:
    """Comments and names in pcapng options (section header, interfaces, packet comments) may
    name hosts: their text goes through the same rewriter (lengths kept, so blocks stay valid)."""
    order, pos = "<", 0
    while pos + 12 <= len(data):
        btype = struct.unpack_from(order + "I", data, pos)[0]
        if btype == 0x0A0D0D0A:
            order = "<" if data[pos + 8:pos + 12] == b"\x4d\x3c\x2b\x1a" else ">"
        blen = struct.unpack_from(order + "I", data, pos + 4)[0]
        if blen < 12 or pos + blen > len(data):
            return
        body_start = {0x0A0D0D0A: 24, 1: 16, 6: 28}.get(btype)
        if body_start is not None:
            if btype == 6:
                caplen = struct.unpack_from(order + "I", data, pos + 20)[0]
                body_start += (caplen + 3) & ~3
            start, end = pos + body_start, pos + blen - 4
            if start < end:
                data[start:end] = text.rewrite(bytes(data[start:end]))
        pos += blen


def anonymize_files(pairs: list[tuple[str, str]], format_name: str | None = None,
                    silence_rtp: bool = False, seed: int | None = None,
                    map_path: str | None = None) -> AnonymizeResult:
    """Anonymize each (input, output) pair with one shared pseudonym map."""
    inputs = [source for source, _ in pairs]
    targets = [os.path.abspath(target) for _, target in pairs]
    if len(set(targets)) != len(targets):
        raise OutputError("two inputs would be written to the same output file (inputs with "
                          "the same name?); anonymize them with -o naming a file each")
    for target in targets + ([map_path] if map_path else []):
        refuse_inputs(target, inputs)
    known = collect_identities(inputs, format_name)
    pseudonyms = PseudonymMap(seed)
    pseudonyms.reserve(known.originals())
    text = TextRewriter(pseudonyms, known)
    result = AnonymizeResult(pseudonyms=pseudonyms, text=text)
    for source, target in pairs:
        packets = PacketRewriter(text, pseudonyms, silence_rtp)
        write_output(target, anonymize_bytes(read_input(source), text, packets))
        result.outputs.append(target)
        result.counts.update(packets.counts)
    if map_path:
        write_output(map_path, json.dumps(map_json(pseudonyms), indent=1).encode())
    return result


def map_json(pseudonyms: PseudonymMap) -> dict:
    """The pseudonym map (original -> pseudonym), for the tech's own reference only."""
    return {"addresses": pseudonyms.addresses, "numbers": pseudonyms.digits,
            "host_labels": pseudonyms.labels, "values": pseudonyms.tokens}

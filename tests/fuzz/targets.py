"""Fuzz targets shared by the bounded fuzz tests (tests/fuzz/test_fuzz.py, part of the normal
run) and the long run a developer can leave going (tests/fuzz/long_run.py, not collected).

Each target takes bytes and must return without raising: every reader, the reassemblers
(IP fragments, TCP, SCTP, WebSocket, HEP), the SIP and SDP parsers and, over a whole
message set, the builder and the fault rules (a rule raising is recorded as an "internal:"
warning, which a target counts as a crash).  mutate() derives a hostile variant of a real
capture or trace from tests/data: byte flips, cuts, splices, repeated runs and inserted
hostile tokens (over-long numbers, terminal escapes, bidi controls, huge lines, lying
lengths).
"""

from __future__ import annotations

import gzip
import io
import random
import struct
from collections.abc import Callable
from pathlib import Path

DATA = Path(__file__).resolve().parents[1] / "data"
PCAPS = sorted(p for p in DATA.iterdir() if p.suffix in (".pcap", ".pcapng"))
TEXTS = sorted(p for p in DATA.iterdir() if p.suffix in (".txt", ".log"))

HOSTILE_TOKENS = (
    b"9" * 5000, b"9" * 25, b"-1", b"\x1b]0;pwned\x07", b"\x1b[2J", "\u202e".encode(),
    b"\x00", b"\xff\xfe", b"<b>x</b>", b"\r\n\r\n", b"\n\n", b"\r", b"A" * 70_000,
    b"Content-Length: 4294967295\r\n", b"l: 99999999999999999999999\r\n",
    b"CSeq: 99999999999999999999 INVITE\r\n", b"Max-Forwards: 0\r\n",
    b"Via: SIP/2.0/UDP [::1:5060;branch=z9hG4bK;rport=99999999\r\n",
    b"SIP/2.0 200 OK\r\n", b"INVITE sip:a@b SIP/2.0\r\n", b"m=audio 99999999999 RTP/AVP 0 96\r\n",
    b"a=rtpmap:999999999999999999999 x/99999999999999999999\r\n", b"a=ptime:1e400\r\n",
    b"Content-Type: multipart/mixed;boundary=\r\n", b"--\r\n", b"HEP3", b"\x1f\x8b\x08\x00",
    b"\x0a\x0d\x0d\x0a", b"\xd4\xc3\xb2\xa1", b"U " + b"1" * 30 + b":5060 -> 1.2.3.4:99999999\r\n",
)


def corpus(kind: str) -> list[bytes]:
    """The seed inputs of a target family: real captures or real text traces."""
    paths = PCAPS if kind == "pcap" else TEXTS
    return [path.read_bytes() for path in paths]


def mutate(rng: random.Random, data: bytes, rounds: int | None = None) -> bytes:
    """A hostile variant of `data` (deterministic for a given rng state)."""
    out = bytearray(data)
    for _ in range(rounds if rounds is not None else rng.randint(1, 8)):
        if not out:
            out += rng.choice(HOSTILE_TOKENS)
            continue
        at = rng.randrange(len(out))
        choice = rng.randrange(7)
        if choice == 0:                                  # flip a few bytes
            for _ in range(rng.randint(1, 8)):
                out[rng.randrange(len(out))] = rng.randrange(256)
        elif choice == 1:                                # insert a hostile token
            out[at:at] = rng.choice(HOSTILE_TOKENS)
        elif choice == 2:                                # cut
            del out[at:at + rng.randint(1, 4096)]
        elif choice == 3:                                # repeat a run
            run = bytes(out[at:at + rng.randint(1, 512)])
            out[at:at] = run * rng.randint(2, 50)
        elif choice == 4:                                # truncate
            del out[at:]
        elif choice == 5 and len(out) >= 4:              # a length field gone wild
            where = rng.randrange(len(out) - 3)
            out[where:where + 4] = struct.pack("<I", rng.choice(
                (0, 0xFFFFFFFF, 0x7FFFFFFF, 0x10000, rng.randrange(1 << 32))))
        else:                                            # splice in bytes of elsewhere
            start = rng.randrange(len(out))
            out[at:at] = out[start:start + rng.randint(1, 2048)]
    return bytes(out)


# -- targets -----------------------------------------------------------------------------------
def _report():
    from sipscope.core.sources.datagram import InputReport
    return InputReport(path="<fuzz>", size=1 << 20)


def _check_datagrams(datagrams) -> None:
    from sipscope.core.sources.datagram import Datagram
    for d in datagrams:
        assert d is None or (isinstance(d, Datagram) and isinstance(d.payload, bytes))


def pcap_reader(data: bytes) -> None:
    from sipscope.core.sources import pcap
    _check_datagrams(list(pcap.read(io.BytesIO(data), _report())))


def gzip_pcap_reader(data: bytes) -> None:
    """The gzip layer (damaged, truncated, bombs) in front of the pcap reader."""
    from sipscope.core.sources import pcap
    from sipscope.core.sources.limits import BoundedGzip, DecompressionBudget, read_head
    packed = gzip.compress(data, compresslevel=1)
    cut = len(packed) if len(data) % 3 else len(packed) * 2 // 3
    stream = BoundedGzip(io.BytesIO(packed[:cut]), DecompressionBudget(len(packed)))
    read_head(stream, 1024)
    stream.seek(0)
    _check_datagrams(list(pcap.read(stream, _report())))


def _text_reader(name: str) -> Callable[[bytes], None]:
    def target(data: bytes) -> None:
        import importlib
        module = importlib.import_module(f"sipscope.core.sources.{name}")
        module.sniff(data[:256 * 1024])
        _check_datagrams(list(module.read(io.BytesIO(data), _report())))
    target.__name__ = f"{name}_reader"
    return target


def gzip_text_reader(data: bytes) -> None:
    from sipscope.core.sources import raw_sip
    from sipscope.core.sources.limits import BoundedGzip, DecompressionBudget
    packed = gzip.compress(data, compresslevel=1)
    packed = packed[:len(packed) * 3 // 4] if len(data) % 2 else packed[:-6] + b"\x00" * 6
    stream = BoundedGzip(io.BytesIO(packed), DecompressionBudget(len(packed)))
    _check_datagrams(list(raw_sip.read(stream, _report())))


def sniffing(data: bytes) -> None:
    from sipscope.core.sources.datagram import NotACaptureError
    from sipscope.core.sources.registry import choose_reader, describe_unknown
    describe_unknown(data)
    try:
        choose_reader(data)
    except NotACaptureError:
        pass


def ip_fragments(data: bytes) -> None:
    """Fragments of a few datagrams: offset, more-fragments and length from the bytes."""
    from sipscope.core.sources.ip_fragments import MAX_FRAGMENTS, FragmentTable
    table = FragmentTable(max_pending=8)
    for i in range(0, len(data) - 3, 4):
        key, offset, size = data[i] % 3, (data[i + 1] << 8 | data[i + 2]) * 8, data[i + 3]
        done = table.add(key, offset, bool(size & 1), data[i:i + size], float(i), i)
        assert done is None or len(done.payload) <= 65535 + 8
        assert all(len(e.pieces) <= MAX_FRAGMENTS for e in table._pending.values())
    table.finish()


def hep_and_websocket(data: bytes) -> None:
    from sipscope.core.sources import websocket
    from sipscope.core.sources.hep import decode_hep2, decode_hep3
    from sipscope.core.sources.limits import inflate_budget
    decode_hep3(b"HEP3" + data, inflate_budget(_report()))
    decode_hep2(data)
    for pos in range(0, min(len(data), 64)):
        try:
            frame = websocket.parse_header(data, pos)
        except ValueError:                       # its documented answer to lost framing
            continue
        if frame is not None:
            websocket.unmask(data[pos:pos + 64], getattr(frame, "mask", None))
    websocket.find_frame(data, 0)


def sctp(data: bytes) -> None:
    from sipscope.core.sources.sctp import SctpMessages
    messages = SctpMessages()
    for i in range(0, len(data), 97):
        messages.messages(("a", 1, "b", 2), data[i:i + 400])


def sip_parser(data: bytes) -> None:
    """The lenient parser, every accessor, the builder's summary, SDP and multipart bodies."""
    from sipscope.core.sip.message import parse_message
    from sipscope.core.sip.multipart import find_sdp, split_multipart
    from sipscope.core.sip.sdp import parse_sdp
    from sipscope.core.sip.summary import summarize
    message = parse_message(data)
    _ = (message.cseq, message.vias, message.top_via, message.from_, message.to,
         message.contacts, message.content_length, message.uri, message.label, message.text())
    summarize(data)
    sdp = parse_sdp(message.body)
    for media in sdp.media:
        media.codec_names()
    split_multipart(message.get("Content-Type"), message.body)
    find_sdp(message.get("Content-Type"), message.body)
    parse_sdp(data)


def rules(data: bytes) -> None:
    """A text trace through the reader, the builder and every fault rule: none may raise."""
    from sipscope.core.model.builder import build_session
    from sipscope.core.model.loader import analyze
    from sipscope.core.sources import raw_sip
    report = _report()
    datagrams = list(raw_sip.read(io.BytesIO(data), report))
    if not datagrams:
        return
    session = analyze(build_session(datagrams, [report], media_sink=None))
    failed = [w for w in session.analysis_warnings if w.startswith("internal:")]
    assert not failed, failed


def rules_on_a_capture(data: bytes) -> None:
    """A capture through the pcap reader (media included), the builder and every fault rule."""
    from sipscope.core.media.streams import MediaCollector
    from sipscope.core.model.builder import build_session
    from sipscope.core.model.loader import analyze
    from sipscope.core.sources import pcap
    report = _report()
    media = MediaCollector()
    datagrams = [d for d in pcap.read(io.BytesIO(data), report, media_sink=media.add) if d]
    if not datagrams:
        return
    session = analyze(build_session(datagrams, [report], media_sink=media))
    failed = [w for w in session.analysis_warnings if w.startswith("internal:")]
    assert not failed, failed


TARGETS: dict[str, tuple[Callable[[bytes], None], str]] = {
    "pcap": (pcap_reader, "pcap"),
    "pcap.gz": (gzip_pcap_reader, "pcap"),
    "ngrep": (_text_reader("ngrep"), "text"),
    "asterisk": (_text_reader("asterisk"), "text"),
    "freeswitch": (_text_reader("freeswitch"), "text"),
    "sipp_log": (_text_reader("sipp_log"), "text"),
    "raw_sip": (_text_reader("raw_sip"), "text"),
    "text.gz": (gzip_text_reader, "text"),
    "sniffing": (sniffing, "pcap"),
    "ip_fragments": (ip_fragments, "pcap"),
    "hep_websocket": (hep_and_websocket, "pcap"),
    "sctp": (sctp, "pcap"),
    "sip_sdp": (sip_parser, "text"),
    "rules": (rules, "text"),
    "rules_pcap": (rules_on_a_capture, "pcap"),
}

"""All text trace readers together: sniffing, MANIFEST counts on the corpus, golden summaries,
robustness to what pasting does to text (prose, line endings, indentation) and to arbitrary text."""

from __future__ import annotations

import random
import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sipscope.core.sources import (asterisk, freeswitch, ngrep, raw_sip, registry, sipp_log)
from sipscope.core.sources.datagram import EXCERPT, NotACaptureError

from .text_support import DATA, call_ids, check_golden, essence, read_file_with, read_with

TEXT_MODULES = (ngrep, asterisk, freeswitch, sipp_log, raw_sip)
TEXT_READERS = tuple(f"sipscope.core.sources.{m.NAME}" for m in TEXT_MODULES)

# (sample in tests/data, reader, regex of the lines that open a message in that format)
SAMPLES = [
    ("ngrep-kamailio-record-route-call.txt", ngrep, r"^[UT] "),
    ("asterisk-pjsip-logger-invite-401-loop.txt", asterisk, r"^<--- (Received|Transmitting)"),
    ("asterisk-chansip-sip-debug-subscribe-401-notify.txt", asterisk,
     r"^(<--- (SIP read|Transmitting)|Reliably Transmitting)"),
    ("freeswitch-siptrace-wss-invite-422.txt", freeswitch, r"^(recv|send) [0-9]+ bytes"),
    ("freeswitch-log-wss-jssip-two-calls.txt", freeswitch, r"^(recv|send) [0-9]+ bytes"),
    ("sipp-uas-error-log-unexpected-messages.log", sipp_log, r"^[0-9]{4}-[0-9]{2}-[0-9]{2}\t"),
    ("raw-sip-pjsip-invite-401-loop.txt", raw_sip, r"^(INVITE|ACK|SIP/2\.0) "),
]
EXPECTED = {   # messages, Call-IDs, per MANIFEST (the raw sample is the pjsip one without markers)
    "ngrep-kamailio-record-route-call.txt": (6, 1),
    "asterisk-pjsip-logger-invite-401-loop.txt": (6, 1),
    "asterisk-chansip-sip-debug-subscribe-401-notify.txt": (6, 1),
    "freeswitch-siptrace-wss-invite-422.txt": (3, 1),
    "freeswitch-log-wss-jssip-two-calls.txt": (8, 2),
    "sipp-uas-error-log-unexpected-messages.log": (45, 4),
    "raw-sip-pjsip-invite-401-loop.txt": (6, 1),
}
PROSE = [
    "Customer says the call dropped after about 30 seconds.",
    "**Second leg below - look at the branch parameter**",
    "Here is what the phone sent next, see ticket 4711 for the rest:",
    "(I trimmed a few OPTIONS pings here)",
    "Thanks,\nBob from second-line support",
    "The PBX is on the LAN, the phone is remote behind a NAT router.",
]


@pytest.fixture
def text_only_registry(monkeypatch):
    """The registry restricted to the text readers (the pcap reader is someone else's module)."""
    monkeypatch.setattr(registry, "READER_MODULES", TEXT_READERS)
    return registry


def _text(name: str) -> str:
    return (DATA / name).read_bytes().decode("utf-8", "surrogateescape")


# --- sniffing ---------------------------------------------------------------------------------

@pytest.mark.parametrize("name,module,opener", SAMPLES, ids=[s[0] for s in SAMPLES])
def test_sniff_picks_the_right_reader(name, module, opener, text_only_registry):
    head = (DATA / name).read_bytes()[:registry.SNIFF_BYTES]
    assert text_only_registry.choose_reader(head) is module
    scores = {m.NAME: m.sniff(head) for m in TEXT_MODULES}
    assert scores[module.NAME] == (0.3 if module is raw_sip else 0.9)


def test_sniff_scores_raw_sip_low_and_rejects_non_sip():
    raw = (DATA / "raw-sip-pjsip-invite-401-loop.txt").read_bytes()
    assert raw_sip.sniff(raw) == 0.3
    assert [m.sniff(raw) for m in TEXT_MODULES if m is not raw_sip] == [0.0] * 4
    prose = b"Dear support, my phone does not ring. INVITE is sent, I think.\nRegards\n"
    assert [m.sniff(prose) for m in TEXT_MODULES] == [0.0] * 5
    pcap_head = b"\xd4\xc3\xb2\xa1\x02\x00\x04\x00" + raw
    pcapng_head = b"\x0a\x0d\x0d\x0a" + raw
    for head in (pcap_head, pcapng_head):
        assert [m.sniff(head) for m in TEXT_MODULES] == [0.0] * 5


def test_text_without_sip_reads_nothing_and_says_so(text_only_registry):
    for module in TEXT_MODULES:
        report, datagrams = read_with(module, "Hello,\nthe phone rings once and stops.\n")
        assert datagrams == []
        assert report.warnings == [f"no SIP message found in this text (tried format {module.NAME})"]
    with pytest.raises(NotACaptureError, match="contains no SIP messages"):
        text_only_registry.read_text("just some words\n")


# --- counts ------------------------------------------------------------------------------------

@pytest.mark.parametrize("name,module,opener", SAMPLES, ids=[s[0] for s in SAMPLES])
def test_sample_counts_and_golden_summary(name, module, opener):
    report, datagrams = read_file_with(module, DATA / name)
    assert (len(datagrams), len(call_ids(datagrams))) == EXPECTED[name]
    assert report.packets == len(datagrams)
    check_golden(Path(name).stem, datagrams)


def _manifest_text_rows(manifest: Path) -> dict[str, tuple[int, int]]:
    rows = {}
    for line in manifest.read_text(encoding="utf-8").splitlines():
        match = re.match(r"\| `([^`]+\.(?:txt|log))` \|", line)
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if match and len(cells) > 7 and cells[6].isdigit():
            rows[match.group(1)] = (int(cells[6]), int(cells[7]))
    rows["blog-grandstream-forked-call.txt"] = (12, 1)      # described below the table
    return rows


def test_every_corpus_text_trace_gives_manifest_counts(shared_traces, text_only_registry):
    rows = _manifest_text_rows(shared_traces / "MANIFEST.md")
    assert len(rows) == 7
    for name, expected in rows.items():
        text = (shared_traces / name).read_bytes().decode("utf-8", "surrogateescape")
        report, datagrams = text_only_registry.read_text(text)      # the clipboard path
        assert (len(datagrams), len(call_ids(datagrams))) == expected, (name, report.format)
        report, from_file = text_only_registry.open_input(str(shared_traces / name))
        assert [d.payload for d in from_file] == [d.payload for d in datagrams], name


def test_full_registry_reads_text_when_the_pcap_reader_exists():
    pytest.importorskip("sipscope.core.sources.pcap", reason="the pcap reader is not written yet")
    report, datagrams = registry.read_text(_text("asterisk-chansip-sip-debug-subscribe-401-notify.txt"))
    assert (report.format, len(datagrams)) == ("asterisk", 6)


# --- what pasting does to text -----------------------------------------------------------------

def _with_prose(text: str, opener: str, seed: int) -> tuple[str, list[str]]:
    rng = random.Random(seed)
    pool = PROSE[:]
    rng.shuffle(pool)
    inserted: list[str] = []
    out = []
    for line in re.split(r"(?<=\n)", text):
        if re.match(opener, line):
            paragraph = pool[len(inserted) % len(pool)]
            inserted.append(paragraph)
            out.append("\n" + paragraph + "\n\n")
        out.append(line)
    return "".join(out), inserted


def _endings(text: str, eol: str) -> str:
    return re.sub(r"\r?\n", eol, text)


def _indent(text: str, prefix: str) -> str:
    return "".join(prefix + line for line in re.split(r"(?<=\n)", text) if line)


@pytest.mark.parametrize("name,module,opener", SAMPLES, ids=[s[0] for s in SAMPLES])
def test_prose_line_endings_and_indentation_do_not_change_what_is_read(name, module, opener):
    text = _text(name)
    _, base = read_with(module, text)
    assert base
    variants = {
        "LF": _endings(text, "\n"),
        "CRLF": _endings(text, "\r\n"),
        "spaces": _indent(text, "    "),
        "tab": _indent(text, "\t"),
        "email": _indent(_endings(text, "\r\n"), " \t "),
    }
    for seed in (1, 2):
        variants[f"prose{seed}"] = _with_prose(text, opener, seed)[0]
    prose_text, inserted = _with_prose(text, opener, 3)
    variants["prose+CRLF+indent"] = _indent(_endings(prose_text, "\r\n"), "  ")
    for label, variant in variants.items():
        _, got = read_with(module, variant)
        assert essence(got, EXCERPT) == essence(base, EXCERPT), label
    _, got = read_with(module, prose_text)
    if module in (ngrep, raw_sip):          # foreign prose: kept as notes, the text is an excerpt
        assert all(d.flags & EXCERPT for d in got)
        assert [d.note for d in got] == inserted
    else:                                   # log noise is part of these formats
        assert essence(got) == essence(base)


# --- arbitrary text ----------------------------------------------------------------------------

def _line_pool() -> list[str]:
    lines = []
    for name, _, _ in SAMPLES:
        lines += _text(name).splitlines()[:150]
    lines += _text("ngrep-kamailio-record-route-call.txt").splitlines()
    return lines


LINE_POOL = _line_pool()
MESSY_TEXT = st.lists(
    st.one_of(st.sampled_from(LINE_POOL), st.text(max_size=60),
              st.sampled_from(["", ".", "#", "<------------->", "---", "'.", "Content-Length: 99",
                               "l: 0", "SIP/2.0 200 OK", "U 1:2 -> 3:4", "To: .",
                               "recv 5 bytes from udp/[::1]:5060 at 99:99:99.9:"])),
    max_size=80,
).map(lambda lines: "\n".join(lines))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(st.text(), MESSY_TEXT))
def test_arbitrary_text_never_raises(text):
    for module in TEXT_MODULES:
        report, datagrams = read_with(module, text)
        assert report.packets == len(datagrams)
        for datagram in datagrams:
            assert datagram.src and datagram.dst and isinstance(datagram.payload, bytes)
        module.sniff(text.encode("utf-8", "surrogatepass"))


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=400))
def test_arbitrary_bytes_never_raise(data):
    import io

    from sipscope.core.sources.datagram import InputReport

    for module in TEXT_MODULES:
        module.sniff(data)
        report = InputReport(path="<bytes>")
        list(module.read(io.BytesIO(data), report, 0))

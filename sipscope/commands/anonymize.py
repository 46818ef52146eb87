"""`sipscope anonymize IN [IN...] [-o OUT]`: copies of captures that are safe to attach to a ticket."""

from __future__ import annotations

import os
import sys
import tempfile
from contextlib import contextmanager

HELP = "write anonymized copies of captures/traces (same format, consistent pseudonyms)"
EXIT_OK, EXIT_ERROR = 0, 1
DESCRIPTION = """\
Write a copy of each input with every identity replaced by a pseudonym: IP addresses (in IP
headers, tunnels, HEP, SIP and SDP text), user parts and phone numbers, display names, host and
domain names, Call-IDs, tags, branches and the Digest values (username, realm, nonce, cnonce,
response, opaque). Pseudonyms are consistent across the whole file and across all inputs given
together, and each has the length of what it replaces, so message lengths, Content-Length and
TCP sequence numbers stay valid; checksums are recomputed.

Addresses keep their class: a public address becomes one of the documentation ranges
(192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24; 240.0.0.0/4 or 0.0.0.0/8 when no documentation
address has the text length), a private one stays in its own private block (10/8, 172.16/12,
192.168/16, 100.64/10, 169.254/16), IPv6 goes to 2001:db8::/32 (link-local and ULA stay so);
loopback, 0.0.0.0, multicast and broadcast are kept. Numbers keep their length, '+' and zeros,
and numbers that end alike still end alike. Kept as they are: User-Agent and Server text (only
addresses and known names inside are replaced), methods, status codes, codecs, ports, times,
and the signatures of attack tools (catalog 11.1).

pcap/pcapng give the same container; a text trace (ngrep, Asterisk, FreeSWITCH, SIPp log, raw
SIP) gives the same text format; a .gz input is written uncompressed. Output names: with one
input, -o OUT is the output file (or a directory to write NAME.anon.EXT into); with several
inputs, -o names a directory (created if missing) that receives NAME.anon.EXT for each; without
-o each copy goes beside its input as NAME.anon.EXT. An output that is an input is refused.

DNS queries and answers for the capture's hosts are rewritten (names label by label, A/AAAA
addresses); MAC addresses of the link header and in SIP text keep their maker prefix and lose
the device part. Not anonymized: TLS payloads (encrypted; known names in the handshake are
replaced), STUN XOR-mapped addresses, other DNS records, MAC addresses of frames inside tunnels,
compressed WebSocket frames, an extension of 3-5 digits in free log text (it is replaced in URIs,
display names, Digest and quoted values). The Digest response is replaced, so the weak-password
check (sec-weak-digest-password) cannot run on the copy.
"""


def add_arguments(parser, add_inputs) -> None:
    parser.description = DESCRIPTION
    import argparse
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    add_inputs(parser)
    parser.add_argument("-o", "--output", metavar="OUT",
                        help="output file (one input) or directory (several inputs); default: "
                             "NAME.anon.EXT beside each input")
    parser.add_argument("--silence-rtp", action="store_true",
                        help="replace RTP payloads by silence (G.711 mu-law 0xFF, A-law 0xD5, "
                             "others zero; DTMF events are zeroed too)")
    parser.add_argument("--map", metavar="FILE.json", dest="map_path",
                        help="also write the pseudonym map (original -> pseudonym) as JSON, for "
                             "your own reference: never attach it to the ticket")


def output_pairs(files: list[str], output: str | None) -> list[tuple[str, str]]:
    """(input, output) for each input, as described in DESCRIPTION."""
    from sipscope.core.export.anonymize import output_path
    several = len(files) > 1
    return [(path, output_path(path, output, several)) for path in files]


@contextmanager
def anonymized_inputs(args):
    """For `export --anonymize`: args.files replaced by anonymized copies in a temporary folder
    for as long as the block runs (message bytes are read back from them), and a Call-ID given
    with --call translated to its pseudonym (a call number needs nothing: the copy has the same
    calls in the same order)."""
    from sipscope.core.export.anonymize import anonymize_files
    with tempfile.TemporaryDirectory(prefix="sipscope-anon-") as folder:
        # the copies are named anonymized-N.EXT: the PNG's caption names its input files, and
        # a file name may name the customer
        pairs = [(path, os.path.join(folder, f"anonymized-{number}{_extension(path)}"))
                 for number, path in enumerate(args.files, 1)]
        result = anonymize_files(pairs, args.format_name)
        args.files = [target for _, target in pairs]
        if getattr(args, "call", None) and not args.call.isdigit():
            args.call = result.text.identifier(args.call)
        yield


def run(args) -> int:
    from sipscope.core.export.anonymize import anonymize_files
    from sipscope.core.export.output import OutputError
    from sipscope.core.sources.datagram import NotACaptureError
    if "-" in args.files:
        print("sipscope anonymize: standard input cannot be anonymized (the input is read "
              "twice); save it to a file first", file=sys.stderr)
        return EXIT_ERROR
    for path in args.files:
        if not os.path.isfile(path):
            print(f"sipscope anonymize: cannot open {_safe(path)}", file=sys.stderr)
            return EXIT_ERROR
    pairs = output_pairs(args.files, args.output)
    try:
        result = anonymize_files(pairs, args.format_name, silence_rtp=args.silence_rtp,
                                 map_path=args.map_path)
    except (NotACaptureError, OutputError, OSError) as exc:
        print(f"sipscope anonymize: {_safe(str(exc))}", file=sys.stderr)
        return EXIT_ERROR
    for source, target in pairs:
        print(f"{_safe(source)} -> {_safe(target)}")
    for line in result.summary()[1:]:
        print(f"  {line}")
    return EXIT_OK


def _extension(path: str) -> str:
    """The extension of the anonymized copy: .pcap, .pcapng, .txt ... (a .gz is dropped)."""
    name = os.path.basename(path)
    name = name[:-3] if name.lower().endswith(".gz") else name
    return os.path.splitext(name)[1]


def _safe(text: str) -> str:
    """A file name or message for the terminal, without control characters."""
    return "".join(ch if ch.isprintable() else "?" for ch in text)

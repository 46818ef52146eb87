"""`sipscope anonymize`: the copy reads the same (calls, messages, forks, streams, findings) and
holds none of the original's addresses, numbers, names or domains."""

from __future__ import annotations

import ipaddress
import json
import re
from pathlib import Path

import dpkt
import pytest

from core.export.anonymize_checks import Identities, header_addresses, structure
from sipscope.cli import _extra_commands, build_parser
from sipscope.core.analysis.context import is_private
from sipscope.core.analysis.rules.nat import private_range
from sipscope.core.export.anonymize import anonymize_files
from sipscope.core.export.anonymize_packets import frames
from sipscope.core.export.pseudonyms import PseudonymMap
from sipscope.core.export.rewrite_text import KnownIdentities, TextRewriter
from sipscope.core.sip.message import parse_message
from sipscope.core.sources import linktypes

DATA = Path(__file__).resolve().parents[2] / "data"
LOCAL = ["udp-two-calls-rtp-g711-pcma-pcmu.pcap", "udp-call-info-dtmf-cancel.pcap",
         "udp-compact-form-headers-invite.pcap", "tcp-null-loopback-64k-invite-5-segments.pcap",
         "tcp-register-split-across-segments.pcap", "tcp-zoiper-register-unregister-churn.pcap",
         "udp-vega-gateway-401-183-early-media-calls.pcap",
         "udp-loopback-kamailio-proxied-call-two-legs.pcap",
         "rawip-class4-b2bua-183-prack-update-two-legs.pcapng",
         "scanner-friendly-scanner-invite-sweep-register-crack.pcap",
         "blog-grandstream-forked-call.txt", "asterisk-chansip-sip-debug-subscribe-401-notify.txt",
         "freeswitch-log-wss-jssip-two-calls.txt", "ngrep-kamailio-record-route-call.txt",
         "sipp-uas-error-log-unexpected-messages.log"]
SHARED = ["ipv4-fragmented-udp-register-subscribe-invite.pcap",
          "erspan-gre-refer-subscribe-notify-hold.pcapng", "websocket-and-udp-calls.pcap",
          "hep3-udp9060-sip-rtcp-log.pcap", "ipip-tunnel-tcp-call.pcap",
          "sctp-sll-invite-403.pcap", "udp-register-call-rtp-g711a-rtcp.pcap",
          "real/udp-sbc-b2bua-100rel-prack-options-483-probe.pcap",
          "real/udp-nat-linphone-trunk-503-then-183-early-media-call.pcap",
          "real/asterisk-pjsip-rls-notify-11k-multipart-rlmi-pidf.txt"]


def main(argv: list[str]) -> int:
    """The command as `sipscope` runs it, without cli.main's process-wide gc.freeze()."""
    args = build_parser().parse_args(argv)
    return dict(_extra_commands())[args.command].run(args)


def round_trip(source: Path, tmp_path: Path) -> None:
    """Anonymize, read back: same structure and findings; then, with RTP silenced (random
    audio bytes could spell a short name by chance), no identity left in the bytes.  A fixed
    seed: a number's pseudonym may be another original number (sip:100@ for someone else's
    812), which a leak search cannot tell from a leak, so the run must be reproducible."""
    out = tmp_path / f"anon-{source.name}"
    anonymize_files([(str(source), str(out))], seed=11)
    assert out.stat().st_size == len(Path(source).read_bytes()) or source.suffix == ".gz"
    assert structure(str(out)) == structure(str(source))
    silent = tmp_path / f"silent-{source.name}"
    anonymize_files([(str(source), str(silent))], silence_rtp=True, seed=11)
    identities = Identities(str(source))
    assert identities.leaks(silent.read_bytes()) == []


@pytest.mark.parametrize("name", LOCAL)
def test_round_trip_on_the_test_captures(name, tmp_path):
    round_trip(DATA / name, tmp_path)


@pytest.mark.parametrize("name", SHARED)
def test_round_trip_on_shared_captures(name, shared_traces, tmp_path):
    round_trip(shared_traces / name, tmp_path)


def test_identities_of_a_capture_are_found_before_and_gone_after(tmp_path):
    """The leak search is real: it finds the blog trace's identities in the original."""
    source = DATA / "blog-grandstream-forked-call.txt"
    identities = Identities(str(source))
    assert {"lisa", "michele"} <= identities.users
    assert "66.227.100.215" in identities.v4
    assert "jnctn.net" in identities.domains
    assert identities.leaks(source.read_bytes())
    out = tmp_path / "blog.txt"
    anonymize_files([(str(source), str(out))])
    text = out.read_text()
    assert "lisa" not in text.lower() and "66.227.100.215" not in text
    # the hand-anonymized original lost every <...> value; the copy keeps what it has, and
    # the masked addresses keep their masks
    assert re.search(r"\d+\.\d+\.\dxx\.\dxx:5060", text)
    assert text.count("\n") == source.read_text().count("\n")


def test_uri_structure_and_lengths_are_kept():
    message = (b'INVITE sip:+4930123456@pbx.acme-corp.com;user=phone SIP/2.0\r\n'
               b'Via: SIP/2.0/UDP 192.168.1.20:5060;branch=z9hG4bKd146.d2c78147.2;rport\r\n'
               b'Via: SIP/2.0/UDP 192.168.1.20:5060;branch=z9hG4bKd146.d2c78147.5;rport\r\n'
               b'From: "Alice Smith" <sip:alice@acme-corp.com>;tag=as2bbf1438\r\n'
               b'To: Bob <sip:+4930123456@acme-corp.com>\r\n'
               b'Call-ID: 1330352b536b8d7a@192.168.1.20\r\n'
               b'Contact: <sip:alice@85.12.34.56:5060>\r\n'
               b'Proxy-Authorization: Digest username="alice", realm="acme-corp.com", '
               b'nonce="4f2a", uri="sip:pbx.acme-corp.com", response="9b8c7d6e5f4a3b2c"\r\n'
               b'User-Agent: Grandstream GXP2000 1.1.6.46\r\n'
               b'Content-Type: application/sdp\r\nContent-Length: 52\r\n\r\n'
               b'v=0\r\no=alice 1 1 IN IP4 85.12.34.56\r\nc=IN IP4 85.12.34.56\r\n')
    known = KnownIdentities()
    from sipscope.core.export.anonymize import learn_message
    learn_message(known, parse_message(message))
    out = TextRewriter(PseudonymMap(seed=7), known).rewrite(message)
    assert len(out) == len(message)
    for gone in (b"4930123456", b"acme-corp", b"alice", b"Alice", b"Smith", b"Bob", b"85.12.34.56",
                 b"192.168.1.20", b"as2bbf1438", b"1330352b536b8d7a", b"9b8c7d6e5f4a3b2c",
                 b"d2c78147"):
        assert gone not in out, gone
    parsed = parse_message(out)
    assert parsed.method == "INVITE" and parsed.request_uri.startswith("sip:+")
    assert re.fullmatch(r'"\w+ \w+" <sip:\w+@[\w-]+\.com>;tag=\w+', parsed.get("From"))
    assert parsed.get("Content-Length") == "52" and len(parsed.body) == 52
    # the forked branches still share their transaction part; the cookie is kept
    vias = parsed.header_values("Via")
    b1, b2 = (v.split("branch=")[1].split(";")[0] for v in vias)
    assert b1.startswith("z9hG4bK") and b1[:-1] == b2[:-1] and b1 != b2
    # one user, one pseudonym: From, Contact, Digest username and o= line agree
    user = re.search(r"<sip:(\w+)@", parsed.get("From")).group(1)
    assert f'username="{user}"' in out.decode() and f"o={user} " in out.decode()
    assert "Grandstream GXP2000 1.1.6.46" in out.decode()      # versions are no addresses


def test_addresses_keep_class_length_and_range():
    pseudonyms = PseudonymMap(seed=3)
    for original in ("192.168.1.107", "10.0.2.15", "172.20.3.4", "100.64.10.1", "169.254.1.9",
                     "85.12.34.56", "212.227.124.129", "8.8.8.8", "203.0.113.9"):
        mapped = pseudonyms.address(original)
        assert mapped != original and len(mapped) == len(original)
        assert is_private(mapped) == is_private(original)
        assert private_range(mapped) == private_range(original)
        assert pseudonyms.address(original) == mapped                # consistent
    assert pseudonyms.address("85.12.34.56").startswith(("192.0.2.", "203.0.113.", "198.51.100."))
    for kept in ("127.0.0.1", "0.0.0.0", "224.0.1.75", "::1"):
        assert pseudonyms.address(kept) == kept
    v6 = pseudonyms.address("2a00:1450:4001:82a::200e")
    assert len(v6) == 24 and not is_private(v6) and v6.startswith("3fff:")
    assert ipaddress.ip_address(v6) in ipaddress.ip_network("3fff::/20")
    assert pseudonyms.address("fe80::1").startswith("fe80::")
    assert pseudonyms.address("2001:db8::1").startswith("2001:db8:")


def test_numbers_keep_shape_and_shared_endings():
    pseudonyms = PseudonymMap(seed=5)
    probes = ["9011972592123456", "011972592123456", "00972592123456"]
    mapped = [pseudonyms.number(n) for n in probes]
    assert [len(m) for m in mapped] == [len(n) for n in probes]
    assert len({m[-10:] for m in mapped}) == 1 and mapped[2].startswith("00")
    assert pseudonyms.number("+4930123456").startswith("+")
    assert pseudonyms.number("+4930123456")[1:] == pseudonyms.number("4930123456")
    many = [str(n) for n in range(100, 1000)]
    assert len({pseudonyms.number(n) for n in many}) == len(many)      # no two alike


def test_two_inputs_given_together_share_one_map(tmp_path):
    pcap = DATA / "udp-two-calls-rtp-g711-pcma-pcmu.pcap"
    text = tmp_path / "same-hosts.txt"
    text.write_bytes(b"OPTIONS sip:test@10.0.2.15:5060 SIP/2.0\r\n"
                     b"Via: SIP/2.0/UDP 10.0.2.20:5060;branch=z9hG4bK-77\r\n"
                     b"From: <sip:sipp@10.0.2.20>;tag=9\r\nTo: <sip:test@10.0.2.15>\r\n"
                     b"Call-ID: 1-1966@10.0.2.20\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n")
    outputs = [tmp_path / "a.pcap", tmp_path / "b.txt"]
    result = anonymize_files([(str(pcap), str(outputs[0])), (str(text), str(outputs[1]))])
    mapped = result.pseudonyms.address("10.0.2.20")
    assert mapped in header_addresses(outputs[0].read_bytes())
    assert f"UDP {mapped}:5060".encode() in outputs[1].read_bytes()
    call_id = re.search(rb"Call-ID: (\S+)", outputs[1].read_bytes()).group(1)
    assert call_id in outputs[0].read_bytes()                 # the same Call-ID in both files
    assert b"10.0.2.20" not in outputs[0].read_bytes() + outputs[1].read_bytes()


def test_checksums_are_valid_and_tcp_sequence_numbers_kept(tmp_path):
    source = DATA / "tcp-register-split-across-segments.pcap"
    out = tmp_path / "tcp.pcap"
    anonymize_files([(str(source), str(out))])
    before, after = bytearray(source.read_bytes()), bytearray(out.read_bytes())
    checked = 0
    for (lt, s, e), (_, s2, e2) in zip(frames(before), frames(after)):
        version, off = linktypes.network_start(lt, bytes(after[s2:e2]))
        ip = dpkt.ip.IP(bytes(after[s2 + off:e2]))
        old = dpkt.ip.IP(bytes(before[s + off:e]))
        assert ip.data.seq == old.data.seq and len(ip.data.data) == len(old.data.data)
        stored = (ip.sum, ip.data.sum)
        ip.sum = ip.data.sum = 0
        repacked = dpkt.ip.IP(bytes(ip))
        assert (repacked.sum, repacked.data.sum) == stored
        checked += 1
    assert checked == 11


def test_silence_rtp_replaces_g711_payloads(tmp_path):
    source = DATA / "udp-two-calls-rtp-g711-pcma-pcmu.pcap"
    out = tmp_path / "silent.pcap"
    anonymize_files([(str(source), str(out))], silence_rtp=True)
    payloads = {0: set(), 8: set()}
    buf = bytearray(out.read_bytes())
    for lt, s, e in frames(buf):
        udp = dpkt.ethernet.Ethernet(bytes(buf[s:e])).data.data
        data = bytes(getattr(udp, "data", b""))
        if len(data) > 12 and data[0] >> 6 == 2 and data[1] & 0x7F in payloads:
            payloads[data[1] & 0x7F].update(data[12:])
    assert payloads == {0: {0xFF}, 8: {0xD5}}
    assert structure(str(out))[1] == structure(str(source))[1]      # the same streams


def test_cli_names_outputs_refuses_an_input_and_writes_the_map(tmp_path, capsys):
    pcap, text = DATA / "udp-junk-before-request.pcap", DATA / "ngrep-kamailio-record-route-call.txt"
    folder = tmp_path / "out"
    assert main(["anonymize", str(pcap), str(text), "-o", str(folder),
                 "--map", str(tmp_path / "map.json")]) == 0
    assert sorted(p.name for p in folder.iterdir()) == [
        "ngrep-kamailio-record-route-call.anon.txt", "udp-junk-before-request.anon.pcap"]
    mapping = json.loads((tmp_path / "map.json").read_text())
    assert mapping["addresses"] and all(len(k) == len(v) for k, v in mapping["addresses"].items())
    before = pcap.read_bytes()
    assert main(["anonymize", str(pcap), "-o", str(pcap)]) == 1
    assert pcap.read_bytes() == before
    assert "is the input file" in capsys.readouterr().err


def test_export_anonymize_draws_the_anonymized_model(tmp_path, monkeypatch):
    drawn = []
    import sipscope.commands.export as export
    monkeypatch.setitem(export.EXPORTERS, "ladder", lambda session, args: drawn.append(
        (session, b"".join(m.raw for m in session.messages))) or "drawn")
    source = DATA / "blog-grandstream-forked-call.txt"
    assert main(["export", str(source), "--anonymize", "-o", str(tmp_path / "x.png")]) == 0
    session, raw = drawn[0]
    assert len(session.messages) == 12 and b"INVITE sip:" in raw
    assert [Path(str(r.path)).name for r in session.inputs] == ["anonymized-1.txt"]
    assert b"jnctn.net" not in raw and b"lisa" not in raw.lower()


def test_hostile_text_keeps_its_length_and_never_raises():
    """Pieces of SIP glued with random bytes (Latin-1 '²' is a digit to str.isdigit, a lone
    '@', '%4', an unclosed quote, an address with 4-digit octets ...)."""
    import random
    rng = random.Random(17)
    pieces = [b"sip:", b"tel:+", b"@", b"%40", b"%3B", b'"', b"<", b">", b";tag=", b";branch=",
              b"z9hG4bK", b"Call-ID: ", b"\r\nFrom: ", b"\r\nUser-Agent: ", b"username=",
              b"10.0.0.1", b"1.2.3.4567", b"::", b"fe80::1%", b"\xb2\xb3", b"\xc3\xb6", b"2xx",
              b".", b"-", b"_", b"100", b"+49", b"alice", b"example.com", b"\x00", b"\n"]
    known = KnownIdentities()
    known.add_user("alice")
    known.add_user("100")
    known.add_id("abc123def")
    rewriter = TextRewriter(PseudonymMap(seed=1), known)
    for _ in range(400):
        data = b"".join(rng.choice(pieces) if rng.random() < 0.8 else bytes([rng.randrange(256)])
                        for _ in range(rng.randrange(1, 40)))
        assert len(rewriter.rewrite(data)) == len(data)
        assert len(rewriter.rewrite_binary(data)) == len(data)


def test_a_damaged_capture_is_anonymized_as_far_as_it_reads(tmp_path):
    source = (DATA / "udp-call-info-dtmf-cancel.pcap").read_bytes()
    cut = tmp_path / "cut.pcap"
    cut.write_bytes(source[: len(source) // 2 + 7])            # the last record cut short
    out = tmp_path / "out.pcap"
    anonymize_files([(str(cut), str(out))])
    assert len(out.read_bytes()) == len(cut.read_bytes())
    assert not header_addresses(out.read_bytes()) & header_addresses(cut.read_bytes())


def test_product_text_keeps_versions_and_names_but_not_addresses():
    from sipscope.core.export.anonymize import learn_message
    message = (b"REGISTER sip:pbx SIP/2.0\r\nVia: SIP/2.0/UDP 10.1.2.3:5060;branch=z9hG4bK1\r\n"
               b"From: <sip:alice@pbx>;tag=1\r\nTo: <sip:alice@pbx>\r\nCall-ID: x1@10.1.2.3\r\n"
               b"User-Agent: Asterisk PBX 16.2.1.0 at 10.1.2.3\r\nContent-Length: 0\r\n\r\n")
    known = KnownIdentities()
    learn_message(known, parse_message(message))
    pseudonyms = PseudonymMap(seed=2)
    out = parse_message(TextRewriter(pseudonyms, known).rewrite(message))
    assert out.get("User-Agent") == f"Asterisk PBX 16.2.1.0 at {pseudonyms.address('10.1.2.3')}"
    assert out.request_uri != "sip:pbx" and len(out.request_uri) == len("sip:pbx")


def test_dns_names_of_the_capture_and_answer_addresses_are_replaced(shared_traces, tmp_path):
    source = shared_traces / "udp-register-401-407-403-cancel-408-480-mixed-traffic.pcap"
    out = tmp_path / "dns.pcap"
    result = anonymize_files([(str(source), str(out))])
    before, after = source.read_bytes(), out.read_bytes()
    label = b"\x09cybercity\x02dk\x00"                # sip.cybercity.dk in DNS wire format
    assert label in before and label not in after
    assert b"\x04_sip\x04_udp\x03" in after           # the service labels are kept
    answer = bytes([212, 242, 33, 35])                # an A answer for sip.cybercity.dk
    assert answer in before and answer not in after
    assert result.pseudonyms.packed(answer) in after


def _tcp_frame(seq: int, flags: int, payload: bytes = b"") -> bytes:
    tcp = dpkt.tcp.TCP(sport=40000, dport=5060, seq=seq, flags=flags, data=payload)
    ip = dpkt.ip.IP(src=bytes([10, 9, 8, 7]), dst=bytes([85, 12, 34, 56]), p=6, data=tcp)
    ip.len += len(tcp)
    return bytes(dpkt.ethernet.Ethernet(src=b"\x02" * 6, dst=b"\x04" * 6, data=ip))


def test_a_message_split_over_segments_of_a_reused_connection_is_rewritten_whole(tmp_path):
    """Two connections on the same ports with initial sequence numbers 2**31 apart; in the
    second the user name is cut between two segments."""
    message = (b"REGISTER sip:85.12.34.56 SIP/2.0\r\nVia: SIP/2.0/TCP 10.9.8.7:40000;branch=z9hG4bK7"
               b"\r\nFrom: <sip:alexandra@85.12.34.56>;tag=77\r\nTo: <sip:alexandra@85.12.34.56>\r\n"
               b"Call-ID: 9f8e7d6c@10.9.8.7\r\nCSeq: 1 REGISTER\r\nContent-Length: 0\r\n\r\n")
    cut = message.index(b"alexandra") + 4
    path = tmp_path / "reuse.pcap"
    with open(path, "wb") as handle:
        writer = dpkt.pcap.Writer(handle)
        for ts, frame in enumerate([_tcp_frame(100, dpkt.tcp.TH_SYN),
                                    _tcp_frame(101, dpkt.tcp.TH_ACK, message),
                                    _tcp_frame(2**31 + 500, dpkt.tcp.TH_SYN),
                                    _tcp_frame(2**31 + 501, dpkt.tcp.TH_ACK, message[:cut]),
                                    _tcp_frame(2**31 + 501 + cut, dpkt.tcp.TH_ACK, message[cut:])]):
            writer.writepkt(frame, ts=1_700_000_000 + ts)
    out = tmp_path / "out.pcap"
    anonymize_files([(str(path), str(out))])
    data = out.read_bytes()
    assert b"alex" not in data and b"andra" not in data
    assert structure(str(out)) == structure(str(path))


def test_mac_addresses_keep_the_maker_and_lose_the_device(tmp_path):
    source = DATA / "udp-call-info-dtmf-cancel.pcap"
    out = tmp_path / "mac.pcap"
    anonymize_files([(str(source), str(out))])
    before, after = bytearray(source.read_bytes()), bytearray(out.read_bytes())
    macs = set()
    for (_, s, _e), (_, s2, _e2) in zip(frames(before), frames(after)):
        for a, b in ((0, 6), (6, 12)):
            old, new = bytes(before[s + a:s + b]), bytes(after[s2 + a:s2 + b])
            assert new[:3] == old[:3] and (new == old) == bool(old[0] & 1)
            macs.add(old)
    assert macs and not any(mac in after for mac in macs if not mac[0] & 1)
    text = (b"User-Agent: Yealink SIP-T46S 66.84.0.10 00:15:65:AA:BB:CC\r\n"
            b"a=fingerprint:sha-256 21:B5:56:5A:47:9A:0C:A4:A4:AC:04:40:61:7A:AA:00\r\n")
    rewritten = TextRewriter(PseudonymMap(seed=4), KnownIdentities()).rewrite(text)
    assert b"Yealink SIP-T46S 66.84.0.10 00:15:65:" in rewritten
    assert b"AA:BB:CC" not in rewritten and rewritten.endswith(text.splitlines(True)[1])

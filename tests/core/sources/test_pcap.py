"""The pcap reader on synthetic captures built with dpkt: framing, link types, IP, UDP, TCP."""

from __future__ import annotations

import struct

from .pcap_build import (ACK, FIN, PSH, SYN, T0, ether, ip_bytes, ipv4, ipv6, message, pcap_file,
                        pcapng_file, read_bytes, sip_only, status, tcp4_frame, udp, udp4_frame)

from sipscope.core.sources import pcap
from sipscope.core.sources.datagram import REASSEMBLED

A, B = "10.0.0.1", "10.0.0.2"
RTP = struct.pack(">BBHII", 0x80, 0, 1, 160, 0x1234) + b"\xff" * 160


def udp_capture(*payloads: bytes) -> bytes:
    return pcap_file([(T0 + i, udp4_frame(A, B, 5060, 5060, p)) for i, p in enumerate(payloads)])


# --- sniff and framing ---------------------------------------------------------------------

def test_sniff_accepts_every_pcap_magic_and_pcapng():
    for magic in ("a1b2c3d4", "d4c3b2a1", "a1b23c4d", "4d3cb2a1"):
        assert pcap.sniff(bytes.fromhex(magic) + b"\x00" * 20) == 1.0
    assert pcap.sniff(pcapng_file([(1, None)], [])) == 1.0
    assert pcap.sniff(b"INVITE sip:a@b SIP/2.0\r\n") == 0
    assert pcap.sniff(b"\x0a\x0d\x0d\x0a\x1c\x00\x00\x00XXXX") == 0    # no byte-order magic
    assert pcap.sniff(b"") == 0


def test_microsecond_pcap_gives_addresses_time_frame_and_transport():
    report, datagrams = read_bytes(udp_capture(b"\r\n\r\n", message(), status()))
    assert report.format == "pcap" and report.packets == 3
    assert [(d.src, d.dst, d.transport, d.frame) for d in datagrams] == [
        ("10.0.0.1:5060", "10.0.0.2:5060", "UDP", 2), ("10.0.0.1:5060", "10.0.0.2:5060", "UDP", 3)]
    assert datagrams[0].ts == T0 + 1 and datagrams[0].payload == message()
    assert report.warnings == [] and report.stopped_at is None


def test_nanosecond_big_endian_pcap():
    data = pcap_file([(T0 + 0.123456789, udp4_frame(A, B, 5060, 5060, message()))], nano=True)
    header = struct.unpack("<IHHiIII", data[:24])
    record = struct.unpack("<IIII", data[24:40])
    big = (struct.pack(">IHHiIII", *header) + struct.pack(">IIII", *record) + data[40:])
    report, datagrams = read_bytes(big)
    assert report.format == "pcap-ns"
    assert abs(datagrams[0].ts - (T0 + 0.123456789)) < 1e-6


def test_pcapng_interfaces_with_different_link_types_and_resolutions():
    raw_ip = ipv4(A, B, 17, udp(5060, 5060, message("OPTIONS")))
    sll2 = struct.pack(">HHIHBB8s", 0x0800, 0, 1, 1, 0, 6, b"\x00" * 8) + raw_ip
    ticks_us = int(T0 * 1e6)
    ticks_ns = int((T0 + 1) * 1e9)
    data = pcapng_file([(1, None), (101, 9), (276, None)], [
        (0, ticks_us, udp4_frame(A, B, 5060, 5060, message("INVITE"))),
        (1, ticks_ns, raw_ip),
        (2, ticks_us + 2_000_000, sll2),
    ])
    report, datagrams = read_bytes(data)
    assert report.format == "pcapng" and report.packets == 3
    assert [d.payload.split(b" ")[0] for d in datagrams] == [b"INVITE", b"OPTIONS", b"OPTIONS"]
    assert [round(d.ts - T0, 6) for d in datagrams] == [0.0, 1.0, 2.0]


def test_pcapng_big_endian_section():
    data = pcapng_file([(1, None)], [(0, int(T0 * 1e6), udp4_frame(A, B, 5060, 5060, message()))],
                       order=">")
    report, datagrams = read_bytes(data)
    assert len(datagrams) == 1 and datagrams[0].ts == T0


# --- link types and tunnels -------------------------------------------------------------------

def _one_message(linktype: int, frame: bytes) -> list:
    report, datagrams = read_bytes(pcap_file([(T0, frame)], linktype=linktype))
    assert report.warnings == []
    return sip_only(datagrams)


def test_null_and_loop_link_types_in_both_byte_orders():
    packet = ipv4(A, B, 17, udp(5060, 5060, message()))
    for linktype, family in ((0, struct.pack("<I", 2)), (0, struct.pack(">I", 2)),
                             (108, struct.pack(">I", 2)), (0, struct.pack("<I", 30))):
        if family == struct.pack("<I", 30):
            packet6 = ipv6("2001:db8::1", "2001:db8::2", 17, udp(5060, 5060, message()))
            assert _one_message(linktype, family + packet6)[0].src == "[2001:db8::1]:5060"
        else:
            assert _one_message(linktype, family + packet)[0].src == "10.0.0.1:5060"


def test_raw_ip_link_types_and_sll():
    packet = ipv4(A, B, 17, udp(5060, 5060, message()))
    for linktype in (101, 228, 12, 14):
        assert len(_one_message(linktype, packet)) == 1
    packet6 = ipv6("2001:db8::1", "2001:db8::2", 17, udp(5060, 5060, message()))
    assert _one_message(229, packet6)[0].dst == "[2001:db8::2]:5060"
    sll = struct.pack(">HHH8sH", 0, 1, 6, b"\x00" * 8, 0x0800) + packet
    assert len(_one_message(113, sll)) == 1


def test_vlan_qinq_and_mpls():
    packet = ipv4(A, B, 17, udp(5060, 5060, message()))
    for tags in (((0x8100, 5),), ((0x88A8, 5), (0x8100, 7)), ((0x9100, 5), (0x8100, 7))):
        assert len(_one_message(1, ether(packet, tags=tags))) == 1
    mpls = struct.pack(">I", (100 << 12) | 0x100 | 64)
    assert len(_one_message(1, ether(mpls + packet, etype=0x8847))) == 1


def test_ipv6_extension_headers_are_skipped():
    hop_by_hop = bytes([60, 0]) + b"\x01\x04\x00\x00\x00\x00"   # next: destination options
    dest_opts = bytes([17, 0]) + b"\x01\x04\x00\x00\x00\x00"
    segment = udp(5060, 5062, message())
    packet = ipv6("2001:db8::1", "2001:db8::2", 0, hop_by_hop + dest_opts + segment)
    found = _one_message(1, ether(packet, etype=0x86DD))
    assert found[0].dst == "[2001:db8::2]:5062"


def test_tunnels_ipip_gre_teb_erspan_gtp_vxlan():
    inner = ipv4("192.168.0.1", "192.168.0.2", 17, udp(5060, 5060, message()))
    inner6 = ipv6("2001:db8::1", "2001:db8::2", 17, udp(5060, 5060, message()))
    inner_eth = ether(inner)
    gre_key_seq = struct.pack(">HHII", 0x3000, 0x0800, 42, 7) + inner
    gre_teb = struct.pack(">HH", 0x0000, 0x6558) + inner_eth
    erspan2 = struct.pack(">HHI", 0x1000, 0x88BE, 1) + struct.pack(">II", 0x10010000, 0) + inner_eth
    erspan3 = struct.pack(">HHI", 0x1000, 0x22EB, 1) + b"\x20\x01\x00\x01" + b"\x00" * 8 + inner_eth
    gtp = struct.pack(">BBHI", 0x30, 0xFF, len(inner), 1) + inner
    vxlan = b"\x08\x00\x00\x00\x00\x00\x01\x00" + inner_eth
    cases = [
        ether(ipv4(A, B, 4, inner)),
        ether(ipv4(A, B, 41, inner6)),
        ether(ipv4(A, B, 47, gre_key_seq)),
        ether(ipv4(A, B, 47, gre_teb)),
        ether(ipv4(A, B, 47, erspan2)),
        ether(ipv4(A, B, 47, erspan3)),
        udp4_frame(A, B, 2152, 2152, gtp),
        udp4_frame(A, B, 40000, 4789, vxlan),
    ]
    for frame in cases:
        found = _one_message(1, frame)
        assert len(found) == 1, frame.hex()
        assert found[0].src in ("192.168.0.1:5060", "[2001:db8::1]:5060")


# --- UDP classification ---------------------------------------------------------------------

def test_junk_before_start_line_is_dropped_and_noted():
    report, datagrams = read_bytes(udp_capture(b"DB" + message("REGISTER")))
    assert datagrams[0].payload == message("REGISTER")
    assert "junk" in datagrams[0].note


def test_extension_method_on_any_port_is_sip():
    frame = udp4_frame(A, B, 40000, 40001, b"FOO sip:x@y SIP/2.0\r\nContent-Length: 0\r\n\r\n")
    report, datagrams = read_bytes(pcap_file([(T0, frame)]))
    assert len(datagrams) == 1 and datagrams[0].payload.startswith(b"FOO ")


def test_media_is_yielded_only_when_asked_and_never_for_dns():
    dns_like = b"\x81\x80" + b"\x00" * 30
    stun = b"\x01\x01\x00\x00" + b"\x21\x12\xa4\x42" + b"x" * 12
    frames = [(T0, udp4_frame(A, B, 4000, 4002, RTP)),
              (T0 + 1, udp4_frame(A, B, 53, 4002, dns_like)),
              (T0 + 2, udp4_frame(A, B, 4000, 4002, stun)),
              (T0 + 3, udp4_frame(A, B, 4000, 4002, b"hello, not media"))]
    _, with_media = read_bytes(pcap_file(frames))
    assert [d.frame for d in with_media] == [1, 3]
    assert with_media[0].payload == RTP and with_media[0].transport == "UDP"
    _, without = read_bytes(pcap_file(frames), media=False)
    assert without == []


def test_ethernet_padding_is_not_part_of_the_payload():
    frame = udp4_frame(A, B, 5060, 5060, b"ACK sip:a@b SIP/2.0\r\n\r\n")
    report, datagrams = read_bytes(pcap_file([(T0, frame + b"\x00" * 20)]))
    assert datagrams[0].payload == b"ACK sip:a@b SIP/2.0\r\n\r\n"


def test_sctp_data_chunks_one_message_each_retransmission_dropped():
    def data_chunk(tsn: int, payload: bytes, flags: int = 3) -> bytes:
        chunk = struct.pack(">BBHIHHI", 0, flags, 16 + len(payload), tsn, 0, tsn, 0) + payload
        return chunk + b"\x00" * (-len(chunk) % 4)
    common = struct.pack(">HHII", 5060, 5060, 1, 0)
    msg = message()
    frames = [(T0, ether(ipv4(A, B, 132, common + data_chunk(1, msg) + data_chunk(2, status())))),
              (T0 + 1, ether(ipv4(A, B, 132, common + data_chunk(1, msg)))),           # retransmit
              (T0 + 2, ether(ipv4(A, B, 132, common + data_chunk(3, msg[:30], 2)))),  # fragmented
              (T0 + 3, ether(ipv4(A, B, 132, common + data_chunk(4, msg[30:], 1))))]
    _, datagrams = read_bytes(pcap_file(frames))
    assert [(d.frame, d.transport) for d in datagrams] == [(1, "SCTP"), (1, "SCTP"), (4, "SCTP")]
    assert datagrams[2].payload == msg and datagrams[2].flags & REASSEMBLED


# --- IP fragments ----------------------------------------------------------------------------

def _fragments_v4(payload: bytes, size: int = 64):
    pieces = []
    for offset in range(0, len(payload), size):
        more = offset + size < len(payload)
        pieces.append(ether(ipv4(A, B, 17, payload[offset:offset + size], ident=77,
                                 offset=offset // 8, more=more)))
    return pieces


def test_ipv4_fragments_reversed_order_are_reassembled():
    body = b"v=0\r\n" + b"a=x\r\n" * 60
    msg = message(body=body)
    pieces = _fragments_v4(udp(5060, 5060, msg))
    frames = [(T0 + i, frame) for i, frame in enumerate(reversed(pieces))]
    report, datagrams = read_bytes(pcap_file(frames))
    assert len(datagrams) == 1
    got = datagrams[0]
    assert got.payload == msg and got.flags & REASSEMBLED
    assert got.frame == len(pieces) and got.ts == T0 + len(pieces) - 1   # the offset-0 fragment
    assert report.warnings == []


def test_ipv6_fragments_reversed_order_are_reassembled():
    msg = message(body=b"x" * 300)
    segment = udp(5060, 5060, msg)
    size = 96
    frames = []
    for offset in range(0, len(segment), size):
        more = offset + size < len(segment)
        header = struct.pack(">BBHI", 17, 0, offset | int(more), 0xABCDEF)
        packet = ipv6("2001:db8::1", "2001:db8::2", 44, header + segment[offset:offset + size])
        frames.append(ether(packet, etype=0x86DD))
    report, datagrams = read_bytes(pcap_file([(T0 + i, f) for i, f in enumerate(reversed(frames))]))
    assert [d.payload for d in datagrams] == [msg]
    assert datagrams[0].src == "[2001:db8::1]:5060"


def test_missing_fragment_is_reported_not_raised():
    pieces = _fragments_v4(udp(5060, 5060, message(body=b"y" * 300)))
    report, datagrams = read_bytes(pcap_file([(T0, pieces[0]), (T0 + 1, pieces[-1])]))
    assert datagrams == []
    assert any("could not be reassembled" in w for w in report.warnings)


# --- TCP ------------------------------------------------------------------------------------

def tcp_capture(segments, syn: bool = True) -> bytes:
    """segments: (seq offset from the ISN + 1, payload, flags); times one second apart."""
    isn = 1000
    frames = []
    if syn:
        frames.append(tcp4_frame(A, B, 40000, 5060, isn, flags=SYN))
        frames.append(tcp4_frame(B, A, 5060, 40000, 9000, flags=SYN | ACK))
    for offset, payload, *flags in segments:
        frames.append(tcp4_frame(A, B, 40000, 5060, isn + 1 + offset, payload,
                                 flags[0] if flags else PSH | ACK))
    return pcap_file([(T0 + i, f) for i, f in enumerate(frames)])


def test_tcp_out_of_order_segments():
    msg = message(body=b"o=x\r\n" * 40)
    parts = [msg[:70], msg[70:150], msg[150:]]
    report, datagrams = read_bytes(tcp_capture([(0, parts[0]), (150, parts[2]), (70, parts[1])]))
    assert [d.payload for d in datagrams] == [msg]
    assert datagrams[0].transport == "TCP" and datagrams[0].frame == 3 and datagrams[0].ts == T0 + 2
    assert datagrams[0].flags & REASSEMBLED


def test_tcp_retransmitted_overlapping_segment_is_not_duplicated():
    first, second = message(call_id="a"), message("BYE", call_id="b")
    stream = first + second
    segments = [(0, stream[:100]), (60, stream[60:200]), (0, stream[:100]), (200, stream[200:])]
    report, datagrams = read_bytes(tcp_capture(segments))
    assert [d.payload for d in datagrams] == [first, second]


def test_two_messages_in_one_segment():
    report, datagrams = read_bytes(tcp_capture([(0, message() + status())]))
    assert [d.payload for d in datagrams] == [message(), status()]
    assert datagrams[0].frame == datagrams[1].frame == 3
    assert not datagrams[0].flags & REASSEMBLED


def test_one_message_over_five_segments_has_the_first_segment_time():
    msg = message(body=b"m=audio 4000 RTP/AVP 0\r\n" * 30)
    step = len(msg) // 5 + 1
    segments = [(i, msg[i:i + step]) for i in range(0, len(msg), step)]
    assert len(segments) == 5
    report, datagrams = read_bytes(tcp_capture(segments))
    assert [d.payload for d in datagrams] == [msg]
    assert datagrams[0].ts == T0 + 2 and datagrams[0].frame == 3


def test_mid_stream_start_resyncs_at_the_next_start_line():
    tail = message(body=b"v=0\r\n" * 10)
    stream = tail[-25:] + message(call_id="x") + status(call_id="x")
    report, datagrams = read_bytes(tcp_capture([(0, stream)], syn=False))
    assert [d.payload for d in datagrams] == [message(call_id="x"), status(call_id="x")]
    assert any("25 bytes were skipped" in w for w in report.warnings)


def test_gap_skips_to_the_next_start_line_with_a_warning():
    first, second, third = message(call_id="1"), message(call_id="2", body=b"z" * 400), status()
    stream = first + second + third
    lost_from = len(first) + len(second) - 300          # a segment lost inside the 2nd body
    lost_to = lost_from + 100
    segments = [(0, stream[:lost_from]), (lost_to, stream[lost_to:])]
    report, datagrams = read_bytes(tcp_capture(segments))
    assert [d.payload for d in datagrams] == [first, second[:-300], third]
    assert datagrams[1].note == ("incomplete: bytes missing from the capture; "
                                 "100 of 400 body bytes captured")
    assert any("100 bytes are missing from the capture" in w for w in report.warnings)


def test_lost_headers_are_skipped():
    first, second, third = message(call_id="1"), message(call_id="2"), status()
    stream = first + second + third
    cut = len(first) + 40
    report, datagrams = read_bytes(tcp_capture([(0, stream[:cut]), (cut + 20, stream[cut + 20:])]))
    assert [d.payload for d in datagrams] == [first, third]


def test_fin_and_new_connection_on_same_ports():
    segments = [(0, message(call_id="1")), (len(message(call_id="1")), b"", FIN | ACK)]
    report, datagrams = read_bytes(tcp_capture(segments))
    assert len(datagrams) == 1


def test_tls_records_are_counted_per_server_port():
    record = b"\x17\x03\x03\x00\x20" + b"\xaa" * 32
    frames = [(T0, tcp4_frame(A, B, 40000, 5061, 1, record * 2)),
              (T0 + 1, tcp4_frame(B, A, 5061, 40000, 7, record))]
    report, datagrams = read_bytes(pcap_file(frames))
    assert datagrams == []
    assert report.undecodable == {"TLS 10.0.0.2:5061": 3}
    assert any("2 packets on ports 10.0.0.2:5061 are encrypted (TLS)" in w for w in report.warnings)


# --- WebSocket ------------------------------------------------------------------------------

def ws_frame(payload: bytes, opcode: int = 1, fin: bool = True, mask: bytes | None = None) -> bytes:
    head = bytes([(0x80 if fin else 0) | opcode])
    n = len(payload)
    bit = 0x80 if mask else 0
    if n < 126:
        head += bytes([bit | n])
    elif n < 65536:
        head += bytes([bit | 126]) + struct.pack(">H", n)
    else:
        head += bytes([bit | 127]) + struct.pack(">Q", n)
    if mask:
        payload = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        head += mask
    return head + payload


def test_websocket_masked_fragmented_and_split_frames():
    upgrade = (b"GET /ws HTTP/1.1\r\nHost: b\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
               b"Sec-WebSocket-Protocol: sip\r\n\r\n")
    answer = (b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
              b"Connection: Upgrade\r\n\r\n")
    invite = message(body=b"v=0\r\n" * 50)
    client = upgrade + ws_frame(invite, mask=b"\x11\x22\x33\x44")
    client += ws_frame(b"\x89\x00"[:0], opcode=9, mask=b"\x01\x02\x03\x04")        # ping
    bye = message("BYE")
    client += ws_frame(bye[:20], fin=False, mask=b"\x05\x06\x07\x08")
    client += ws_frame(bye[20:], opcode=0, mask=b"\x09\x0a\x0b\x0c")
    server = answer + ws_frame(status())
    cut = len(upgrade) + 100
    frames = [(T0, tcp4_frame(A, B, 40000, 8080, 1, client[:cut])),
              (T0 + 1, tcp4_frame(A, B, 40000, 8080, 1 + cut, client[cut:])),
              (T0 + 2, tcp4_frame(B, A, 8080, 40000, 500, server))]
    report, datagrams = read_bytes(pcap_file(frames))
    assert [(d.transport, d.payload) for d in datagrams] == [("WS", invite), ("WS", bye),
                                                             ("WS", status())]
    assert datagrams[0].ts == T0 and datagrams[0].flags & REASSEMBLED


# --- HEP ------------------------------------------------------------------------------------

def hep3(payload: bytes, proto_type: int = 1, compressed: bool = False) -> bytes:
    import zlib

    def chunk(ctype: int, value: bytes) -> bytes:
        return struct.pack(">HHH", 0, ctype, 6 + len(value)) + value
    body = (chunk(1, b"\x02") + chunk(2, b"\x11") + chunk(3, ip_bytes("172.16.0.1"))
            + chunk(4, ip_bytes("172.16.0.2")) + chunk(7, struct.pack(">H", 5070))
            + chunk(8, struct.pack(">H", 5080)) + chunk(9, struct.pack(">I", 1_600_000_000))
            + chunk(10, struct.pack(">I", 250_000)) + chunk(11, bytes([proto_type]))
            + chunk(12, struct.pack(">I", 2001)))
    body += chunk(16, zlib.compress(payload)) if compressed else chunk(15, payload)
    return b"HEP3" + struct.pack(">H", 6 + len(body)) + body


def test_hep3_plain_and_zlib_give_the_inner_addresses_and_time():
    frames = [(T0, udp4_frame(A, B, 9060, 9060, hep3(message()))),
              (T0 + 1, udp4_frame(A, B, 40000, 9999, hep3(status(), compressed=True))),
              (T0 + 2, udp4_frame(A, B, 9060, 9060, hep3(b"\x80\xc8" + b"\x00" * 30, 5))),
              (T0 + 3, udp4_frame(A, B, 9060, 9060, hep3(b"some log text", 100)))]
    report, datagrams = read_bytes(pcap_file(frames))
    assert [d.payload for d in datagrams] == [message(), status()]
    first = datagrams[0]
    assert (first.src, first.dst, first.transport, first.ts, first.frame) == (
        "172.16.0.1:5070", "172.16.0.2:5080", "UDP", 1_600_000_000.25, 1)
    assert "compressed" in datagrams[1].note
    assert any("HEP: skipped 2 non-SIP payloads" in w for w in report.warnings)


def test_hep2_payload():
    header = struct.pack(">BBBBHH", 2, 16, 2, 17, 5060, 5062)
    header += ip_bytes("1.2.3.4") + ip_bytes("5.6.7.8")
    header += struct.pack("<IIH", 1_600_000_001, 500_000, 7) + b"\x00\x00"
    frame = udp4_frame(A, B, 9060, 9060, header + message())
    report, datagrams = read_bytes(pcap_file([(T0, frame)]))
    assert [(d.src, d.dst, d.ts, d.payload) for d in datagrams] == [
        ("1.2.3.4:5060", "5.6.7.8:5062", 1_600_000_001.5, message())]


# --- damaged input --------------------------------------------------------------------------

def test_truncated_record_keeps_what_came_before(data_dir):
    raw = (data_dir / "scanner-friendly-scanner-options-sweep.pcap").read_bytes()
    offsets = []
    pos = 24
    while pos < len(raw):
        offsets.append(pos)
        pos += 16 + struct.unpack_from("<I", raw, pos + 8)[0]
    cut = offsets[10] + 16 + 30                  # inside the data of record 11
    report, datagrams = read_bytes(raw[:cut])
    assert len(sip_only(datagrams)) == 10
    assert report.stopped_at == offsets[10]
    assert report.warnings[0].startswith(f"capture truncated/damaged at byte {offsets[10]}: ")


def test_damaged_record_length_stops_reading():
    data = bytearray(udp_capture(message(), message("BYE")))
    second = 24 + 16 + struct.unpack_from("<I", data, 24 + 8)[0]
    data[second + 8:second + 12] = b"\xff\xff\xff\x7f"
    report, datagrams = read_bytes(bytes(data))
    assert len(datagrams) == 1 and report.stopped_at == second


def test_pcapng_with_a_bad_block_stops_there():
    good = pcapng_file([(1, None)], [(0, int(T0 * 1e6), udp4_frame(A, B, 5060, 5060, message()))])
    report, datagrams = read_bytes(good + b"\x06\x00\x00\x00\x10\x00\x00\x00garbage!")
    assert len(datagrams) == 1 and report.stopped_at == len(good)


def test_garbage_never_raises():
    for junk in (b"", b"\xd4\xc3\xb2\xa1", b"\xd4\xc3\xb2\xa1" + b"\x00" * 30, b"hello world" * 9,
                 b"\x0a\x0d\x0d\x0a" + b"\xff" * 40):
        report, datagrams = read_bytes(junk)
        assert datagrams == []
        assert report.stopped_at is not None and report.warnings


def test_truncated_packets_inside_the_file_are_skipped_quietly():
    frames = [(T0, udp4_frame(A, B, 5060, 5060, message())[:30]), (T0 + 1, b"\x00" * 5),
              (T0 + 2, udp4_frame(A, B, 5060, 5060, message()))]
    report, datagrams = read_bytes(pcap_file(frames))
    assert [d.frame for d in datagrams] == [3] and report.warnings == []


def test_payload_file_offsets_point_at_the_payload():
    data = udp_capture(message(), b"DB" + status())
    _, datagrams = read_bytes(data)
    for d in datagrams:
        assert data[d.offset:d.offset + len(d.payload)] == d.payload


def test_snaplen_cut_sip_payload_is_kept_with_a_note():
    frame = udp4_frame(A, B, 5060, 5060, message(body=b"v=0\r\n" * 20))
    report, datagrams = read_bytes(pcap_file([(T0, frame[:-30])]))
    assert len(datagrams) == 1 and datagrams[0].payload == message(body=b"v=0\r\n" * 20)[:-30]
    assert datagrams[0].note == "payload cut short by the capture's snapshot length"


def test_truncated_gzip_stream_keeps_what_came_before():
    import gzip
    import io

    data = gzip.compress(udp_capture(*[message(call_id=str(i)) for i in range(50)]))
    report = pcap.InputReport(path="<gz>")
    stream = gzip.GzipFile(fileobj=io.BytesIO(data[:len(data) // 2]))
    datagrams = list(pcap.read(stream, report, 0))
    assert 0 < len(datagrams) < 50
    assert report.stopped_at is not None and "truncated/damaged" in report.warnings[0]


def test_hep3_over_tcp_split_and_coalesced():
    stream = hep3(message()) + hep3(status()) + hep3(message("BYE"))
    cut = len(hep3(message())) + 40
    frames = [(T0, tcp4_frame(A, B, 40000, 9061, 1, stream[:cut])),
              (T0 + 1, tcp4_frame(A, B, 40000, 9061, 1 + cut, stream[cut:]))]
    report, datagrams = read_bytes(pcap_file(frames))
    assert [(d.src, d.payload) for d in datagrams] == [
        ("172.16.0.1:5070", message()), ("172.16.0.1:5070", status()),
        ("172.16.0.1:5070", message("BYE"))]


def test_pcapng_simple_packet_block_and_unknown_blocks():
    data = pcapng_file([(1, None)], [(0, int(T0 * 1e6), udp4_frame(A, B, 5060, 5060, message()))])
    frame = udp4_frame(A, B, 5060, 5060, status())
    body = struct.pack("<I", len(frame)) + frame + b"\x00" * (-len(frame) % 4)
    spb = struct.pack("<II", 3, 12 + len(body)) + body + struct.pack("<I", 12 + len(body))
    custom = struct.pack("<II", 0x0BAD, 16) + b"abcd" + struct.pack("<I", 16)
    report, datagrams = read_bytes(data + custom + spb)
    assert [d.payload for d in datagrams] == [message(), status()]
    assert datagrams[1].ts == datagrams[0].ts and report.packets == 2


def test_options_first_on_a_tcp_connection_is_sip_not_http():
    options = message("OPTIONS")
    report, datagrams = read_bytes(tcp_capture([(0, options[:10]), (10, options[10:])]))
    assert [d.payload for d in datagrams] == [options]


def test_plain_http_stream_is_ignored():
    http = b"GET /index.html HTTP/1.1\r\nHost: x\r\n\r\n" + b"SIP/2.0 200 OK\r\n\r\n"
    report, datagrams = read_bytes(tcp_capture([(0, http)]))
    assert datagrams == [] and report.warnings == []


def test_sequence_jump_without_syn_starts_over():
    first, second = message(call_id="1"), message(call_id="2")
    frames = [(T0, tcp4_frame(A, B, 40000, 5060, 10_000, first)),
              (T0 + 1, tcp4_frame(A, B, 40000, 5060, 3_000_000_000, second))]
    report, datagrams = read_bytes(pcap_file(frames))
    assert [d.payload for d in datagrams] == [first, second]

"""Turn captured frames into Datagrams: IPv4/IPv6, fragments, tunnels, UDP, TCP, SCTP, HEP.

PacketDecoder keeps the state a capture needs across packets (IP fragments, TCP streams,
SCTP messages, address strings) and collects the Datagrams of each packet in .out, which
the pcap reader yields and clears.  The common Ethernet(+802.1Q)/IPv4/UDP case is parsed
with plain indexing in ethernet_packet(); UDP payloads that look neither like SIP nor like
media are dropped before anything else is decoded.
"""

from __future__ import annotations

import socket
from collections import Counter

from sipscope.core.sources import linktypes
from sipscope.core.sources.datagram import REASSEMBLED, Datagram, InputReport
from sipscope.core.sources.hep import EEP_MAGIC, HEP3_MAGIC, decode_hep2, decode_hep3
from sipscope.core.sources.ip_fragments import MAX_BYTES, MAX_FRAGMENTS, FragmentTable
from sipscope.core.sources.limits import inflate_budget
from sipscope.core.sources.sctp import SctpMessages
from sipscope.core.sip.detect import media_kind, sip_start
from sipscope.core.sources.tcp_reassembly import TcpReassembler

MAX_DEPTH = 6                 # tunnels inside tunnels
WARNINGS_PER_KIND = 5
# UDP ports whose traffic is never media even when its first byte says so (RFC 7983 is a
# demultiplexing rule for one media port, not a classifier for every port).
NOT_MEDIA_PORTS = frozenset((53, 67, 68, 69, 123, 137, 138, 161, 162, 500, 514, 520, 1900,
                             2152, 4500, 4789, 5353, 5355, 9060))
# TLS servers on these ports are web, mail, directory, DNS or Cast traffic, not SIP: their
# records are not reported as unreadable SIP (WSS on 443 cannot be told from HTTPS).
NOT_SIP_TLS_PORTS = frozenset(("443", "8443", "993", "995", "465", "587", "636", "853", "8009",
                               "5223", "3389", "22"))
# What the summary line calls the warnings given at most WARNINGS_PER_KIND times.
_MORE = {"tcp-lost": "TCP streams with bytes missing from the capture",
         "tcp-skipped": "TCP streams with bytes skipped to reach a SIP start line",
         "tcp-no-cl": "SIP messages over TCP without Content-Length",
         "tcp-huge-cl": "SIP messages over TCP with an implausible Content-Length",
         "tcp-headers": "oversized SIP header blocks over TCP"}
_IP6_EXTENSIONS = frozenset((0, 43, 60, 135, 139, 140, 253, 254))
_BLANK = b" \t\r\n\x00"


class PacketDecoder:
    """Decode the packets of one capture; Datagrams accumulate in self.out."""

    def __init__(self, report: InputReport, input_index: int = 0, media: bool = True,
                 media_sink=None) -> None:
        self.report = report
        self.input_index = input_index
        self.media = media
        self.media_sink = media_sink    # add(ts, src, dst, payload) for fast-path RTP, or None
        self.out: list[Datagram] = []
        self.frags = FragmentTable()
        self.inflate_budget = inflate_budget(report)
        self.tcp = TcpReassembler(self)
        self.counts: Counter = Counter()
        self.tls_packets: Counter = Counter()
        self.hep_skipped: Counter = Counter()
        self.warned: Counter = Counter()
        self.errors = 0
        self.first_error = ""
        self._addr: dict = {}
        self._pair: dict = {}
        self._sctp = SctpMessages()
        self.pkt = b""            # the frame being decoded off the fast path, and its file offset
        self.pkt_offset = -1

    # --- output -------------------------------------------------------------------------
    def addr(self, ip: bytes, port: int) -> str:
        key = (ip, port)
        text = self._addr.get(key)
        if text is None:
            if len(ip) == 4:
                text = f"{socket.inet_ntoa(ip)}:{port}"
            else:
                text = f"[{socket.inet_ntop(socket.AF_INET6, ip)}]:{port}"
            if len(self._addr) > 100_000:
                self._addr.clear()
            self._addr[key] = text
        return text

    def emit(self, ts, src, dst, transport, payload, frame, flags=0, note=None,
             where=-1) -> None:
        self.out.append(Datagram(ts, src, dst, transport, payload, frame, self.input_index,
                                 flags, note, where))

    def where(self, data: bytes, flags: int = 0) -> int:
        """File offset of data when it is a contiguous run of the current frame, else -1."""
        if flags & REASSEMBLED or self.pkt_offset < 0:
            return -1
        k = self.pkt.find(data)
        return self.pkt_offset + k if k >= 0 else -1

    def emit_stream(self, st, start: int, end: int, payload: bytes, transport: str,
                    note: str | None = None) -> None:
        ts, frame, spans, where = st.locate(start, end)
        if transport != "TCP":
            where = -1
        self.emit(ts, st.src, st.dst, transport, payload, frame, REASSEMBLED if spans else 0, note,
                  where)

    def emit_hep(self, packet, ts: float, frame: int, flags: int = 0) -> None:
        if packet.is_sip():
            offset = sip_start(packet.payload)
            payload = packet.payload[offset:]
            self.emit(packet.ts if packet.ts is not None else ts, packet.src, packet.dst,
                      packet.transport, payload, frame,
                      note=f"HEP{packet.version}" + (" compressed" if packet.compressed else ""),
                      where=-1 if packet.compressed else self.where(payload, flags))
        else:
            self.hep_skipped[packet.type_name] += 1

    def over_budget(self, frame: int, what: str) -> None:
        """The input's inflation budget is spent: say so once."""
        self.inflate_budget.warn_once(self.report, f" (from frame {frame} on, {what} were skipped)")

    def limited_warning(self, kind: str, text: str) -> None:
        self.warned[kind] += 1
        if self.warned[kind] <= WARNINGS_PER_KIND:
            self.report.warn(text)

    def count(self, what: str) -> None:
        self.counts[what] += 1

    def tls_record(self, server: str) -> None:
        if server.rpartition(":")[2] not in NOT_SIP_TLS_PORTS:
            key = f"TLS {server}"
            self.report.undecodable[key] = self.report.undecodable.get(key, 0) + 1

    def tls_packet(self, server: str) -> None:
        if server.rpartition(":")[2] not in NOT_SIP_TLS_PORTS:
            self.tls_packets[server] += 1

    def error(self, frame: int, exc: Exception) -> None:
        self.errors += 1
        if not self.first_error:
            self.first_error = f"frame {frame}: {type(exc).__name__}: {exc}"

    # --- link and network layers ----------------------------------------------------------
    def handler(self, linktype: int):
        """The function that decodes one frame of this link type: f(pkt, ts, frame, offset)."""
        if linktype == linktypes.ETHERNET:
            return self.ethernet_packet
        if linktype not in linktypes.SUPPORTED:
            name = linktypes.NAMES.get(linktype, f"link type {linktype}")
            self.report.warn(f"{name} (DLT {linktype}) is not supported; its packets are skipped")

            def skip(pkt, ts, frame, offset):
                self.counts["unsupported link type"] += 1
            return skip

        def generic(pkt, ts, frame, offset):
            self.pkt, self.pkt_offset = pkt, offset
            found = linktypes.network_start(linktype, pkt)
            if found:
                self.ip(found[0], pkt[found[1]:], ts, frame, 0)
        return generic

    def ethernet_packet(self, pkt: bytes, ts: float, frame: int, offset: int) -> None:
        """Fast path: Ethernet (+ one 802.1Q tag) / IPv4 without options / UDP, unfragmented."""
        if len(pkt) >= 46:
            if pkt[12] == 8 and pkt[13] == 0:
                o = 14
            elif pkt[12] == 0x81 and pkt[13] == 0 and pkt[16] == 8 and pkt[17] == 0:
                o = 18
            else:
                o = 0
            if o and pkt[o] == 0x45 and pkt[o + 9] == 17 and not (pkt[o + 6] & 0x3F or pkt[o + 7]):
                u = o + 20
                end = u + (pkt[u + 4] << 8 | pkt[u + 5])
                if u + 8 < end <= len(pkt) and end <= o + (pkt[o + 2] << 8 | pkt[o + 3]):
                    b0 = pkt[u + 8]
                    if 128 <= b0 <= 191:                      # RTP/RTCP (RFC 7983)
                        if self.media and end - u >= 16:
                            pair = self._pair.get(pkt[o + 12:o + 20] + pkt[u:u + 4])
                            if pair is None:
                                pair = self._media_pair(pkt, o, u)
                            if pair:
                                payload = pkt[u + 8:end]
                                # no "SIP/": no SIP start line (summary.summary_fields), so the
                                # builder would hand it to the media sink: do it here
                                if self.media_sink is not None and b"SIP/" not in payload:
                                    self.media_sink(ts, pair[0], pair[1], payload)
                                else:
                                    self.out.append(Datagram(ts, pair[0], pair[1], "UDP", payload,
                                                             frame, self.input_index))
                        return
                    self.pkt, self.pkt_offset = pkt, offset
                    self.udp_payload(pkt[u + 8:end], pkt[o + 12:o + 16], pkt[u] << 8 | pkt[u + 1],
                                     pkt[o + 16:o + 20], pkt[u + 2] << 8 | pkt[u + 3],
                                     ts, frame, 0, 0, False)
                    return
            elif o and pkt[o] == 0x45 and pkt[o + 9] == 6 and not (pkt[o + 6] & 0x3F or pkt[o + 7]):
                end = o + (pkt[o + 2] << 8 | pkt[o + 3])
                if o + 40 <= end <= len(pkt):                 # IPv4 / TCP, unfragmented
                    self.pkt, self.pkt_offset = pkt, offset
                    self.tcp_segment(pkt[o + 20:end], pkt[o + 12:o + 16], pkt[o + 16:o + 20],
                                     ts, frame, 0, offset + o + 20)
                    return
        self.pkt, self.pkt_offset = pkt, offset
        found = linktypes.ether_network(pkt, 0)
        if found:
            self.ip(found[0], pkt[found[1]:], ts, frame, 0)

    def _media_pair(self, pkt: bytes, o: int, u: int) -> tuple:
        """(src, dst) strings of an IPv4/UDP media flow, () when its ports are never media."""
        sport, dport = pkt[u] << 8 | pkt[u + 1], pkt[u + 2] << 8 | pkt[u + 3]
        if sport in NOT_MEDIA_PORTS or dport in NOT_MEDIA_PORTS:
            pair = ()
        else:
            pair = (self.addr(pkt[o + 12:o + 16], sport), self.addr(pkt[o + 16:o + 20], dport))
        if len(self._pair) > 100_000:
            self._pair.clear()
        self._pair[pkt[o + 12:o + 20] + pkt[u:u + 4]] = pair
        return pair

    def ip(self, version: int, data: bytes, ts: float, frame: int, depth: int) -> None:
        if version == 4:
            self.ip4(data, ts, frame, depth)
        elif version == 6:
            self.ip6(data, ts, frame, depth)

    def ip4(self, data: bytes, ts: float, frame: int, depth: int) -> None:
        """RFC 791 §3.1 header; fragments go to the reassembly table."""
        if len(data) < 20 or data[0] >> 4 != 4:
            return
        ihl = (data[0] & 0x0F) * 4
        total = data[2] << 8 | data[3] or len(data)       # 0: segmentation offload
        if ihl < 20 or total < ihl:
            return
        cut = total > len(data)
        payload = data[ihl:total]
        proto = data[9]
        src, dst = data[12:16], data[16:20]
        frag = data[6] << 8 | data[7]
        flags = 0
        if frag & 0x3FFF:
            if cut:
                self.counts["fragments cut by snaplen"] += 1
                return
            done = self.frags.add((src, dst, proto, data[4:6]), (frag & 0x1FFF) * 8,
                                  bool(frag & 0x2000), payload, ts, frame)
            if done is None:
                return
            payload, ts, frame, flags = done.payload, done.ts, done.frame, REASSEMBLED
        self.transport(proto, payload, src, dst, ts, frame, depth, flags, cut)

    def ip6(self, data: bytes, ts: float, frame: int, depth: int) -> None:
        """RFC 8200 §3 header; extension headers skipped (§4), fragments reassembled (§4.5)."""
        if len(data) < 40 or data[0] >> 4 != 6:
            return
        plen = data[4] << 8 | data[5]
        end = 40 + plen if plen else len(data)
        cut = end > len(data)
        payload, nxt = data[40:end], data[6]
        src, dst = data[8:24], data[24:40]
        off = flags = 0
        for _ in range(16):
            if nxt in _IP6_EXTENSIONS or nxt == 51:
                if len(payload) < off + 2:
                    return
                size = (payload[off + 1] + 2) * 4 if nxt == 51 else (payload[off + 1] + 1) * 8
                nxt = payload[off]
                off += size
            elif nxt == 44:
                if len(payload) < off + 8:
                    return
                inner = payload[off]
                field = payload[off + 2] << 8 | payload[off + 3]
                if field & 0xFFF9:                    # offset or More Fragments: a real fragment
                    if cut:
                        return
                    done = self.frags.add((src, dst, payload[off + 4:off + 8]), field & 0xFFF8,
                                          bool(field & 1), payload[off + 8:], ts, frame)
                    if done is None:
                        return
                    payload, ts, frame, off = done.payload, done.ts, done.frame, 0
                    flags = REASSEMBLED
                else:
                    off += 8                          # atomic fragment (RFC 6946)
                nxt = inner
            else:
                break
        self.transport(nxt, payload[off:], src, dst, ts, frame, depth, flags, cut)

    def transport(self, proto, payload, src, dst, ts, frame, depth, flags, cut) -> None:
        if proto == 17:
            self.udp(payload, src, dst, ts, frame, depth, flags, cut)
        elif proto == 6:
            self.tcp_segment(payload, src, dst, ts, frame, flags)
        elif proto == 132:
            self.sctp(payload, src, dst, ts, frame, flags)
        elif depth >= MAX_DEPTH:
            return
        elif proto == 4:                              # IP in IP (RFC 2003)
            self.ip4(payload, ts, frame, depth + 1)
        elif proto == 41:                             # IPv6 in IP (RFC 4213)
            self.ip6(payload, ts, frame, depth + 1)
        elif proto == 47:
            self._inner(linktypes.gre_network(payload), payload, ts, frame, depth)
        elif proto == 50:
            self.counts["ESP (IPsec) packets"] += 1

    def _inner(self, found, data: bytes, ts: float, frame: int, depth: int) -> None:
        if found:
            self.ip(found[0], data[found[1]:], ts, frame, depth + 1)

    # --- transports -----------------------------------------------------------------------
    def udp(self, seg, src, dst, ts, frame, depth, flags, cut) -> None:
        """RFC 768: the UDP length field trims Ethernet padding."""
        if len(seg) < 8:
            return
        length = seg[4] << 8 | seg[5]
        if 8 <= length <= len(seg):
            data = seg[8:length]
        else:
            data = seg[8:]
            cut = cut or length > len(seg)
        self.udp_payload(data, src, seg[0] << 8 | seg[1], dst, seg[2] << 8 | seg[3],
                         ts, frame, depth, flags, cut)

    def udp_payload(self, data, src, sport, dst, dport, ts, frame, depth, flags, cut) -> None:
        if not data:
            return
        b0 = data[0]
        if 128 <= b0 <= 191:
            if self.media and len(data) >= 8 and not (sport in NOT_MEDIA_PORTS
                                                      or dport in NOT_MEDIA_PORTS):
                self.emit(ts, self.addr(src, sport), self.addr(dst, dport), "UDP", data, frame,
                          flags)
            return
        if depth < MAX_DEPTH:
            if 2152 in (sport, dport):
                found = linktypes.gtp_network(data)
                if found:
                    return self._inner(found, data, ts, frame, depth)
            if 4789 in (sport, dport) and b0 & 0x08:
                found = linktypes.vxlan_network(data)
                if found:
                    return self._inner(found, data, ts, frame, depth)
        if data[:4] in (HEP3_MAGIC, EEP_MAGIC):
            packet = decode_hep3(data, self.inflate_budget)
            if packet is not None and packet.over_budget:
                self.over_budget(frame, "compressed HEP payloads")
            if packet is not None:
                return self.emit_hep(packet, ts, frame, flags)
        if b0 in (1, 2):
            packet = decode_hep2(data)
            if packet is not None:
                return self.emit_hep(packet, ts, frame, flags)
        offset = sip_start(data)
        if offset >= 0:
            notes = []
            if data[:offset].strip(_BLANK):
                notes.append(f"{offset} bytes of junk before the start line were dropped")
            elif b"\n" in data[:offset] or b"\r" in data[:offset]:
                # RFC 3261 §7.5 skips CRLF before a start line on stream transports only; on UDP
                # it is read leniently and noted (rules/interop.py syn-leading-crlf)
                notes.append(f"{offset} bytes of CR/LF before the start line were skipped")
            if cut:
                notes.append("payload cut short by the capture's snapshot length")
            payload = data[offset:]
            self.emit(ts, self.addr(src, sport), self.addr(dst, dport), "UDP", payload,
                      frame, flags, "; ".join(notes) or None, self.where(payload, flags))
        elif self.media and media_kind(data) and not (sport in NOT_MEDIA_PORTS
                                                      or dport in NOT_MEDIA_PORTS):
            self.emit(ts, self.addr(src, sport), self.addr(dst, dport), "UDP", data, frame, flags)

    def tcp_segment(self, seg, src, dst, ts, frame, flags, seg_where: int = -1) -> None:
        """RFC 9293 §3.1 header; the payload goes to the stream of its direction."""
        if len(seg) < 20:
            return
        header = (seg[12] >> 4) * 4
        if header < 20:
            return
        sport, dport = seg[0] << 8 | seg[1], seg[2] << 8 | seg[3]
        seq = int.from_bytes(seg[4:8], "big")
        payload = seg[header:]
        if not payload:
            where = -1
        elif seg_where >= 0:
            where = seg_where + header
        else:
            where = self.where(payload, flags)
        self.tcp.segment((src, sport, dst, dport), self.addr(src, sport), self.addr(dst, dport),
                         seq, seg[13], payload, ts, frame, where)

    def sctp(self, seg, src, dst, ts, frame, flags) -> None:
        """SCTP: every DATA chunk's user message that looks like SIP."""
        if len(seg) < 12:
            return
        sport, dport = seg[0] << 8 | seg[1], seg[2] << 8 | seg[3]
        for message, joined in self._sctp.messages((src, sport, dst, dport), seg):
            offset = sip_start(message)
            if offset >= 0:
                payload = message[offset:]
                mflags = flags | REASSEMBLED if joined else flags
                self.emit(ts, self.addr(src, sport), self.addr(dst, dport), "SCTP", payload,
                          frame, mflags, where=self.where(payload, mflags))

    # --- end of capture -------------------------------------------------------------------
    def finish(self) -> None:
        """Flush TCP streams and fragments, then summarise what could not be read."""
        try:
            self.tcp.finish()
        except Exception as exc:            # noqa: BLE001 - a reader never raises on bad input
            self.error(0, exc)
        warn = self.report.warn
        self.frags.finish()
        if self.frags.dropped > self.frags.over_limit:
            warn(f"{self.frags.dropped - self.frags.over_limit} fragmented IP datagrams could not "
                 "be reassembled (fragments missing from the capture)")
        if self.frags.over_limit:
            warn(f"{self.frags.over_limit} fragmented IP datagrams were given up: more than "
                 f"{MAX_FRAGMENTS:,} fragments or {MAX_BYTES:,} bytes of fragments for one datagram")
        if self.tls_packets:
            servers = ", ".join(sorted(self.tls_packets))
            warn(f"{sum(self.tls_packets.values())} packets on ports {servers} are encrypted "
                 "(TLS) and could not be read")
        if self.hep_skipped:
            kinds = ", ".join(f"{name} {n}" for name, n in self.hep_skipped.most_common())
            warn(f"HEP: skipped {sum(self.hep_skipped.values())} non-SIP payloads ({kinds})")
        for what in ("ESP (IPsec) packets", "fragments cut by snaplen", "incomplete TCP messages"):
            if self.counts[what]:
                warn(f"{self.counts[what]} {what}")
        for kind, n in self.warned.items():
            if n > WARNINGS_PER_KIND:
                warn(f"... and {n - WARNINGS_PER_KIND} more {_MORE.get(kind, kind)}")
        if self.errors:
            warn(f"{self.errors} packets could not be decoded (first: {self.first_error})")

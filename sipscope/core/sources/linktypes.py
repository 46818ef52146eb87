"""Find the IP header inside link-layer frames and tunnels (VLAN, MPLS, GRE, ERSPAN, GTP-U, VXLAN).

Every function takes raw bytes and returns (ip_version, offset) — where the IPv4 or IPv6
header starts — or None when the frame carries something else.  Link type numbers are the
tcpdump.org LINKTYPE_ values.
"""

from __future__ import annotations

NULL, ETHERNET, RAW_OPENBSD, RAW_BSD, RAW, LINUX_SLL, LOOP, IPV4, IPV6, LINUX_SLL2 = (
    0, 1, 14, 12, 101, 113, 108, 228, 229, 276)
PPP, PPP_HDLC, PPP_ETHER = 9, 50, 51
SUPPORTED = frozenset((NULL, ETHERNET, RAW_OPENBSD, RAW_BSD, RAW, LINUX_SLL, LOOP, IPV4, IPV6,
                       LINUX_SLL2, PPP, PPP_HDLC))
NAMES = {NULL: "BSD loopback", ETHERNET: "Ethernet", RAW: "raw IP", RAW_BSD: "raw IP",
         RAW_OPENBSD: "raw IP", LINUX_SLL: "Linux cooked v1", LINUX_SLL2: "Linux cooked v2",
         LOOP: "OpenBSD loopback", IPV4: "raw IPv4", IPV6: "raw IPv6", PPP: "PPP",
         PPP_HDLC: "PPP in HDLC", 105: "IEEE 802.11", 127: "802.11 radiotap", 143: "DOCSIS",
         192: "PPI", 147: "user 0"}

ETH_IPV4, ETH_IPV6, ETH_TEB = 0x0800, 0x86DD, 0x6558
_VLAN = frozenset((0x8100, 0x88A8, 0x9100, 0x9200, 0x9300))   # 802.1Q, 802.1ad, legacy QinQ
_MPLS = frozenset((0x8847, 0x8848))
_PPPOE_SESSION = 0x8864
_AF_INET6 = frozenset((10, 24, 28, 30))    # Linux, NetBSD/OpenBSD, FreeBSD, macOS
_PPP_PROTOCOLS = {0x0021: 4, 0x0057: 6}
MAX_NESTING = 8


def _by_nibble(pkt: bytes, off: int):
    if len(pkt) <= off:
        return None
    version = pkt[off] >> 4
    return (version, off) if version in (4, 6) else None


def network_start(linktype: int, pkt: bytes):
    """Where the IP header starts in one captured frame of this link type."""
    if linktype == ETHERNET:
        return ether_network(pkt, 0)
    if linktype in (RAW, RAW_BSD, RAW_OPENBSD, IPV4, IPV6):
        return _by_nibble(pkt, 0)
    if linktype == LINUX_SLL:                       # 16-byte header, protocol at 14
        if len(pkt) < 16:
            return None
        return ethertype_network(pkt[14] << 8 | pkt[15], pkt, 16)
    if linktype == LINUX_SLL2:                      # 20-byte header, protocol at 0
        if len(pkt) < 20:
            return None
        return ethertype_network(pkt[0] << 8 | pkt[1], pkt, 20)
    if linktype in (NULL, LOOP):                    # 4-byte address family, either byte order
        if len(pkt) < 5:
            return None
        family = {int.from_bytes(pkt[:4], "little"), int.from_bytes(pkt[:4], "big")}
        if 2 in family:
            return 4, 4
        if family & _AF_INET6:
            return 6, 4
        return _by_nibble(pkt, 4)
    if linktype in (PPP, PPP_HDLC):
        return ppp_network(pkt, 0)
    return None


def ppp_network(pkt: bytes, off: int):
    """PPP (RFC 1661 §2): optional address/control ff03, then a 1- or 2-byte protocol field."""
    if pkt[off:off + 2] == b"\xff\x03":
        off += 2
    if len(pkt) < off + 2:
        return None
    if pkt[off] & 1:                                # protocol field compression (RFC 1661 §6.5)
        protocol, off = pkt[off], off + 1
    else:
        protocol, off = pkt[off] << 8 | pkt[off + 1], off + 2
    version = _PPP_PROTOCOLS.get(protocol)
    return (version, off) if version else None


def ether_network(pkt: bytes, off: int, depth: int = 0):
    """Ethernet II header at off (802.3/LLC frames carry no IP we read)."""
    if len(pkt) < off + 14 or depth > MAX_NESTING:
        return None
    return ethertype_network(pkt[off + 12] << 8 | pkt[off + 13], pkt, off + 14, depth)


def ethertype_network(etype: int, pkt: bytes, off: int, depth: int = 0):
    """Follow VLAN tags (802.1Q, QinQ), MPLS labels, PPPoE and bridged Ethernet to the IP header."""
    for _ in range(MAX_NESTING):
        if etype == ETH_IPV4:
            return 4, off
        if etype == ETH_IPV6:
            return 6, off
        if etype in _VLAN:
            if len(pkt) < off + 4:
                return None
            etype = pkt[off + 2] << 8 | pkt[off + 3]
            off += 4
        elif etype in _MPLS:                        # RFC 3032: labels until bottom-of-stack
            while len(pkt) >= off + 4:
                bottom = pkt[off + 2] & 1
                off += 4
                if bottom:
                    break
            found = _by_nibble(pkt, off)
            if found:
                return found
            if pkt[off:off + 2] == b"\x00\x00":      # pseudowire control word (RFC 4385)
                off += 4
            return ether_network(pkt, off, depth + 1)
        elif etype == _PPPOE_SESSION:               # RFC 2516: 6-byte header + PPP protocol
            if len(pkt) < off + 8:
                return None
            version = _PPP_PROTOCOLS.get(pkt[off + 6] << 8 | pkt[off + 7])
            return (version, off + 8) if version else None
        elif etype == ETH_TEB:
            return ether_network(pkt, off, depth + 1)
        else:
            return None
    return None


def gre_network(data: bytes):
    """GRE (RFC 2784/2890, key and sequence fields) and ERSPAN type I/II/III inside it."""
    if len(data) < 4:
        return None
    flags = data[0] << 8 | data[1]
    proto = data[2] << 8 | data[3]
    if flags & 0x7 == 1:                            # PPTP enhanced GRE (RFC 2637 §4.1): PPP
        if proto != 0x880B:
            return None
        off = 8 + (4 if flags & 0x1000 else 0) + (4 if flags & 0x0080 else 0)
        return ppp_network(data, off)
    if flags & 0x7:
        return None
    off = 4
    if flags & 0xC000:                              # checksum or routing present
        off += 4
    if flags & 0x2000:                              # key
        off += 4
    if flags & 0x1000:                              # sequence number
        off += 4
    if flags & 0x4000:                              # RFC 1701 source routes
        while len(data) >= off + 4:
            sre_len = data[off + 3]
            off += 4 + sre_len
            if sre_len == 0:
                break
    if proto == 0x88BE:                             # ERSPAN type II (8-byte header) or I (none)
        if flags & 0x1000 and len(data) > off and data[off] >> 4 == 1:
            off += 8
        return ether_network(data, off)
    if proto == 0x22EB:                             # ERSPAN type III: 12 bytes (+8 optional)
        if len(data) < off + 12:
            return None
        frame_type = (data[off + 10] >> 2) & 0x1F
        optional = data[off + 11] & 1
        off += 12 + (8 if optional else 0)
        return ether_network(data, off) if frame_type == 0 else _by_nibble(data, off)
    return ethertype_network(proto, data, off)


def gtp_network(data: bytes):
    """GTP-U (3GPP TS 29.281 §5): a G-PDU carries an IP packet after the header and extensions."""
    if len(data) < 8:
        return None
    flags = data[0]
    if flags >> 5 != 1 or not flags & 0x10 or data[1] != 0xFF:
        return None
    off = 8
    if flags & 0x07:                                # sequence, N-PDU or extension flag
        if len(data) < 12:
            return None
        next_type = data[11]
        off = 12
        while next_type:
            if len(data) <= off or data[off] == 0:
                return None
            off += data[off] * 4
            if len(data) < off:
                return None
            next_type = data[off - 1]
    return _by_nibble(data, off)


def vxlan_network(data: bytes):
    """VXLAN (RFC 7348 §5): 8-byte header with the I flag, then an Ethernet frame."""
    if len(data) < 8 + 14 or not data[0] & 0x08:
        return None
    return ether_network(data, 8)

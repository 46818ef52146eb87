"""Streaming pcap and pcapng writers with hand-packed records and a write-behind buffer."""

from __future__ import annotations

import gzip
import struct
from typing import BinaryIO

LINKTYPE_ETHERNET = 1
SNAPLEN = 65535
_FLUSH_AT = 1 << 20

_PCAP_REC = struct.Struct("<IIII")
_EPB_HEAD = struct.Struct("<IIIIIII")
_U32 = struct.Struct("<I")


def open_output(path: str, compress: bool) -> BinaryIO:
    if compress:
        return gzip.open(path, "wb", compresslevel=6)   # type: ignore[return-value]
    return open(path, "wb", buffering=0)


class PcapWriter:
    """libpcap format, microsecond timestamps, little-endian (pcap-savefile(5))."""

    def __init__(self, out: BinaryIO) -> None:
        self._out = out
        self._buf: list[bytes] = [struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, SNAPLEN,
                                              LINKTYPE_ETHERNET)]
        self._size = 0
        self.bytes_written = 0

    def write(self, ts_us: int, frame: bytes) -> None:
        n = len(frame)
        self._buf.append(_PCAP_REC.pack(ts_us // 1_000_000, ts_us % 1_000_000, n, n))
        self._buf.append(frame)
        self._size += n + 16
        if self._size > _FLUSH_AT:
            self.flush()

    def flush(self) -> None:
        data = b"".join(self._buf)
        self._out.write(data)
        self.bytes_written += len(data)
        self._buf.clear()
        self._size = 0

    def close(self) -> None:
        self.flush()
        self._out.close()


def _option(code: int, value: bytes) -> bytes:
    pad = -len(value) % 4
    return struct.pack("<HH", code, len(value)) + value + b"\x00" * pad


class PcapngWriter(PcapWriter):
    """pcapng: one Section Header Block, one Ethernet interface (µs), Enhanced Packet Blocks."""

    def __init__(self, out: BinaryIO) -> None:
        super().__init__(out)
        shb_opts = _option(4, b"sipscope benchmarks/generate_capture.py") + _option(0, b"")
        shb_len = 28 + len(shb_opts)
        shb = (struct.pack("<IIIHHq", 0x0A0D0D0A, shb_len, 0x1A2B3C4D, 1, 0, -1) + shb_opts
               + _U32.pack(shb_len))
        idb_opts = _option(2, b"eth0") + _option(9, b"\x06") + _option(0, b"")   # if_tsresol=µs
        idb_len = 20 + len(idb_opts)
        idb = (struct.pack("<IIHHI", 1, idb_len, LINKTYPE_ETHERNET, 0, SNAPLEN) + idb_opts
               + _U32.pack(idb_len))
        self._buf = [shb, idb]

    def write(self, ts_us: int, frame: bytes) -> None:
        n = len(frame)
        pad = -n % 4
        total = 32 + n + pad
        self._buf.append(_EPB_HEAD.pack(6, total, 0, ts_us >> 32, ts_us & 0xFFFFFFFF, n, n))
        self._buf.append(frame + b"\x00" * pad + _U32.pack(total))
        self._size += total
        if self._size > _FLUSH_AT:
            self.flush()

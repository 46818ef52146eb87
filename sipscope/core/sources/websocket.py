"""Decode WebSocket frames (RFC 6455 §5) carrying SIP (RFC 7118) out of a reassembled TCP stream.

Handles the HTTP Upgrade handshake (§4), masked client frames (§5.3), fragmented messages
(§5.4), frames spanning TCP segments (the caller buffers), control frames (skipped) and the
permessage-deflate extension (RFC 7692: RSV1 set on the first frame of a compressed message).
"""

from __future__ import annotations

import re
import struct
import zlib
from dataclasses import dataclass

from sipscope.core.sip.detect import sip_start

MAX_FRAME = 16 << 20          # a frame announcing more than 16 MiB means we lost the framing
MAX_MESSAGE = 16 << 20
MAX_HANDSHAKE = 16 << 10
_UPGRADE = re.compile(rb"(?im)^upgrade[ \t]*:[ \t]*websocket")
# RFC 9112 §3 request-line / §4 status-line (SIP's OPTIONS must not be taken for HTTP)
_HTTP_LINE = re.compile(rb"(?:[A-Z]+ [^ \r\n]+ HTTP/1\.[0-9]|HTTP/1\.[0-9] [0-9]{3})"
                        rb"[^\r\n]*\r?\n")
_DATA_OPCODES = (0, 1, 2)
_OPCODES = frozenset((0, 1, 2, 8, 9, 10))


def is_http_start(buf, pos: int = 0) -> bool:
    """True when the complete first line at pos is an HTTP/1.x request or status line."""
    return _HTTP_LINE.match(buf, pos) is not None


def is_upgrade(header_block: bytes) -> bool:
    """True for a WebSocket Upgrade request or a 101 Switching Protocols answer to one (§4)."""
    if not _UPGRADE.search(header_block):
        return False
    return header_block.startswith(b"GET ") or header_block.startswith(b"HTTP/1.1 101")


@dataclass(slots=True)
class Frame:
    fin: bool
    rsv1: bool
    opcode: int
    header_len: int
    length: int
    mask: bytes | None


def parse_header(buf, pos: int) -> Frame | None:
    """The frame header at pos, or None when fewer bytes than the header are buffered.

    Raises ValueError when the bytes cannot be a frame header (lost framing).
    """
    avail = len(buf) - pos
    if avail < 2:
        return None
    b0, b1 = buf[pos], buf[pos + 1]
    opcode = b0 & 0x0F
    if opcode not in _OPCODES or b0 & 0x30:
        raise ValueError("not a WebSocket frame header")
    length = b1 & 0x7F
    hlen = 2
    if length == 126:
        if avail < 4:
            return None
        length = struct.unpack_from(">H", buf, pos + 2)[0]
        hlen = 4
    elif length == 127:
        if avail < 10:
            return None
        length = struct.unpack_from(">Q", buf, pos + 2)[0]
        hlen = 10
    if length > MAX_FRAME or (opcode >= 8 and length > 125):
        raise ValueError("implausible WebSocket frame length")
    mask = None
    if b1 & 0x80:
        if avail < hlen + 4:
            return None
        mask = bytes(buf[pos + hlen:pos + hlen + 4])
        hlen += 4
    return Frame(bool(b0 & 0x80), bool(b0 & 0x40), opcode, hlen, length, mask)


def unmask(data: bytes, mask: bytes | None) -> bytes:
    """XOR the payload with the 4-byte masking key (§5.3), fast for large payloads."""
    if not mask or not data:
        return bytes(data)
    n = len(data)
    key = (mask * (n // 4 + 1))[:n]
    return (int.from_bytes(data, "big") ^ int.from_bytes(key, "big")).to_bytes(n, "big")


class WsDirection:
    """The state of one direction of a WebSocket connection: the message being assembled."""

    __slots__ = ("parts", "size", "start", "deflate", "inflater", "origin", "frames")

    def __init__(self) -> None:
        self.parts: list[bytes] | None = None
        self.origin = None        # (ts, frame, spans, file offset) of the first frame
        self.frames = 0           # data frames in the message
        self.size = 0
        self.start = 0            # absolute stream offset of the message's first frame
        self.deflate = False
        self.inflater = None

    def frame(self, frame: Frame, payload: bytes, offset: int,
              budget=None) -> tuple[int, bytes] | None:
        """Feed one frame; returns (start offset, message) when a data message completes.
        budget: the input's limits.DecompressionBudget for inflated messages, or None."""
        if frame.opcode >= 8:
            return None                                   # close/ping/pong (§5.5)
        if frame.opcode in (1, 2):
            self.parts, self.size, self.start = [payload], len(payload), offset
            self.deflate = frame.rsv1
            self.frames = 1
        elif self.parts is None:
            return None                                   # continuation without a start
        else:
            self.parts.append(payload)
            self.size += len(payload)
            self.frames += 1
        if self.size > MAX_MESSAGE:
            self.parts = None
            return None
        if not frame.fin:
            return None
        message = b"".join(self.parts)
        self.parts = None
        if self.deflate:
            message = self._inflate(message, budget)
        return self.start, message

    def _inflate(self, data: bytes, budget=None) -> bytes:
        # RFC 7692 §7.2.2: append 0x00 0x00 0xff 0xff and inflate (raw deflate, shared window)
        limit = MAX_MESSAGE if budget is None else min(MAX_MESSAGE, budget.left)
        if limit <= 0:
            return b""
        if self.inflater is None:
            self.inflater = zlib.decompressobj(-15)
        try:
            out = self.inflater.decompress(data + b"\x00\x00\xff\xff", limit)
        except zlib.error:
            self.inflater = None
            return b""
        if budget is not None:
            budget.take(len(out))
        return out


def find_frame(buf, pos: int, limit: int = 65536) -> int:
    """Offset of the next data frame header (from pos) whose payload starts a SIP message, or -1."""
    end = min(len(buf), pos + limit)
    for k in range(pos, end):
        if buf[k] & 0x7F not in (0x01, 0x02, 0x41, 0x42):
            continue
        try:
            frame = parse_header(buf, k)
        except ValueError:
            continue
        if frame is None:
            return -1
        start = k + frame.header_len
        head = unmask(bytes(buf[start:start + min(frame.length, 1024)]), frame.mask)
        if not frame.rsv1 and head and sip_start(head) == 0:
            return k
    return -1

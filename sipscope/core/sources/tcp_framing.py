"""Cut a reassembled TCP stream into SIP messages, WebSocket messages, TLS records or HEP packets.

The first bytes of a stream choose its mode: TLS record header, "HEP3", an HTTP start line
(a WebSocket Upgrade, RFC 6455 §4) or otherwise SIP.  SIP messages are framed by
Content-Length (RFC 3261 §18.3); a stream that starts mid-way or lost bytes resynchronises at
the next start line.  Buffers are bounded: data that never shows a start line is dropped.
"""

from __future__ import annotations

import re

from sipscope.core.sources import websocket
from sipscope.core.sources.datagram import REASSEMBLED
from sipscope.core.sources.hep import EEP_MAGIC, HEP3_MAGIC, decode_hep3
from sipscope.core.sip.detect import (START_LINE, content_length, find_start_line,
                                              header_end, sip_start)

UNKNOWN, SIP, HTTP, WS, TLS, HEP, OTHER = range(7)
MODE_NAMES = {UNKNOWN: "unknown", SIP: "SIP", HTTP: "HTTP", WS: "WebSocket", TLS: "TLS",
              HEP: "HEP", OTHER: "other"}
MAX_LINE = 8192               # a start line longer than this is not one
MAX_HEADERS = 256 << 10       # a header block longer than this is garbage
MAX_BODY = 16 << 20
GIVE_UP = 1 << 20             # bytes scanned without any SIP before a stream counts as not SIP
TLS_MAX_RECORD = (1 << 14) + 2048          # RFC 8446 §5.2 / RFC 5246 §6.2.3
_TLS_HEADER = re.compile(rb"[\x14-\x18]\x03[\x00-\x04]")
_BLANK = b"\r\n \t"


def _skip_blank(buf, pos: int) -> int:
    n = len(buf)
    while pos < n and buf[pos] in _BLANK:        # CRLF keep-alives (RFC 5626 §3.5.1)
        pos += 1
    return pos


def _tls_header(buf, pos: int) -> int:
    """Length of the TLS record whose header is at pos, or -1 if no header is there."""
    if len(buf) - pos < 5:
        return -1
    if 20 <= buf[pos] <= 24 and buf[pos + 1] == 3 and buf[pos + 2] <= 4:
        length = buf[pos + 3] << 8 | buf[pos + 4]
        if 0 < length <= TLS_MAX_RECORD:
            return length
    return -1


def _tls_chain(buf, pos: int) -> int:
    """First offset >= pos where a TLS record header is followed by another one (or the end)."""
    for count, m in enumerate(_TLS_HEADER.finditer(buf, pos)):
        if count > 64:
            break
        k = m.start()
        length = _tls_header(buf, k)
        if length < 0:
            continue
        nxt = k + 5 + length
        if nxt == len(buf) or _tls_header(buf, nxt) >= 0:
            return k
    return -1


def parse(st, sink) -> None:
    """Consume every complete unit buffered in stream st."""
    steps = (_detect, _sip, _http, _ws, _tls, _hep)
    while st.mode != OTHER and steps[st.mode](st, sink):
        pass
    if st.mode == OTHER and st.buf:
        st.consume_to(len(st.buf))


def _detect(st, sink) -> bool:
    buf = st.buf
    pos = _skip_blank(buf, st.pos)
    st.consume_to(pos)
    buf, pos = st.buf, st.pos
    if len(buf) - pos < 5:
        return False
    head = bytes(buf[pos:pos + 16])
    if _tls_header(head, 0) >= 0:
        st.mode = TLS
        return True
    if head[:4] in (HEP3_MAGIC, EEP_MAGIC):
        st.mode = HEP
        return True
    if 0x20 <= head[0] < 0x7F and len(buf) - pos < MAX_LINE and buf.find(b"\n", pos) < 0:
        return False                          # wait for the whole first line of a text protocol
    if websocket.is_http_start(buf, pos):
        st.mode = HTTP
    elif st.midstream and head[0] & 0x7F in (1, 2) and websocket.find_frame(buf, pos, 1) == pos:
        st.mode, st.ws = WS, websocket.WsDirection()
    else:
        st.mode = SIP
    return True


def _not_synced(st, sink, pos: int) -> bool:
    """No start line in the buffer: keep a tail, maybe switch to TLS or give up."""
    buf = st.buf
    if st.messages == 0:
        k = _tls_chain(buf, pos)
        if k >= 0:
            st.skipped += k - pos
            st.mode = TLS
            st.consume_to(k)
            return True
    keep = max(pos, len(buf) - MAX_LINE)
    st.skipped += keep - pos
    st.scanned += keep - pos
    st.consume_to(keep)
    if st.messages == 0 and st.scanned > GIVE_UP:
        st.mode = OTHER
    return False


def _ws_header_before(buf, start: int, floor: int) -> int:
    """Offset of an unmasked WebSocket frame header ending right at start, or -1."""
    for hlen in (2, 4, 10):
        j = start - hlen
        if j < floor:
            break
        try:
            frame = websocket.parse_header(buf, j)
        except ValueError:
            continue
        if frame is not None and frame.header_len == hlen and frame.opcode in (1, 2):
            return j
    return -1


def _sip(st, sink) -> bool:
    buf, pos = st.buf, st.pos
    n = len(buf)
    if pos >= n:
        return False
    if buf[pos] in _BLANK:
        pos = _skip_blank(buf, pos)
        if pos >= n:
            st.consume_to(pos)
            return False
    nl = buf.find(b"\n", pos, pos + MAX_LINE)
    if nl < 0 and n - pos <= MAX_LINE:
        st.consume_to(pos)
        return False
    if st.resync or nl < 0 or not START_LINE.match(buf, pos, nl + 1):
        k = find_start_line(buf, pos)
        if k < 0:
            return _not_synced(st, sink, pos)
        if st.messages == 0:
            j = _ws_header_before(buf, k, pos)
            if j >= 0:
                st.skipped += j - pos
                st.mode, st.ws, st.resync = WS, websocket.WsDirection(), False
                st.consume_to(j)
                return True
        st.skipped += k - pos
        pos = k
        st.resync = False
    end_of_headers = header_end(buf, pos)
    if end_of_headers < 0:
        if n - pos > MAX_HEADERS:
            sink.limited_warning("tcp-headers", f"TCP {st.src} -> {st.dst}: a SIP header block "
                                 f"longer than {MAX_HEADERS} bytes was skipped")
            st.resync = True
            st.consume_to(pos + 1)
            return True
        st.consume_to(pos)
        return False
    length = content_length(buf[pos:end_of_headers])
    if length is None:
        length = 0
        sink.limited_warning("tcp-no-cl", f"TCP {st.src} -> {st.dst}: a SIP message without "
                             "Content-Length (mandatory over TCP, RFC 3261 §18.3); "
                             "body assumed empty")
    elif length > MAX_BODY:
        sink.limited_warning("tcp-huge-cl", f"TCP {st.src} -> {st.dst}: Content-Length {length} "
                             "is implausible; body ignored")
        length = 0
    end = end_of_headers + length
    if end > n:
        st.consume_to(pos)
        return False
    sink.emit_stream(st, st.base + pos, st.base + end, bytes(buf[pos:end]), "TCP")
    st.messages += 1
    st.scanned = 0
    st.consume_to(end)
    return True


def _http(st, sink) -> bool:
    buf, pos = st.buf, st.pos
    end = header_end(buf, pos)
    if end < 0:
        if len(buf) - pos > websocket.MAX_HANDSHAKE:
            st.mode = OTHER
        return False
    if websocket.is_upgrade(bytes(buf[pos:end])):
        st.mode, st.ws = WS, websocket.WsDirection()
    else:
        st.mode = OTHER
    st.consume_to(end)
    return True


def _ws(st, sink) -> bool:
    buf, pos = st.buf, st.pos
    n = len(buf)
    try:
        if st.resync:
            raise ValueError("resynchronising")
        frame = websocket.parse_header(buf, pos)
    except ValueError:
        k = websocket.find_frame(buf, pos)
        if k < 0:
            keep = max(pos, n - 16)
            st.skipped += keep - pos
            st.consume_to(keep)
            return False
        st.skipped += k - pos
        st.resync = False
        st.consume_to(k)
        return True
    if frame is None:
        return False
    start = pos + frame.header_len
    end = start + frame.length
    if end > n:
        return False
    payload = websocket.unmask(bytes(buf[start:end]), frame.mask)
    ws = st.ws
    if frame.opcode in (1, 2):                 # first frame: its first segment dates the message
        ws.origin = st.locate(st.base + pos, st.base + end)
    done = ws.frame(frame, payload, st.base + pos, sink.inflate_budget)
    if sink.inflate_budget.left <= 0 and frame.rsv1:
        sink.over_budget(st.locate(st.base + pos, st.base + end)[1],
                         "compressed WebSocket messages")
    st.consume_to(end)
    if done is not None and ws.origin is not None:
        message = done[1]
        offset = sip_start(message)
        if offset >= 0:
            ts, frame_no, spans, _ = ws.origin
            sink.emit(ts, st.src, st.dst, "WS", message[offset:], frame_no,
                      REASSEMBLED if spans or ws.frames > 1 else 0)
            st.messages += 1
    return True


def _tls(st, sink) -> bool:
    buf, pos = st.buf, st.pos
    length = _tls_header(buf, pos)
    if length < 0:
        if len(buf) - pos < 5:
            return False
        k = _tls_chain(buf, pos + 1)
        if k < 0:
            keep = max(pos, len(buf) - TLS_MAX_RECORD - 5)
            st.skipped += keep - pos
            st.consume_to(keep)
            return False
        st.skipped += k - pos
        st.consume_to(k)
        return True
    if len(buf) - pos < 5 + length:
        return False
    sink.tls_record(st.server)
    st.consume_to(pos + 5 + length)
    return True


def _hep(st, sink) -> bool:
    buf, pos = st.buf, st.pos
    if len(buf) - pos < 6:
        return False
    if bytes(buf[pos:pos + 4]) in (HEP3_MAGIC, EEP_MAGIC):
        total = buf[pos + 4] << 8 | buf[pos + 5]
        if total >= 6:
            if len(buf) - pos < total:
                return False
            ts, frame, spans, _ = st.locate(st.base + pos, st.base + pos + total)
            packet = decode_hep3(bytes(buf[pos:pos + total]), sink.inflate_budget)
            if packet is not None and packet.over_budget:
                sink.over_budget(frame, "compressed HEP payloads")
            if packet is not None:
                sink.emit_hep(packet, ts, frame, REASSEMBLED)
            st.consume_to(pos + total)
            return True
    k = buf.find(HEP3_MAGIC, pos + 1)
    keep = k if k >= 0 else max(pos, len(buf) - 3)
    st.skipped += keep - pos
    st.consume_to(keep)
    return k >= 0


def _emit_partial(st, sink, why: str) -> None:
    """Yield a SIP message whose headers are complete but whose body never fully arrived."""
    buf = st.buf
    pos = _skip_blank(buf, st.pos)
    end = header_end(buf, pos)
    if end < 0 or st.resync or not START_LINE.match(buf, pos):
        return
    length = content_length(buf[pos:end]) or 0
    have = len(buf) - end
    sink.emit_stream(st, st.base + pos, st.base + len(buf), bytes(buf[pos:]), "TCP",
                     note=f"incomplete: {why}; {have} of {length} body bytes captured")
    sink.count("incomplete TCP messages")
    st.messages += 1
    st.consume_to(len(buf))


def on_hole(st) -> None:
    """Bytes are missing before what comes next: drop the partial unit and resynchronise."""
    if st.mode == SIP:
        _emit_partial(st, st.sink, "bytes missing from the capture")
    elif st.mode == WS and st.ws is not None:
        st.ws.parts = None
    st.skipped += len(st.buf) - _skip_blank(st.buf, st.pos)
    st.consume_to(len(st.buf))
    st.resync = True


def finish(st, sink) -> None:
    """End of the stream or capture: report what could not be used."""
    parse(st, sink)
    if st.mode == SIP:
        _emit_partial(st, sink, "the capture ends inside this message")
    left = len(st.buf) - _skip_blank(st.buf, st.pos)
    if st.messages:
        st.skipped += left
        if st.lost:
            sink.limited_warning("tcp-lost", f"TCP {st.src} -> {st.dst}: {st.lost} bytes are "
                                 "missing from the capture; SIP resynchronised after the gap")
        if st.skipped:
            sink.limited_warning("tcp-skipped", f"TCP {st.src} -> {st.dst}: {st.skipped} bytes "
                                 "were skipped to reach a SIP start line "
                                 "(stream captured mid-way or segments missing)")
    st.consume_to(len(st.buf))

"""A captured SIP message as the model keeps it: addresses, time, the keys it is filed by, raw bytes.

Memory matters (a busy PBX capture holds a million messages): the object has slots, repeated strings
are shared through the builder's intern table, and the full parse is done lazily from the raw bytes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sipscope.core.sip import summary
from sipscope.core.sip.message import SipMessage, parse_cached
from sipscope.core.sip.numbers import header_int

if TYPE_CHECKING:
    from sipscope.core.model.dialog import Dialog
    from sipscope.core.model.rawstore import RawStore
    from sipscope.core.model.transaction import Transaction

# Message.flags bits above the Datagram flags (sources/datagram.py uses bits 0-7)
RETRANSMISSION = 1 << 8   # a later copy of an earlier message (catalog D2)
DUPLICATE = 1 << 9        # identical bytes on the same 5-tuple within 2 ms: a capture artefact (D2)
HAS_WARNINGS = 1 << 10    # the parser recorded warnings (see .sip.warnings)
# summary.hints (sip/summary.py) shifted into the flags: cheap facts the rules would otherwise
# read the bytes back for
HINT_SHIFT = 11
MAY_NAME_TOOL = summary.MAY_NAME_TOOL << HINT_SHIFT      # User-Agent/From may name a scanner
HAS_CREDENTIALS = summary.HAS_CREDENTIALS << HINT_SHIFT  # Authorization / Proxy-Authorization
HAS_SESSION_TIMER = summary.SESSION_TIMER << HINT_SHIFT  # Session-Expires or Min-SE (RFC 4028)

DUPLICATE_WINDOW = 0.002  # D2: real retransmissions are at least T1/2 apart

# Message._where: frame number (32 bits), input index (16 bits), then the RawStore reference
_FRAME_MASK, _INPUT_SHIFT, _INPUT_MASK, _REF_SHIFT = 0xFFFFFFFF, 32, 0xFFFF, 48


class Message:
    """One SIP message of the session; `index` is its position in time order (report --json).

    A busy capture holds a million of these, so the object is an explicit __slots__ class and
    its cold fields are packed (issue: big captures): the frame number, input index and the
    file location of the bytes share one integer (`_where`), and the bytes, the RawStore that
    holds them, or (bytes, note) for an annotated text-trace message share one slot (`_bytes`).
    The constructor takes every field by name or position as before."""

    __slots__ = ("index", "ts", "src", "dst", "transport", "flags", "method", "request_uri",
                 "status", "reason", "call_id", "cseq_num", "cseq_method", "branch", "sent_by",
                 "from_tag", "to_tag", "body_length", "transaction", "dialog", "_bytes", "_where")

    def __init__(self, index: int, ts: float, src: str, dst: str, transport: str,
                 payload: bytes | None, frame: int, input_index: int, flags: int,
                 method: str | None, request_uri: str | None, status: int, reason: str,
                 call_id: str, cseq_num: int | None, cseq_method: str, branch: str, sent_by: str,
                 from_tag: str, to_tag: str, body_length: int, note: str | None = None,
                 transaction: Transaction | None = None, dialog: Dialog | None = None,
                 store: RawStore | None = None, ref: int = 0) -> None:
        self.index = index
        self.ts = ts
        self.src = src
        self.dst = dst
        self.transport = transport
        self.flags = flags
        self.method = method                  # request method, None for a response
        self.request_uri = request_uri
        self.status = status                  # response status code, 0 for a request
        self.reason = reason
        self.call_id = call_id
        self.cseq_num = cseq_num
        self.cseq_method = cseq_method
        self.branch = branch                  # top Via branch
        self.sent_by = sent_by                # top Via sent-by
        self.from_tag = from_tag
        self.to_tag = to_tag
        self.body_length = body_length
        self.transaction = transaction
        self.dialog = dialog
        # payload None: the bytes stay in `store` at ref = (file offset << 24) | length
        if payload is None:
            stored = store if store is not None else b""
        else:
            stored = payload if payload.__class__ is bytes else bytes(payload)
        self._bytes = (stored, note) if note is not None else stored
        if frame > _FRAME_MASK or frame < 0 or input_index > _INPUT_MASK or input_index < 0:
            frame, input_index = min(max(frame, 0), _FRAME_MASK), min(max(input_index, 0),
                                                                      _INPUT_MASK)
        self._where = (ref << _REF_SHIFT) | (input_index << _INPUT_SHIFT) | frame

    def __repr__(self) -> str:
        return f"Message(#{self.index} {self.label} {self.src}->{self.dst} at {self.ts})"

    @property
    def frame(self) -> int:
        """1-based packet number in its file (or line number in a text trace)."""
        return self._where & _FRAME_MASK

    @property
    def input_index(self) -> int:
        return (self._where >> _INPUT_SHIFT) & _INPUT_MASK

    @property
    def ref(self) -> int:
        """(file offset << 24) | length of the bytes in the RawStore, 0 when kept in memory."""
        return self._where >> _REF_SHIFT

    @property
    def note(self) -> str | None:
        """What a text reader said about the message (truncated, restored line ends...)."""
        held = self._bytes
        return held[1] if held.__class__ is tuple else None

    @property
    def payload(self) -> bytes | None:
        """The bytes when kept in memory, None when they stay in the capture file."""
        held = self._bytes
        if held.__class__ is tuple:
            held = held[0]
        return held if held.__class__ is bytes else None

    @property
    def size(self) -> int:
        """Length of the raw bytes, without reading them back from the file."""
        held = self._bytes
        if held.__class__ is tuple:
            held = held[0]
        if held.__class__ is bytes:
            return len(held)
        return (self._where >> _REF_SHIFT) & 0xFFFFFF

    @property
    def raw(self) -> bytes:
        """The message bytes exactly as captured."""
        held = self._bytes
        if held.__class__ is bytes:
            return held
        if held.__class__ is tuple:
            held = held[0]
            if held.__class__ is bytes:
                return held
        ref = self._where >> _REF_SHIFT
        return held.get(ref >> 24, ref & 0xFFFFFF)

    @property
    def is_request(self) -> bool:
        return self.method is not None

    @property
    def is_response(self) -> bool:
        return self.status > 0

    @property
    def label(self) -> str:
        """`INVITE` or `180 Ringing`: what a ladder arrow says."""
        return self.method if self.method else f"{self.status} {self.reason}".strip()

    @property
    def short_label(self) -> str:
        return self.method if self.method else str(self.status)

    @property
    def sip(self) -> SipMessage:
        """The fully parsed message (parsed on demand, cached for a while)."""
        return parse_cached(self.raw)

    @property
    def retransmission(self) -> bool:
        return bool(self.flags & RETRANSMISSION)

    @property
    def duplicate(self) -> bool:
        return bool(self.flags & DUPLICATE)

    @property
    def copy(self) -> bool:
        """A retransmission or a capture duplicate: the same message seen again."""
        return bool(self.flags & (RETRANSMISSION | DUPLICATE))

    @property
    def src_host(self) -> str:
        return host_of(self.src)

    @property
    def dst_host(self) -> str:
        return host_of(self.dst)

    def has_flag(self, flag: int) -> bool:
        return bool(self.flags & flag)


def host_of(address: str) -> str:
    """`1.2.3.4:5060` -> `1.2.3.4`; `[2001:db8::1]:5060` -> `2001:db8::1`."""
    if address.startswith("["):
        return address[1: address.find("]")]
    host, _, _ = address.rpartition(":")
    return host or address


def port_of(address: str) -> int | None:
    _, colon, port = address.rpartition(":")
    return header_int(port) if colon else None

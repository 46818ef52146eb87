"""A captured SIP message as the model keeps it: addresses, time, the keys it is filed by, raw bytes.

Memory matters (a busy PBX capture holds a million messages): the object has slots, repeated strings
are shared through the builder's intern table, and the full parse is done lazily from the raw bytes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from sipscope.core.sip.message import SipMessage, parse_cached

if TYPE_CHECKING:
    from sipscope.core.model.dialog import Dialog
    from sipscope.core.model.rawstore import RawStore
    from sipscope.core.model.transaction import Transaction

# Message.flags bits above the Datagram flags (sources/datagram.py uses bits 0-7)
RETRANSMISSION = 1 << 8   # a later copy of an earlier message (catalog D2)
DUPLICATE = 1 << 9        # identical bytes on the same 5-tuple within 2 ms: a capture artefact (D2)
HAS_WARNINGS = 1 << 10    # the parser recorded warnings (see .sip.warnings)

DUPLICATE_WINDOW = 0.002  # D2: real retransmissions are at least T1/2 apart


@dataclass(slots=True, eq=False)
class Message:
    """One SIP message of the session; `index` is its position in time order (report --json)."""

    index: int
    ts: float
    src: str
    dst: str
    transport: str
    payload: bytes | None       # the raw bytes, or None when they stay in the file (see .raw)
    frame: int
    input_index: int
    flags: int
    method: str | None          # request method, None for a response
    request_uri: str | None
    status: int                 # response status code, 0 for a request
    reason: str
    call_id: str
    cseq_num: int | None
    cseq_method: str
    branch: str                 # top Via branch
    sent_by: str                # top Via sent-by
    from_tag: str
    to_tag: str
    body_length: int
    note: str | None = None
    transaction: Transaction | None = None
    dialog: Dialog | None = None
    store: RawStore | None = None     # where the bytes are when payload is None
    ref: int = 0                      # (file offset << 24) | length in `store`

    @property
    def raw(self) -> bytes:
        """The message bytes exactly as captured."""
        if self.payload is not None:
            return self.payload
        return self.store.get(self.ref >> 24, self.ref & 0xFFFFFF) if self.store else b""

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
    return int(port) if colon and port.isdigit() else None

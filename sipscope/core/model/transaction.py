"""SIP transactions (RFC 3261 §17): a request, its retransmissions and its responses.

Keys follow catalog D3: top-Via branch + sent-by + CSeq method (ACK to a non-2xx maps to the INVITE),
guarded by Call-ID and CSeq number against devices that reuse branches.  A CANCEL is its own
transaction (§9.2).  An ACK to a 2xx has its own branch and is its own transaction, linked to the
INVITE it acknowledges by dialog (§13.2.2.4).  Branches without the z9hG4bK cookie are RFC 2543
style (§17.2.3): the key then also takes the From tag.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sipscope.core.model.shared_empty import appended

if TYPE_CHECKING:
    from sipscope.core.model.message import Message

MAGIC_COOKIE = "z9hG4bK"


@dataclass(slots=True, eq=False)
class Transaction:
    """One transaction on one hop: its messages in time order (copies included)."""

    id: int
    method: str                       # the method of the request that opened it (CSeq method)
    call_id: str
    branch: str
    cseq_num: int | None
    messages: list[Message] = field(default_factory=list)
    request: Message | None = None    # first copy of the request (None when only responses seen)
    acked_invite: Transaction | None = None   # for a 2xx ACK: the INVITE transaction it acknowledges
    # ACKs: non-2xx ACKs, or 2xx ACKs pointing here (most have none: shared_empty.py)
    acks: list[Message] | tuple = ()
    cancel: Transaction | None = None          # for an INVITE: the CANCEL transaction with its branch
    cancelled_invite: Transaction | None = None  # for a CANCEL: the INVITE it cancels

    def add_ack(self, message: Message) -> None:
        self.acks = appended(self.acks, message)

    @property
    def label(self) -> str:
        return f"{self.method} {self.cseq_num} {self.branch}"

    @property
    def rfc2543(self) -> bool:
        return not self.branch.startswith(MAGIC_COOKIE)

    @property
    def responses(self) -> list[Message]:
        return [m for m in self.messages if m.is_response]

    @property
    def final_responses(self) -> list[Message]:
        return [m for m in self.messages if m.status >= 200 and not m.copy]

    @property
    def final(self) -> Message | None:
        """The first final response (>= 200) to this request, or None."""
        for message in self.messages:
            if message.status >= 200:
                return message
        return None

    @property
    def provisional(self) -> list[Message]:
        return [m for m in self.messages if 100 <= m.status < 200 and not m.copy]

    @property
    def start(self) -> float:
        return self.messages[0].ts

    @property
    def end(self) -> float:
        return self.messages[-1].ts


def transaction_key(message: Message, method: str) -> tuple:
    """The D3 key of a message for a transaction of `method`: the client-side key (top-Via branch
    + CSeq method, §17.1.3) guarded by Call-ID and CSeq number.  The sent-by is left out because
    some SBCs and ALGs rewrite it in responses; an RFC 2543 branch needs it (§17.2.3)."""
    if message.branch.startswith(MAGIC_COOKIE):
        return (message.call_id, message.branch, message.cseq_num, method)
    # RFC 2543 fallback (§17.2.3): no unique branch, so add the From tag
    return (message.call_id, message.branch, message.sent_by, message.cseq_num, method,
            message.from_tag)

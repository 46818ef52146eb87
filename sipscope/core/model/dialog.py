"""Dialogs (RFC 3261 §12, catalog D5): Call-ID + the two tags, early until a 2xx confirms it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sipscope.core.model.message import Message
    from sipscope.core.model.transaction import Transaction

EARLY, CONFIRMED, TERMINATED = "early", "confirmed", "terminated"


@dataclass(slots=True, eq=False)
class Dialog:
    """One dialog.  The caller side owns `local_tag` (the From tag of the initial request)."""

    id: int
    call_id: str
    caller_tag: str
    callee_tag: str
    created_by: Transaction | None = None
    state: str = EARLY
    messages: list[Message] = field(default_factory=list)
    transactions: list[Transaction] = field(default_factory=list)

    @property
    def key(self) -> tuple[str, str, str]:
        return dialog_key(self.call_id, self.caller_tag, self.callee_tag)

    @property
    def label(self) -> str:
        return f"{self.caller_tag or '?'} / {self.callee_tag or '?'}"

    def to_json(self) -> dict:
        return {"id": self.id, "caller_tag": self.caller_tag, "callee_tag": self.callee_tag,
                "state": self.state,
                "created_by": self.created_by.id if self.created_by else None,
                "messages": [m.index for m in self.messages]}


def dialog_key(call_id: str, tag_a: str, tag_b: str) -> tuple[str, str, str]:
    """Order-free key: requests from the callee carry the two tags swapped in From/To."""
    return (call_id, tag_a, tag_b) if tag_a <= tag_b else (call_id, tag_b, tag_a)

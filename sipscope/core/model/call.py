"""Calls (everything that shares a Call-ID) and fork sets (catalog D4: sibling INVITE branches)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sipscope.core.model.dialog import Dialog
    from sipscope.core.model.message import Message
    from sipscope.core.model.transaction import Transaction


@dataclass(slots=True, eq=False)
class Branch:
    """One member of a fork set: its INVITE transaction, target and related messages."""

    position: int                       # 1-based position in the fork set (CLI --branches A,B)
    branch: str
    target: str                         # destination transport address of its first INVITE copy
    transaction: Transaction
    messages: list[Message] = field(default_factory=list)

    @property
    def label(self) -> str:
        """OpenSIPS/Kamailio end branches with `.index` (D4): show it when present."""
        tail = self.branch.rpartition(".")[2]
        return f"branch .{tail}" if tail.isdigit() and "." in self.branch else f"branch {self.position}"

    @property
    def pending_until(self) -> float | None:
        final = self.transaction.final
        return final.ts if final else None

    def to_json(self) -> dict:
        return {"position": self.position, "branch": self.branch, "target": self.target,
                "label": self.label, "transaction": self.transaction.id,
                "messages": [m.index for m in self.messages]}


@dataclass(slots=True, eq=False)
class ForkSet:
    """INVITEs one element sent with the same Call-ID, From tag, CSeq and upstream Via (D4)."""

    id: int
    sender: str                         # source transport address of the forking element
    cseq_num: int | None
    branches: list[Branch] = field(default_factory=list)

    def to_json(self) -> dict:
        return {"id": self.id, "sender": self.sender, "cseq": self.cseq_num,
                "branches": [b.to_json() for b in self.branches]}


@dataclass(slots=True, eq=False)
class Call:
    """Every message that shares one Call-ID, with its transactions, dialogs and fork sets."""

    index: int
    call_id: str
    messages: list[Message] = field(default_factory=list)
    transactions: list[Transaction] = field(default_factory=list)
    # most calls of a busy capture have no fork set, and OPTIONS/REGISTER "calls" no dialog
    # (the shared empty tuple until the builder adds one: shared_empty.py)
    dialogs: list[Dialog] | tuple = ()
    forks: list[ForkSet] | tuple = ()

    @property
    def start(self) -> float:
        return self.messages[0].ts

    @property
    def end(self) -> float:
        return self.messages[-1].ts

    @property
    def duration(self) -> float:
        return self.end - self.start

    @property
    def first_request(self) -> Message | None:
        for message in self.messages:
            if message.is_request:
                return message
        return None

    @property
    def first_method(self) -> str:
        first = self.first_request
        return first.method if first and first.method else (
            self.messages[0].cseq_method if self.messages else "")

    @property
    def initial_invite(self) -> Transaction | None:
        for transaction in self.transactions:
            if transaction.method == "INVITE":
                return transaction
        return None

    @property
    def final_status(self) -> int:
        """The outcome of the opening request: a 2xx if any attempt was answered, otherwise the
        final response of the last attempt (so 407 then 403 gives 403), or 0 when none was seen."""
        first = self.first_request
        method = first.method if first else None
        last = 0
        for transaction in self.transactions:
            if method and transaction.method != method:
                continue
            final = transaction.final
            if final is None:
                continue
            if 200 <= final.status < 300:
                return final.status
            last = final.status
        return last

    @property
    def largest_fork(self) -> ForkSet | None:
        return max(self.forks, key=lambda f: len(f.branches), default=None)

"""Two message sequences side by side: two branches of a fork set, two dialogs, or two calls
(e.g. the two legs through a B2BUA), aligned by role, each aligned row carrying its header diff.

Role of a message: a request by method and CSeq method, a response by the request it answers
(CSeq method) and its status code; a 'replace' block of the alignment pairs responses of the
same class (RFC 3261 §7.2 classes: 1xx provisional, 2xx success, 3xx-6xx failure).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from difflib import SequenceMatcher

from sipscope.core.model.call import Branch
from sipscope.core.model.diff import MessageDiff, diff_messages
from sipscope.core.model.message import Message


@dataclass(slots=True)
class AlignedRow:
    left: Message | None
    right: Message | None
    diff: MessageDiff | None = None

    @property
    def one_sided(self) -> bool:
        return self.left is None or self.right is None

    def to_json(self, hide_volatile: bool = True) -> dict:
        return {"left": self.left.index if self.left else None,
                "right": self.right.index if self.right else None,
                "left_label": row_label(self.left) or None,
                "right_label": row_label(self.right) or None,
                "diff": self.diff.to_json(hide_volatile) if self.diff else None}


@dataclass(slots=True)
class SummaryLine:
    """A plain-words difference, with the rows (positions in BranchDiff.rows) that show it."""

    text: str
    rows: list[int] = field(default_factory=list)
    important: bool = False

    def to_json(self) -> dict:
        return {"text": self.text, "rows": list(self.rows), "important": self.important}


@dataclass(slots=True)
class BranchDiff:
    left_title: str
    right_title: str
    rows: list[AlignedRow]
    summary: list[SummaryLine] = field(default_factory=list)

    def to_json(self, hide_volatile: bool = True) -> dict:
        return {"left": self.left_title, "right": self.right_title,
                "summary": [s.to_json() for s in self.summary],
                "rows": [r.to_json(hide_volatile) for r in self.rows]}


def row_label(message: Message | None) -> str:
    """`200 OK (CANCEL)` for responses to anything but INVITE, so a row says what it answers."""
    if message is None:
        return ""
    if message.is_response and message.cseq_method and message.cseq_method != "INVITE":
        return f"{message.label} ({message.cseq_method})"
    return message.label


def role(message: Message) -> tuple:
    if message.is_request:
        return ("request", message.method, message.cseq_method)
    return ("response", message.cseq_method, message.status)


def _class(message: Message) -> tuple:
    if message.is_request:
        return ("request", message.method)
    return ("response", message.cseq_method, min(message.status // 100, 3))


def align(left: list[Message], right: list[Message], with_diffs: bool = True) -> list[AlignedRow]:
    """Align two message sequences by role (retransmissions and capture copies left out)."""
    left = [m for m in left if not m.copy]
    right = [m for m in right if not m.copy]
    matcher = SequenceMatcher(a=[role(m) for m in left], b=[role(m) for m in right],
                              autojunk=False)
    rows: list[AlignedRow] = []
    for op, a0, a1, b0, b1 in matcher.get_opcodes():
        if op == "equal":
            rows += [AlignedRow(left[a0 + i], right[b0 + i]) for i in range(a1 - a0)]
        elif op == "replace":
            rows += _pair_by_class(left[a0:a1], right[b0:b1])
        elif op == "delete":
            rows += [AlignedRow(m, None) for m in left[a0:a1]]
        else:
            rows += [AlignedRow(None, m) for m in right[b0:b1]]
    if with_diffs:
        for row in rows:
            if row.left is not None and row.right is not None:
                row.diff = diff_messages(row.left.sip, row.right.sip,
                                         left_index=row.left.index, right_index=row.right.index)
    return rows


def _pair_by_class(left: list[Message], right: list[Message]) -> list[AlignedRow]:
    rows, j = [], 0
    for message in left:
        match = next((k for k in range(j, len(right)) if _class(right[k]) == _class(message)), None)
        if match is None:
            rows.append(AlignedRow(message, None))
            continue
        rows += [AlignedRow(None, m) for m in right[j:match]]
        rows.append(AlignedRow(message, right[match]))
        j = match + 1
    rows += [AlignedRow(None, m) for m in right[j:]]
    return rows


def diff_sequences(left: list[Message], right: list[Message], left_title: str,
                   right_title: str) -> BranchDiff:
    """Two dialogs or two calls side by side (no branch-specific summary)."""
    rows = align(left, right)
    result = BranchDiff(left_title, right_title, rows)
    result.summary = _generic_summary(rows, left_title, right_title)
    return result


def diff_branches(a: Branch, b: Branch) -> BranchDiff:
    """Two branches of one fork set side by side, with a plain-words summary (catalog D4)."""
    rows = align(a.messages, b.messages)
    result = BranchDiff(f"{a.label} -> {a.target}", f"{b.label} -> {b.target}", rows)
    result.summary = _branch_summary(a, b, rows)
    return result


def _rows_with(rows: list[AlignedRow], message: Message | None) -> list[int]:
    return [i for i, row in enumerate(rows) if message is not None and message in (row.left, row.right)]


def _responses(branch: Branch) -> list[Message]:
    return [m for m in branch.transaction.messages if m.is_response and not m.copy]


def _branch_summary(a: Branch, b: Branch, rows: list[AlignedRow]) -> list[SummaryLine]:
    lines: list[SummaryLine] = []
    first_a = _rows_with(rows, a.transaction.request)
    first_b = _rows_with(rows, b.transaction.request)
    if a.target != b.target:
        lines.append(SummaryLine(f"Targets differ: {a.label} was sent to {a.target}, "
                                 f"{b.label} to {b.target}.", sorted(set(first_a + first_b))))
    targets = {a.target: a, b.target: b}
    for branch in (a, b):
        strays = [m for m in _responses(branch) if m.src != branch.target
                  and targets.get(m.src) not in (None, branch)]
        if strays:
            owner = targets[strays[0].src]
            labels = ", ".join(m.label for m in strays)
            lines.append(SummaryLine(
                f"The answer on {branch.label} ({labels}) came from {strays[0].src}, which is "
                f"{owner.label}'s target, not from {branch.label}'s own target {branch.target}: "
                f"the device answered the wrong branch.",
                sorted({i for m in strays for i in _rows_with(rows, m)}), important=True))
    for branch in (a, b):
        finals = [m for m in _responses(branch) if m.status >= 200]
        if finals:
            text = ", then ".join(m.label for m in finals)
            lines.append(SummaryLine(f"{branch.label} ended with {text}.",
                                     [i for m in finals for i in _rows_with(rows, m)],
                                     important=len(finals) > 1))
        else:
            lines.append(SummaryLine(f"{branch.label} got no final response in this capture.",
                                     []))
    tags_a = {m.to_tag for m in _responses(a) if m.to_tag}
    tags_b = {m.to_tag for m in _responses(b) if m.to_tag}
    shared = tags_a & tags_b
    if shared:
        tagged = [i for i, row in enumerate(rows) for m in (row.left, row.right)
                  if m is not None and m.is_response and m.to_tag in shared]
        lines.append(SummaryLine(f"Both branches' responses carry the same To tag "
                                 f"{', '.join(sorted(shared))}: one device answered both.",
                                 sorted(set(tagged)), important=True))
    elif tags_a and tags_b:
        lines.append(SummaryLine(f"To tags differ: {', '.join(sorted(tags_a))} on {a.label}, "
                                 f"{', '.join(sorted(tags_b))} on {b.label}.", []))
    only = [(i, row) for i, row in enumerate(rows) if row.one_sided]
    for side, title in ((0, a.label), (1, b.label)):
        solo = [i for i, row in only if (row.left if side == 0 else row.right) is not None]
        if solo:
            labels = [row_label(rows[i].left if side == 0 else rows[i].right) for i in solo]
            lines.append(SummaryLine(f"Only on {title}: {', '.join(labels)}.", solo))
    return lines


def _generic_summary(rows: list[AlignedRow], left: str, right: str) -> list[SummaryLine]:
    lines = []
    changed = [i for i, row in enumerate(rows) if row.diff and row.diff.visible_rows(True, True)]
    if changed:
        lines.append(SummaryLine(f"{len(changed)} aligned messages differ in their headers.",
                                 changed))
    for side, title in ((0, left), (1, right)):
        solo = [i for i, row in enumerate(rows) if row.one_sided
                and (row.left if side == 0 else row.right) is not None]
        if solo:
            labels = [row_label(rows[i].left if side == 0 else rows[i].right) for i in solo]
            lines.append(SummaryLine(f"Only in {title}: {', '.join(labels)}.", solo))
    return lines

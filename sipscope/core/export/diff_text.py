"""Side-by-side text for `sipscope diff`: a message diff or a branch diff fitted to a width."""

from __future__ import annotations

import textwrap

from sipscope.core.model.branch_diff import BranchDiff, row_label
from sipscope.core.model.diff import ADDED, CHANGED, MOVED, REMOVED, SAME, MessageDiff

MARKS = {SAME: " ", CHANGED: "~", ADDED: ">", REMOVED: "<", MOVED: "^"}


def _cell(text: str | None, width: int) -> list[str]:
    if not text:
        return [""]
    return textwrap.wrap(text, width, break_long_words=True, break_on_hyphens=False) or [""]


def _side_by_side(name: str, left: str | None, right: str | None, mark: str, width: int,
                  name_width: int) -> list[str]:
    column = max(12, (width - name_width - 7) // 2)
    lcells, rcells = _cell(left, column), _cell(right, column)
    lines = []
    for i in range(max(len(lcells), len(rcells))):
        label = name if i == 0 else ""
        l = lcells[i] if i < len(lcells) else ""
        r = rcells[i] if i < len(rcells) else ""
        lines.append(f"{mark if i == 0 else ' '} {label:<{name_width}} {l:<{column}} | {r}".rstrip())
    return lines


def message_diff_text(diff: MessageDiff, width: int = 120, hide_volatile: bool = True,
                      only_changes: bool = False) -> list[str]:
    rows = diff.visible_rows(hide_volatile=hide_volatile, hide_same=only_changes)
    name_width = min(22, max((len(r.name) for r in rows), default=8))
    lines = []
    for row in rows:
        lines += _side_by_side(row.name, row.left, row.right, MARKS[row.status], width, name_width)
        for part in row.parts:
            if hide_volatile and part.volatile:
                continue
            lines.append(f"{'':{name_width + 4}}{part.name}: {part.left or '(none)'} -> "
                         f"{part.right or '(none)'}")
    hidden = len(diff.rows) - len(diff.visible_rows(hide_volatile, False))
    if hidden:
        lines.append(f"({hidden} fields that always differ hidden: branch, tags, Call-ID, CSeq "
                     "number, Content-Length, Date, Max-Forwards; --all shows them)")
    return lines


def branch_diff_text(diff: BranchDiff, width: int = 120, hide_volatile: bool = True) -> list[str]:
    half = max(20, (width - 9) // 2)
    lines = [f"{diff.left_title:<{half}}    {diff.right_title}", "=" * min(width, 2 * half + 4)]
    lines += ["Summary:"]
    for item in diff.summary:
        rows = f" (rows {', '.join(str(r + 1) for r in item.rows)})" if item.rows else ""
        lines += textwrap.wrap(f"{'!' if item.important else '-'} {item.text}{rows}", width,
                               subsequent_indent="  ")
    lines.append("")
    for number, row in enumerate(diff.rows, start=1):
        left = f"{row.left.index}: {row_label(row.left)}" if row.left else "(no counterpart)"
        right = f"{row.right.index}: {row_label(row.right)}" if row.right else "(no counterpart)"
        lines.append(f"{number:>3} {left:<{half}} {right}")
        if row.diff:
            changed = row.diff.visible_rows(hide_volatile=hide_volatile, hide_same=True)
            for header in changed:
                parts = "; ".join(f"{p.name}: {p.left or '(none)'} -> {p.right or '(none)'}"
                                  for p in header.parts if not (hide_volatile and p.volatile))
                text = parts or f"{header.left or '(none)'} -> {header.right or '(none)'}"
                lines += textwrap.wrap(f"{MARKS[header.status]} {header.name}: {text}", width,
                                       initial_indent="      ", subsequent_indent="        ")
    return lines

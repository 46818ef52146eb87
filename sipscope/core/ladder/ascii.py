"""Print a LadderLayout as a text ladder (`sipscope ladder`), one line per message.

    Call 1 · INVITE · 1330352b… · 12 messages, 60.155 s
                           66.227.1xx.2xx:5060   24.33.2xx.3xx:5060
                           Asterisk PBX          Grandstream GXP2000…
      09:40:18.325              |---- INVITE ------->|
                   +0.000       |  SDP audio 192.1…  |
    E 09:40:27.712              |<---- 200 OK -------|            branch .5

The first column marks the worst finding on the message (E error, W warning, i info);
retransmissions and capture duplicates are drawn with "~" instead of "-"; messages of a fork
branch name the branch at the end of the line.  Text from the capture is printed as is.
"""

from __future__ import annotations

from sipscope.core.ladder.layout import Arrow, LadderLayout

MARKS = {"error": "E", "warning": "W", "info": "i"}
TIME_WIDTH = 2 + 12 + 1 + 8 + 1  # severity mark, HH:MM:SS.mmm, +delta
MIN_COLUMN, MAX_COLUMN = 12, 34
BRANCH_SUFFIX = 13               # "   branch .2" after the arrow of a fork branch


def render_ascii(layout: LadderLayout, width: int | None = None) -> str:
    """The ladder as text; `width` (characters) narrows the columns to fit, else they fit the
    longest label."""
    lanes = len(layout.lanes)
    column = _column_width(layout, width)
    legend = dict(layout.legend)
    total = TIME_WIDTH + column * max(lanes, 1)
    centres = [TIME_WIDTH + column * i + column // 2 for i in range(lanes)]
    out = [_fit(layout.title, width or max(total, len(layout.title)))]
    out.append(_header_line(layout, centres, column, "title"))
    out.append(_header_line(layout, centres, column, "subtitle"))
    out.append("".join(_lifelines(total, centres)).rstrip())
    for arrow in layout.arrows:
        line = _lifelines(total, centres)
        line[0] = MARKS.get(arrow.severity or "", " ")
        _put(line, 2, arrow.time_text[:12])
        _put(line, 15, arrow.delta_text[:8])
        _draw_arrow(line, arrow, centres)
        text = "".join(line).rstrip()
        if arrow.branch_color is not None and arrow.branch_color in legend:
            text += "   " + legend[arrow.branch_color].split(" -> ")[0]
        out.append(text)
        if arrow.detail:
            detail = _lifelines(total, centres)
            _draw_detail(detail, arrow, centres, column)
            out.append("".join(detail).rstrip())
    return "\n".join(out) + "\n"


def _column_width(layout: LadderLayout, width: int | None) -> int:
    lanes = max(len(layout.lanes), 1)
    if width:
        reserve = BRANCH_SUFFIX if layout.legend else 0
        return max(MIN_COLUMN, (width - TIME_WIDTH - reserve) // lanes)
    longest = max((len(a.label) for a in layout.arrows), default=8)
    longest = max([longest] + [len(lane.title) for lane in layout.lanes])
    return max(MIN_COLUMN, min(MAX_COLUMN, longest + 8))


def _fit(text: str, width: int) -> str:
    return text if len(text) <= width else text[: max(1, width - 1)] + "…"


def _header_line(layout: LadderLayout, centres: list[int], column: int, field: str) -> str:
    line = [" "] * (TIME_WIDTH + column * max(len(layout.lanes), 1))
    if field == "title":
        _put(line, 2, "time")
    for lane, centre in zip(layout.lanes, centres):
        text = _fit(getattr(lane, field), column - 2)
        _put(line, max(0, centre - len(text) // 2), text)
    return "".join(line).rstrip()


def _lifelines(total: int, centres: list[int]) -> list[str]:
    line = [" "] * (total + 1)
    for centre in centres:
        line[centre] = "|"
    return line


def _put(line: list[str], start: int, text: str) -> None:
    """Write text into the line buffer, growing it when the text runs past the end."""
    end = start + len(text)
    if end > len(line):
        line.extend(" " * (end - len(line)))
    line[start:end] = list(text)


def _draw_arrow(line: list[str], arrow: Arrow, centres: list[int]) -> None:
    dash = "~" if arrow.dimmed else "-"
    start = centres[arrow.from_lane]
    if arrow.self_loop:
        _put(line, start + 1, f"{dash}{dash}+ {arrow.label}  (to itself)")
        line[start] = "<"
        return
    end = centres[arrow.to_lane]
    low, high = min(start, end), max(start, end)
    for x in range(low + 1, high):
        line[x] = dash
    if end > start:
        line[high - 1] = ">"
    else:
        line[low + 1] = "<"
    room = high - low - 5                # inside the lifelines, less a dash and the head each side
    if room < 3:
        return
    label = f" {_fit(arrow.label, room - 2)} "
    _put(line, low + 3 + (room - len(label)) // 2, label)


def _draw_detail(line: list[str], arrow: Arrow, centres: list[int], column: int) -> None:
    start = centres[arrow.from_lane]
    end = centres[arrow.to_lane]
    low, high = min(start, end), max(start, end)
    room = (high - low - 3) if not arrow.self_loop else column - 3
    if room < 6:
        return
    _put(line, low + 2, _fit(arrow.detail, room))

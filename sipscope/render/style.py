"""Colours and fonts of the ladder drawing (one Style for the screen and the PNG export).

Sizes are in pixels, like the layout, so a PNG looks the same whatever the DPI of the machine
that renders it.  The branch palette is Okabe & Ito's colour-blind-safe set (yellow darkened so
it reads on white).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from PySide6.QtGui import QColor, QFont

# Okabe, M. & Ito, K. (2008) "Color Universal Design": blue, orange, bluish green, reddish
# purple, sky blue, vermillion, dark yellow, black.
BRANCH_PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00",
                  "#B59B00", "#333333")
KIND_COLOURS = {"request": "#1F3B5C", "provisional": "#6B7785", "success": "#1E7B3A",
                "response": "#6A4C9C", "error": "#B3261E"}
SEVERITY_COLOURS = {"error": "#D93025", "warning": "#F29900", "info": "#1A73E8"}


def _font(pixels: int, bold: bool = False, mono: bool = False) -> QFont:
    font = QFont("DejaVu Sans Mono" if mono else "DejaVu Sans")
    font.setStyleHint(QFont.StyleHint.Monospace if mono else QFont.StyleHint.SansSerif)
    font.setPixelSize(pixels)
    font.setBold(bold)
    return font


def _colours(values) -> list[QColor]:
    return [QColor(v) for v in values]


@dataclass(slots=True)
class Style:
    """Everything paint_ladder needs to know about looks; colours are QColor, fonts QFont."""

    title_font: QFont = field(default_factory=lambda: _font(14, bold=True))
    legend_font: QFont = field(default_factory=lambda: _font(11))
    lane_font: QFont = field(default_factory=lambda: _font(12, bold=True))
    lane_subtitle_font: QFont = field(default_factory=lambda: _font(10))
    label_font: QFont = field(default_factory=lambda: _font(12))
    detail_font: QFont = field(default_factory=lambda: _font(10))
    time_font: QFont = field(default_factory=lambda: _font(11, mono=True))
    delta_font: QFont = field(default_factory=lambda: _font(10, mono=True))

    background: QColor = field(default_factory=lambda: QColor("#FFFFFF"))
    stripe: QColor = field(default_factory=lambda: QColor("#F6F8FA"))
    text: QColor = field(default_factory=lambda: QColor("#1F2328"))
    muted: QColor = field(default_factory=lambda: QColor("#6E7781"))
    detail: QColor = field(default_factory=lambda: QColor("#707A85"))
    lifeline: QColor = field(default_factory=lambda: QColor("#C4CBD3"))
    header_fill: QColor = field(default_factory=lambda: QColor("#EEF2F6"))
    header_border: QColor = field(default_factory=lambda: QColor("#B8C2CC"))
    header_rule: QColor = field(default_factory=lambda: QColor("#D0D7DE"))
    time_column: QColor = field(default_factory=lambda: QColor("#FAFBFC"))
    kinds: dict[str, QColor] = field(
        default_factory=lambda: {k: QColor(v) for k, v in KIND_COLOURS.items()})
    branch_palette: list[QColor] = field(default_factory=lambda: _colours(BRANCH_PALETTE))
    severities: dict[str, QColor] = field(
        default_factory=lambda: {k: QColor(v) for k, v in SEVERITY_COLOURS.items()})
    dimmed_alpha: int = 110                 # 0..255 for retransmissions and duplicates
    selection: QColor = field(default_factory=lambda: QColor("#D7E8FF"))
    selection_edge: QColor = field(default_factory=lambda: QColor("#4C8DF6"))

    line_width: float = 1.6
    head_length: float = 9.0
    head_width: float = 7.0
    marker_radius: float = 5.0

    def kind_colour(self, kind: str) -> QColor:
        return self.kinds.get(kind, self.text)

    def branch_colour(self, index: int) -> QColor:
        return self.branch_palette[index % len(self.branch_palette)]

    def severity_colour(self, severity: str) -> QColor:
        return self.severities.get(severity, self.severities["info"])


def default_style() -> Style:
    """The light style used on screen and in exported PNGs."""
    return Style()

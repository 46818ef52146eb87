"""Tooltips of capture text.  QToolTip guesses rich text (Qt::mightBeRichText), so capture text
is escaped and wrapped: markup in a header value shows as the characters it is."""

from __future__ import annotations

import html


def safe_tooltip(text: str) -> str:
    return "<p style='white-space:pre'>" + html.escape(text) + "</p>"

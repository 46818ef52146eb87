"""Where the main window opens and how its panes share it, for the screen it opens on.

A laptop screen (1280x720, 1366x768) must show the call list's numbers, the message list's
source -> destination and a raw pane with room for a SIP message; a large screen keeps the
roomy default.  Saved geometry is used when it still fits the screen it opens on.
"""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_WIDTH, DEFAULT_HEIGHT = 1480, 900
MARGIN = 24                    # window frame and a little air around it


@dataclass(frozen=True, slots=True)
class Layout:
    width: int
    height: int
    main: tuple[int, int]       # calls+findings | tabs+messages
    left: tuple[int, int]       # calls | findings
    right: tuple[int, int]      # tabs | messages+raw
    bottom: tuple[int, int]     # messages | raw message


def fit(available_width: int, available_height: int) -> Layout:
    """The window's size and its splitters' sizes for a screen's available area."""
    width = max(800, min(DEFAULT_WIDTH, available_width - MARGIN))
    height = max(560, min(DEFAULT_HEIGHT, available_height - MARGIN))
    left = max(440, min(540, int(width * 0.34)))
    right = width - left
    calls = int(height * 0.40)
    tabs = int(height * 0.54)
    # The raw pane gets a fair share: a SIP header line is ~70 characters.
    raw = max(340, int(right * 0.42))
    return Layout(width, height, (left, right), (calls, height - calls), (tabs, height - tabs),
                  (right - raw, raw))


def fits(frame_width: int, frame_height: int, available_width: int,
         available_height: int) -> bool:
    return frame_width <= available_width and frame_height <= available_height

"""Text from a capture made safe to show: on a terminal and beside sipscope's own words.

Captures come from strangers and scanners.  A reason phrase, User-Agent, Call-ID, display
name or file name may hold terminal escape sequences (ESC, CSI, OSC: window titles, hyperlinks,
clear-screen), NUL and other C0/C1 controls, or Unicode bidi controls (U+202E RIGHT-TO-LEFT
OVERRIDE and friends, Unicode TR #9 §2) that reverse the text that follows them.  One set of
characters is unsafe everywhere:

- terminal_safe(text) for every text output of the CLI: each unsafe character becomes a visible
  stand-in (C0 controls their Unicode control picture, e.g. U+241B for ESC; the others U+FFFD),
  newlines and tabs stay.
- visible_controls(text) / visible_lines(text) for the GUI: the same stand-ins (on one line, or
  keeping newlines), so no value inside a finding, notice, title or cell can reorder sipscope's
  words around it: an override shown as U+FFFD overrides nothing.  Right-to-left letters stay
  as they are (a Hebrew display name is no attack).

The ladder's one-line labels (core/ladder/layout.py clean_text) turn the same characters into
spaces; JSON output escapes them (json.dumps' default ensure_ascii).
"""

from __future__ import annotations

import re

# C0 controls but tab and newline, DEL, C1 controls; bidi embeddings, overrides and isolates
# (U+202A-U+202E, U+2066-U+2069), marks (U+200E, U+200F, U+061C), and the other invisible
# format characters that change how text around them is shown (zero-width joiners and spaces,
# line/paragraph separators, word joiner .. invisible operators, BOM, interlinear annotations).
_UNSAFE = ("\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u206f"
           "\ufeff\ufff9-\ufffb")
_UNSAFE_RE = re.compile(f"[{_UNSAFE}]")
_UNSAFE_OR_NEWLINE_RE = re.compile(f"[{_UNSAFE}\\n\\r\\t]")


def _stand_in(char: str) -> str:
    code = ord(char)
    if code < 0x20:
        return chr(0x2400 + code)        # the control picture: U+241B SYMBOL FOR ESCAPE
    if code == 0x7F:
        return "\u2421"                  # SYMBOL FOR DELETE
    return "\ufffd"


def _replace(match: re.Match) -> str:
    return _stand_in(match.group(0))


def terminal_safe(text: str) -> str:
    """The text with every unsafe character replaced by a visible stand-in; lines and tabs kept."""
    if _UNSAFE_RE.search(text) is None:
        return text
    return _UNSAFE_RE.sub(_replace, text)


def _replace_one_line(match: re.Match) -> str:
    char = match.group(0)
    return " " if char in "\n\r\t" else _stand_in(char)


def visible_controls(text: str | None) -> str:
    """The text on one line with every unsafe character shown as a stand-in (GUI)."""
    if not text:
        return ""
    if text.isprintable():
        return text
    return _UNSAFE_OR_NEWLINE_RE.sub(_replace_one_line, text)


def visible_lines(text: str | None) -> str:
    """Like visible_controls, but newlines stay (a multi-line explanation or tooltip)."""
    if not text:
        return ""
    if text.isprintable():
        return text
    return terminal_safe(text.replace("\r\n", "\n").replace("\r", "\n"))


class SafeWriter:
    """A text stream wrapper that writes terminal_safe(text): for stdout/stderr of the CLI."""

    def __init__(self, stream) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        return self._stream.write(terminal_safe(text))

    def writelines(self, lines) -> None:
        for line in lines:
            self.write(line)

    def __getattr__(self, name: str):
        return getattr(self._stream, name)

"""Options that change what the rules report (thresholds, password masking, extra wordlists)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(slots=True)
class AnalysisOptions:
    show_passwords: bool = False          # sec-weak-digest-password: show instead of `1***`
    wordlist: str | None = None           # extra dictionary file for the weak-password check
    post_dial_delay: float = 4.0          # call-post-dial-delay threshold in seconds (§4.6)

"""One way to count things in words: plurals and shares of calls read right for 1, for many, and
for shares too small to round to a percentage (issue: "2 of 11,021 calls" had none)."""

from sipscope.core.analysis.overview import share_of_calls
from sipscope.core.analysis.text import plural


def test_plural_agrees_with_the_count():
    assert plural(1, "RTP stream") == "1 RTP stream"
    assert plural(11021, "call") == "11,021 calls"
    assert plural(0, "field") == "0 fields"


def test_every_share_of_calls_has_a_percentage():
    assert share_of_calls(1884, 11021) == "1,884 of 11,021 calls (17.1 %)"
    assert share_of_calls(2, 11021) == "2 of 11,021 calls (< 0.1 %)"
    assert share_of_calls(1, 1) == "1 of 1 call (100.0 %)"


def test_no_text_counts_with_a_parenthesised_plural():
    """'1 time(s)', '6 message(s)': every count goes through plural() (issue 16, words)."""
    import re
    from pathlib import Path
    package = Path(__file__).resolve().parents[3] / "sipscope"
    pattern = re.compile(r"\}\s*(?:more\s+)?[a-z]+\(s\)")      # "{n} time(s)" in an f-string
    offenders = [f"{path.relative_to(package)}:{number}"
                 for path in package.rglob("*.py")
                 for number, line in enumerate(path.read_text("utf-8").splitlines(), 1)
                 if pattern.search(line)]
    assert offenders == []

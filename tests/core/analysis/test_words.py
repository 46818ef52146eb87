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

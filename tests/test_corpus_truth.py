"""Issue 14's corpus-wide promises, on every trace (tests/data always; ../shared/traces and
real/ when present): no security finding is a call's headline (catalog §11), and no undecided
finding's title claims a failure (catalog §0, D7: "can't tell" is not "failed")."""

from __future__ import annotations

import re

import pytest

from sipscope.core.analysis.runner import is_security
from sipscope.core.model.loader import NoSipError, load_files
from tests.test_claims import CORPUS

# words that state an outcome as a fact; an undecided title says what was *seen* instead
FAILURE_WORDS = re.compile(r"\b(failed|fails|failure|timed out|not answered|never answered|"
                           r"rejected|dropped|one-way audio:)", re.IGNORECASE)


def _undecided_title_claims(title: str) -> bool:
    return bool(FAILURE_WORDS.search(title)) and "(undecided)" not in title


@pytest.mark.parametrize("name,path", CORPUS, ids=[name for name, _ in CORPUS])
def test_security_is_never_a_headline_and_undecided_is_never_a_failure(name, path):
    try:
        session = load_files([str(path)])
    except NoSipError:
        return
    headlines = [f.id for f in session.findings if is_security(f) and f.role == "headline"]
    assert headlines == []
    claims = [(f.id, f.title) for f in session.findings
              if f.inconclusive and _undecided_title_claims(f.title)]
    assert claims == []


def test_the_title_check_can_fail():
    assert _undecided_title_claims("Registration of 100@x from 1.2.3.4:5060 failed (no answer)")
    assert _undecided_title_claims("One-way audio: 666 packets to the callee, 0 back")
    assert not _undecided_title_claims("No answer seen to the REGISTER (undecided)")
    assert not _undecided_title_claims("No RTP of this call at this capture point (a / b)")

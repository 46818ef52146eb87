"""When a rule raises over the whole capture, find the call(s) it fails on and keep the rest.

Rules are functions over the whole Session (they share indexes across calls, and some judge a
source address over many calls), so the runner calls each rule once; that fast path costs
nothing extra.  Only when a rule raises does this module search, by halving the list of
calls, for the calls whose presence makes it raise, each probe running the rule on a view of
the Session that holds only some calls.  The rule then runs once more on a view without
those calls, so one hostile message switches the check off for its own call only, and the
warning says which call.
"""

from __future__ import annotations

import heapq
import traceback
from collections.abc import Callable

from sipscope.core.model.call import Call
from sipscope.core.model.session import Session

MAX_BAD_CALLS = 8       # beyond this the rule fails broadly: reported for the whole capture
MAX_PROBES = 200        # each probe runs the rule once on a part of the capture


def session_view(session: Session, calls: list[Call]) -> Session:
    """A Session holding only `calls`: their messages, transactions and dialogs in the order
    the full Session has them, the same inputs, media and end of capture (horizon checks of
    catalog D7 must not change because some calls are left out)."""
    messages = list(heapq.merge(*(c.messages for c in calls), key=lambda m: m.index))
    transactions = sorted((t for c in calls for t in c.transactions), key=lambda t: t.id)
    dialogs = sorted((d for c in calls for d in c.dialogs), key=lambda d: d.id)
    view = Session(inputs=session.inputs, messages=messages, calls=list(calls),
                   transactions=transactions, dialogs=dialogs, media=session.media,
                   non_sip_payloads=session.non_sip_payloads, digest_ahead=session.digest_ahead,
                   _calls_by_id={c.call_id: c for c in calls})
    view._end = session.end
    return view


def describe(exc: BaseException) -> str:
    """`ValueError: ... at file.py:123`: what failed and where, for a warning."""
    frames = traceback.extract_tb(exc.__traceback__)
    where = f" at {frames[-1].filename.rpartition('/')[2]}:{frames[-1].lineno}" if frames else ""
    text = str(exc)
    if len(text) > 200:
        text = text[:200] + "..."
    return f"{type(exc).__name__}: {text}{where}"


def run_without_failing_calls(session: Session, run: Callable[[Session], list],
                              first: BaseException) -> tuple[list, list[str]]:
    """(findings, warnings) for a rule that raised `first` on the whole Session; run(view)
    runs the rule on a view.  When the failure cannot be pinned on a few calls the findings
    are empty and the one warning says the rule's findings are missing for the capture."""
    bad: list[tuple[Call, BaseException]] = []
    probes = 0

    def search(group: list[Call]) -> bool:
        """Find the failing calls of a group known to fail; False when the search gives up."""
        nonlocal probes
        if len(group) == 1:
            bad.append((group[0], first))
            return len(bad) <= MAX_BAD_CALLS
        middle = len(group) // 2
        for half in (group[:middle], group[middle:]):
            probes += 1
            if probes > MAX_PROBES:
                return False
            try:
                run(session_view(session, half))
            except Exception as exc:   # noqa: BLE001 - the failure being looked for
                if len(half) == 1:
                    bad.append((half[0], exc))
                    if len(bad) > MAX_BAD_CALLS:
                        return False
                elif not search(half):
                    return False
        return True

    found = None
    if session.calls and search(list(session.calls)) and bad:
        failing = {id(call) for call, _ in bad}
        try:
            found = run(session_view(session, [c for c in session.calls if id(c) not in failing]))
        except Exception:              # noqa: BLE001 - calls that fail only together
            found = None
    if found is None:
        return [], [f"failed ({describe(first)}); its findings are missing"]
    warnings = [f"failed on call {call.index + 1} (Call-ID {call.call_id}: {describe(exc)}); its "
                f"findings for that call are missing, the other calls were checked"
                for call, exc in bad]
    return found, warnings

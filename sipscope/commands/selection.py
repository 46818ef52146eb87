"""Which call a command works on when the user does not say: the one with the worst finding."""

from __future__ import annotations

RANK = {"error": 3, "warning": 2, "info": 1}


def default_call(session, want_fork: bool = False):
    """The call with the worst finding (then most findings); with want_fork, prefer calls that
    have a fork set; else the first INVITE call; else the first call."""
    scores: dict[str, tuple[int, int]] = {}
    for finding in session.findings:
        if finding.call_id is None:
            continue
        rank = 1 if finding.inconclusive else RANK.get(finding.severity, 0)
        worst, count = scores.get(finding.call_id, (0, 0))
        scores[finding.call_id] = (max(worst, rank), count + 1)
    calls = list(session.calls)
    if want_fork and any(c.forks for c in calls):
        calls = [c for c in calls if c.forks]
    if not calls:
        return None
    best = max(calls, key=lambda c: (scores.get(c.call_id, (0, 0)), c.first_method == "INVITE",
                                     -c.index))
    return best


def load_with_call(args, command: str):
    """(session, call) for a command that works on one call (`--call` or the default one);
    call is None after the reason was printed (the command then exits with status 1)."""
    import sys
    from sipscope.cli import load_for_cli
    from sipscope.commands.export import ExportError, choose_call
    session = load_for_cli(args)
    try:
        return session, choose_call(session, args.call)
    except ExportError as exc:
        print(f"sipscope {command}: {exc}", file=sys.stderr)
        return session, None

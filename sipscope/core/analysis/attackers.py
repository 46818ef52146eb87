"""Which sources the security rules (catalog §11) take for attackers, for the rules that word a
refusal of attack traffic differently: a test tool (SIPp, sipsak) is no attacker."""

from __future__ import annotations

from sipscope.core.analysis.context import Context
from sipscope.core.analysis.rules.security import security_index
from sipscope.core.model.message import host_of


def attack_flags(ctx: Context, address: str) -> list[str]:
    """The §11 rule ids that fire for the host of `address` as an attacker ([] for none): the
    scanner-User-Agent flag of a mere test tool does not count (§11.1: info, a local test)."""
    source = security_index(ctx).get(host_of(address)) if address else None
    if source is None:
        return []
    flags = set(source.flagged)
    if not source.scanner_ua:
        flags.discard("sec-scanner-user-agent")
    return sorted(flags)

"""Security and scanning fault rules (catalog §11): scanner User-Agents, extension enumeration,
password guessing, weak digest passwords and toll-fraud probes.

Findings are per source IP (scope "source", no call): one finding per source, with counts,
targets and a time range, so that one scan does not bury the call faults.  One pass over the
transactions builds a per-source index (shared with registration.py); only requests that need it
are read further (credentials from the raw header block, the User-Agent of prefiltered ones).
Every count, destination, account and address a finding names comes from its source's summary
(`Source.activity`, analysis/source_activity.py) or the source's judgements, and is carried in
its evidence; each consequence and piece of advice is a clause chosen by what was accepted.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from collections import Counter

from sipscope.core.analysis.context import Context, is_private
from sipscope.core.analysis.digest import (FULL_SEARCH_ACCOUNTS, DigestChallenge, crack,
                                          credentials_of, dictionary, mask)
from sipscope.core.analysis.finding import Finding
from sipscope.core.analysis.registry import rule
from sipscope.core.analysis.source_activity import PROBE_METHODS, Activity, Req, Source
from sipscope.core.analysis.text import fill, plural, when
from sipscope.core.model.message import HAS_CREDENTIALS, MAY_NAME_TOOL, Message, host_of
from sipscope.core.sip.params import parse_uri

# §11.1: attack and scanning tools (case-insensitive substring; short names as whole words)
SCANNER_UA = re.compile(
    r"friendly-scanner|sipvicious|sipcli|vaxsipuseragent|vaxipuseragent|sundayddr|sip-scan|"
    r"sipscan|siparmyknife|pplsip|nsauditor|nmap nse|(?<![a-z0-9])(?:smap|iwar|sivus)(?![a-z])",
    re.I)
TEST_TOOL_UA = re.compile(r"^\s*(?:sipsak|sipp)\b", re.I)
_UA_LINE = re.compile(
    rb"^(?:user-agent|from|f)[ \t]*:[^\r\n]*(?:friendly-scanner|sipvicious|sipcli|vaxs?ipuseragent|"
    rb"sundayddr|sip-?scan|siparmyknife|pplsip|nsauditor|nmap|smap|iwar|sivus|sipsak|sipp\b|"
    rb"100@1\.1\.1\.1)", re.I | re.M)
# Every tool alternative of _UA_LINE contains one of summary.TOOL_LITERALS: the summary pass
# flags the messages whose User-Agent or From lines hold one (MAY_NAME_TOOL), so the bytes of
# all other requests are never read back here.  HAS_CREDENTIALS likewise marks the messages
# with an Authorization or Proxy-Authorization header.


# Req, Source and the per-source summary Activity live in analysis/source_activity.py; Req and
# Source are imported from here by registration.py.

ENUM_WINDOW, ENUM_MIN = 60.0, 10                                            # §11.2
BRUTE_WINDOW, BRUTE_MIN = 60.0, 20                                          # §11.3 (a)
STUFF_WINDOW, STUFF_MIN = 600.0, 10                                         # §11.3 (b)
NONCE_REUSE_MIN = 3                                                         # §11.3 (c)
PROBE_WINDOW, PROBE_MIN, SUFFIX_DIGITS = 300.0, 5, 7                        # §11.5 (b)
NOT_FOUND = (404, 403, 484)
CHALLENGES = (401, 407)
MAX_ACCOUNTS = 1000           # §11.4 output hygiene: cap the cracking work per capture
EXTERNAL_PREFIXES = ("+", "00", "011", "900", "9011")


# -- the per-source index, shared with registration.py --------------------------------------

def security_index(ctx: Context) -> dict[str, Source]:
    """Every source host's requests, built once per analysis run."""
    cache = vars(ctx).setdefault("_security_cache", {})
    if "sources" in cache:
        return cache["sources"]
    sources: dict[str, Source] = {}
    for transaction in ctx.session.transactions:
        request = transaction.request
        if request is None or request.method in ("ACK", "CANCEL"):
            continue
        final = transaction.final
        host = host_of(request.src)
        source = sources.get(host)
        if source is None:
            source = sources[host] = Source(host)
        flags = request.flags
        creds = (credentials_of(request) or ()) if flags & HAS_CREDENTIALS else ()
        req = Req(request, transaction, final.status if final else 0, creds)
        source.requests.append(req)
        if flags & MAY_NAME_TOOL and not source.scanner_ua and _UA_LINE.search(request.raw):
            _tool_of(source, request)
    for source in sources.values():
        source.requests.sort(key=lambda r: r.ts)
    cache["sources"] = sources
    _judge(ctx, sources)
    return sources


def _tool_of(source: Source, message: Message) -> None:
    sip = message.sip
    ua = (sip.get("User-Agent") or "").strip()
    from_ = sip.from_
    if ua and SCANNER_UA.search(ua):
        source.scanner_ua = ua
    elif from_.display.lower() == "sipvicious" or (
            from_.uri is not None and from_.uri.user == "100" and from_.uri.host == "1.1.1.1"):
        # the From named plainly (display name and address, no tag): it is quoted inside
        # 'tool' in the texts, so it carries no quotes of its own
        shown = " ".join(part for part in (
            from_.display.strip('"'),
            f"sip:{from_.uri.user}@{from_.uri.host}" if from_.uri is not None else "") if part)
        source.scanner_ua = f"{ua or 'no User-Agent'}, with the SIPVicious default From {shown}"
    elif ua and TEST_TOOL_UA.search(ua) and not source.test_tool:
        source.test_tool = ua


def _judge(ctx: Context, sources: dict[str, Source]) -> None:
    """Decide once which sources the §11 rules report; registration.py leaves those sources to
    them (§10.1 traps: refused credentials from an attacker are not a misconfigured phone)."""
    peers = _peers(ctx)
    for source in sources.values():
        if source.scanner_ua:
            source.flagged.add("sec-scanner-user-agent")
        source.enumeration = _enumeration(source, peers)
        if source.enumeration is not None:
            source.flagged.add("sec-extension-enumeration")
        source.bruteforce = _bruteforce(source)
        if source.bruteforce is not None:
            source.flagged.add("sec-password-bruteforce")
            failed = source.bruteforce[0]
            names = {r.username() for r in failed}
            source.brute_success = {r.username() for r in source.requests if r.ok and r.creds
                                    and r.username() in names and r.ts > failed[0].ts}
    for source in sources.values():
        if any(r.message.method == "INVITE" for r in source.requests):
            source.toll = _toll(ctx, source, peers)
            if source.toll is not None:
                source.flagged.add("sec-toll-fraud-probe")


def flagged_sources(ctx: Context) -> set[str]:
    """Hosts that a security rule reports (their auth/registration failures are attacks)."""
    return {host for host, source in security_index(ctx).items() if source.flagged}


def bruteforce_sources(ctx: Context) -> set[str]:
    return {host for host, s in security_index(ctx).items()
            if "sec-password-bruteforce" in s.flagged}


# -- text helpers -----------------------------------------------------------------------------

def span(seconds: float) -> str:
    """A duration as the texts write it; the value itself is in the finding's evidence."""
    if seconds < 1:
        return f"{seconds:.2f} s"
    if seconds < 10:
        return f"{seconds:.1f} s"
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def sample(values, n: int = 6) -> str:
    values = list(values)
    text = ", ".join(values[:n])
    return text + (f" … ({len(values)} in all)" if len(values) > n else "")


def between(first: float, last: float) -> str:
    return f"at {when(first)}" if when(first) == when(last) else \
        f"between {when(first)} and {when(last)}"


def source_finding(ctx: Context, rule_id: str, source: Source, title: str, explanation: str,
                   messages: list[Message], severity: str | None = None, rfc: str = "",
                   evidence: dict | None = None) -> Finding:
    evidence = {"source": source.host, **(evidence or {})}
    finding = ctx.finding(rule_id, title, explanation, messages, severity=severity,
                          scope="source", rfc=rfc, evidence=evidence, source=source.host)
    finding.call_id = None
    return finding


def _highlights(reqs: list[Req], extra: list[Message] = ()) -> list[Message]:
    """The first and last request, plus a few examples (never every message of a big scan)."""
    picked = [reqs[0].message, reqs[-1].message] if reqs else []
    return picked + list(extra)


def did(act: Activity) -> str:
    """What the source sent, per method, from its Activity:
    '9 INVITEs to 9 destinations on 3 hosts, 15 REGISTERs to 195.113.172.39 for 4 accounts'."""
    parts = []
    for method, n in act.methods.items():
        part = f"{n:,} {method}" if method.endswith("S") else plural(n, method)   # OPTIONS
        hosts, dests = act.dest_hosts[method], act.destinations[method]
        if len(hosts) == 1:
            part += f" to {hosts[0]}"
        elif len(dests) > len(hosts):
            part += f" to {plural(len(dests), 'destination')} on {plural(len(hosts), 'host')}"
        else:
            part += f" to {plural(len(hosts), 'host')}"
        targets = act.targets.get(method, [])
        if len(targets) > 1 or method == "REGISTER" and targets:
            noun = "account" if method == "REGISTER" else (
                "number" if all(t.lstrip("+").isdigit() for t in targets) else "user")
            part += f" for {plural(len(targets), noun)} ({sample(targets, 4)})"
        parts.append(part)
    return ", ".join(parts)


def answered(act: Activity) -> str:
    """'answered 401 ×15, 200 ×1; 8 without a SIP answer' (first final status of each request;
    an ICMP error is no SIP answer)."""
    codes = sorted(act.answers.items(), key=lambda kv: (-kv[1], kv[0]))
    text = ", ".join(f"{code} ×{n:,}" for code, n in codes)
    text = f"answered {text}" if text else "no SIP answer to any"
    if act.unanswered and codes:
        text += f"; {act.unanswered:,} without a SIP answer"
    return text


# -- 11.1 sec-scanner-user-agent ------------------------------------------------------------

SCANNER_TEXT = (
    "Requests from {ip} identify themselves as '{ua}', a well-known SIP attack or scanning tool. "
    "Someone is probing this system for phone accounts to break into ({n} requests between {t1} "
    "and {t2}). If everything was refused, no harm was done yet: block the source on the "
    "firewall, make sure every extension has a long random password, and check that the server "
    "answers unknown and known users the same way.")


@rule("sec-scanner-user-agent", text=SCANNER_TEXT, index="security")
def scanner_user_agent(ctx: Context) -> list[Finding]:
    out = []
    for source in security_index(ctx).values():
        tool = source.scanner_ua or source.test_tool
        if tool:
            out.append(_scanner_finding(ctx, source, tool))
    return out


def _scanner_finding(ctx: Context, source: Source, tool: str) -> Finding:
    act = source.activity
    shared = 0
    if act.loopback:
        # several programs share a loopback address (SIPp, a softphone, a proxy relaying both):
        # only the requests from the ports that carry this User-Agent are the tool's
        # (tier-2 review: SIPp, PJSUA and Kamailio all on 127.0.0.1)
        sockets = {r.message.src for r in source.requests
                   if tool in (r.message.sip.user_agent or "")}
        own = [r for r in source.requests if r.message.src in sockets]
        if own and len(own) < len(source.requests):
            shared = len(source.requests) - len(own)
            act = Activity.of(source, own)
    scanner = bool(source.scanner_ua)
    cracked = [r for r in act.accepted if r.creds and r.username() in source.brute_success]
    other_wins = [r for r in act.accepted if r not in cracked]
    if scanner:
        # §11.1: error when a request of the tool was accepted, unless the password-guessing
        # finding already reports that success as its error (one breach, one error)
        severity = "error" if other_wins else "warning"
        explanation = (f"Requests from {source.host} identify themselves as '{tool}', a "
                       f"well-known SIP attack or scanning tool: {plural(act.requests, 'request')} "
                       f"{between(act.first, act.last)} ({did(act)}; {answered(act)}).")
    else:
        others = source.flagged - {"sec-scanner-user-agent"}
        severity = "warning" if others else "info"          # §11.1: test tools are info
        explanation = (f"Requests from {source.host} carry the User-Agent '{tool}', a SIP test "
                       f"tool: {plural(act.requests, 'request')} {between(act.first, act.last)} "
                       f"({did(act)}; {answered(act)}).")
        explanation += (" They come from a loopback address, so the tool ran on the capturing "
                        "machine itself: a local test" + (
                            f" (other programs there sent {plural(shared, 'more request')} from "
                            "the same address)" if shared else "") + "." if act.loopback else
                        " Usually an authorised test; make sure it was one.")
    if "VaxSIP" in tool or "VaxIP" in tool:
        explanation += (" Note: VaxSIPUserAgent is also the name of a commercial softphone SDK; "
                        "check the call pattern before blocking.")
    explanation += _outcome(source, act, cracked, other_wins, scanner)
    kind = "scanner" if scanner else "test-tool"
    what = "scanner signature" if "SIPVicious default From" in tool else f"{kind} User-Agent"
    return source_finding(
        ctx, "sec-scanner-user-agent", source,
        f"{source.host}: {what} '{tool}' ({plural(act.requests, 'request')})",
        explanation, _highlights(source.requests, [w.message for w in act.accepted[:3]]),
        severity=severity, rfc="Operational (SIPVicious and similar tools)",
        evidence={"ua": tool, "tool": kind, **act.to_json(), "activity": act.to_json(),
                  "cracked": sorted(source.brute_success)})


def _outcome(source: Source, act: Activity, cracked: list[Req], other_wins: list[Req],
             scanner: bool) -> str:
    """The consequence clause, chosen by what was accepted (§11.1 escalation)."""
    if not act.accepted:
        if not scanner:
            return ""
        return (" Nothing it sent was accepted, so no harm is visible in this capture: block the "
                "source on the firewall and make sure every extension has a long random password.")
    text = ""
    if cracked:
        accounts = list(dict.fromkeys(r.username() for r in cracked))
        text += (f" Its password guessing succeeded: the server accepted it as "
                 f"{sample(accounts)} (see the password-guessing finding).")
    if not other_wins:
        return text
    if not scanner:
        return text + (f" {len(other_wins):,} of its REGISTER/INVITE requests "
                       f"{'was' if len(other_wins) == 1 else 'were'} accepted (2xx).")
    for method in ("REGISTER", "INVITE"):
        with_creds = [r for r in other_wins if r.message.method == method and r.creds]
        without = [r for r in other_wins if r.message.method == method and not r.creds]
        if with_creds:
            users = list(dict.fromkeys(r.username() for r in with_creds))
            verb = "was" if len(with_creds) == 1 else "were"
            text += (f" {plural(len(with_creds), method)} from it {verb} "
                     f"accepted with the credentials of {sample(users)}: treat "
                     f"{'that password' if len(users) == 1 else 'those passwords'} as known to "
                     "the attacker and change them.")
        if without:
            verb = "was" if len(without) == 1 else "were"
            text += (f" {plural(len(without), method)} from it {verb} "
                     "accepted without any password: the server lets unauthenticated "
                     f"{'registrations' if method == 'REGISTER' else 'calls'} through.")
    return text


# -- 11.2 sec-extension-enumeration ---------------------------------------------------------

ENUM_TEXT = (
    "One address ({ip}) tried {n} different extension numbers ({sample}) in {t}. It is "
    "mapping which accounts exist before guessing their passwords.{leak} Block the source, "
    "configure the server to answer unknown and known users the same way, use non-obvious "
    "account names instead of extension numbers, and check the passwords of the revealed "
    "accounts.")


def _enumeration(source: Source, peers: set[str]):
    """(probes, peak) when some 60 s window holds >= 10 distinct targets and not one 2xx (§11.2).
    Hosts that other elements send their own requests to (trunks, PBXs) are peers, not
    scanners: their failed calls to many numbers are ordinary traffic (§11.2 traps)."""
    if source.host in peers:
        return None
    probes = [r for r in source.requests if r.message.method in PROBE_METHODS and r.final]
    if sum(1 for r in probes if not r.ok) < ENUM_MIN:
        return None
    probes = [r for r in probes if r.target]
    best = None
    counts: Counter = Counter()
    oks = lo = 0
    for req in probes:
        counts[req.target] += 1
        oks += req.ok
        while probes[lo].ts < req.ts - ENUM_WINDOW:
            old = probes[lo]
            counts[old.target] -= 1
            if not counts[old.target]:
                del counts[old.target]
            oks -= old.ok
            lo += 1
        if not oks and len(counts) >= ENUM_MIN and (best is None or len(counts) > best):
            best = len(counts)
    if best is None:
        return None
    return probes, best      # every probe: an account accepted later was probed too (issue 14)


@rule("sec-extension-enumeration", text=ENUM_TEXT, index="security")
def extension_enumeration(ctx: Context) -> list[Finding]:
    out = []
    for source in security_index(ctx).values():
        if source.enumeration is not None:
            out.append(_enumeration_finding(ctx, source))
    return out


def _enumeration_finding(ctx: Context, source: Source) -> Finding:
    probes, peak = source.enumeration
    users = list(dict.fromkeys(r.target for r in probes))
    first_response: dict[str, int] = {}
    for req in probes:
        if not req.creds:
            first_response.setdefault(req.target, req.final)
    challenged = [u for u, s in first_response.items() if s in CHALLENGES]
    missing = [u for u, s in first_response.items() if s in NOT_FOUND]
    accepted = list(dict.fromkeys(r.target for r in probes if r.ok))
    # a challenge proves an account exists only where unknown ones got 'not found' (§11.2 leak)
    exists = list(dict.fromkeys((challenged if missing else []) + accepted))
    leak = ""
    examples = []
    if challenged and missing:
        leak = (f" The server's different answers ('not found' versus 'password required') "
                f"reveal that {sample(challenged, 8)} exist.")
        examples = [next(r.message for r in probes if r.target == challenged[0]),
                    next(r.message for r in probes if r.target == missing[0])]
    if accepted:
        examples += [next(r.message for r in probes if r.target == accepted[0])]
        leak += (f" Requests for {sample(accepted, 8)} were accepted later (2xx), so "
                 f"{'that account exists' if len(accepted) == 1 else 'those accounts exist'}.")
    numeric = sorted(int(u) for u in users if u.isdigit() and len(u) < 10)
    run = _longest_run(numeric)
    duration = probes[-1].ts - probes[0].ts
    noun = "extension numbers" if len(numeric) == len(users) else "account names"
    explanation = fill(ENUM_TEXT, ip=source.host, n=f"{len(users):,}", sample=sample(users),
                       t=span(duration), leak=leak).replace(" extension numbers (", f" {noun} (")
    answers = set(first_response.values())
    if not (challenged and missing) and len(answers) == 1 and 0 not in answers:
        # the advice on uniform answers is given only where the answers differed
        explanation = explanation.replace(
            "configure the server to answer unknown and known users the same way, ", "")
        if not exists:
            explanation = explanation.replace("the passwords of the revealed accounts",
                                              "the passwords of the probed accounts")
        explanation += (f" The server answered every unauthenticated probe alike "
                        f"({answers.pop()}), which reveals nothing about which accounts exist.")
    if peak < len(users):
        explanation += f" (Up to {peak} different ones within one minute.)"
    title_noun = "extensions" if noun == "extension numbers" else "account names"
    return source_finding(
        ctx, "sec-extension-enumeration", source,
        f"{source.host} probed {len(users):,} {title_noun} ({sample(users, 4)})",
        explanation, _highlights(probes, examples),
        rfc="Operational (AST-2009-003, AST-2011-011)",
        evidence={"targets": len(users), "sample": users[:20], "peak_per_minute": peak,
                  "consecutive_run": run, "exists": exists[:50],
                  "leak": bool(challenged and missing),
                  "accepted_targets": accepted[:50], "probes": len(probes),
                  "methods": dict(Counter(r.message.method for r in probes)),
                  "first": probes[0].ts, "last": probes[-1].ts, "duration_s": duration,
                  "activity": source.activity.to_json()})


def _longest_run(numbers: list[int]) -> int:
    best = run = 0
    previous = None
    for n in numbers:
        run = run + 1 if previous is not None and n == previous + 1 else (run if n == previous else 1)
        best = max(best, run)
        previous = n
    return best


# -- 11.3 sec-password-bruteforce -----------------------------------------------------------

BRUTE_TEXT = (
    "{ip} made {n} password attempts against {accounts} in {t}: {outcome}. This is an automated "
    "password-guessing attack.{success} Block the source, use long random passwords, and allow "
    "registrations only from known networks (ACLs).")


def _bruteforce(source: Source):
    failed = [r for r in source.requests if r.failed_auth]
    if not failed:
        return None
    cases = []
    lo = 0
    for hi, req in enumerate(failed):
        while failed[lo].ts < req.ts - BRUTE_WINDOW:
            lo += 1
        if hi - lo + 1 >= BRUTE_MIN:
            cases.append("a")
            break
    users: Counter = Counter()
    lo = 0
    for req in failed:
        users[req.username()] += 1
        while failed[lo].ts < req.ts - STUFF_WINDOW:
            name = failed[lo].username()
            users[name] -= 1
            if not users[name]:
                del users[name]
            lo += 1
        if len(users) >= STUFF_MIN:
            cases.append("b")
            break
    responses: dict[tuple, set[str]] = {}
    for req in source.requests:
        for c in req.creds:
            key = tuple(c.get(k, "") for k in ("username", "realm", "nonce", "uri", "nc",
                                               "cnonce", "qop"))
            responses.setdefault(key, set()).add(c.get("response", "").lower())
    if any(len(v) >= NONCE_REUSE_MIN for v in responses.values()):
        cases.append("c")
    return (failed, cases) if cases else None


@rule("sec-password-bruteforce", text=BRUTE_TEXT, index="security")
def password_bruteforce(ctx: Context) -> list[Finding]:
    out = []
    for source in security_index(ctx).values():
        if source.bruteforce is not None:
            out.append(_bruteforce_finding(ctx, source))
    return out


def _bruteforce_finding(ctx: Context, source: Source) -> Finding:
    failed, cases = source.bruteforce
    accounts = list(dict.fromkeys(r.username() or r.target for r in failed))
    wins = [r for r in source.requests if r.ok and r.creds
            and r.username() in source.brute_success and r.ts > failed[0].ts]
    # credentialed attempts answered neither yes nor no (503 while the server was overloaded, or
    # no answer): attempts too, whose outcome the capture does not show (tier-2 review)
    listed = {id(r) for r in failed} | {id(r) for r in wins}
    other = [r for r in source.requests if r.creds and id(r) not in listed and not r.ok
             and r.ts >= failed[0].ts]
    attempts = sorted(failed + wins + other, key=lambda r: r.ts)
    duration = attempts[-1].ts - attempts[0].ts
    cracked = sorted(source.brute_success)
    codes = sorted({str(r.final) if r.final else "no answer" for r in other})
    unknown = (f"{len(other):,} answered otherwise ({', '.join(codes)}), so their outcome is not "
               "shown" if other else "")
    if wins:
        outcome = f"{len(failed):,} refused and {len(wins):,} accepted" + (
            f"; {unknown}" if other else "")
    elif other:
        outcome = f"{len(failed):,} refused; {unknown}"
    else:
        outcome = "all refused"
    account_text = f"account {accounts[0]}" if len(accounts) == 1 else \
        f"{len(accounts):,} accounts ({sample(accounts, 5)})"
    bindings = [b for b in source.activity.bindings if b.request in {w.message for w in wins}]
    explanation = fill(BRUTE_TEXT, ip=source.host, n=f"{len(attempts):,}",
                       accounts=account_text, t=span(duration), outcome=outcome,
                       success=_success(source, cracked, bindings) if wins else "")
    phones = _phone_agents(ctx, source, failed) if cases == ["b"] and not wins else []
    severity = None
    if phones:
        # §11.3 traps: only (b), and every attempt carries a phone's User-Agent: many phones
        # behind one NAT given wrong credentials look the same as credential stuffing
        severity = "warning"
        explanation = explanation.replace(
            " This is an automated password-guessing attack.",
            f" Every attempt carries a phone's User-Agent ({sample(phones, 3)}) and they come "
            "slower than a guessing tool's: this is credential stuffing, or phones behind one "
            "NAT that were given wrong credentials (a provisioning change). Check those phones' "
            "credentials first.")
        explanation = explanation.replace(
            " Block the source, use long random passwords",
            " If they are not your phones, block the source, use long random passwords")
    if "c" in cases:
        explanation += (" Several attempts reuse one challenge (same nonce and cnonce) with "
                        "different responses: only different passwords produce that.")
    reused = _cseq_reuse(attempts)
    if reused:
        explanation += (f" {len(reused):,} of the attempts reuse a CSeq number of their Call-ID "
                        "with a new branch: each is a new attempt, although RFC 3261 §10.2 wants "
                        "every REGISTER of a Call-ID to raise the CSeq by one - a habit of "
                        "password-cracking tools.")
    return source_finding(
        ctx, "sec-password-bruteforce", source,
        f"{source.host}: {len(failed):,} failed password attempts against "
        f"{plural(len(accounts), 'account')}"
        + (f" - then accepted as {sample(cracked, 3)}" if wins else ""),
        explanation, _highlights(failed, [w.message for w in wins[:3]]
                                 + [b.response for b in bindings[:3]]), severity=severity,
        rfc="RFC 3261 §26.1.1, §22, §10.2", evidence={
            "phone_user_agents": phones[:20],
            "attempts": len(attempts), "failed": len(failed), "accepted": len(wins),
            "outcome_unknown": len(other), "outcome_unknown_codes": codes,
            "accounts": accounts[:50], "account_count": len(accounts), "cases": cases,
            "succeeded": cracked, "first": attempts[0].ts, "last": attempts[-1].ts,
            "duration_s": duration, "cseq_reused": len(reused),
            "bindings": [b.to_json() for b in bindings[:20]],
            "responses": dict(Counter(str(r.final) for r in attempts)),
            "activity": source.activity.to_json()})


def _phone_agents(ctx: Context, source: Source, failed: list[Req]) -> list[str]:
    """The User-Agents of the attempts' senders when every one names a device that is no
    known tool (catalog §11.1 lists; §11.3 traps), else []."""
    agents = [ctx.user_agent(address) for address in dict.fromkeys(r.message.src
                                                                   for r in failed[:200])]
    if source.scanner_ua or source.test_tool or not agents or not all(agents) \
            or any(SCANNER_UA.search(a) or TEST_TOOL_UA.search(a) for a in agents):
        return []
    return list(dict.fromkeys(agents))


def _success(source: Source, cracked: list[str], bindings) -> str:
    """What the accepted guess gave the attacker, from the registrar's 2xx (RFC 3261 §10.3)."""
    text = f" The attacker now knows the password of {sample(cracked)}."
    for binding in bindings[:3]:
        held = f" for {binding.expires:,} s" if binding.expires is not None else ""
        text += (f" The accepted REGISTER bound {binding.account} to {binding.contact}{held}, "
                 f"as the {binding.response.status} response granted")
        if parse_uri(binding.contact).host == source.host:
            text += (f": until that binding expires or is removed, calls to {binding.account} "
                     "can be sent to the attacker instead of the phone.")
        else:
            text += (f"; that is not the address the requests came from ({source.host}), so "
                     f"until the binding expires or is removed, calls to {binding.account} can "
                     "be sent to an address that is not the phone (hijacked or lost).")
    advice = f"Change the password of {sample(cracked)} immediately"
    if bindings:
        advice += ", remove the attacker's binding"
    return f"{text} {advice}, and check the call records for calls made with the account."


def _cseq_reuse(attempts: list[Req]) -> list[Req]:
    """Attempts whose (Call-ID, CSeq number, method) an earlier attempt with another branch
    already used (RFC 3261 §10.2: each REGISTER of a Call-ID raises the CSeq by one)."""
    seen: dict[tuple, str] = {}
    out = []
    for req in attempts:
        m = req.message
        key = (m.call_id, m.cseq_num, m.method)
        if key in seen and seen[key] != m.branch:
            out.append(req)
        seen.setdefault(key, m.branch)
    return out


# -- 11.4 sec-weak-digest-password ----------------------------------------------------------

WEAK_TEXT = (
    "The password of account {user} was recovered from this capture in under a second: it is "
    "{kind}. Anyone who can see this traffic, or who tries common passwords over the internet, "
    "can register as this phone and make calls on your account (toll fraud). Change it to a long "
    "random secret that differs for every account, allow registrations only from the networks "
    "you expect (ACLs), and avoid account names that equal the extension number.")


@rule("sec-weak-digest-password", text=WEAK_TEXT, index="security")
def weak_digest_password(ctx: Context) -> list[Finding]:
    words = dictionary(ctx.options.wordlist)
    found_by_source: dict[str, list[tuple[Req, DigestChallenge, str, str]]] = {}
    tried: dict[tuple[str, str], tuple[str, str] | None] = {}
    for source in security_index(ctx).values():
        for req in source.requests:
            if not req.creds or req.message.method in ("ACK", "CANCEL"):
                continue
            if not _accepted_or_unknown(req, attacker=bool(source.flagged)):
                continue                        # refused guesses belong to §11.3 (catalog trap)
            for params in req.creds:
                challenge = DigestChallenge.from_params(params, req.message)
                if challenge is None:
                    continue
                account = (challenge.username, challenge.realm)
                if account in tried:
                    known = tried[account]
                    if known is None or not challenge.check(known[0].encode("utf-8")):
                        continue
                    result = known
                elif len(tried) >= MAX_ACCOUNTS:
                    continue
                else:
                    full = len(tried) < FULL_SEARCH_ACCOUNTS
                    result = crack(challenge, words if full else None, _identity(req, challenge),
                                   ctx.session.digest_ahead)
                    tried[account] = result
                    if result is None:
                        continue
                found_by_source.setdefault(source.host, []).append((req, challenge) + result)
    # one defect, one finding: an account seen from several addresses (a phone and its NAT
    # address, two capture points) is reported by the first source, naming the others
    owner: dict[tuple[str, str], str] = {}
    also: dict[tuple[str, str], list[str]] = {}
    for host, hits in sorted(found_by_source.items(), key=lambda kv: kv[1][0][0].ts):
        for hit in hits:
            account = (hit[1].username, hit[1].realm)
            first = owner.setdefault(account, host)
            if first != host and host not in also.setdefault(account, []):
                also[account].append(host)
    out = []
    sources = security_index(ctx)
    for host, hits in found_by_source.items():
        mine = [h for h in hits if owner[(h[1].username, h[1].realm)] == host]
        if mine:
            out.append(_weak_finding(ctx, sources[host], mine, also))
    return out


def _accepted_or_unknown(req: Req, attacker: bool = False) -> bool:
    """A 2xx (or a stale-nonce challenge) proves the password; an unknown outcome counts too,
    except from a source that attacks: its unanswered attempts are guesses."""
    if req.ok or (req.final == 0 and not attacker):
        return True
    if req.final in CHALLENGES:              # stale=true: the password was right (RFC 2617 §3.2.1)
        for message in req.transaction.messages:
            if message.status in CHALLENGES and b"stale=true" in message.raw.lower():
                return True
    return False


def _identity(req: Req, challenge: DigestChallenge) -> list[tuple[str, str]]:
    """(candidate, kind) derived from the identities in this request (§11.4 dictionary)."""
    sip = req.message.sip
    from_, to = sip.from_, sip.to
    names = [(challenge.username, "the account name")]
    if from_.uri is not None and from_.uri.user:
        names.append((from_.uri.user, "the caller's user name"))
    if to.uri is not None and to.uri.user:
        names.append((to.uri.user, "the user name"))
    digits = "".join(ch for ch in challenge.username if ch.isdigit())
    if digits and digits != challenge.username:
        names.append((digits, "the extension number"))
    out: list[tuple[str, str]] = []
    for name, what in names:
        out += [(name, f"the same as {what}"), (name[::-1], f"{what} reversed"),
                (name + name, f"{what} written twice")]
        out += [(name + suffix, f"{what} followed by '{suffix}'")
                for suffix in ("1", "12", "123", "1234", "!")]
    out.append((challenge.realm, "the realm (domain) name"))
    if from_.uri is not None and from_.uri.host:
        out.append((from_.uri.host, "the domain name"))
    if from_.display:
        out.append((from_.display.lower(), "the display name"))
        out.append((from_.display.lower().replace(" ", ""), "the display name"))
    out.append(("", "empty"))
    return out


def _weak_finding(ctx: Context, source: Source, hits, also: dict) -> Finding:
    show = ctx.options.show_passwords
    accounts: dict[str, tuple] = {}
    for req, challenge, password, kind in hits:
        accounts.setdefault(challenge.username, (req, challenge, password, kind))
    parts = []
    evidence_accounts = []
    for user, (req, challenge, password, kind) in accounts.items():
        shown = password if show else mask(password)
        outcome = "accepted" if req.ok else ("accepted (stale nonce)" if req.final in CHALLENGES
                                             else "result unknown")
        parts.append(f"{user}@{challenge.realm}: {kind} ('{shown}', {outcome})")
        evidence_accounts.append({"user": user, "realm": challenge.realm, "kind": kind,
                                  "password": shown, "outcome": outcome,
                                  "message": req.message.index,
                                  "also_from": also.get((user, challenge.realm), [])})
    first_user, (req, challenge, password, kind) = next(iter(accounts.items()))
    explanation = fill(WEAK_TEXT, user=f"{first_user} (from {source.host})",
                       kind=f"{kind} ('{password if show else mask(password)}')")
    if is_private(source.host) and is_private(host_of(req.message.dst)):
        # a LAN registration: the exposure is this network, not the internet
        explanation = explanation.replace("or who tries common passwords over the internet",
                                          "or who can try common passwords on this network")
    guessed = sorted(set(accounts) & source.brute_success)
    if guessed:
        # the capture shows the risk taken: this source guessed it (catalog §11.3 escalation)
        explanation = explanation.replace(
            "Anyone who can see this traffic, or who tries common passwords over the internet, "
            "can register as this phone and make calls on your account (toll fraud).",
            f"{source.host} found it by guessing in this capture and was accepted as "
            f"{sample(guessed)} (see the password-guessing finding); with it anyone can register "
            "as this phone and make calls on your account (toll fraud).")
    if not any(user.isdigit() for user in accounts):
        explanation = explanation.replace(
            ", allow registrations only from the networks you expect (ACLs), and avoid account "
            "names that equal the extension number.",
            " and allow registrations only from the networks you expect (ACLs).")
    others = also.get((first_user, challenge.realm), [])
    if others:
        explanation += (f" The same account's credentials were also sent from "
                        f"{sample(others)} (one account, reported once).")
    if len(accounts) > 1:
        explanation += " Other weak accounts from this source: " + "; ".join(parts[1:]) + "."
    if not req.ok and req.final not in CHALLENGES:
        explanation += (" The server's answer to this request is not in the capture: this is the "
                        "password of an attempt whose result is unknown.")
    messages = [h[0].message for h in hits[:10]]
    for h in hits[:3]:
        challenge_msg = _challenge_message(ctx, h[0])
        if challenge_msg is not None:
            messages.append(challenge_msg)
    return source_finding(
        ctx, "sec-weak-digest-password", source,
        f"Weak password: account {first_user} from {source.host}: {kind}"
        + (f" (+{len(accounts) - 1} more accounts)" if len(accounts) > 1 else ""),
        explanation, messages, rfc="RFC 3261 §22.4, §26.1.1; RFC 2617 §3.2.2; RFC 7616",
        evidence={"accounts": evidence_accounts, "masked": not show, "guessed": guessed})


def _challenge_message(ctx: Context, req: Req) -> Message | None:
    """The 401/407 this credentialed request answers: the latest one sent back to its source
    in the same call before it."""
    call = ctx.session.call_of(req.message)
    best = None
    for transaction in call.transactions if call is not None else ():
        for message in transaction.messages:
            if message.status in CHALLENGES and message.dst == req.message.src \
                    and message.ts <= req.message.ts and (best is None or message.ts > best.ts):
                best = message
    return best


# -- 11.5 sec-toll-fraud-probe --------------------------------------------------------------

TOLL_TEXT = (
    "{ip} tried to call the same foreign number {n} times with different dialling prefixes "
    "({sample}). That is the classic pattern of someone testing which prefix your system lets "
    "out, to run up premium-rate calls at your expense (toll fraud).{accepted}")
ACCEPTED_TEXT = (
    " One attempt was put through without any password: the system accepts outside calls without "
    "authentication. Close this immediately (require authentication, disable guest/anonymous "
    "calling, restrict international dialling).")


def external(user: str) -> str:
    """'strong' for an international prefix, 'weak' for 10+ digits, '' for a local number."""
    digits = user.replace("-", "").replace(".", "")
    if digits.startswith(EXTERNAL_PREFIXES) and digits.lstrip("+").isdigit() and len(digits) >= 7:
        return "strong"
    if digits.isdigit() and len(digits) >= 10:
        return "weak"
    return ""


@rule("sec-toll-fraud-probe", text=TOLL_TEXT + " / accepted: " + ACCEPTED_TEXT, index="security")
def toll_fraud_probe(ctx: Context) -> list[Finding]:
    out = []
    for source in security_index(ctx).values():
        if source.toll is not None:
            out.append(_toll_finding(ctx, source, *source.toll))
    return out


def _toll(ctx: Context, source: Source, peers: set[str]) -> tuple | None:
    """(invites, accepted, probing, after_brute, reasons) when §11.5 (a), (b) or (c) holds.
    (a) needs evidence that the source is no ordinary caller (§11.5 traps: trunks, B2BUA legs
    and PBX peers send unauthenticated calls to outside numbers every day)."""
    invites = [r for r in source.requests if r.message.method == "INVITE"
               and not r.message.to_tag and r.target]
    if not invites:
        return None
    authenticated = any(r.ok and (r.creds or r.message.method == "REGISTER")
                        for r in source.requests)
    probing = _prefix_probing(invites)
    candidate = not authenticated and source.host not in peers
    # the evidence is looked for only where it can matter (a phone that registered is skipped)
    reasons = _attacker_evidence(source, invites) if candidate or probing \
        or source.brute_success else []
    accepted = []
    if candidate and (reasons or probing):
        for req in invites:
            if req.creds or not external(req.target):
                continue
            if _got_through(req) or _onward(ctx, req):
                accepted.append(req)
    after_brute = []
    if source.brute_success and source.bruteforce is not None:
        start = source.bruteforce[0][0].ts
        after_brute = [r for r in invites if external(r.target) and r.ts > start]
    if not (accepted or probing or after_brute):
        return None
    return invites, accepted, probing, after_brute, reasons


FLAG_NAMES = {"sec-scanner-user-agent": "it identifies itself as a scanning tool",
              "sec-extension-enumeration": "it enumerated extensions",
              "sec-password-bruteforce": "it guessed passwords"}
SWEEP_MIN, SWEEP_REFUSED = 10, 0.8      # many outside numbers, nearly all refused: a sweep


def _attacker_evidence(source: Source, invites: list[Req]) -> list[str]:
    """Why this source is taken for an attacker rather than a caller, trunk or B2BUA leg."""
    reasons = [text for rule_id, text in FLAG_NAMES.items() if rule_id in source.flagged]
    refused_auth = [r for r in source.requests if r.failed_auth]
    if refused_auth and "sec-password-bruteforce" not in source.flagged:
        reasons.append(f"{len(refused_auth):,} of its password attempts "
                       f"{'was' if len(refused_auth) == 1 else 'were'} refused")
    # per call: a call retried with credentials after a challenge is no call "without a
    # password"; a number dialled with several prefixes is one number (its last digits)
    by_call: dict[str, list[Req]] = {}
    for r in invites:
        if external(r.target):
            by_call.setdefault(r.message.call_id, []).append(r)
    unauthenticated = {cid: reqs for cid, reqs in by_call.items() if not any(r.creds for r in reqs)}
    numbers = {_number_key(r.target) for reqs in unauthenticated.values() for r in reqs}
    refused = sum(1 for reqs in unauthenticated.values()
                  if not any(_got_through(r) for r in reqs)
                  and all(r.final >= 300 or not r.final for r in reqs))
    calls = len(unauthenticated)
    if len(numbers) >= SWEEP_MIN and refused >= SWEEP_REFUSED * calls:
        share = "all" if refused == calls else f"{refused:,}"
        reasons.append(f"it called {plural(len(numbers), 'different outside number')} in "
                       f"{plural(calls, 'call')} without ever sending a password, and {share} "
                       f"of those calls {'was' if refused == 1 else 'were'} refused or "
                       "unanswered")
    return reasons


def _number_key(target: str) -> str:
    """The number behind its dialling prefix: its last SUFFIX_DIGITS digits (as probing uses)."""
    digits = "".join(ch for ch in target if ch.isdigit())
    return digits[-SUFFIX_DIGITS:] or target


def _got_through(req: Req) -> bool:
    return any(m.status in (180, 183) or 200 <= m.status < 300
               for m in req.transaction.messages if m.is_response)


ONWARD_WINDOW = 5.0     # s: a call passed on (same number) by the receiver or a B2BUA leg


def _onward(ctx: Context, req: Req) -> bool:
    """The call was passed on: an INVITE for the same number (its last digits) left for a third
    host within a few seconds, from the receiving element or another address of it (a B2BUA's
    outgoing leg has its own Call-ID, and often its own address)."""
    suffix = _number_key(req.target)
    if not suffix:
        return False
    index = vars(ctx).setdefault("_toll_onward", None)
    if index is None:
        index = vars(ctx)["_toll_onward"] = {}
        for transaction in ctx.session.transactions:
            other = transaction.request
            if transaction.method == "INVITE" and other is not None and not other.to_tag:
                key = _number_key(parse_uri(other.request_uri or "").user)
                if key:
                    index.setdefault(key, []).append(other)
    me, them = host_of(req.message.dst), host_of(req.message.src)
    return any(other is not req.message and req.ts <= other.ts <= req.ts + ONWARD_WINDOW
               and host_of(other.src) != them and host_of(other.dst) not in (me, them)
               for other in index.get(suffix, ()))


def _peers(ctx: Context) -> set[str]:
    """Hosts that an element sends its own requests to (trunks and peers, not attackers)."""
    peers = set()
    for transaction in ctx.session.transactions:
        request = transaction.request
        if request is not None and request.method in ("OPTIONS", "REGISTER") or (
                request is not None and request.method == "INVITE" and not request.to_tag):
            peers.add(host_of(request.dst))
    return peers


def _prefix_probing(invites: list[Req]) -> list[Req]:
    groups: dict[str, list[Req]] = {}
    for req in invites:
        digits = req.target.lstrip("+")
        if not digits.isdigit() or len(digits) < SUFFIX_DIGITS + 1:
            continue
        groups.setdefault(digits[-SUFFIX_DIGITS:], []).append(req)
    best: list[Req] = []
    for members in groups.values():
        if len(members) < PROBE_MIN or len({r.target for r in members}) < 2:
            continue
        times = [r.ts for r in members]
        for i, req in enumerate(members):
            j = bisect_left(times, req.ts + PROBE_WINDOW)
            window = members[i:j]
            if len(window) >= PROBE_MIN and len({r.target for r in window}) >= 2:
                if len(members) > len(best):
                    best = members
                break
    return best


def _toll_finding(ctx, source: Source, invites, accepted, probing, after_brute,
                  reasons) -> Finding:
    through = [r for r in probing if _got_through(r)]
    passed = list({id(r): r for r in through + accepted}.values())
    # catalog §11.5: an error once a call gets 180/183/2xx or is passed on; the words say which
    # the capture shows (rung by the device it was sent to is no proof of a call out)
    out_calls = [r for r in passed if _onward(ctx, r)]
    severity = "error" if passed or after_brute else "warning"
    main = probing or accepted or after_brute
    targets = list(dict.fromkeys(r.target for r in main))
    if probing:
        # calls, not INVITEs: a call retried with credentials after a 401 is one attempt
        attempts = len({r.message.call_id for r in probing})
        explanation = fill(TOLL_TEXT, ip=source.host, n=f"{attempts:,}",
                           sample=sample(targets), accepted="")
        title = (f"{source.host}: dial-prefix probing, {plural(attempts, 'call')} to "
                 f"{sample(targets, 3)}")
    elif accepted:
        explanation = (f"{source.host} placed {plural(len(accepted), 'call')} to outside numbers "
                       f"({sample(targets)}) without authenticating.")
        title = (f"{source.host}: {plural(len(accepted), 'unauthenticated call')} to outside "
                 "numbers put through")
    else:
        explanation = ""
        title = (f"{source.host}: {plural(len(after_brute), 'call')} to outside numbers after "
                 "guessing a password")
    if reasons:
        explanation += f" This is no ordinary caller: {'; '.join(reasons)}."
    onward = [r for r in accepted if _onward(ctx, r)]
    if onward:
        explanation += (f" {len(onward):,} of its calls to outside numbers "
                        f"{'was' if len(onward) == 1 else 'were'} passed on to another host "
                        "without any password: this system lets this source call out without "
                        "authentication. Close this immediately (require authentication, disable "
                        "guest/anonymous calling, restrict international dialling).")
    elif accepted:
        # rung or answered by the device it was sent to, and the capture shows it passed on to
        # no trunk: no proof of calls out (tier-2 review: endpoints ringing for a scanner)
        answerers = sorted({m.src for r in accepted for m in r.transaction.messages
                            if m.is_response and (m.status in (180, 183) or 200 <= m.status < 300)})
        explanation += (f" {len(accepted):,} of its calls to outside numbers "
                        f"{'was' if len(accepted) == 1 else 'were'} rung or answered without "
                        f"any password by {sample(answerers)}, the "
                        f"{'host' if len(answerers) == 1 else 'hosts'} it sent them to; the "
                        "capture shows no call passed on to a trunk. A device that rings for "
                        "anyone lets scanners ring it ('ghost calls'); if it is a PBX or "
                        "gateway, check whether it routes such calls out.")
    elif through:
        explanation += (f" {len(through):,} of the probing calls got through (ringing, progress "
                        "or answer): check which prefix was let out.")
    if after_brute:
        explanation += (f" The source had guessed the password of "
                        f"{sample(sorted(source.brute_success))} and then called outside numbers "
                        f"({sample(list(dict.fromkeys(r.target for r in after_brute)))}).")
    if out_calls:
        title += " - calls got through"
    elif passed:
        title += " - rung without a password"
    cases = [case for case, hit in (("c", after_brute), ("a", accepted), ("b", probing)) if hit]
    messages = _highlights(main, [r.message for r in passed[:3]])
    return source_finding(
        ctx, "sec-toll-fraud-probe", source, title, explanation.strip(), messages,
        severity=severity, rfc="Operational (toll fraud)",
        evidence={"cases": cases, "targets": targets[:30], "target_count": len(targets),
                  "invites": len(invites), "calls": len(main), "probing": len(probing),
                  "accepted": len(accepted), "after_brute": len(after_brute),
                  "got_through": len(passed), "reasons": reasons, "first": main[0].ts,
                  "last": main[-1].ts, "activity": source.activity.to_json()})

"""Security rules (catalog §11) on synthetic flows, the weak-password check, and the scanner traces."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from factory import Flow, request, response, sdp

from sipscope.core.analysis.options import AnalysisOptions
from sipscope.core.analysis.digest import DigestChallenge, dictionary, mask, parse_digest
from sipscope.core.model.loader import load_files
from sipscope.core.model.message import HAS_CREDENTIALS

DATA = Path(__file__).resolve().parents[2] / "data"

PBX = "198.51.100.1:5060"
REALM = "pbx.example.com"


def found(session, rule_id):
    return [f for f in session.findings if f.id == rule_id]


def md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()


def digest(user: str, password: str, nonce: str, method: str = "REGISTER",
           uri: str = "sip:pbx.example.com", realm: str = REALM, qop: str | None = "auth",
           cnonce: str = "0a4f113b", nc: str = "00000001") -> str:
    """An Authorization value computed independently of sipscope (RFC 2617 §3.2.2)."""
    ha1, ha2 = md5(f"{user}:{realm}:{password}"), md5(f"{method}:{uri}")
    if qop:
        response_ = md5(f"{ha1}:{nonce}:{nc}:{cnonce}:{qop}:{ha2}")
        extra = f', qop={qop}, nc={nc}, cnonce="{cnonce}"'
    else:
        response_ = md5(f"{ha1}:{nonce}:{ha2}")
        extra = ""
    return (f'Digest username="{user}", realm="{realm}", nonce="{nonce}", uri="{uri}", '
            f'response="{response_}", algorithm=MD5{extra}')


def register(flow: Flow, t: float, src: str, user: str, *, cseq: int = 1, status: int = 200,
             auth: str | None = None, call_id: str | None = None, branch: str | None = None,
             expires: int = 3600, ua: str = "Yealink SIP-T46S 66.86.0.15", reason: str = "OK",
             answer: bool = True, pbx: str = PBX) -> bytes:
    host = src.rpartition(":")[0]
    extra = [("User-Agent", ua), ("Expires", str(expires))]
    if auth:
        extra.append(("Authorization", auth))
    req = flow.add(t, src, pbx, request(
        "REGISTER", f"sip:{REALM}", call_id=call_id or f"reg-{user}@{host}", from_tag=f"f{user}",
        cseq=cseq, branch=branch or f"z9hG4bK-{user}-{cseq}-{t}", via=src,
        from_uri=f"sip:{user}@{REALM}", to_uri=f"sip:{user}@{REALM}",
        contact=f"sip:{user}@{src}", extra=tuple(extra)))
    if answer:
        headers = ()
        if status == 401:
            headers = (("WWW-Authenticate", f'Digest realm="{REALM}", nonce="n{cseq}{user}", '
                                            'algorithm=MD5, qop="auth"'),)
        elif 200 <= status < 300:
            headers = (("Contact", f"<sip:{user}@{src}>;expires={expires}"),)
        flow.add(t + 0.02, pbx, src, response(req, status, reason, to_tag=f"t{user}{cseq}",
                                              extra=headers))
    return req


# -- 11.1 sec-scanner-user-agent -----------------------------------------------------------------

def options_probe(ua: str, from_header: str | None = None):
    f = Flow()
    extra = [("User-Agent", ua)]
    msg = request("OPTIONS", "sip:100@203.0.113.5", via="192.0.2.66:5070", contact=None,
                  extra=tuple(extra), from_uri="sip:tester@192.0.2.66")
    if from_header:
        msg = msg.replace(b"From: <sip:tester@192.0.2.66>", from_header.encode())
    f.add(0, "192.0.2.66:5070", "203.0.113.5:5060", msg)
    return f.session()


def scanner_options():
    return options_probe("friendly-scanner", 'From: "sipvicious"<sip:100@1.1.1.1>')


def phone_options():
    return options_probe("Grandstream GXP2000 1.1.6.46")


def test_scanner_user_agent_is_one_finding_per_source():
    f = Flow()
    for i in range(5):
        f.add(i, "192.0.2.66:5070", f"203.0.113.{i + 1}:5060", request(
            "OPTIONS", f"sip:100@203.0.113.{i + 1}", call_id=f"scan{i}", via="192.0.2.66:5070",
            extra=(("User-Agent", "friendly-scanner"),)))
    [finding] = found(f.session(), "sec-scanner-user-agent")
    assert finding.severity == "warning" and finding.scope == "source"
    assert finding.source == "192.0.2.66" and finding.call_id is None
    assert "friendly-scanner" in finding.explanation and "tool: 5 requests" in finding.explanation
    assert finding.evidence["requests"] == 5


def test_sipvicious_from_without_scanner_user_agent():
    [finding] = found(options_probe("Zeeko", 'From: "sipvicious"<sip:100@1.1.1.1>;tag=1'),
                      "sec-scanner-user-agent")
    assert "SIPVicious default From" in finding.evidence["ua"]


def test_sipp_is_a_test_tool_at_info():
    [finding] = found(options_probe("SIPp"), "sec-scanner-user-agent")
    assert finding.severity == "info" and "test tool" in finding.explanation


# -- 11.2 sec-extension-enumeration --------------------------------------------------------------

def register_scan():
    f = Flow()
    for i, user in enumerate(range(100, 121)):
        status = 401 if user in (101, 105) else 404
        register(f, i * 0.38, "192.0.2.66:5070", str(user), status=status,
                 reason="Unauthorized" if status == 401 else "Not Found", ua="friendly-scanner")
    return f.session()


def office_reboot():
    f = Flow()
    for i in range(15):
        register(f, i * 0.2, f"203.0.113.7:{40000 + i}", str(200 + i))
    return f.session()


def test_enumeration_names_the_leaked_accounts():
    session = register_scan()
    [finding] = found(session, "sec-extension-enumeration")
    assert finding.source == "192.0.2.66" and finding.severity == "warning"
    assert finding.evidence["targets"] == 21
    assert finding.evidence["exists"] == ["101", "105"]
    assert finding.evidence["consecutive_run"] == 21
    assert "reveal that 101, 105 exist" in finding.explanation
    # the scanner UA finding is the cause of nothing here, but both are about the same source
    assert {f.id for f in session.findings if f.source == "192.0.2.66"} >= {
        "sec-extension-enumeration", "sec-scanner-user-agent"}
    assert not found(session, "reg-failed")          # attack traffic is not a broken phone


# -- 11.3 sec-password-bruteforce ----------------------------------------------------------------

def guessing(every: float = 40 / 30, count: int = 30):
    f = Flow()
    for i in range(count):
        register(f, i * every, "192.0.2.66:5070", "101", cseq=i + 1, status=401,
                 reason="Unauthorized", call_id="guess@192.0.2.66",
                 auth=digest("101", f"guess{i}", f"n{i}101"))
    return f.session()


def nonce_reuse():
    f = Flow()
    for i in range(3):
        register(f, i * 5.0, "192.0.2.66:5070", "101", cseq=i + 1, status=401,
                 reason="Unauthorized", call_id="reuse@192.0.2.66",
                 auth=digest("101", f"guess{i}", "fixed-nonce"))
    return f.session()


def wrong_password_phone():
    return guessing(every=30.0, count=6)


def test_bruteforce_counts_attempts_and_defers_auth_loop():
    session = guessing()
    [finding] = found(session, "sec-password-bruteforce")
    assert finding.severity == "error" and finding.source == "192.0.2.66"
    assert finding.evidence["attempts"] == 30 and finding.evidence["accounts"] == ["101"]
    assert "a" in finding.evidence["cases"]
    assert "30 password attempts against account 101" in finding.explanation
    assert not found(session, "auth-challenge-loop")
    assert not found(session, "sec-weak-digest-password")   # refused guesses are not weak passwords


def test_nonce_reuse_is_proof_of_guessing():
    [finding] = found(nonce_reuse(), "sec-password-bruteforce")
    assert finding.evidence["cases"] == ["c"]


def test_slow_wrong_password_is_a_challenge_loop():
    session = wrong_password_phone()
    assert not found(session, "sec-password-bruteforce")
    [loop] = found(session, "auth-challenge-loop")
    assert loop.severity == "error"


def test_a_guessed_password_used_to_remove_a_binding_names_no_binding():
    f = Flow()
    for i in range(25):
        register(f, i * 1.0, "192.0.2.66:5070", "101", cseq=i + 1, status=401,
                 reason="Unauthorized", call_id="guess@x", auth=digest("101", f"g{i}", f"n{i}"))
    register(f, 26.0, "192.0.2.66:5070", "101", cseq=30, status=200, call_id="guess@x",
             auth=digest("101", "secret-found", "n30"), expires=0)
    [finding] = found(f.session(), "sec-password-bruteforce")
    assert finding.evidence["succeeded"] == ["101"] and finding.evidence["bindings"] == []
    assert "bound" not in finding.explanation and "remove the attacker's binding" \
        not in finding.explanation


def stuffing(ua: str = "Yealink SIP-T46S 66.86.0.15"):
    """12 accounts refused once each from one address in 6 min: only §11.3 (b)."""
    f = Flow()
    for i in range(12):
        user = str(200 + i)
        register(f, i * 30.0, f"203.0.113.7:{40000 + i}", user, cseq=2, status=401,
                 reason="Unauthorized", call_id=f"s{i}@x", ua=ua,
                 auth=digest(user, "wrong", f"n{i}"))
    return f.session()


def test_credential_failures_from_phones_are_a_warning_that_says_so():
    """§11.3 traps: many phones behind one NAT given wrong credentials look like stuffing."""
    [finding] = found(stuffing(), "sec-password-bruteforce")
    assert finding.evidence["cases"] == ["b"] and finding.severity == "warning"
    assert finding.evidence["phone_user_agents"] == ["Yealink SIP-T46S 66.86.0.15"]
    assert "phones behind one NAT" in finding.explanation
    assert "If they are not your phones, block the source" in finding.explanation
    assert "automated password-guessing attack" not in finding.explanation
    [tool] = found(stuffing(ua="friendly-scanner"), "sec-password-bruteforce")
    assert tool.severity == "error" and "automated password-guessing attack" in tool.explanation


def test_success_after_guessing_says_compromised():
    f = Flow()
    for i in range(25):
        register(f, i * 1.0, "192.0.2.66:5070", "101", cseq=i + 1, status=401,
                 reason="Unauthorized", call_id="guess@x", auth=digest("101", f"g{i}", f"n{i}"))
    register(f, 26.0, "192.0.2.66:5070", "101", cseq=30, status=200, call_id="guess@x",
             auth=digest("101", "secret-found", "n30"))
    [finding] = found(f.session(), "sec-password-bruteforce")
    assert finding.evidence["succeeded"] == ["101"]
    assert finding.evidence["attempts"] == 26 and finding.evidence["failed"] == 25
    assert "26 password attempts against account 101 in 26 s: 25 refused and 1 accepted" \
        in finding.explanation
    [binding] = finding.evidence["bindings"]
    assert binding["contact"] == "sip:101@192.0.2.66:5070" and binding["expires"] == 3600
    assert "bound 101 to sip:101@192.0.2.66:5070 for 3,600 s" in finding.explanation
    assert "sent to the attacker instead of the phone" in finding.explanation
    assert "Change the password of 101 immediately, remove the attacker's binding" \
        in finding.explanation


# -- 11.4 sec-weak-digest-password ---------------------------------------------------------------

def weak_register(password: str = "101", user: str = "101", options=None, qop="auth"):
    f = Flow()
    register(f, 0.0, "203.0.113.7:40211", user, status=401, reason="Unauthorized",
             call_id="weak@x", cseq=1)
    register(f, 0.1, "203.0.113.7:40211", user, cseq=2, call_id="weak@x",
             auth=digest(user, password, f"n1{user}", qop=qop))
    return f.session(options=options)


def strong_register():
    return weak_register("q7#Vx9!mZp2$Lr8wK4tB")


def test_rfc2617_test_vector():
    params = parse_digest(
        'Digest username="Mufasa", realm="testrealm@host.com", '
        'nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", uri="/dir/index.html", qop=auth, '
        'nc=00000001, cnonce="0a4f113b", response="6629fae49393a05397450978507c4ef1", '
        'opaque="5ccc069c403ebaf9f0171e9517f40e41"')

    class Get:
        method = "GET"
    challenge = DigestChallenge.from_params(params, Get())
    assert challenge.check(b"Circle Of Life")
    assert not challenge.check(b"circle of life")


def test_extension_as_password_is_named_and_masked():
    [finding] = found(weak_register(), "sec-weak-digest-password")
    assert finding.severity == "error" and finding.scope == "source"
    assert finding.source == "203.0.113.7" and finding.call_id is None
    assert "account 101" in finding.title and "203.0.113.7" in finding.title
    assert "the same as the account name" in finding.explanation
    assert "('1**')" in finding.explanation and "'101'" not in finding.explanation
    [account] = finding.evidence["accounts"]
    assert account == {"user": "101", "realm": REALM, "kind": "the same as the account name",
                       "password": "1**", "outcome": "accepted", "message": 2, "also_from": []}


def test_dictionary_word_kind_and_show_passwords():
    session = weak_register("blahpoly", user="polly")
    [finding] = found(session, "sec-weak-digest-password")
    assert "sample-config default" in finding.explanation and "'b*******'" in finding.explanation
    shown = weak_register("blahpoly", user="polly", options=AnalysisOptions(show_passwords=True))
    assert "'blahpoly'" in found(shown, "sec-weak-digest-password")[0].explanation


def test_four_digit_number_without_qop():
    [finding] = found(weak_register("1234", user="alice", qop=None), "sec-weak-digest-password")
    assert finding.evidence["accounts"][0]["kind"] == "a 4-digit number"
    assert finding.evidence["accounts"][0]["password"] == "1***"


def test_user_wordlist(tmp_path):
    words = tmp_path / "extra.txt"
    words.write_text("Sommer2019\nzebra\n", encoding="utf-8")
    session = weak_register("zebra", user="alice", options=AnalysisOptions(wordlist=str(words)))
    [finding] = found(session, "sec-weak-digest-password")
    assert "a word from your wordlist (extra.txt)" in finding.explanation


def test_one_weak_account_seen_from_two_addresses_is_one_finding():
    """One defect, one finding: the phone's LAN address and its NAT address both carry the
    same account's credentials (a capture at two points)."""
    f = Flow()
    for i, src in enumerate(("192.168.1.222:5060", "203.0.113.7:40211")):
        t = i * 0.001
        register(f, t, src, "101", status=401, reason="Unauthorized", call_id=f"w{i}@x", cseq=1)
        register(f, t + 0.1, src, "101", cseq=2, call_id=f"w{i}@x",
                 auth=digest("101", "101", "n1101"))
    [finding] = found(f.session(), "sec-weak-digest-password")
    assert finding.source == "192.168.1.222"
    assert finding.evidence["accounts"][0]["also_from"] == ["203.0.113.7"]
    assert "also sent from 203.0.113.7" in finding.explanation


def test_weak_password_on_a_lan_names_the_network_not_the_internet():
    f = Flow()
    for t, status, auth in ((0.0, 401, None), (0.1, 200, digest("101", "101", "n1101"))):
        register(f, t, "192.168.1.50:5060", "101", status=status, call_id="lan@x",
                 cseq=1 if auth is None else 2, auth=auth, pbx="192.168.1.1:5060",
                 reason="OK" if auth else "Unauthorized")
    [lan] = found(f.session(), "sec-weak-digest-password")
    assert "try common passwords on this network" in lan.explanation
    assert "over the internet" not in lan.explanation
    [public] = found(weak_register(), "sec-weak-digest-password")
    assert "over the internet" in public.explanation


def test_strong_password_is_never_reported():
    assert not found(strong_register(), "sec-weak-digest-password")


def test_mask_and_dictionary_size():
    assert mask("1234") == "1***" and mask("") == "(empty)"
    words, kinds = dictionary(None)
    assert len(words) > 15_000 and len(words) == len(kinds)
    assert kinds[words.index(b"blahpoly")].startswith("a sample-config default")
    assert kinds[words.index(b"0042")] == "a 4-digit number"


# -- 11.5 sec-toll-fraud-probe -------------------------------------------------------------------

def prefix_probe(answer_index: int | None = 0):
    f = Flow()
    numbers = ["00972598072172", "000972598072172", "900972598072172", "9000972598072172",
               "+972598072172", "011972598072172"]
    for i, number in enumerate(numbers):
        inv = f.add(i * 15.0, "192.0.2.66:5070", PBX, request(
            "INVITE", f"sip:{number}@198.51.100.1", call_id=f"probe{i}", via="192.0.2.66:5070",
            to_uri=f"sip:{number}@198.51.100.1", body=sdp("192.0.2.66")))
        status, reason = (183, "Session Progress") if i == answer_index else (403, "Forbidden")
        f.add(i * 15.0 + 0.1, PBX, "192.0.2.66:5070", response(inv, status, reason,
                                                               to_tag=f"t{i}"))
    return f.session()


def redial():
    f = Flow()
    phone = "203.0.113.7:40211"
    register(f, 0.0, phone, "101", auth=digest("101", "q7#Vx9!mZp2$Lr8wK4tB", "n"))
    for i in range(3):
        inv = f.add(10.0 + i * 20, phone, PBX, request(
            "INVITE", "sip:00442079460000@198.51.100.1", call_id=f"redial{i}", via=phone,
            to_uri="sip:00442079460000@198.51.100.1", body=sdp("203.0.113.7"),
            extra=(("Proxy-Authorization", digest("101", "q7#Vx9!mZp2$Lr8wK4tB", "m",
                                                  method="INVITE")),)))
        f.add(10.1 + i * 20, PBX, phone, response(inv, 486, "Busy Here", to_tag=f"b{i}"))
    return f.session()


def test_prefix_probing_with_one_call_through_is_an_error():
    [finding] = found(prefix_probe(), "sec-toll-fraud-probe")
    assert finding.severity == "error" and finding.source == "192.0.2.66"
    assert "b" in finding.evidence["cases"] and finding.evidence["got_through"] >= 1
    assert "different dialling prefixes" in finding.explanation


def test_prefix_probing_all_refused_is_a_warning():
    [finding] = found(prefix_probe(answer_index=None), "sec-toll-fraud-probe")
    assert finding.severity == "warning"


def test_enumeration_counts_the_account_cracked_later():
    """Issue 14 pattern 3: the account guessed later (102) is one of the probed extensions and
    one that exists; the count, the sample and the list come from the same probes."""
    f = Flow()
    for i, user in enumerate(range(100, 121)):
        status = 401 if user in (101, 102, 105) else 404
        register(f, i * 0.3, "192.0.2.66:5070", str(user), status=status,
                 reason="Unauthorized" if status == 401 else "Not Found", ua="friendly-scanner")
    for i in range(25):
        register(f, 100 + i, "192.0.2.66:5070", "102", cseq=i + 2, status=401,
                 reason="Unauthorized", call_id="crack@x", auth=digest("102", f"g{i}", f"n{i}"),
                 ua="friendly-scanner")
    register(f, 130, "192.0.2.66:5070", "102", cseq=40, call_id="crack@x",
             auth=digest("102", "found-it", "n40"), ua="friendly-scanner")
    session = f.session()
    [enum] = found(session, "sec-extension-enumeration")
    assert enum.evidence["targets"] == 21 and "102" in enum.evidence["sample"]
    assert enum.evidence["exists"] == ["101", "102", "105"]
    assert enum.evidence["accepted_targets"] == ["102"]
    assert "tried 21 different extension numbers (100, 101, 102, 103," in enum.explanation
    assert "reveal that 101, 102, 105 exist" in enum.explanation
    assert "Requests for 102 were accepted later (2xx)" in enum.explanation
    [brute] = found(session, "sec-password-bruteforce")
    assert brute.evidence["succeeded"] == ["102"] and brute.evidence["attempts"] == 26
    [scanner] = found(session, "sec-scanner-user-agent")
    # the success is the password finding's error; the scanner finding points to it
    assert scanner.severity == "warning"
    assert "Its password guessing succeeded: the server accepted it as 102" in scanner.explanation
    assert scanner.evidence["requests"] == 47
    assert scanner.evidence["targets"]["REGISTER"][:3] == ["100", "101", "102"]


def b2bua_call(ua: str = "Acme SBC 5.1"):
    """An element sends an unauthenticated INVITE to an international number; the B2BUA passes
    it on to the next hop, which rings and answers (an ordinary carrier call)."""
    f = Flow()
    caller, sbc_a, sbc_b, next_hop = ("10.252.47.107:5060", "172.22.204.85:5060",
                                      "172.22.204.69:5060", "10.252.41.104:5060")
    number = "+390289279987"
    leg_a = f.add(0.0, caller, sbc_a, request(
        "INVITE", f"sip:{number}@172.22.204.85", call_id="leg-a", via=caller,
        to_uri=f"sip:{number}@fastweb.it", body=sdp("10.252.47.107"),
        extra=(("User-Agent", ua),)))
    f.add(0.01, sbc_a, caller, response(leg_a, 100, "Trying"))
    leg_b = f.add(0.1, sbc_b, next_hop, request(
        "INVITE", f"sip:{number}@10.252.41.104", call_id="leg-b", via=sbc_b, branch="z9hG4bK-b",
        to_uri=f"sip:{number}@fastweb.it", body=sdp("172.22.204.101")))
    f.add(0.2, next_hop, sbc_b, response(leg_b, 180, "Ringing", to_tag="b1"))
    f.add(0.25, sbc_a, caller, response(leg_a, 180, "Ringing", to_tag="a1"))
    f.add(9.0, next_hop, sbc_b, response(leg_b, 200, "OK", to_tag="b1", body=sdp("30.255.104.172")))
    f.add(9.05, sbc_a, caller, response(leg_a, 200, "OK", to_tag="a1", body=sdp("172.22.204.133")))
    return f.session()


def test_an_unauthenticated_trunk_call_is_no_toll_fraud():
    """§11.5 traps: a B2BUA leg or IP-authenticated peer calling out without credentials is
    ordinary traffic; (a) needs evidence that the source attacks."""
    assert not found(b2bua_call(), "sec-toll-fraud-probe")


def test_an_unauthenticated_call_from_a_scanner_put_through_is_an_error():
    session = b2bua_call(ua="friendly-scanner")
    [toll] = found(session, "sec-toll-fraud-probe")
    assert toll.severity == "error" and toll.evidence["cases"] == ["a"]
    assert toll.evidence["reasons"] == ["it identifies itself as a scanning tool"]
    assert toll.evidence["accepted"] == 1 and toll.evidence["got_through"] == 1
    assert toll.title == ("10.252.47.107: 1 unauthenticated call to outside numbers put through"
                          " - calls got through")
    # the SBC's outgoing leg (another Call-ID and address) shows the call passed on
    assert "1 of its calls to outside numbers was passed on to another host without any " \
        "password" in toll.explanation
    assert "probing" not in toll.title


def outside_calls(refused: int, total: int = 10):
    """One source calls `total` different international numbers without credentials; the
    first `refused` are refused (403), the others ring (180)."""
    f = Flow()
    src = "192.0.2.80:5060"
    for i in range(total):
        number = f"0044207946{i:04d}"
        inv = f.add(i * 5.0, src, PBX, request(
            "INVITE", f"sip:{number}@198.51.100.1", call_id=f"out{i}", via=src,
            to_uri=f"sip:{number}@198.51.100.1", body=sdp("192.0.2.80"),
            extra=(("User-Agent", "Acme PBX 2.1"),)))
        status, reason = (403, "Forbidden") if i < refused else (180, "Ringing")
        f.add(i * 5.0 + 0.1, PBX, src, response(inv, status, reason, to_tag=f"t{i}"))
    return f.session()


def test_a_sweep_of_outside_numbers_with_one_put_through_is_toll_fraud():
    [toll] = found(outside_calls(refused=9), "sec-toll-fraud-probe")
    assert toll.severity == "error" and toll.evidence["cases"] == ["a"]
    assert toll.evidence["accepted"] == 1
    assert toll.evidence["reasons"] == ["it called 10 different outside numbers in 10 calls "
                                        "without ever sending a password, and 9 of those calls "
                                        "were refused or unanswered"]


def test_a_number_dialled_with_prefixes_and_calls_retried_with_credentials_are_no_sweep():
    """Tier-2 review (sipcli capture): 12 INVITEs were 6 calls (each retried with credentials
    after a 401), and the 11 'numbers' were prefixes of one number: no 'called 11 different
    outside numbers without a password'."""
    f = Flow()
    for i, prefix in enumerate(("011", "1010333011", "1010555011", "9011", "1010222011",
                                "1010432011", "00", "1010111011", "1010666011", "1010777011")):
        number = f"{prefix}972598072172"
        for attempt, creds in enumerate((None, digest("200", "secret", "n"))):
            src = "203.0.113.66:5070"
            extra = (("User-Agent", "Sipcli/v1.8"),)
            if creds:
                extra += (("Authorization", creds),)
            inv = f.add(i * 2 + attempt * 0.5, src, "198.51.100.1:5060", request(
                "INVITE", f"sip:{number}@198.51.100.1", call_id=f"c{i}", via=src,
                cseq=1 + attempt, branch=f"z9hG4bK-{i}-{attempt}",
                to_uri=f"sip:{number}@198.51.100.1", body=sdp("192.0.2.80"), extra=extra))
            f.add(i * 2 + attempt * 0.5 + 0.01, "198.51.100.1:5060", src,
                  response(inv, 401 if not attempt else 403, "Forbidden", to_tag=f"t{i}"))
    session = f.session()
    [toll] = found(session, "sec-toll-fraud-probe")         # the prefix probing itself
    assert toll.title.startswith("203.0.113.66: dial-prefix probing, 10 calls")
    for finding in [toll]:
        assert not any("different outside number" in reason
                       for reason in finding.evidence["reasons"]), finding.evidence["reasons"]
        assert "10 times" in finding.explanation or "10 calls" in finding.title


def test_a_trunk_whose_outside_calls_ring_is_no_toll_fraud():
    assert not found(outside_calls(refused=1), "sec-toll-fraud-probe")


def loopback_tool(ua: str, credentials: bool = False):
    f = Flow()
    auth = digest("33", "q7#Vx9!mZp2$Lr8wK4tB", "n") if credentials else None
    register(f, 0.0, "127.0.0.1:5061", "33", ua=ua, auth=auth)
    return f.session()


def test_a_test_tool_on_loopback_is_a_local_test_not_a_compromise():
    [finding] = found(loopback_tool("SIPp/Win32"), "sec-scanner-user-agent")
    assert finding.severity == "info" and finding.evidence["loopback"] is True
    assert finding.evidence["accepted"] == 1 and finding.evidence["tool"] == "test-tool"
    assert finding.title == "127.0.0.1: test-tool User-Agent 'SIPp/Win32' (1 request)"
    assert "a local test" in finding.explanation
    assert "compromised" not in finding.explanation and "attacker" not in finding.explanation
    assert "1 of its REGISTER/INVITE requests was accepted (2xx)." in finding.explanation


def test_a_scanner_accepted_without_a_password_is_an_error():
    [finding] = found(loopback_tool("friendly-scanner"), "sec-scanner-user-agent")
    assert finding.severity == "error"
    assert "1 REGISTER from it was accepted without any password" in finding.explanation


def test_a_scanner_accepted_with_credentials_names_the_account():
    [finding] = found(loopback_tool("friendly-scanner", credentials=True),
                      "sec-scanner-user-agent")
    assert finding.severity == "error"
    assert "accepted with the credentials of 33: treat that password as known to the attacker" \
        in finding.explanation


CASES = [
    ("sec-scanner-user-agent", scanner_options, True),
    ("sec-scanner-user-agent", phone_options, False),
    ("sec-extension-enumeration", register_scan, True),
    ("sec-extension-enumeration", office_reboot, False),
    ("sec-password-bruteforce", guessing, True),
    ("sec-password-bruteforce", nonce_reuse, True),
    ("sec-password-bruteforce", wrong_password_phone, False),
    ("sec-weak-digest-password", weak_register, True),
    ("sec-weak-digest-password", strong_register, False),
    ("sec-toll-fraud-probe", prefix_probe, True),
    ("sec-toll-fraud-probe", redial, False),
    ("sec-toll-fraud-probe", b2bua_call, False),
]


# -- real traces ---------------------------------------------------------------------------------

def _by_id(session):
    out: dict[str, list] = {}
    for finding in session.findings:
        out.setdefault(finding.id, []).append(finding)
    return out


def test_friendly_scanner_sweep(shared_traces):
    session = load_files([str(shared_traces / "scanner-friendly-scanner-options-sweep.pcap")])
    scanners = found(session, "sec-scanner-user-agent")
    assert len(scanners) == 11                      # one per source IP, not one per OPTIONS
    assert sum(f.evidence["requests"] for f in scanners) == 26
    assert {f.severity for f in scanners} == {"warning"}
    by_source = {f.source: f for f in scanners}
    assert by_source["7.17.254.165"].evidence["requests"] == 8
    assert "SIPVicious default From" in by_source["27.164.15.39"].evidence["ua"]
    assert not [f for f in session.findings if f.severity == "error"]


def test_register_bruteforce_single_ip(shared_traces):
    session = load_files([str(shared_traces / "scanner-register-bruteforce-single-ip.pcap")])
    ids = _by_id(session)
    [brute] = ids["sec-password-bruteforce"]
    assert brute.source == "199.105.226.32" and brute.severity == "error"
    # 441 refused, and 172 more credentialed attempts answered 503 or not at all (tier-2 review:
    # "all refused" left them out): 613 attempts, 441 refused
    assert brute.evidence["attempts"] == 613 and brute.evidence["failed"] == 441
    assert brute.evidence["outcome_unknown"] == 172 and len(brute.evidence["accounts"]) == 45
    assert set(brute.evidence["cases"]) == {"a", "b"}
    [enum] = ids["sec-extension-enumeration"]
    assert enum.evidence["targets"] == 45
    assert brute.consequence_of == [enum.key]       # §13 chain, per source
    # the attacker's refused guesses are neither weak passwords nor a broken phone
    for rule_id in ("sec-weak-digest-password", "auth-challenge-loop", "reg-failed"):
        assert rule_id not in ids


def test_sipcli_invite_scan(shared_traces):
    session = load_files([str(shared_traces / "scanner-invite-sipcli-401-482-503.pcap")])
    ids = _by_id(session)
    [scanner] = ids["sec-scanner-user-agent"]
    assert scanner.evidence["ua"] == "sipcli/v1.8" and scanner.evidence["requests"] == 17
    [toll] = ids["sec-toll-fraud-probe"]
    assert toll.severity == "warning" and toll.evidence["cases"] == ["b"]
    assert "011972598072172" in toll.evidence["targets"]
    assert toll.consequence_of == []                # no brute force in between (§13 chain)


def test_mass_traffic_toll_fraud(shared_traces):
    session = load_files([str(shared_traces / "scanner-mass-traffic-4xx-5xx-6xx.pcap")])
    ids = _by_id(session)
    [toll] = ids["sec-toll-fraud-probe"]
    assert toll.source == "206.55.185.163" and toll.severity == "error"
    assert set(toll.evidence["cases"]) == {"a", "b"}
    assert toll.evidence["targets"] == ["01148185422016", "901148185422016"]
    assert toll.evidence["invites"] == 560
    # the attacker's failed registrations are not reported as customers' phones
    assert "reg-failed" not in ids and "auth-challenge-loop" not in ids


def test_weak_passwords_in_lab_captures_are_masked(shared_traces):
    session = load_files([str(shared_traces / "ipv4-fragmented-udp-register-subscribe-invite.pcap")])
    weak = found(session, "sec-weak-digest-password")
    assert sorted(f.source for f in weak) == ["192.168.1.104", "192.168.1.105"]
    for finding in weak:
        [account] = finding.evidence["accounts"]
        assert account["password"] == "1*****" and account["outcome"] == "accepted"
        assert "123456" not in finding.explanation


@pytest.mark.parametrize("name", ["udp-register-401-407-403-cancel-408-480-mixed-traffic.pcap",
                                  "load-sipp-1334-calls-register-403.pcapng"])
def test_no_security_findings_on_ordinary_traffic(shared_traces, name):
    session = load_files([str(shared_traces / name)])
    assert not [f for f in session.findings if f.id.startswith("sec-")]


def test_sha256_and_md5_sess_digests():
    """RFC 7616 §3.4: SHA-256, and the -sess variant of HA1."""
    def h(name, text):
        return hashlib.new(name, text.encode()).hexdigest()

    class Register:
        method = "REGISTER"
    base = {"username": "101", "realm": REALM, "nonce": "abc", "uri": "sip:pbx.example.com",
            "qop": "auth", "nc": "00000001", "cnonce": "xyz"}
    ha2 = h("sha256", "REGISTER:sip:pbx.example.com")
    ha1 = h("sha256", f"101:{REALM}:1234")
    sha = dict(base, algorithm="SHA-256",
               response=h("sha256", f"{ha1}:abc:00000001:xyz:auth:{ha2}"))
    assert DigestChallenge.from_params(sha, Register()).check(b"1234")
    ha1 = h("md5", f"{h('md5', f'101:{REALM}:1234')}:abc:xyz")
    sess = dict(base, algorithm="MD5-sess",
                response=h("md5", f"{ha1}:abc:00000001:xyz:auth:{h('md5', 'REGISTER:sip:pbx.example.com')}"))
    challenge = DigestChallenge.from_params(sess, Register())
    assert challenge.check(b"1234") and challenge.search([b"0000", b"1234"]) == 1


# -- reviewed real captures (../shared/traces/real, REVIEWED.md) ---------------------------------

def _real(name: str, request) -> str:
    local = DATA / name
    if local.exists():
        return str(local)
    return str(request.getfixturevalue("shared_traces") / "real" / name)


def test_sweep_and_cracked_password(request):
    """REVIEWED.md file 6: error for the cracked 6001 with the attacker's Contact holding the
    registration for the granted 3599 s; warning for the scan; the same-CSeq REGISTERs are
    distinct attempts; every number comes from the source's activity."""
    session = load_files([_real("scanner-friendly-scanner-invite-sweep-register-crack.pcap",
                                request)])
    [scanner] = found(session, "sec-scanner-user-agent")
    assert scanner.severity == "warning" and scanner.source == "147.32.77.113"
    ev = scanner.evidence
    assert ev["requests"] == 24 and ev["methods"] == {"INVITE": 9, "REGISTER": 15}
    assert ev["destination_counts"]["INVITE"] == 9
    assert ev["destination_host_counts"]["INVITE"] == 3
    assert ev["targets"]["REGISTER"] == ["3241636936", "6000", "6001", "6002"]
    assert ev["answers"] == {"401": 15, "200": 1} and ev["unanswered"] == 8
    assert ("9 INVITEs to 9 destinations on 3 hosts, 15 REGISTERs to 195.113.172.39 for 4 "
            "accounts (3241636936, 6000, 6001, 6002); answered 401 ×15, 200 ×1; 8 without a SIP "
            "answer"
            in scanner.explanation)
    assert "compromised" not in scanner.explanation
    [brute] = found(session, "sec-password-bruteforce")
    assert brute.severity == "error"
    assert (brute.evidence["attempts"], brute.evidence["failed"], brute.evidence["accepted"]) \
        == (9, 8, 1)
    [binding] = brute.evidence["bindings"]
    assert binding["contact"] == "sip:123@1.1.1.1" and binding["expires"] == 3599
    assert {binding["request"], binding["response"]} <= set(brute.messages)
    assert "9 password attempts against account 6001 in 0.06 s: 8 refused and 1 accepted" \
        in brute.explanation
    assert "bound 6001 to sip:123@1.1.1.1 for 3,599 s" in brute.explanation
    assert "not the address the requests came from (147.32.77.113)" in brute.explanation
    assert brute.evidence["cseq_reused"] == 7 and "retransmi" not in brute.explanation
    # one per-source summary behind both texts: the same counts, the same accounts
    assert brute.evidence["activity"] == {k: v for k, v in ev.items()
                                          if k in brute.evidence["activity"]}
    assert ev["cracked"] == brute.evidence["succeeded"] == ["6001"]
    assert brute.evidence["attempts"] <= ev["methods"]["REGISTER"]
    [weak] = found(session, "sec-weak-digest-password")
    assert weak.evidence["guessed"] == ["6001"]
    assert "147.32.77.113 found it by guessing in this capture" in weak.explanation
    assert not found(session, "sec-toll-fraud-probe")


def test_sipp_on_loopback_is_info(request):
    """REVIEWED.md file 11: SIPp on 127.0.0.1 is a lab test tool (catalog §11.1: info)."""
    session = load_files([_real("udp-loopback-kamailio-proxied-call-two-legs.pcap", request)])
    [tool] = found(session, "sec-scanner-user-agent")
    assert tool.severity == "info" and tool.evidence["ua"] == "SIPp/Win32"
    # SIPp's own requests (its port 5061): 1 REGISTER, 1 INVITE, 1 BYE (f3, f5, f13); PJSUA's
    # REGISTER and Kamailio's relays share 127.0.0.1 and are not the tool's (tier-2 review)
    assert tool.evidence["requests"] == 3 and tool.evidence["accepted"] == 2
    assert tool.evidence["methods"] == {"REGISTER": 1, "INVITE": 1, "BYE": 1}
    assert "compromised" not in tool.explanation and "a local test" in tool.explanation


def test_carrier_b2bua_call_is_no_toll_fraud(shared_traces):
    """REVIEWED.md file 1: an ordinary carrier call between SBC legs raises no security finding."""
    session = load_files([str(shared_traces / "real" /
                              "udp-sbc-b2bua-100rel-prack-options-483-probe.pcap")])
    assert not [f for f in session.findings if f.id.startswith("sec-")]


def test_the_blog_trace_has_no_security_finding():
    """The blog's follow-up post ('Insecure Extension Passwords on Asterisk') holds no SIP
    message: its brute-force story motivates §11.4, but nothing in the trace shows an attack or
    a credential, so the security rules say nothing about it (catalog §14.1)."""
    session = load_files([str(DATA / "blog-grandstream-forked-call.txt")])
    assert not [m for m in session.messages if m.flags & HAS_CREDENTIALS]
    assert not [f for f in session.findings if f.id.startswith("sec-")]


def _scanner_captures():
    """The captures with attack traffic: tests/data's, and ../shared/traces' when present."""
    shared = DATA.parents[2] / "shared" / "traces"
    folders = [DATA] + [f for f in (shared, shared / "real") if f.is_dir()]
    return [p for folder in folders for p in sorted(folder.glob("scanner-*"))]


def test_the_findings_of_one_source_carry_one_summary():
    """Issue 14 pattern 3: on the attack captures at hand, the security findings about one source
    carry the same per-source summary (so no two texts count the same thing differently)."""
    from sipscope.core.model.loader import NoSipError
    checked = 0
    for path in _scanner_captures():
        try:
            session = load_files([str(path)])
        except NoSipError:
            continue
        by_source: dict[str, list] = {}
        for finding in session.findings:
            if finding.id.startswith("sec-") and "activity" in finding.evidence:
                by_source.setdefault(finding.source, []).append(finding.evidence["activity"])
        for source, summaries in by_source.items():
            assert all(s == summaries[0] for s in summaries), (path.name, source)
            checked += len(summaries) > 1
    assert checked >= 1          # the crack capture in tests/data has three such findings

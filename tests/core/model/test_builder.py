"""The builder files messages under transactions (RFC 3261 §17), dialogs (§12), calls and forks."""

from factory import Flow, request, response, sdp

from sipscope.core.model.dialog import CONFIRMED, EARLY, TERMINATED

UAC, PROXY, PHONE_A, PHONE_B = "10.0.0.1:5060", "10.0.0.2:5060", "10.0.0.3:5060", "10.0.0.4:5060"


def cancelled_call():
    flow = Flow()
    invite = flow.add(0, UAC, PROXY, request("INVITE", "sip:bob@x", body=sdp()))
    flow.add(0.1, PROXY, UAC, response(invite, 180, "Ringing", to_tag="t1"))
    cancel = flow.add(2, UAC, PROXY, request("CANCEL", "sip:bob@x", cseq_method="CANCEL"))
    flow.add(2.1, PROXY, UAC, response(cancel, 200, "OK", to_tag="t1"))
    flow.add(2.2, PROXY, UAC, response(invite, 487, "Request Terminated", to_tag="t1"))
    flow.add(2.3, UAC, PROXY, request("ACK", "sip:bob@x", to_tag="t1", cseq_method="ACK"))
    return flow.session(rules=False)


def test_cancel_is_its_own_transaction_and_non2xx_ack_joins_the_invite():
    session = cancelled_call()
    invite_txn, cancel_txn = session.transactions
    assert [m.label for m in invite_txn.messages] == ["INVITE", "180 Ringing",
                                                      "487 Request Terminated", "ACK"]
    assert [m.label for m in cancel_txn.messages] == ["CANCEL", "200 OK"]
    assert invite_txn.cancel is cancel_txn and cancel_txn.cancelled_invite is invite_txn
    assert invite_txn.final.status == 487
    assert session.dialogs[0].state == TERMINATED
    assert session.calls[0].final_status == 487


def answered_call(retransmit_200=False, duplicate_invite=False):
    flow = Flow()
    invite = flow.add(0, UAC, PROXY, request("INVITE", "sip:bob@x", body=sdp()))
    if duplicate_invite:
        flow.add(0.0005, UAC, PROXY, invite)
    flow.add(0.1, PROXY, UAC, response(invite, 180, "Ringing", to_tag="t1"))
    ok = response(invite, 200, "OK", to_tag="t1", body=sdp("10.0.0.2"))
    flow.add(3, PROXY, UAC, ok)
    if retransmit_200:
        flow.add(3.5, PROXY, UAC, ok)
    flow.add(3.6, UAC, PROXY, request("ACK", "sip:bob@x", to_tag="t1", branch="z9hG4bK-ack",
                                      cseq_method="ACK"))
    bye = flow.add(10, PROXY, UAC, request("BYE", "sip:alice@x", from_tag="t1", to_tag="ftag",
                                           branch="z9hG4bK-bye", cseq=5,
                                           from_uri="sip:bob@example.com",
                                           to_uri="sip:alice@example.com", via="10.0.0.2:5060"))
    flow.add(10.1, UAC, PROXY, response(bye, 200, "OK"))
    return flow.session(rules=False)


def test_2xx_ack_is_a_transaction_matched_by_dialog_and_bye_joins_the_dialog():
    session = answered_call()
    invite_txn = session.transactions[0]
    ack_txn = next(t for t in session.transactions if t.method == "ACK")
    assert ack_txn.acked_invite is invite_txn
    assert [m.method for m in invite_txn.acks] == ["ACK"]
    assert len(session.dialogs) == 1
    dialog = session.dialogs[0]
    assert dialog.state == TERMINATED     # the BYE's 200 ended it
    assert {m.label for m in dialog.messages} >= {"BYE", "ACK", "200 OK"}
    assert session.calls[0].final_status == 200


def test_retransmission_and_capture_duplicate_flags():
    session = answered_call(retransmit_200=True, duplicate_invite=True)
    flags = [(m.label, m.retransmission, m.duplicate) for m in session.messages]
    assert flags[1] == ("INVITE", False, True)            # same bytes 0.5 ms later: capture copy
    assert ("200 OK", True, False) in flags                # 0.5 s later: a real retransmission
    assert len(session.messages) == 8                      # copies are kept, flagged


def test_fork_set_from_one_proxy_with_two_branches():
    flow = Flow()
    upstream = "SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK-up"
    inv_a = flow.add(0, PROXY, PHONE_A, request("INVITE", "sip:a@x", branch="z9hG4bKp.1",
                                                 via="10.0.0.2:5060", extra_vias=(upstream,)))
    inv_b = flow.add(0.001, PROXY, PHONE_B, request("INVITE", "sip:b@x", branch="z9hG4bKp.2",
                                                     via="10.0.0.2:5060", extra_vias=(upstream,)))
    flow.add(0.1, PHONE_A, PROXY, response(inv_a, 180, "Ringing", to_tag="ta"))
    flow.add(0.2, PHONE_B, PROXY, response(inv_b, 180, "Ringing", to_tag="tb"))
    flow.add(1.0, PHONE_B, PROXY, response(inv_b, 200, "OK", to_tag="tb"))
    session = flow.session(rules=False)
    call = session.calls[0]
    assert len(call.forks) == 1
    fork = call.forks[0]
    assert [b.target for b in fork.branches] == [PHONE_A, PHONE_B]
    assert [b.label for b in fork.branches] == ["branch .1", "branch .2"]
    assert fork.sender == PROXY
    assert len(call.dialogs) == 2                          # one early dialog per To tag (D5)
    states = {d.callee_tag: d.state for d in call.dialogs}
    assert states == {"ta": EARLY, "tb": CONFIRMED}


def test_same_cseq_from_different_upstream_is_not_a_fork():
    flow = Flow()
    flow.add(0, PROXY, PHONE_A, request("INVITE", "sip:a@x", branch="z9hG4bK1",
                                        extra_vias=("SIP/2.0/UDP 1.1.1.1;branch=z9hG4bKx",)))
    flow.add(1, PROXY, PHONE_B, request("INVITE", "sip:b@x", branch="z9hG4bK2",
                                        extra_vias=("SIP/2.0/UDP 1.1.1.1;branch=z9hG4bKy",)))
    assert not flow.session(rules=False).calls[0].forks


def test_rfc2543_branchless_requests_use_the_fallback_key():
    flow = Flow()
    reg1 = flow.add(0, UAC, PROXY, request("REGISTER", "sip:x", branch="", cseq=1))
    reg2 = flow.add(1, UAC, PROXY, request("REGISTER", "sip:x", branch="", cseq=2))
    flow.add(0.1, PROXY, UAC, response(reg1, 401, "Unauthorized"))
    flow.add(1.1, PROXY, UAC, response(reg2, 200, "OK"))
    session = flow.session(rules=False)
    assert [[m.label for m in t.messages] for t in session.transactions] == [
        ["REGISTER", "401 Unauthorized"], ["REGISTER", "200 OK"]]
    assert not any(m.copy for m in session.messages)


def test_messages_are_in_time_order_with_stable_indices():
    flow = Flow()
    flow.add(5, UAC, PROXY, request("OPTIONS", "sip:x", call_id="b", branch="z9hG4bK2"))
    flow.add(1, UAC, PROXY, request("OPTIONS", "sip:x", call_id="a", branch="z9hG4bK1"))
    session = flow.session(rules=False)
    assert [m.call_id for m in session.messages] == ["a", "b"]
    assert [m.index for m in session.messages] == [0, 1]
    assert [c.call_id for c in session.calls] == ["a", "b"]


def test_ack_of_a_failure_creates_no_dialog():
    flow = Flow()
    invite = flow.add(0, UAC, PROXY, request("INVITE", "sip:bob@x"))
    flow.add(0.1, PROXY, UAC, response(invite, 407, "Proxy Authentication Required", to_tag="x"))
    flow.add(0.2, UAC, PROXY, request("ACK", "sip:bob@x", to_tag="x", cseq_method="ACK"))
    session = flow.session(rules=False)
    assert session.dialogs == []
    assert [m.label for m in session.transactions[0].messages][-1] == "ACK"


def test_message_size_and_fields_without_reading_the_file(tmp_path):
    """Message packs frame, input and file reference in one int and reads bytes on demand;
    size never reads them."""
    from sipscope.core.model.message import Message
    from sipscope.core.model.rawstore import open_store
    data = b"xxxxINVITE sip:a@b SIP/2.0\r\n\r\n"
    path = tmp_path / "f.bin"
    path.write_bytes(data)
    store = open_store(str(path))
    stored = Message(0, 1.0, "a:1", "b:2", "UDP", None, 70_000, 3, 0, "INVITE", "sip:a@b", 0, "",
                     "c", 1, "INVITE", "z9hG4bK1", "a:1", "t", "", 0, store=store,
                     ref=(4 << 24) | (len(data) - 4))
    assert (stored.frame, stored.input_index, stored.payload, stored.note) == (70_000, 3, None, None)
    assert stored.size == len(data) - 4 and stored.raw == data[4:]
    store.close()
    assert stored.size == len(data) - 4              # no read: the file is closed
    noted = Message(1, 2.0, "a:1", "b:2", "UDP", bytearray(b"SIP/2.0 200 OK\r\n\r\n"), 9, 0, 0,
                    None, None, 200, "OK", "c", 1, "INVITE", "z9hG4bK1", "a:1", "t", "u", 0,
                    note="line ends restored")
    assert noted.raw == b"SIP/2.0 200 OK\r\n\r\n" and noted.raw.__class__ is bytes
    assert (noted.note, noted.size, noted.frame, noted.ref) == ("line ends restored", 18, 9, 0)


def test_a_reliable_provisional_with_a_new_rseq_is_no_retransmission():
    """RFC 3262 §3: a second 180 with RSeq+1 is a new response; the same RSeq again is a
    retransmission (reviewed file 1 sends two reliable 180s on both legs)."""
    flow = Flow()
    invite = flow.add(0.0, "10.0.0.1:5060", "10.0.0.2:5060",
                      request("INVITE", "sip:b@10.0.0.2", extra=(("Supported", "100rel"),)))
    for t, rseq in ((0.1, 7), (0.6, 7), (2.0, 8)):
        flow.add(t, "10.0.0.2:5060", "10.0.0.1:5060",
                 response(invite, 180, "Ringing", to_tag="b1",
                          extra=(("Require", "100rel"), ("RSeq", str(rseq)))))
    session = flow.session(rules=False)
    ringing = [m for m in session.messages if m.status == 180]
    assert [bool(m.retransmission) for m in ringing] == [False, True, False]

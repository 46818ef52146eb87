"""build_session: a pure function from datagrams to a Session (calls, dialogs, transactions, forks).

Two passes: first every SIP payload becomes a Message (sorted by time, stable), then each message is
filed under its transaction (RFC 3261 §17, catalog D3), dialog (§12, D5) and call; copies are flagged
(D2); fork sets are found last (D4).  Media payloads go to the media collector, which keeps
statistics per stream, never packets.
"""

from __future__ import annotations

import re

import heapq
from collections.abc import Callable, Iterable

from sipscope.core.model.call import Branch, Call, ForkSet
from sipscope.core.model.dialog import CONFIRMED, EARLY, TERMINATED, Dialog, dialog_key
from sipscope.core.model.gcpause import gc_paused
from sipscope.core.model.message import (DUPLICATE, DUPLICATE_WINDOW, HINT_SHIFT, RETRANSMISSION,
                                         Message)
from sipscope.core.model.session import Session
from sipscope.core.model.shared_empty import appended
from sipscope.core.model.transaction import Transaction, transaction_key
from sipscope.core.sip.summary import summary_fields
from sipscope.core.sources.datagram import Datagram, InputReport

PROGRESS_EVERY = 4096
# Methods whose 1xx/2xx with a To tag create a dialog (RFC 3261 §12.1, RFC 6665 §4.1.2, RFC 3515)
DIALOG_CREATING = frozenset({"INVITE", "SUBSCRIBE", "REFER", "NOTIFY"})


class LoadCancelled(Exception):
    """The user cancelled the load."""


MAX_STORED_LENGTH = 0xFFFFFF     # Message.ref keeps the length in 24 bits


class _Builder:
    def __init__(self, session: Session, media_sink, stores=None) -> None:
        self.session = session
        self.media_sink = media_sink
        self.stores = stores or {}
        # one object for each repeated value: strings, and the ints above 256 that repeat
        # (status codes, body lengths, CSeq numbers, flags) -- CPython shares only -5..256
        self.strings: dict = {}
        self.transactions: dict[tuple, Transaction] = {}
        self.dialogs: dict[tuple, Dialog] = {}
        self.calls: dict[str, Call] = session._calls_by_id
        # per call: (cseq number, To tag) -> INVITE transaction answered 2xx with that tag
        self.answered: dict[tuple, Transaction] = {}
        self.fork_count = 0

    def intern(self, text: str | None) -> str | None:
        if text is None:
            return None
        return self.strings.setdefault(text, text)

    # -- pass 1 ----------------------------------------------------------------------------
    def message_from(self, datagram: Datagram) -> Message | None:
        payload = datagram.payload
        fields = summary_fields(payload)
        if fields is None:
            return None
        store, ref = None, 0
        if datagram.offset >= 0 and len(payload) <= MAX_STORED_LENGTH:
            store = self.stores.get(datagram.input_index)
            if store is not None:   # the bytes stay in the file: read back on demand
                ref = (datagram.offset << 24) | len(payload)
                payload = None
        return self._message(datagram.ts, datagram.src, datagram.dst, datagram.transport,
                             payload, datagram.frame, datagram.input_index, datagram.flags,
                             datagram.note, fields, store, ref)

    def message_from_record(self, record: tuple, store) -> Message:
        """A Message from a reader_process record (mostly summarised in the child already)."""
        ts, src, dst, transport, payload, ref, frame, flags, note, fields = record
        if payload is None and store is None:
            raise ValueError("a record without payload needs the capture file's RawStore")
        if fields is None:           # the parent's share of the summaries (reader_process)
            fields = summary_fields(payload if payload is not None
                                    else store.get(ref >> 24, ref & MAX_STORED_LENGTH))
        return self._message(ts, src, dst, transport, payload, frame, 0, flags, note, fields,
                             store if payload is None else None, ref)

    def _message(self, ts, src, dst, transport, payload, frame, input_index, flags, note,
                 fields, store, ref) -> Message:
        (method, request_uri, status, reason, call_id, cseq_num, cseq_method, branch, sent_by,
         _, from_tag, to_tag, body_length, hints) = fields
        intern = self.strings.setdefault      # a None method or CSeq number interns as None
        flags |= hints << HINT_SHIFT
        return Message(
            0, ts, intern(src, src), intern(dst, dst), intern(transport, transport),
            payload, frame, input_index, intern(flags, flags),
            intern(method, method), request_uri, intern(status, status), intern(reason, reason),
            intern(call_id, call_id), intern(cseq_num, cseq_num), intern(cseq_method, cseq_method),
            intern(branch, branch), intern(sent_by, sent_by), intern(from_tag, from_tag),
            intern(to_tag, to_tag), intern(body_length, body_length), note, None, None,
            store, ref)

    # -- pass 2 ----------------------------------------------------------------------------
    def file(self, message: Message) -> None:
        call = self.calls.get(message.call_id)
        if call is None:
            call = Call(index=len(self.session.calls), call_id=message.call_id)
            self.calls[message.call_id] = call
            self.session.calls.append(call)
        call.messages.append(message)
        transaction = self.transaction_for(message, call)
        self.mark_copy(message, transaction)
        transaction.messages.append(message)
        message.transaction = transaction
        self.file_dialog(message, transaction, call)

    def new_transaction(self, key: tuple, method: str, message: Message, call: Call) -> Transaction:
        transaction = Transaction(id=len(self.session.transactions), method=method,
                                  call_id=message.call_id, branch=message.branch,
                                  cseq_num=message.cseq_num)
        self.transactions[key] = transaction
        self.session.transactions.append(transaction)
        call.transactions.append(transaction)
        return transaction

    def transaction_for(self, message: Message, call: Call) -> Transaction:
        if message.is_request:
            method = message.method or ""
            if method == "ACK":
                return self.ack_transaction(message, call)
            key = transaction_key(message, method)
            transaction = self.transactions.get(key)
            if transaction is None:
                transaction = self.new_transaction(key, method, message, call)
                if method == "CANCEL":   # RFC 3261 §9.1: same branch as the INVITE it cancels
                    invite = self.transactions.get(transaction_key(message, "INVITE"))
                    if invite is not None:
                        invite.cancel, transaction.cancelled_invite = transaction, invite
            if transaction.request is None:
                transaction.request = message
            return transaction
        method = message.cseq_method
        key = transaction_key(message, method)
        transaction = self.transactions.get(key)
        if transaction is None:
            transaction = self.new_transaction(key, method, message, call)
        if method == "INVITE" and 200 <= message.status < 300:
            self.answered[(message.call_id, message.cseq_num, message.to_tag)] = transaction
        return transaction

    def ack_transaction(self, message: Message, call: Call) -> Transaction:
        """RFC 3261 §17.1.1.3: an ACK to a non-2xx shares the INVITE's branch; an ACK to a 2xx is
        a new transaction matched to its 2xx by Call-ID, tags and CSeq number (§13.2.2.4)."""
        invite = self.transactions.get(transaction_key(message, "INVITE"))
        if invite is not None:
            final = invite.final
            if final is None or final.status >= 300 or invite.rfc2543:
                invite.add_ack(message)
                return invite
        key = transaction_key(message, "ACK")
        transaction = self.transactions.get(key)
        if transaction is None:
            transaction = self.new_transaction(key, "ACK", message, call)
            transaction.request = message
            acked = self.answered.get((message.call_id, message.cseq_num, message.to_tag))
            if acked is None and invite is not None:
                acked = invite
            if acked is not None:
                transaction.acked_invite = acked
                acked.add_ack(message)
        return transaction

    def mark_copy(self, message: Message, transaction: Transaction) -> None:
        """D2: a later message with the same copy key is a retransmission; identical bytes on the
        same 5-tuple within 2 ms is a capture duplicate."""
        for earlier in reversed(transaction.messages):
            if not _same_message(earlier, message):
                continue
            if (earlier.raw == message.raw and message.ts - earlier.ts <= DUPLICATE_WINDOW):
                flags = message.flags | DUPLICATE
            else:
                flags = message.flags | RETRANSMISSION
            message.flags = self.strings.setdefault(flags, flags)
            return

    def file_dialog(self, message: Message, transaction: Transaction, call: Call) -> None:
        if not message.to_tag or not message.from_tag:
            return
        key = dialog_key(message.call_id, message.from_tag, message.to_tag)
        dialog = self.dialogs.get(key)
        if dialog is None:
            if message.is_response and not (100 < message.status < 300
                                            and transaction.method in DIALOG_CREATING):
                return     # only 101-299 to a dialog-creating request make a dialog (§12.1)
            if message.method == "ACK" and transaction.method == "INVITE":
                return     # the ACK of a 3xx-6xx carries the failure's To tag: no dialog (§17.1.1.3)
            # a response, or an in-dialog request whose dialog started before the capture
            dialog = Dialog(id=len(self.session.dialogs), call_id=message.call_id,
                            caller_tag=message.from_tag, callee_tag=message.to_tag)
            if message.is_response and transaction.method in DIALOG_CREATING:
                dialog.created_by = transaction
                if transaction.request is not None:
                    dialog.messages.append(transaction.request)
            else:
                dialog.state = CONFIRMED
            self.dialogs[key] = dialog
            self.session.dialogs.append(dialog)
            call.dialogs = appended(call.dialogs, dialog)
        message.dialog = dialog
        dialog.messages.append(message)
        if transaction not in dialog.transactions:
            dialog.transactions.append(transaction)
        self.update_state(dialog, message, transaction)

    @staticmethod
    def update_state(dialog: Dialog, message: Message, transaction: Transaction) -> None:
        if not message.is_response:
            return
        if transaction is dialog.created_by:
            if 200 <= message.status < 300 and dialog.state == EARLY:
                dialog.state = CONFIRMED
            elif message.status >= 300 and dialog.state == EARLY:
                dialog.state = TERMINATED
        elif transaction.method == "BYE" and 200 <= message.status < 300:
            dialog.state = TERMINATED

    # -- forks (D4) -------------------------------------------------------------------------
    def find_forks(self) -> None:
        """Group initial INVITEs by sender, From tag and CSeq first (cheap, summary fields); only
        groups of two or more are split further by their upstream Via (needs the full parse)."""
        for call in self.session.calls:
            groups: dict[tuple, list[Transaction]] = {}
            for transaction in call.transactions:
                request = transaction.request
                if transaction.method != "INVITE" or request is None or request.to_tag:
                    continue
                key = (request.src, request.sent_by, request.from_tag, request.cseq_num)
                groups.setdefault(key, []).append(transaction)
            for members in groups.values():
                if len(members) < 2:
                    continue
                by_upstream: dict[str, list[Transaction]] = {}
                for transaction in members:
                    vias = transaction.request.sip.header_values("Via")
                    by_upstream.setdefault(vias[1] if len(vias) > 1 else "", []).append(transaction)
                for siblings in by_upstream.values():
                    if len({t.branch for t in siblings}) > 1:
                        call.forks = appended(call.forks, self.fork_set(siblings))

    def fork_set(self, members: list[Transaction]) -> ForkSet:
        first = members[0].request
        fork = ForkSet(id=self.fork_count, sender=first.src, cseq_num=first.cseq_num)
        self.fork_count += 1
        for position, transaction in enumerate(members, start=1):
            related = list(transaction.messages)
            if transaction.cancel is not None:
                related.extend(transaction.cancel.messages)
            related.extend(m for m in transaction.acks if m.transaction is not transaction)
            related.sort(key=lambda m: m.index)
            fork.branches.append(Branch(position=position, branch=transaction.branch,
                                        target=transaction.request.dst, transaction=transaction,
                                        messages=related))
        return fork


def _same_message(a: Message, b: Message) -> bool:
    """Catalog D2 copy keys (the transaction already matched branch, Call-ID and CSeq)."""
    if a.src != b.src or a.dst != b.dst or a.transport != b.transport:
        return False
    if a.is_request:
        return (b.is_request and a.method == b.method and a.request_uri == b.request_uri
                and a.from_tag == b.from_tag and a.cseq_method == b.cseq_method)
    if not (b.status == a.status and a.to_tag == b.to_tag and a.cseq_method == b.cseq_method):
        return False
    # RFC 3262 §3: a reliable provisional response with a new RSeq is a new response (a second
    # 180 with RSeq+1), not a retransmission; read only when everything else matched
    return not (100 < a.status < 200) or _rseq(a) == _rseq(b)


_RSEQ = re.compile(rb"\n[Rr][Ss][Ee][Qq][ \t]*:[ \t]*(\d{1,10})")


def _rseq(message: Message) -> bytes | None:
    found = _RSEQ.search(message.raw)
    return found.group(1) if found else None


def build_session(datagrams: Iterable[Datagram], inputs: list[InputReport] | None = None,
                  progress: Callable[[int], None] | None = None,
                  cancelled: Callable[[], bool] | None = None,
                  media_sink=None, stores=None) -> Session:
    """File every SIP datagram into a new Session.  progress(n) is called every few thousand
    datagrams; cancelled() returning True stops the load with LoadCancelled.  stores maps an input
    index to the RawStore of its file, so payloads with a file offset are not kept in memory."""
    with gc_paused():
        session = Session(inputs=list(inputs or []))
        builder = _Builder(session, media_sink, stores)
        messages, non_sip = _messages(builder, datagrams, progress, cancelled, media_sink)
        return _finish(builder, messages, non_sip, media_sink, cancelled)


def build_session_from_reader(reader, inputs: list[InputReport],
                              progress: Callable[[int], None] | None = None,
                              cancelled: Callable[[], bool] | None = None,
                              stores=None,
                              on_messages: Callable[[list], None] | None = None) -> Session:
    """build_session for a reader_process.ReaderProcess: the messages arrive summarised, in
    batches, from the child that reads the file; its media collector comes at the end.
    on_messages(list) sees each batch of new messages (the loader's work-ahead while it waits).

    Filing goes on while the child reads: a message is filed once it is HOLD_BACK seconds older
    than the newest one received, in (time, arrival) order -- the order of the stable sort that
    build_session uses.  A capture that is out of order by more than that (merged files, a badly
    synchronised capture) is noticed, and then the whole model is built again after a full sort,
    so the result is the same in every case."""
    with gc_paused():
        session = Session(inputs=list(inputs))
        builder = _Builder(session, None, stores)
        store = (stores or {}).get(0)
        make = builder.message_from_record
        arrived: list[Message] = []
        ordered: list[Message] = []
        waiting: list[tuple] = []          # heap of (ts, arrival number, message)
        in_order = True
        last_filed = float("-inf")
        for batch in reader.batches():
            if cancelled is not None and cancelled():
                raise LoadCancelled()
            fresh = [make(record, store) for record in batch]
            if on_messages is not None and fresh:
                on_messages(fresh)
            if in_order and fresh:
                base = len(arrived)
                for number, message in enumerate(fresh, start=base):
                    if message.ts < last_filed:
                        in_order = False       # older than a message already filed
                        break
                    heapq.heappush(waiting, (message.ts, number, message))
                else:
                    limit = max(m.ts for m in fresh) - HOLD_BACK
                    last_filed = _file_until(builder, waiting, ordered, limit, last_filed)
            arrived.extend(fresh)
            if progress is not None:
                progress(reader.count)
        if in_order:
            _file_until(builder, waiting, ordered, float("inf"), last_filed)
            return _close(builder, ordered, reader.non_sip, reader.media)
        _unfile(arrived)
        fresh_builder = _Builder(Session(inputs=list(inputs)), None, stores)
        fresh_builder.strings = builder.strings
        return _finish(fresh_builder, arrived, reader.non_sip, reader.media, cancelled)


HOLD_BACK = 2.0     # seconds a received message waits before filing (reassembly reorders ~1 ms)


def _file_until(builder: _Builder, waiting: list[tuple], ordered: list[Message], limit: float,
                last_filed: float) -> float:
    file, pop = builder.file, heapq.heappop
    while waiting and waiting[0][0] <= limit:
        last_filed, _, message = pop(waiting)
        message.index = len(ordered)
        ordered.append(message)
        file(message)
    return last_filed


def _unfile(messages: list[Message]) -> None:
    """Undo filing (copy flags, links) before the model is built again."""
    for message in messages:
        message.flags &= ~(RETRANSMISSION | DUPLICATE)
        message.transaction = message.dialog = None


def _messages(builder: _Builder, datagrams, progress, cancelled, media_sink) -> tuple[list, int]:
    """Pass 1: a Message for every SIP payload; media to the collector; count the rest."""
    messages: list[Message] = []
    non_sip = 0
    count = 0
    for datagram in datagrams:
        if datagram is None:         # a reader's tick while it feeds media_sink directly
            if cancelled is not None and cancelled():
                raise LoadCancelled()
            if progress is not None:
                progress(count)
            continue
        count += 1
        if count % PROGRESS_EVERY == 0:
            if cancelled is not None and cancelled():
                raise LoadCancelled()
            if progress is not None:
                progress(count)
        # every SIP start line holds "SIP/" (summary.summary_fields): RTP skips the SIP parse
        message = builder.message_from(datagram) if b"SIP/" in datagram.payload else None
        if message is not None:
            messages.append(message)
        elif media_sink is None or media_sink.add(datagram.ts, datagram.src, datagram.dst,
                                                  datagram.payload) is None:
            non_sip += 1                 # the collector classifies by RFC 7983 (None: not media)
    return messages, non_sip


def _finish(builder: _Builder, messages: list[Message], non_sip: int, media,
            cancelled) -> Session:
    """Pass 2: time order, filing, forks."""
    messages.sort(key=lambda m: m.ts)
    for index, message in enumerate(messages):
        message.index = index
        builder.file(message)
        if cancelled is not None and index % PROGRESS_EVERY == 0 and cancelled():
            raise LoadCancelled()
    return _close(builder, messages, non_sip, media)


def _close(builder: _Builder, messages: list[Message], non_sip: int, media) -> Session:
    session = builder.session
    session.messages = messages
    session.non_sip_payloads = non_sip
    session.media = media
    builder.find_forks()
    _compact(session)
    return session


def _compact(session: Session) -> None:
    """Lists grown by append keep up to a quarter spare room; a copy has none.  Over the lists
    of a million-message model (transactions, calls, dialogs) that is ~10 % of its memory."""
    for transaction in session.transactions:
        transaction.messages = list(transaction.messages)
    for call in session.calls:
        call.messages = list(call.messages)
        call.transactions = list(call.transactions)
    for dialog in session.dialogs:
        dialog.messages = list(dialog.messages)
        dialog.transactions = list(dialog.transactions)

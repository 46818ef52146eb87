"""The one store every view reads: the loaded Session, the shown calls and the current selection.

Views never talk to each other.  They call `select_*` here and follow `sig_selection_changed`
(and `sig_calls_changed` when the shown calls change), so selecting a message, a branch or a
finding anywhere moves every view.  Loading runs in a worker thread (gui/load_worker.py); the
window shows `sig_load_progress` with a Cancel button and reports problems through `sig_notice`
as plain sentences, never a traceback.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from PySide6.QtCore import QObject, Qt, QThread, Signal, Slot

from sipscope.core.model import gcpause
from sipscope.gui.load_worker import LoadWorker
from sipscope.gui.models.call_rows import CallRows
from sipscope.gui.models.lookup import SessionLookup
from sipscope.core.words import plural, verb

INFO, WARNING, ERROR = "info", "warning", "error"


@dataclass(slots=True, frozen=True)
class Selection:
    """What is selected.  `messages` are Session.messages indices; `current` is the focus."""

    calls: tuple = ()                   # the calls shown in message list, ladder and timeline
    messages: tuple[int, ...] = ()
    current: int | None = None
    branches: tuple = ()                # selected fork Branch objects (two for a branch diff)
    finding: object | None = None
    origin: str = ""                    # the view that made the selection ("ladder", ...)
    stream: object | None = None        # the selected media/table.py StreamRow (streams, timeline)
    serial: int = field(default=0, compare=False)

    @property
    def call(self):
        return self.calls[0] if self.calls else None

    @property
    def branch(self):
        return self.branches[0] if self.branches else None


class Controller(QObject):
    sig_session_changed = Signal(object)        # Session | None
    sig_calls_changed = Signal(object)          # tuple of Call
    sig_selection_changed = Signal(object)      # Selection
    sig_load_started = Signal(str)              # what is being loaded
    sig_load_progress = Signal(float, str)      # fraction 0..1, text
    sig_load_finished = Signal(object)          # Session
    sig_findings_changed = Signal(object)       # Session: its findings arrived (after the model)
    sig_load_failed = Signal(str)               # a plain sentence
    sig_load_cancelled = Signal()
    sig_rows_ready = Signal()                   # the shown calls' rows are filled (sort/filter)
    sig_notice = Signal(str, str)               # level (info|warning|error), plain text

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.session = None
        self.call_rows = CallRows(None)
        self.lookup = SessionLookup(None)
        self.selection = Selection()
        self.source_label = ""
        self._thread: QThread | None = None
        self._worker: LoadWorker | None = None
        self._generation = 0
        self._serial = 0
        self.last_worker_thread: int | None = None   # thread id the last load ran on (tests)
        self.loading_paths: list[str] = []
        self._threads_alive: set = set()             # (thread, worker) kept until the thread ends
        self._labels: dict[int, str] = {}
        self._warnings_shown = 0
        self.analysing = False                       # the calls are shown, the rules still run
        self.analysis_cancelled = False              # the shown session has no findings: cancelled
        self._stream_table = None                    # media/table.py StreamTable, made on demand

    # -- loading ---------------------------------------------------------------------------
    @property
    def loading(self) -> bool:
        return self._worker is not None

    @property
    def loading_label(self) -> str:
        """What is being loaded ("capture.pcap", "pasted text"), '' when nothing is."""
        return self._labels.get(self._generation, "") if self.loading else ""

    def open_files(self, paths: list[str], format_name: str | None = None) -> None:
        names = ", ".join(p.rsplit("/", 1)[-1] for p in paths)
        self._start(LoadWorker(paths=list(paths), format_name=format_name), names, paths)

    def load_text(self, text: str, label: str = "pasted text") -> None:
        self._start(LoadWorker(text=text), label, [])

    def start_worker(self, worker: LoadWorker, label: str) -> None:
        """Run a prepared LoadWorker (tests inject slowed loaders this way)."""
        self._start(worker, label, list(worker.paths))

    def _start(self, worker: LoadWorker, label: str, paths: list[str]) -> None:
        self.cancel_load()
        self._generation += 1
        worker.generation = self._generation
        thread = QThread()
        thread.setObjectName("sipscope-loader")
        worker.moveToThread(thread)
        thread.started.connect(worker.run)
        # bound slots of this GUI-thread object: Qt queues the calls to the GUI thread (a lambda
        # would run in the worker thread)
        worker.progress.connect(self._on_progress)
        worker.model_ready.connect(self._on_model_ready)
        worker.rows_ready.connect(self._on_rows_ready)
        worker.finished.connect(self._on_finished)
        worker.failed.connect(self._on_failed)
        worker.cancelled.connect(self._on_cancelled)
        worker.done.connect(thread.quit, Qt.DirectConnection)   # quit() is thread-safe; the
        # GUI thread may be blocked in wait_for_load()
        thread.finished.connect(self._reap)
        self._thread, self._worker = thread, worker
        self._threads_alive.add((thread, worker))
        self._labels[self._generation] = label
        self.loading_paths = paths
        self.sig_load_started.emit(label)
        thread.start()

    def cancel_load(self) -> None:
        if self._worker is not None:
            self._worker.cancel()
            self._worker = None
            self._thread = None
            self._generation += 1
            if self.analysing:                # the calls stay shown, without findings
                self.analysing = False
                self.analysis_cancelled = True
            self.sig_load_cancelled.emit()

    def wait_for_load(self, timeout_ms: int = 60000) -> None:
        """Block until the load threads end (tests and shutdown)."""
        for thread, _ in list(self._threads_alive):
            thread.wait(timeout_ms)
        self._reap()

    @Slot()
    def _reap(self) -> None:
        for thread, worker in list(self._threads_alive):
            if thread.isFinished():
                self._threads_alive.discard((thread, worker))
                worker.deleteLater()
                thread.deleteLater()

    def _current(self, generation: int) -> bool:
        return generation == self._generation and self._worker is not None

    @Slot(int, float, str)
    def _on_progress(self, generation: int, fraction: float, text: str) -> None:
        if self._current(generation):
            self.sig_load_progress.emit(fraction, text)

    @Slot(int, object, object)
    def _on_model_ready(self, generation: int, session, rows) -> None:
        """The model without findings: show the calls now, the rules are still running."""
        if not self._current(generation):
            return
        self.set_session(session, self._labels.get(generation, ""), rows, analysing=True)

    @Slot(int)
    def _on_rows_ready(self, generation: int) -> None:
        if self._current(generation):
            self.sig_rows_ready.emit()

    @Slot(int, object, object)
    def _on_finished(self, generation: int, session, rows) -> None:
        """`rows` is the CallRows of a one-phase load, or the findings list after the rules."""
        if not self._current(generation):
            return
        label = self._labels.pop(generation, "")
        self.last_worker_thread = self._worker.thread_id
        self._worker = self._thread = None
        if not isinstance(rows, list):
            self.set_session(session, label, rows)
        elif session is self.session:
            self.set_findings(rows)
        else:                                  # the model was replaced meanwhile: show it whole
            session.findings = rows
            self.set_session(session, label)
        self.sig_load_finished.emit(session)

    @Slot(int, str)
    def _on_failed(self, generation: int, text: str) -> None:
        if not self._current(generation):
            return
        self.last_worker_thread = self._worker.thread_id
        self._worker = self._thread = None
        self.sig_load_failed.emit(text)
        self.sig_notice.emit(ERROR, text)

    @Slot(int)
    def _on_cancelled(self, generation: int) -> None:
        if self._current(generation):
            self._worker = self._thread = None
            self.sig_load_cancelled.emit()

    # -- the session -----------------------------------------------------------------------
    def set_session(self, session, label: str = "", rows: CallRows | None = None,
                    analysing: bool = False) -> None:
        """Show a loaded session (also used directly, without a worker, by tests and export).
        `analysing`: its fault rules still run; set_findings() brings the findings."""
        dropped = self.session is not None and session is not self.session
        self.session = session
        self._stream_table = None
        self.source_label = label
        self.analysing, self.analysis_cancelled = analysing and session is not None, False
        self._warnings_shown = len(session.analysis_warnings) if session is not None else 0
        self.call_rows = rows if rows is not None and rows.session is session else CallRows(session)
        self.lookup = SessionLookup(session)
        self.selection = Selection()
        self.sig_session_changed.emit(session)
        if dropped:
            gcpause.collect_dropped()    # the views let go of the old model: free its cycles
        if session is not None:
            for text in session_notices(session):
                self.sig_notice.emit(*text)
            first = first_interesting_call(session)
            if first is not None:
                self.select_calls((first,), origin="controller")

    def set_findings(self, findings: list) -> None:
        """Store the findings of the shown session (they arrive after the model) and refresh
        what shows them: severity columns, fault panel, markers.  The first call shown moves to
        the worst one unless the user has chosen a call meanwhile."""
        session = self.session
        if session is None:
            return
        self.analysing = False
        untouched = self.selection.origin == "controller" and not self.selection.messages
        session.findings = findings
        self.call_rows.set_findings()
        self.lookup = SessionLookup(session)
        self.sig_findings_changed.emit(session)
        if len(session.analysis_warnings) > self._warnings_shown:
            for level, text in session_notices(session, inputs=False):
                self.sig_notice.emit(level, text)
        if untouched:
            first = first_interesting_call(session)
            if first is not None:
                self.select_calls((first,), origin="controller")

    # -- selection -------------------------------------------------------------------------
    def _apply(self, selection: Selection) -> None:
        calls_changed = tuple(selection.calls) != tuple(self.selection.calls)
        if selection == self.selection and not calls_changed:
            return
        self._serial += 1
        self.selection = replace(selection, serial=self._serial)
        if calls_changed:
            self.sig_calls_changed.emit(self.selection.calls)
        self.sig_selection_changed.emit(self.selection)

    def select_calls(self, calls, origin: str = "") -> None:
        calls = tuple(calls)
        if calls == self.selection.calls and not self.selection.messages:
            return
        self._apply(Selection(calls=calls, origin=origin))

    def select_call(self, call, origin: str = "") -> None:
        self.select_calls((call,) if call is not None else (), origin)

    def select_messages(self, indices, current: int | None = None, origin: str = "",
                        keep_finding: bool = False) -> None:
        """Select messages; the shown calls follow when a message lies outside them."""
        if self.session is None:
            return
        messages = self.session.messages
        indices = tuple(i for i in dict.fromkeys(indices) if 0 <= i < len(messages))
        if current is None or current not in indices:
            current = indices[0] if indices else None
        calls = self._calls_for(indices)
        branches = tuple(b for b in self.selection.branches
                         if any(i in {m.index for m in b.messages} for i in indices)) \
            if keep_finding else ()
        finding = self.selection.finding if keep_finding else None
        self._apply(Selection(calls=calls, messages=indices, current=current,
                              branches=branches, finding=finding, origin=origin))

    def select_branches(self, branches, origin: str = "") -> None:
        """Select fork branches (one to highlight, two for the branch diff)."""
        if self.session is None:
            return
        branches = tuple(branches)
        indices = tuple(sorted({m.index for b in branches for m in b.messages}))
        calls = self._calls_for(indices)
        current = indices[0] if indices else None
        self._apply(Selection(calls=calls, messages=indices, current=current, branches=branches,
                              origin=origin))

    def select_finding(self, finding, origin: str = "") -> None:
        """Select a finding and the messages that prove it, in every view."""
        if self.session is None or finding is None:
            return
        indices = tuple(i for i in finding.messages if 0 <= i < len(self.session.messages))
        calls = self._calls_for(indices)
        if not calls and finding.call_id is not None:
            call = self.session.call(finding.call_id)
            calls = (call,) if call is not None else self.selection.calls
        self._apply(Selection(calls=calls, messages=indices, current=focus_of(finding, indices,
                                                                             self.session),
                              finding=finding, origin=origin))

    def select_stream(self, row, origin: str = "") -> None:
        """Select a row of the streams table (a stream, or a direction that never arrived): its
        call, and the offer/answer messages that negotiated its media session."""
        if self.session is None or row is None:
            return
        calls = (row.call,) if row.call is not None else self.selection.calls
        indices: list[int] = []
        ms = row.media_session
        for exchange in ms.completed() if ms is not None else ():
            for message in (exchange.offer, exchange.answer):
                if message is not None and message.index not in indices:
                    indices.append(message.index)
        indices.sort()
        self._apply(Selection(calls=calls, messages=tuple(indices),
                              current=indices[0] if indices else None, stream=row,
                              origin=origin))

    def stream_table(self):
        """The streams table of the shown session (media/table.py), built on first use."""
        from sipscope.core.media.table import StreamTable
        if self._stream_table is None or self._stream_table.session is not self.session:
            ready = self.call_rows.stream_table        # built by the load worker, if it was
            self._stream_table = ready if ready is not None and ready.session is self.session \
                else StreamTable(self.session)
        return self._stream_table

    def _calls_for(self, indices) -> tuple:
        """The shown calls when they hold every index, else the calls of the indices."""
        if not indices:
            return self.selection.calls
        shown = {c.call_id for c in self.selection.calls}
        messages = self.session.messages
        if shown and all(messages[i].call_id in shown for i in indices):
            return self.selection.calls
        calls: list = []
        for index in indices:
            call = self.session.call_of(messages[index])
            if call is not None and call not in calls:
                calls.append(call)
        calls.sort(key=lambda c: c.index)
        return tuple(calls)

    # -- derived -----------------------------------------------------------------------------
    def shown_messages(self) -> list:
        """The messages of the shown calls in capture order."""
        calls = self.selection.calls
        if not calls:
            return []
        if len(calls) == 1:
            return list(calls[0].messages)
        merged = [m for call in calls for m in call.messages]
        merged.sort(key=lambda m: m.index)
        return merged

    def shown_findings(self) -> list:
        if self.session is None:
            return []
        wanted = {c.call_id for c in self.selection.calls}
        shown = {m.index for m in self.shown_messages()} if wanted else set()
        return [f for f in self.session.findings
                if f.call_id in wanted or (f.call_id is None and shown.intersection(f.messages))]


def first_interesting_call(session):
    """The call to show first: the one whose findings are worst, else the first call."""
    if not session.calls:
        return None
    rank = {"error": 3, "warning": 2, "info": 1}
    best, best_rank = None, 0
    for finding in session.findings:
        if finding.call_id is None or finding.inconclusive:
            continue
        value = rank.get(finding.severity, 0)
        if value > best_rank:
            call = session.call(finding.call_id)
            if call is not None:
                best, best_rank = call, value
    if best is not None:
        return best
    for call in session.calls:
        if call.first_method not in ("OPTIONS", "REGISTER"):
            return call
    return session.calls[0]


def session_notices(session, inputs: bool = True) -> list[tuple[str, str]]:
    """Plain sentences about the inputs: damaged files, excerpts, failed rules (only the failed
    rules when `inputs` is False: the other sentences were shown with the model)."""
    notices: list[tuple[str, str]] = []
    for report in session.inputs if inputs else ():
        name = str(report.path).rsplit("/", 1)[-1]
        shown = report.warnings[:3]
        if shown:
            more = f" (and {len(report.warnings) - 3} more)" if len(report.warnings) > 3 else ""
            notices.append((WARNING, f"{name}: " + "; ".join(shown) + more
                            + " — showing what could be read."))
        if report.stopped_at is not None and not shown:
            notices.append((WARNING, f"{name}: reading stopped at byte {report.stopped_at:,}; "
                                     "showing what could be read."))
    if session.excerpt and inputs:
        notices.append((INFO, "This input is a curated excerpt (text copied from a page or "
                              "ticket): findings that depend on a missing message are shown as "
                              "inconclusive."))
    if session.analysis_warnings:
        count = len(session.analysis_warnings)
        notices.append((WARNING, f"{plural(count, 'fault rule')} failed and "
                                 f"{verb(count, 'its', 'their')} findings are missing: "
                                 + session.analysis_warnings[0]))
    return notices


def focus_of(finding, indices: tuple, session) -> int | None:
    """The message a finding is about: the one at the finding's time (a rule sets it to the
    message that went wrong, e.g. the 200 OK on the wrong branch), else the first one."""
    if not indices:
        return None
    if finding.time is not None:
        for index in indices:
            if session.messages[index].ts == finding.time:
                return index
    return indices[0]

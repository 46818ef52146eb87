"""Load files or pasted text off the GUI thread, with progress and cancellation.

A LoadWorker is moved to a QThread by the controller; `run()` calls the core loader with a
progress callback (emitted as a queued signal) and a cancelled() callback that reads a
threading.Event, then fills the call-list rows so that sorting and filtering are instant.

Files load in two phases: the model (messages, calls, dialogs) is built without the fault rules
and handed to the GUI (`model_ready`), so the call list, messages and ladder show at once; the
worker then fills the call rows (`rows_ready`), the rules run in the same worker ("analysing")
and `finished` brings the findings.  Both
phases can be cancelled.  Pasted text and injected loaders run in one phase.
"""

from __future__ import annotations

import logging
import threading
import time

from PySide6.QtCore import QObject, Signal, Slot

from sipscope.gui.models.call_rows import CallRows

log = logging.getLogger(__name__)
PROGRESS_INTERVAL = 0.05          # at most 20 progress signals a second


class LoadWorker(QObject):
    """Signals carry the load's generation so the controller ignores a superseded load."""

    progress = Signal(int, float, str)
    model_ready = Signal(int, object, object)  # generation, Session without findings, CallRows
    rows_ready = Signal(int)                  # generation: every call row is filled
    finished = Signal(int, object, object)    # generation, Session, CallRows | findings list
    failed = Signal(int, str)
    cancelled = Signal(int)
    done = Signal()                           # always last: lets the thread quit

    def __init__(self, paths: list[str] | None = None, text: str | None = None,
                 format_name: str | None = None, load=None) -> None:
        super().__init__()
        self.paths = paths or []
        self.text = text
        self.format_name = format_name
        self.thread_id: int | None = None
        self._cancel = threading.Event()
        self._last_progress = 0.0
        self._load = load                   # injectable loader (tests)
        self._rules_total = self._rules_done = 0
        self.generation = 0                 # set by the controller

    def cancel(self) -> None:
        self._cancel.set()

    def is_cancelled(self) -> bool:
        return self._cancel.is_set()

    def _progress(self, fraction: float, text: str) -> None:
        now = time.monotonic()
        if now - self._last_progress >= PROGRESS_INTERVAL or fraction >= 1.0:
            self._last_progress = now
            self.progress.emit(self.generation, float(fraction), text)

    @Slot()
    def run(self) -> None:
        from sipscope.core.model.builder import LoadCancelled
        from sipscope.core.sources.datagram import NotACaptureError
        self.thread_id = threading.get_ident()
        try:
            two_phases = self._load is None and self.text is None
            session = self._run_load()
            if self.is_cancelled():
                raise LoadCancelled()
            rows = CallRows(session)
            if not two_phases:
                self.progress.emit(self.generation, 1.0, "preparing the call list")
                rows.prepare(self.is_cancelled)
                if self.is_cancelled():
                    raise LoadCancelled()
                self.finished.emit(self.generation, session, rows)
                return
            # the calls show at once; their rows (sort keys, filter text) fill here meanwhile,
            # and a filter or sort in the window waits for rows_ready
            rows.filling = True
            self.model_ready.emit(self.generation, session, rows)
            try:
                rows.prepare(self.is_cancelled)
            finally:
                rows.filling = False          # done, or cancelled: the GUI may fill the rest
            if self.is_cancelled():
                raise LoadCancelled()
            self.rows_ready.emit(self.generation)
            findings = self._analyse(session)
            rows.prepare_findings(findings)   # per-call severities and fault: index, off the GUI
            if getattr(session.media, "streams", None):
                # the streams table (0.3 s on 1,300 calls with RTP), off the GUI thread too
                from sipscope.core.media.table import StreamTable
                rows.stream_table = StreamTable(session)
            self.finished.emit(self.generation, session, findings)
        except LoadCancelled:
            self.cancelled.emit(self.generation)
        except NotACaptureError as exc:
            self.failed.emit(self.generation, str(exc))
        except OSError as exc:
            where = f" ({exc.filename})" if getattr(exc, "filename", None) else ""
            self.failed.emit(self.generation,
                             f"Cannot read the file{where}: {exc.strerror or exc}.")
        except MemoryError:
            self.failed.emit(self.generation, "Out of memory while loading: the capture is too "
                             "large for this machine. Split it (editcap -c) and open the parts.")
        except Exception as exc:  # noqa: BLE001 - the window shows a sentence, the log the trace
            log.exception("loading failed")
            self.failed.emit(self.generation,
                             f"Internal error while loading ({type(exc).__name__}: {exc}). "
                             "Please report it with the capture if you can share it.")
        finally:
            self.done.emit()

    def _run_load(self):
        if self._load is not None:
            return self._load(self._progress, self.is_cancelled)
        if self.text is not None:
            from sipscope.core.model.loader import load_text
            self._progress(0.0, "reading pasted text")
            return load_text(self.text, self.format_name)
        from sipscope.core.model.loader import load_files
        return load_files(self.paths, self.format_name, progress=self._progress,
                          cancelled=self.is_cancelled, with_rules=False, rules_follow=True)

    def _analyse(self, session) -> list:
        """The findings of a shown session.  They are returned, not stored on the session: the
        controller stores them on the GUI thread, so no view sees them before the signal."""
        from sipscope.core.analysis.registry import load_rules
        from sipscope.core.analysis.runner import AnalysisCancelled, run_rules
        from sipscope.core.model.builder import LoadCancelled
        if self.is_cancelled():
            raise LoadCancelled()
        self._rules_total, self._rules_done = max(len(load_rules()), 1), 0
        self.progress.emit(self.generation, 0.0, "analysing: looking for faults")
        try:
            findings = run_rules(session, None, cancelled=self._analysis_cancelled)
        except AnalysisCancelled as exc:
            raise LoadCancelled() from exc
        self.progress.emit(self.generation, 1.0, "analysing: done")
        return findings

    def _analysis_cancelled(self) -> bool:
        """The runner asks before each rule: report the share of rules done, then answer."""
        fraction = min(self._rules_done / self._rules_total, 1.0)
        self._rules_done += 1
        self._progress(fraction, "analysing: looking for faults")
        return self.is_cancelled()

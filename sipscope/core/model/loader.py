"""Open input files, merge them in time order, build the Session and run the fault rules."""

from __future__ import annotations

import heapq
import os
from collections.abc import Callable

from sipscope.core.model import reader_process
from sipscope.core.model.builder import LoadCancelled, build_session, build_session_from_reader
from sipscope.core.model.free_memory import release_free_memory
from sipscope.core.model.rawstore import open_store
from sipscope.core.model.session import Session
from sipscope.core.sources.datagram import Datagram, InputReport, NotACaptureError
from sipscope.core.sources.registry import open_input, read_text

Progress = Callable[[float, str], None]


class NoSipError(NotACaptureError):
    """The input was read but holds no SIP message; the text says what was seen instead."""


def _media_collector():
    from sipscope.core.media.streams import MediaCollector
    return MediaCollector()


def analyze(session: Session, options=None, cancelled: Callable[[], bool] | None = None) -> Session:
    """Run the fault rules over a built session (a failing rule never breaks the run).
    cancelled() is checked between rules; cancelling raises LoadCancelled."""
    from sipscope.core.analysis.runner import AnalysisCancelled, run_rules
    try:
        session.findings = run_rules(session, options, cancelled=cancelled)
    except AnalysisCancelled as exc:
        raise LoadCancelled() from exc
    return session


def load_files(paths: list[str], format_name: str | None = None,
               progress: Progress | None = None, cancelled: Callable[[], bool] | None = None,
               with_rules: bool = True, options=None,
               rules_follow: bool | None = None) -> Session:
    """Load one or more inputs into one Session.  Raises NotACaptureError for unreadable input.
    A single big capture is read in a second process while this one builds (reader_process);
    then, while this process waits for it, the rules' dictionary searches are done ahead when
    the rules will run (with_rules, or rules_follow for a caller that runs them itself)."""
    ahead = with_rules if rules_follow is None else rules_follow
    if reader_process.wanted(paths):
        session = _try_reader_process(paths[0], format_name, progress, cancelled, options, ahead)
        if session is not None:
            return _analysed(session, progress, cancelled, with_rules, options)
    collector = _media_collector()
    # one input: its reader hands plain RTP straight to the collector, in the same order the
    # builder would (several inputs are merged by time, so their media goes through the builder)
    direct = collector.add if collector is not None and len(paths) == 1 else None
    opened = [open_input(path, format_name, index, media_sink=direct)
              for index, path in enumerate(paths)]
    reports = [report for report, _ in opened]
    streams = [stream for _, stream in opened]
    datagrams = streams[0] if len(streams) == 1 else heapq.merge(*streams, key=lambda d: d.ts)

    def on_progress(count: int) -> None:
        if progress is None:
            return
        total = sum(r.size for r in reports) or 1
        done = sum(r.tell() if r.tell else 0 for r in reports)
        packets = max(count, sum(r.packets for r in reports))   # RTP may bypass the count
        progress(min(done / total, 1.0), f"{packets:,} packets read")

    remember_identity(reports)
    stores = {index: store for index, report in enumerate(reports)
              if not report.compressed and (store := open_store(report.path)) is not None}
    session = build_session(datagrams, reports, progress=on_progress, cancelled=cancelled,
                            media_sink=collector, stores=stores)
    return _analysed(session, progress, cancelled, with_rules, options)


def _try_reader_process(path: str, format_name: str | None, progress: Progress | None,
                        cancelled: Callable[[], bool] | None, options,
                        ahead: bool) -> Session | None:
    """The Session read with a reader process, or None when that process could not start or
    stopped on the way (killed, out of memory, a failure it reported): the caller then reads
    the file in this process, from the start."""
    reader = reader_process.start_reader(path, format_name)
    if reader is None:
        return None
    try:
        report = reader.open()
        return _load_from_reader(reader, report, progress, cancelled, options, ahead)
    except reader_process.ReaderProcessError:
        return None
    finally:
        reader.close()


def remember_identity(reports: list[InputReport]) -> None:
    """Note each input file's size and modification time as loaded (see InputReport.identity)."""
    for report in reports:
        try:
            stat = os.stat(report.path)
        except (OSError, TypeError, ValueError):
            continue
        report.identity = (stat.st_size, stat.st_mtime_ns)


def _load_from_reader(reader: reader_process.ReaderProcess, report: InputReport,
                      progress: Progress | None, cancelled: Callable[[], bool] | None,
                      options=None, ahead: bool = True) -> Session:
    stores = {}
    remember_identity([report])
    if not report.compressed and (store := open_store(report.path)) is not None:
        stores[0] = store

    def on_progress(count: int) -> None:
        if progress is not None:
            done = report.tell() / (report.size or 1)
            progress(min(done, 1.0), f"{max(count, report.packets):,} packets read")

    precompute = None
    if ahead:            # while the reader works, search the weak-password dictionary ahead
        from sipscope.core.analysis.digest import FULL_SEARCH_ACCOUNTS, DigestPrecompute
        precompute = DigestPrecompute(getattr(options, "wordlist", None), FULL_SEARCH_ACCOUNTS)
        reader.idle = precompute.step
    session = build_session_from_reader(reader, [report], progress=on_progress,
                                        cancelled=cancelled, stores=stores,
                                        on_messages=precompute.offer if precompute else None)
    session.digest_ahead = precompute
    return session


def _analysed(session: Session, progress: Progress | None, cancelled, with_rules: bool,
              options) -> Session:
    release_free_memory()          # the builder's tables are gone: before the rules' indexes
    check_has_sip(session)
    if progress is not None:
        progress(1.0, "analysing")
    return analyze(session, options, cancelled) if with_rules else session


def load_text(text: str, format_name: str | None = None, with_rules: bool = True) -> Session:
    """Build a Session from pasted text (the GUI's clipboard import)."""
    report, datagrams = read_text(text, format_name)
    session = build_session(datagrams, [report], media_sink=None)
    check_has_sip(session)
    return analyze(session) if with_rules else session


def load_datagrams(datagrams: list[Datagram], report: InputReport | None = None,
                   with_rules: bool = True) -> Session:
    """Build and analyse a Session from ready datagrams (tests and synthetic traces)."""
    session = build_session(datagrams, [report or InputReport(path="<memory>", format="memory")],
                            media_sink=_media_collector())
    return analyze(session) if with_rules else session


def check_has_sip(session: Session) -> None:
    if session.messages:
        return
    parts = []
    for report in session.inputs:
        what = f"{report.path}: {report.format}, {report.packets:,} packets, no SIP found"
        if report.undecodable:
            listed = ", ".join(f"{count} packets {where}" for where, count in report.undecodable.items())
            what += f"; encrypted or undecodable: {listed} (SIP over TLS cannot be read without keys)"
        if report.stopped_at is not None:
            what += f"; reading stopped at byte {report.stopped_at:,}"
        parts.append(what)
    hint = ("Hint: sipscope reads SIP over UDP, TCP, SCTP, WebSocket and HEP on any port; "
            "for TLS, capture on the PBX before encryption or export decrypted SIP from Wireshark.")
    raise NoSipError("; ".join(parts) + ". " + hint)

"""Read and summarise one big capture in a second process while this one builds the model.

Reading a capture (record framing, link/IP/UDP/TCP decoding, reassembly) and the summary parse of
each SIP message (sip/summary.py) are about two thirds of a load; filing the messages into
transactions, dialogs and calls is the rest, and needs the whole model in one process.  With two
or more cores, a child process does the first part and sends every SIP message as one small tuple,
a few thousand per pickle, so both cores work at once (issue: big captures).  Media packets never
cross the pipe: the child keeps the MediaCollector (statistics, not packets) and sends it once at
the end, with the reader's report.

The child is started with "spawn" (a fresh interpreter), never "fork": the GUI loads from a worker
thread, and forking a process with threads is unsafe.  Anything that goes wrong before the first
record (the child cannot start, an import fails) makes `start_reader` return None and the caller
reads in-process as before; a NotACaptureError in the child is raised here with its own text.
"""

from __future__ import annotations

import multiprocessing
import os
import pickle
import time
from collections.abc import Iterator

from sipscope.core.model.builder import MAX_STORED_LENGTH
from sipscope.core.sources.datagram import InputReport

MIN_SIZE = 32 * 1024 * 1024       # smaller files load in a few seconds: not worth a process
BATCH = 2048                      # messages per pickle
PIPE_SIZE = 1 << 20               # bytes: Linux's default pipe-max-size
TICK_S = 0.2                      # progress at least this often while only media is read
ENV = "SIPSCOPE_READER_PROCESS"   # "0": never; "1": always (tests); unset: by size and cores
# The child summarises this share of the SIP messages and the parent the rest: reading alone is
# about a third of the load and filing another third, so this balances the two processes
# (measured on the generated SIP-heavy capture; SIPSCOPE_READER_PROCESS_SHARE overrides it).
CHILD_SHARE = 0.35


# InputReport fields a reader fills in while it reads (the rest are known when the file opens)
FINAL_FIELDS = tuple(name for name in InputReport.__dataclass_fields__
                     if name not in ("path", "tell", "size", "compressed"))


class ReaderProcessError(RuntimeError):
    """The reader process ended before it said it was done."""


_allowed = False


def allow() -> None:
    """Called by the application's entry points (CLI, GUI).  A spawned child imports the main
    script again, so a library user's script without an `if __name__ == "__main__":` guard would
    run twice: loads from other programs stay in one process unless SIPSCOPE_READER_PROCESS=1."""
    global _allowed
    _allowed = True


def wanted(paths: list[str]) -> bool:
    """Whether a load of `paths` should read in a child process."""
    setting = os.environ.get(ENV, "")
    if setting == "0" or len(paths) != 1 or paths[0] == "-" or not os.path.isfile(paths[0]):
        return False
    if not _spawn_can_start():
        return False
    if setting == "1":
        return True
    if not _allowed:
        return False
    if _cores() < 2:
        return False
    try:
        return os.path.getsize(paths[0]) >= MIN_SIZE
    except OSError:
        return False


def _cores() -> int:
    """CPUs this process may run on (a container or taskset may allow fewer than the machine)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def _spawn_can_start() -> bool:
    """A spawned child re-imports the parent's main script by path; with a script read from
    stdin (`python -`) there is no such file and the child would die at start.  A frozen build
    (PyInstaller) starts the child through multiprocessing.freeze_support() in __main__.py."""
    import sys
    if getattr(sys, "frozen", False):
        return True
    main_file = getattr(sys.modules.get("__main__"), "__file__", None)
    return main_file is None or os.path.exists(main_file)


class ReaderProcess:
    """The parent's side: `report` once opened, then `batches()`; `media` and `non_sip` after."""

    def __init__(self, path: str, format_name: str | None) -> None:
        context = multiprocessing.get_context("spawn")
        self._conn, child_end = context.Pipe(duplex=False)
        self._process = context.Process(target=_child_main, name="sipscope-reader",
                                        args=(child_end, path, format_name), daemon=True)
        self._process.start()
        child_end.close()
        self.report: InputReport | None = None
        self.media = None
        self.non_sip = 0
        self.count = 0                 # datagrams read (SIP and not)
        self._tell = 0
        # called while no batch is waiting, one small unit of work a call, until it says False
        self.idle = None

    def open(self) -> InputReport:
        """Wait for the child to open the file; raises the child's NotACaptureError."""
        kind, *rest = self._receive()
        if kind == "error":
            self.close()
            raise rest[0]
        if kind != "opened":
            self.close()
            raise ReaderProcessError(f"reader process said {kind!r} first")
        self.report = rest[0]
        self.report.tell = lambda: self._tell
        return self.report

    def batches(self) -> Iterator[list[tuple]]:
        """Lists of records (see _record) in capture order; an empty list is a progress tick.
        While the child has nothing ready, `idle()` (if set) runs one unit of work at a time."""
        while True:
            idle = self.idle
            while idle is not None and not self._conn.poll(0):
                if not idle():
                    break
            kind, *rest = self._receive()
            if kind == "batch":
                records, self._tell, self.report.packets, self.count = rest
                yield records
            elif kind == "end":
                records, final, self.media, self.non_sip, self.count = rest
                for name in FINAL_FIELDS:
                    setattr(self.report, name, getattr(final, name))
                self._tell = self.report.size
                if records:
                    yield records
                return
            elif kind == "error":
                raise rest[0]

    def _receive(self) -> tuple:
        try:
            return self._conn.recv()
        except (EOFError, OSError) as exc:
            self._process.join(1.0)
            raise ReaderProcessError(
                f"the reader process stopped unexpectedly (exit code {self._process.exitcode}); "
                f"set {ENV}=0 to read in one process") from exc

    def close(self) -> None:
        if self._process.is_alive():
            self._process.terminate()
        self._process.join(5.0)
        self._conn.close()


def start_reader(path: str, format_name: str | None) -> ReaderProcess | None:
    """A started reader process, or None when no process could be started here."""
    try:
        return ReaderProcess(path, format_name)
    except (OSError, RuntimeError, ValueError):
        return None


# -- the child ------------------------------------------------------------------------------------

def _child_main(conn, path: str, format_name: str | None) -> None:
    import signal
    signal.signal(signal.SIGINT, signal.SIG_IGN)   # Ctrl-C is the parent's: it stops us
    from sipscope.core.media.streams import MediaCollector
    from sipscope.core.sources.datagram import NotACaptureError
    from sipscope.core.sources.registry import open_input
    collector = MediaCollector()
    try:
        report, stream = open_input(path, format_name, 0, media_sink=collector.add)
    except NotACaptureError as exc:
        conn.send(("error", exc))
        conn.close()
        return
    tell = report.tell
    opened = InputReport(path=report.path, format=report.format, size=report.size,
                         compressed=report.compressed, excerpt=report.excerpt)
    conn.send(("opened", opened))
    in_file = not report.compressed        # offsets point into the file: the parent reads back
    sender = _Sender(conn)
    try:
        _child_loop(sender, stream, report, tell, collector, in_file)
    except _ParentGone:
        pass
    except Exception as exc:  # noqa: BLE001 - said to the parent, which raises it
        try:
            sender.send(("error", ReaderProcessError(f"reading {path} failed: "
                                                     f"{type(exc).__name__}: {exc}")))
        except _ParentGone:
            pass
    sender.close()


class _Sender:
    """Pickles and writes batches.  The pipe is widened to 1 MiB where Linux allows it
    (F_SETPIPE_SZ), so a batch fits and the reader rarely waits for the parent: with the default
    64 KiB, each batch took several blocking writes."""

    def __init__(self, conn) -> None:
        self._conn = conn
        _widen_pipe(conn.fileno())

    def send(self, obj) -> None:
        try:
            self._conn.send_bytes(pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL))
        except OSError:
            raise _ParentGone() from None

    def close(self) -> None:
        self._conn.close()


class _ParentGone(Exception):
    """The parent closed its end (cancelled, or failed)."""


def _widen_pipe(fd: int) -> None:
    try:
        import fcntl
        fcntl.fcntl(fd, getattr(fcntl, "F_SETPIPE_SZ", 1031), PIPE_SIZE)
    except (ImportError, OSError, ValueError):
        pass                              # not Linux, or above /proc/sys/fs/pipe-max-size


def _child_loop(conn, stream, report, tell, collector, in_file: bool) -> None:
    from sipscope.core.sip.summary import summary_fields, summary_head
    share = float(os.environ.get(ENV + "_SHARE", CHILD_SHARE))
    owed = 0.0                         # summaries the child owes to reach its share
    strings: dict = {}
    intern = strings.setdefault        # repeated strings pickle once per batch (pickle's memo)
    batch: list[tuple] = []

    def send(kind: str, *rest) -> None:
        conn.send((kind, *rest))
        strings.clear()                # the memo is per pickle: start each batch afresh

    non_sip = count = 0
    last_tick = time.monotonic()
    for datagram in stream:
        if datagram is None:                     # media went straight to the collector
            now = time.monotonic()
            if now - last_tick >= TICK_S:
                last_tick = now
                send("batch", batch, tell(), report.packets, count)
                batch = []
            continue
        count += 1
        payload = datagram.payload
        head = summary_head(payload) if b"SIP/" in payload else None
        if head is None:
            if collector.add(datagram.ts, datagram.src, datagram.dst, payload) is None:
                non_sip += 1
            continue
        owed += share
        if owed >= 1.0:
            owed -= 1.0
            batch.append(_record(datagram, summary_fields(payload, head), in_file, intern))
        else:
            batch.append(_record(datagram, None, in_file, intern))
        if len(batch) >= BATCH:
            last_tick = time.monotonic()
            send("batch", batch, tell(), report.packets, count)
            batch = []
    final = InputReport(path=report.path)
    for name in FINAL_FIELDS:
        setattr(final, name, getattr(report, name))
    conn.send(("end", batch, final, collector, non_sip, count))


def _record(datagram, fields: tuple | None, in_file: bool, intern) -> tuple:
    """(ts, src, dst, transport, payload, ref, frame, flags, note, summary fields or None).
    ref = (offset << 24) | length when the bytes can be read back from the file, and payload is
    then None (the pipe carries no message bytes that the file holds).  fields is None for the
    parent's share: it summarises those messages itself."""
    payload = datagram.payload
    ref = 0
    if in_file and datagram.offset >= 0 and len(payload) <= MAX_STORED_LENGTH:
        ref = (datagram.offset << 24) | len(payload)
        payload = None
    src, dst, transport = datagram.src, datagram.dst, datagram.transport
    return (datagram.ts, intern(src, src), intern(dst, dst), intern(transport, transport), payload,
            ref, datagram.frame, datagram.flags, datagram.note, fields)

"""Raw message bytes kept in the capture file instead of in memory (issue: big captures).

A UDP payload read from an uncompressed capture is a contiguous run of bytes in the file, so a
message only needs its offset and length; the bytes are read back through a read-only memory map
when a view or a rule needs them.  Reassembled, decompressed and text-trace payloads stay in memory.

Where the OS has pread (POSIX) the bytes are read with it rather than through a memory map: the
kernel's page cache serves both equally fast, but pages touched through a map count in the
process's resident size, so a rule pass over every message of a 500 MB file would look like
500 MB more memory.  Elsewhere (Windows) a read-only map is used.
"""

from __future__ import annotations

import mmap
import os
import time


class RawStore:
    """Read-only access to one capture file.  If the file is changed in place after loading
    (rewritten, truncated, another capture copied over it), reads would return wrong bytes:
    its size and modification time are checked again at most every CHECK_INTERVAL seconds of
    reading and on any short read, and from then on every read returns CHANGED_TEXT (which
    the raw view and the reports show) instead of bytes from the other content.  A file
    replaced by a new one (rename) is no problem: the open handle still reads the old one."""

    __slots__ = ("path", "_file", "_map", "_fd", "_identity", "_checked", "changed")

    def __init__(self, path: str) -> None:
        self.path = path
        self._file = open(path, "rb")
        self._fd = -1
        self._map = None
        self._identity = _identity(os.fstat(self._file.fileno()))
        self._checked = time.monotonic()
        self.changed: str | None = None     # why the bytes can no longer be trusted
        if _PREAD is not None:
            self._fd = self._file.fileno()
        elif self._identity[0]:
            self._map = mmap.mmap(self._file.fileno(), 0, access=mmap.ACCESS_READ)

    def get(self, offset: int, length: int) -> bytes:
        now = time.monotonic()
        if now - self._checked >= CHECK_INTERVAL:
            self._checked = now
            self.check()
        if self.changed is not None:
            return self.changed_bytes()
        if self._fd >= 0:
            try:
                data = _PREAD(self._fd, length, offset)
            except (OSError, ValueError):
                data = b""
        elif self._map is None:
            data = b""
        else:
            data = self._map[offset: offset + length]
        if len(data) != length:
            self.check()
            if self.changed is None:
                self.changed = f"{self.path} is shorter than when it was loaded"
            return self.changed_bytes()
        return data

    def check(self) -> str | None:
        """Compare the file with what was loaded; sets and returns .changed when it differs."""
        if self.changed is None and self._file is not None and not self._file.closed:
            try:
                now = _identity(os.fstat(self._file.fileno()))
            except (OSError, ValueError):
                return self.changed
            if now != self._identity:
                self.changed = (f"{self.path} changed on disk after it was loaded (size "
                                f"{self._identity[0]:,} -> {now[0]:,} bytes)")
        return self.changed

    def changed_bytes(self) -> bytes:
        return CHANGED_TEXT.format(why=self.changed).encode("utf-8", "replace")

    def close(self) -> None:
        if self._map is not None:
            self._map.close()
            self._map = None
        self._fd = -1
        self._file.close()


CHECK_INTERVAL = 1.0        # seconds of reading between two checks of the file
CHANGED_TEXT = ("[sipscope: the bytes of this message cannot be shown: {why}. Open the capture "
                "again to read it as it is now.]")


def _identity(stat: os.stat_result) -> tuple[int, int]:
    return stat.st_size, stat.st_mtime_ns


_PREAD = getattr(os, "pread", None)


def open_store(path: str) -> RawStore | None:
    """A store for a plain file, or None when the input is not a regular file (stdin, pipe)."""
    try:
        return RawStore(path) if os.path.isfile(path) else None
    except (OSError, ValueError):
        return None

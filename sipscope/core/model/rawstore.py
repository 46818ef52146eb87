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


class RawStore:
    """Read-only access to one capture file."""

    __slots__ = ("path", "_file", "_map", "_fd")

    def __init__(self, path: str) -> None:
        self.path = path
        self._file = open(path, "rb")
        self._fd = -1
        self._map = None
        if _PREAD is not None:
            self._fd = self._file.fileno()
        elif os.fstat(self._file.fileno()).st_size:
            self._map = mmap.mmap(self._file.fileno(), 0, access=mmap.ACCESS_READ)

    def get(self, offset: int, length: int) -> bytes:
        if self._fd >= 0:
            try:
                return _PREAD(self._fd, length, offset)
            except (OSError, ValueError):
                return b""
        if self._map is None:
            return b""
        return self._map[offset: offset + length]

    def close(self) -> None:
        if self._map is not None:
            self._map.close()
            self._map = None
        self._fd = -1
        self._file.close()


_PREAD = getattr(os, "pread", None)


def open_store(path: str) -> RawStore | None:
    """A store for a plain file, or None when the input is not a regular file (stdin, pipe)."""
    try:
        return RawStore(path) if os.path.isfile(path) else None
    except (OSError, ValueError):
        return None

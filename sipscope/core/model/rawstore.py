"""Raw message bytes kept in the capture file instead of in memory (issue: big captures).

A UDP payload read from an uncompressed capture is a contiguous run of bytes in the file, so a
message only needs its offset and length; the bytes are read back through a read-only memory map
when a view or a rule needs them.  Reassembled, decompressed and text-trace payloads stay in memory.
"""

from __future__ import annotations

import mmap
import os


class RawStore:
    """A read-only map of one capture file."""

    __slots__ = ("path", "_file", "_map")

    def __init__(self, path: str) -> None:
        self.path = path
        self._file = open(path, "rb")
        size = os.fstat(self._file.fileno()).st_size
        self._map = mmap.mmap(self._file.fileno(), 0, access=mmap.ACCESS_READ) if size else None

    def get(self, offset: int, length: int) -> bytes:
        if self._map is None:
            return b""
        return self._map[offset: offset + length]

    def close(self) -> None:
        if self._map is not None:
            self._map.close()
            self._map = None
        self._file.close()


def open_store(path: str) -> RawStore | None:
    """A store for a plain file, or None when the input is not a regular file (stdin, pipe)."""
    try:
        return RawStore(path) if os.path.isfile(path) else None
    except (OSError, ValueError):
        return None

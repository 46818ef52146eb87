"""Give memory that a finished bulk step freed back to the operating system.

Building a big session frees a lot at its end (the builder's lookup tables, the batches read from
the reader process); glibc keeps such memory in its heap for reuse, so the process stays that much
bigger while the fault rules allocate their own indexes.  `malloc_trim(0)` returns free heap pages
(about 50 MB after a million-message build, issue: big captures).  Elsewhere this does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

_trim = None
if sys.platform.startswith("linux"):
    try:
        _libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        _trim = getattr(_libc, "malloc_trim", None)      # glibc only (not musl)
    except OSError:
        _trim = None


def release_free_memory() -> bool:
    """True when the C library was asked to return free memory."""
    if _trim is None:
        return False
    _trim(0)
    return True

"""Writing an output file safely: never over an input, never half-written.

An output path that names one of the inputs (the same file, through any spelling, link or
relative path) is refused: `sipscope export -o trace.pcap trace.pcap` replaced the capture
with a PNG.  A file is written under a temporary name in the same directory and renamed over
the target only when complete (os.replace is atomic on POSIX and Windows), so a failed or
interrupted export leaves the previous file as it was.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager


# the process's umask, read once at import (os.umask can only be read by setting it)
_UMASK = os.umask(0o022)
os.umask(_UMASK)


class OutputError(Exception):
    """The output cannot be written where it was asked to go."""


def refuse_inputs(output: str, inputs: Iterable[str]) -> None:
    """OutputError when `output` is one of `inputs` ("-", standard input, never is)."""
    for name in inputs:
        if name == "-" or not os.path.exists(name):
            continue
        same = os.path.exists(output) and os.path.samefile(output, name)
        if same or os.path.realpath(output) == os.path.realpath(name):
            raise OutputError(f"the output {output} is the input file {name}: choose another "
                              "name (the capture would be overwritten)")


@contextmanager
def written_atomically(path: str, suffix: str = "") -> Iterator[str]:
    """A temporary path beside `path` to write to; renamed to `path` when the block ends
    without an error, removed otherwise."""
    directory = os.path.dirname(os.path.abspath(path))
    handle, temporary = tempfile.mkstemp(prefix=".sipscope-", suffix=suffix or ".tmp",
                                         dir=directory)
    os.close(handle)
    try:
        # mkstemp makes the file private (0600); the output gets what a plain open() gives
        os.chmod(temporary, 0o666 & ~_UMASK)
        yield temporary
        os.replace(temporary, path)
    except BaseException:
        try:
            os.unlink(temporary)
        except OSError:
            pass
        raise

"""Time to the call list: load and build the model of FILE as the GUI does, without the rules.

    python -m benchmarks.model_only FILE

The GUI shows the call list at this point and runs the fault rules afterwards in its worker, so
this is how long a tech waits before seeing calls.  Like the app, a big single file is read in
the reader process (core/model/reader_process.py).
"""

from __future__ import annotations

import os
import sys
import time


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    from sipscope.core.model import reader_process
    from sipscope.core.model.loader import load_files
    reader_process.allow()
    t0 = time.perf_counter()
    session = load_files(args, with_rules=False)
    print(f"{len(session.messages):,} messages, {len(session.calls):,} calls "
          f"in {time.perf_counter() - t0:.2f} s", flush=True)
    os._exit(0)       # like the sipscope command: the model is not freed object by object


if __name__ == "__main__":
    raise SystemExit(main())

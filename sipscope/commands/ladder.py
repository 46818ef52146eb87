"""`sipscope ladder FILE [--call N|CALL-ID] [--width W]`: a call's ladder diagram as text."""

from __future__ import annotations

import shutil
import sys

HELP = "print the ladder diagram of a call as text"


def add_arguments(parser, add_inputs) -> None:
    add_inputs(parser)
    parser.add_argument("--call", metavar="N|CALL-ID",
                        help="call number (as in `report`) or Call-ID; default: the call with the "
                             "worst finding, else the first INVITE call")
    parser.add_argument("--width", type=int, default=0,
                        help="characters per line (default: the terminal, or natural width "
                             "when the output is not a terminal)")
    parser.add_argument("--merge-hosts", action="store_true",
                        help="one column per host instead of per address:port")


def run(args) -> int:
    from sipscope.commands.selection import load_with_call
    from sipscope.core.ladder.ascii import render_ascii
    from sipscope.core.ladder.layout import build_layout
    session, call = load_with_call(args, "ladder")
    if call is None:
        return 1
    width = args.width or (shutil.get_terminal_size().columns if sys.stdout.isatty() else None)
    layout = build_layout(session, call.messages, merge_hosts=args.merge_hosts)
    if hasattr(sys.stdout, "reconfigure"):
        sys.stdout.reconfigure(errors="replace")
    sys.stdout.write(render_ascii(layout, width))
    return 0

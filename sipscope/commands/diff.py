"""`sipscope diff FILE --messages I,J | --branches A,B`: header or branch diff, side by side."""

from __future__ import annotations

import json
import shutil
import sys

HELP = "diff two messages or two branches of a fork set, header by header"


def add_arguments(parser, add_inputs) -> None:
    add_inputs(parser)
    parser.add_argument("--call", metavar="N|CALL-ID", help="the call (default: worst finding)")
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--messages", metavar="I,J", help="message indices of report --json")
    which.add_argument("--branches", metavar="A,B",
                       help="1-based positions in the call's largest fork set (default 1,2)")
    parser.add_argument("--json", action="store_true", help="the diff as JSON data")
    parser.add_argument("--all", action="store_true",
                        help="also show fields that always differ (branch, tags, CSeq number...)")
    parser.add_argument("--ignore-order", action="store_true", help="header order does not matter")
    parser.add_argument("--width", type=int, default=0, help="output width (default: terminal)")


class DiffSelectionError(Exception):
    """The arguments do not name two messages or two branches of this capture."""


def pick_pair(session, call_ref=None, messages=None, branches=None):
    """('messages', (m1, m2)) or ('branches', (b1, b2)) for the CLI options (shared with export)."""
    from sipscope.commands.selection import default_call
    if messages:
        try:
            first, second = (int(x) for x in messages.split(","))
            return "messages", (session.messages[first], session.messages[second])
        except (ValueError, IndexError):
            raise DiffSelectionError(f"--messages needs two indices 0..{len(session.messages) - 1}, "
                                     f"e.g. --messages 0,1") from None
    call = session.find_call(call_ref) if call_ref else default_call(session, want_fork=True)
    if call is None:
        raise DiffSelectionError(f"no call {call_ref!r} in this capture")
    fork = call.largest_fork
    if fork is None or len(fork.branches) < 2:
        raise DiffSelectionError(f"call {call.index + 1} ({call.call_id}) has no fork set; "
                                 "use --messages I,J to compare two messages")
    try:
        a, b = (int(x) for x in (branches or "1,2").split(","))
        return "branches", (fork.branches[a - 1], fork.branches[b - 1])
    except (ValueError, IndexError):
        raise DiffSelectionError(f"--branches needs two positions 1..{len(fork.branches)}") from None


def run(args) -> int:
    from sipscope.cli import load_for_cli
    from sipscope.core.export.diff_text import branch_diff_text, message_diff_text
    from sipscope.core.model.branch_diff import diff_branches
    from sipscope.core.model.diff import diff_messages
    session = load_for_cli(args)
    try:
        kind, pair = pick_pair(session, args.call, args.messages, args.branches)
    except DiffSelectionError as exc:
        print(f"sipscope diff: {exc}", file=sys.stderr)
        return 2
    width = args.width or shutil.get_terminal_size((120, 40)).columns
    if kind == "messages":
        left, right = pair
        diff = diff_messages(left.sip, right.sip, ignore_order=args.ignore_order,
                             left_index=left.index, right_index=right.index)
        if args.json:
            json.dump(diff.to_json(hide_volatile=not args.all), sys.stdout, indent=1)
            print()
            return 0
        print(f"message {left.index}: {left.label}  {left.src} -> {left.dst}")
        print(f"message {right.index}: {right.label}  {right.src} -> {right.dst}")
        print("\n".join(message_diff_text(diff, width, hide_volatile=not args.all)))
        return 0
    diff = diff_branches(*pair)
    if args.json:
        json.dump(diff.to_json(hide_volatile=not args.all), sys.stdout, indent=1)
        print()
        return 0
    print("\n".join(branch_diff_text(diff, width, hide_volatile=not args.all)))
    return 0

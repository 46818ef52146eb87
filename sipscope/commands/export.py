"""`sipscope export FILE --view ladder|timeline|diff|window -o OUT.png`: a picture for the ticket.

Works without a screen (the Qt offscreen platform is used when there is no display).  The ladder
is drawn whole, every message of the call, with the same painter as the GUI.  The other views
come from their own packages, imported only when asked for:

- timeline, window: sipscope.gui.export.timeline_image(session, call) / window_image(session, call)
  -> QImage (they need a QApplication, created here);
- diff: sipscope.render.diff_painter.diff_image(diff) -> QImage, for the MessageDiff
  (core/model/diff.diff_messages) or BranchDiff (core/model/branch_diff.diff_branches) chosen by
  --messages / --branches exactly as `sipscope diff` chooses them.
"""

from __future__ import annotations

import importlib
import inspect
import os
import sys

HELP = "save a call's ladder (or timeline, diff, main window) as a PNG image, headless"
VIEWS = ("ladder", "timeline", "diff", "window", "streams", "stream-analysis")
EXIT_OK, EXIT_ERROR = 0, 1

_APP = None     # keeps the QApplication of the timeline/window views alive


class ExportError(Exception):
    """The export cannot be made; the text says why (printed, exit status 1)."""


def add_arguments(parser, add_inputs) -> None:
    add_inputs(parser)
    parser.add_argument("--view", choices=VIEWS, default="ladder",
                        help="what to draw (default: ladder)")
    parser.add_argument("--call", metavar="N|CALL-ID",
                        help="call number (as in `report`) or Call-ID; default: the call with the "
                             "worst finding, else the first INVITE call")
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--messages", metavar="I,J",
                       help="diff: the two messages to compare; ladder: messages to highlight "
                            "(indices as in `report`)")
    which.add_argument("--branches", metavar="A,B",
                       help="diff: two branches of the call's largest fork set (default 1,2); "
                            "ladder: highlight those branches' messages")
    parser.add_argument("--stream", type=int, metavar="N",
                        help="stream-analysis: the call's stream N as listed by `report` "
                             "(default: the one with most lost packets)")
    parser.add_argument("--merge-hosts", action="store_true",
                        help="ladder: one column per host instead of per address:port")
    parser.add_argument("--scale", type=float, default=1.0,
                        help="pixels per layout pixel, e.g. 2 for a sharper image (default 1)")
    parser.add_argument("-o", "--output", required=True, metavar="OUT.png",
                        help="PNG file to write")
    parser.add_argument("--anonymize", action="store_true",
                        help="draw an anonymized copy of the capture (as `sipscope anonymize` "
                             "writes it): no address, number, name or domain of the original")


def run(args) -> int:
    if getattr(args, "anonymize", False):
        from sipscope.commands.anonymize import anonymized_inputs
        with anonymized_inputs(args):
            return _run(args)
    return _run(args)


def _run(args) -> int:
    from sipscope.cli import load_for_cli
    if not 0.25 <= args.scale <= 4:
        print("sipscope export: --scale must be between 0.25 and 4", file=sys.stderr)
        return EXIT_ERROR
    from sipscope.core.export.output import OutputError, refuse_inputs
    try:
        refuse_inputs(args.output, args.files)
    except OutputError as exc:
        print(f"sipscope export: {exc}", file=sys.stderr)
        return EXIT_ERROR
    session = load_for_cli(args)
    try:
        text = EXPORTERS[args.view](session, args)
    except (ExportError, OSError) as exc:
        print(f"sipscope export: {exc}", file=sys.stderr)
        return EXIT_ERROR
    print(text)
    return EXIT_OK


# -- choosing -----------------------------------------------------------------------------
def choose_call(session, ref: str | None):
    """The call named by --call, else the default one (worst finding, then first INVITE call)."""
    from sipscope.commands.selection import default_call
    if ref:
        call = session.find_call(ref)
        if call is None:
            raise ExportError(f"no call {ref!r}: give a number 1..{len(session.calls)} or a "
                              "Call-ID (see `sipscope report`)")
        return call
    call = default_call(session)
    if call is None:
        raise ExportError("the capture has no call to draw")
    return call


def _indices(text: str, session) -> set[int]:
    try:
        chosen = {int(part) for part in text.split(",") if part.strip()}
    except ValueError:
        raise ExportError(f"--messages takes message indices such as 3,7, not {text!r}") from None
    bad = sorted(i for i in chosen if not 0 <= i < len(session.messages))
    if bad:
        raise ExportError(f"no message {bad[0]}: indices go from 0 to {len(session.messages) - 1}")
    return chosen


def _branch_messages(text: str, call) -> set[int]:
    fork = call.largest_fork
    if fork is None:
        raise ExportError(f"call {call.index + 1} has no fork set, so --branches does not apply")
    chosen: set[int] = set()
    for part in text.split(","):
        if not part.strip().isdigit() or not 1 <= int(part) <= len(fork.branches):
            raise ExportError(f"--branches takes positions 1..{len(fork.branches)}, not {text!r}")
        chosen.update(m.index for m in fork.branches[int(part) - 1].messages)
    return chosen


# -- views ------------------------------------------------------------------------------
def export_ladder(session, args) -> str:
    from sipscope.core.ladder.layout import build_layout
    from sipscope.render.painter import paint_ladder
    from sipscope.render.png import render_to_png
    call = choose_call(session, args.call)
    selected: set[int] = set()
    if args.messages:
        selected = _indices(args.messages, session)
    elif args.branches:
        selected = _branch_messages(args.branches, call)
    from sipscope.core.media.table import stream_rows
    layout = build_layout(session, call.messages, merge_hosts=args.merge_hosts,
                          media_rows=stream_rows(session, call))
    from sipscope.core.export.caption import caption_lines
    from sipscope.render.caption import with_caption
    draw, full_width, full_height = with_caption(
        lambda painter, clip: paint_ladder(painter, layout, selected=selected, clip=clip),
        layout.width, layout.height, caption_lines(session, call, "ladder"))
    width, height = render_to_png(draw, full_width, full_height, args.output, scale=args.scale)
    return (f"wrote {args.output}: ladder of call {call.index + 1} ({len(call.messages):,} "
            f"messages, {len(layout.lanes)} columns), {width}x{height} px")


def export_timeline(session, args) -> str:
    return _gui_view(session, args, "timeline")


def export_window(session, args) -> str:
    return _gui_view(session, args, "window")


def _gui_view(session, args, name: str) -> str:
    call = choose_call(session, args.call)
    function = _optional("sipscope.gui.export", f"{name.replace('-', '_')}_image",
                         f"--view {name}")
    _qapplication()
    image = _call_view(function, f"--view {name}", session, call)
    image = _captioned(image, session, call, name)
    _save(image, args.output, args.scale)
    return (f"wrote {args.output}: {name} of call {call.index + 1}, "
            f"{image.width()}x{image.height()} px")


def export_diff(session, args) -> str:
    from sipscope.commands.diff import DiffSelectionError, pick_pair
    try:
        kind, pair = pick_pair(session, args.call, args.messages, args.branches)
    except DiffSelectionError as exc:
        raise ExportError(str(exc)) from None
    function = _optional("sipscope.render.diff_painter", "diff_image", "--view diff")
    if kind == "messages":
        from sipscope.core.model.diff import diff_messages
        left, right = pair
        diff = diff_messages(left.sip, right.sip, left_index=left.index, right_index=right.index)
        what = f"messages {left.index} and {right.index}"
    else:
        from sipscope.core.model.branch_diff import diff_branches
        diff = diff_branches(*pair)
        what = f"{pair[0].label} and {pair[1].label}"
    from sipscope.render.png import ensure_gui_app
    ensure_gui_app()
    first = pair[0] if kind == "messages" else pair[0].messages[0]
    call = session.call(first.call_id)
    if "scale" in inspect.signature(function).parameters:
        image = _call_view(function, "--view diff", diff, scale=args.scale)   # sharp at scale
        _save(_captioned(image, session, call, "diff", what), args.output, 1.0)
    else:
        image = _call_view(function, "--view diff", diff)
        _save(_captioned(image, session, call, "diff", what), args.output, args.scale)
    return f"wrote {args.output}: diff of {what}, {image.width()}x{image.height()} px"


def export_streams(session, args) -> str:
    return _gui_view(session, args, "streams")


def export_stream_analysis(session, args) -> str:
    from sipscope.core.media.table import stream_rows
    from sipscope.core.words import plural
    call = choose_call(session, args.call)
    rows = stream_rows(session, call)
    row = None
    if args.stream is not None:
        if not 1 <= args.stream <= len(rows):
            raise ExportError(f"call {call.index + 1} has {plural(len(rows), 'stream row')}; "
                              f"--stream takes 1..{len(rows)}" if rows else
                              f"call {call.index + 1} has no RTP stream in the capture")
        row = rows[args.stream - 1]
        if row.expected_only:
            raise ExportError(f"stream {args.stream} of call {call.index + 1} was negotiated but "
                              "never captured: there are no packets to analyse")
    function = _optional("sipscope.gui.export", "stream_analysis_image", "--view stream-analysis")
    _qapplication()
    image = _call_view(function, "--view stream-analysis", session, call, row)
    image = _captioned(image, session, call, "stream analysis",
                       f"stream {args.stream}" if args.stream is not None else "")
    _save(image, args.output, args.scale)
    return (f"wrote {args.output}: stream analysis of call {call.index + 1}, "
            f"{image.width()}x{image.height()} px")


EXPORTERS = {"ladder": export_ladder, "timeline": export_timeline, "diff": export_diff,
             "window": export_window, "streams": export_streams,
             "stream-analysis": export_stream_analysis}


# -- helpers ------------------------------------------------------------------------------
def _optional(module_name: str, function: str, what: str):
    """A function of a package that may not be part of this build yet."""
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ExportError(f"{what} is not available in this build ({module_name} cannot be "
                          f"imported: {exc})") from None
    found = getattr(module, function, None)
    if found is None:
        raise ExportError(f"{what} is not available in this build "
                          f"({module_name} has no {function}())")
    return found


def _call_view(function, what: str, *args, **kwargs):
    """Run another package's image function; its failure becomes one clear line (set
    SIPSCOPE_DEBUG=1 to get the traceback instead)."""
    try:
        return function(*args, **kwargs)
    except Exception as exc:  # noqa: BLE001 - the user gets a message, not a traceback
        if os.environ.get("SIPSCOPE_DEBUG"):
            raise
        raise ExportError(f"{what} failed: {type(exc).__name__}: {exc}") from None


def _qapplication():
    """A QApplication for widget-based views (offscreen when there is no display)."""
    global _APP
    from sipscope.render.png import headless, protect_none_refcount
    protect_none_refcount()
    if headless() and not os.environ.get("QT_QPA_PLATFORM"):
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
    from PySide6.QtWidgets import QApplication
    app = QApplication.instance()
    if app is None:
        app = _APP = QApplication([sys.argv[0] if sys.argv and sys.argv[0] else "sipscope"])
    elif not isinstance(app, QApplication):
        raise ExportError("a Qt GUI application without widgets is already running")
    return app


def _captioned(image, session, call, view: str, what: str = ""):
    """The picture under its caption: file, call, Call-ID, time origin and zone, version."""
    from sipscope.core.export.caption import caption_lines
    from sipscope.render.caption import image_with_caption
    if image is None or image.isNull():
        return image
    return image_with_caption(image, caption_lines(session, call, view, what))


def _save(image, path: str, scale: float) -> None:
    from PySide6.QtCore import Qt
    from sipscope.render.png import save_png
    if image is None or image.isNull():
        raise ExportError("the view produced an empty image")
    if scale != 1.0:
        image = image.scaled(round(image.width() * scale), round(image.height() * scale),
                             Qt.AspectRatioMode.KeepAspectRatio,
                             Qt.TransformationMode.SmoothTransformation)
    save_png(image, path)

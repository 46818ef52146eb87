"""Command line: `sipscope [FILE...]` opens the GUI; `sipscope report|ladder|diff|export ...`."""

from __future__ import annotations

import argparse
import gc
import json
import os
import sys

from sipscope import __version__

SUBCOMMANDS = ("report", "ladder", "diff", "export", "anonymize", "audio")
EXIT_OK, EXIT_ERROR, EXIT_NOT_A_CAPTURE = 0, 1, 2


def _add_inputs(parser: argparse.ArgumentParser, many: bool = True) -> None:
    parser.add_argument("files", nargs="+" if many else 1, metavar="FILE",
                        help="pcap/pcapng (optionally .gz) or a text trace; - reads standard input")
    parser.add_argument("--format", dest="format_name", metavar="NAME",
                        help="force a reader (pcap, ngrep, asterisk, freeswitch, sipp-log, raw)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sipscope", description=__doc__)
    parser.add_argument("--version", action="version", version=f"sipscope {__version__}")
    sub = parser.add_subparsers(dest="command")

    report = sub.add_parser("report", help="print calls, messages and findings")
    _add_inputs(report)
    report.add_argument("--json", action="store_true", help="one JSON object (see README)")
    report.add_argument("--summary", action="store_true", help="totals only")
    report.add_argument("--faults-only", action="store_true", help="only the findings")
    report.add_argument("--show-passwords", action="store_true",
                        help="show cracked weak passwords instead of masking them")
    report.add_argument("--wordlist", metavar="FILE", help="extra words for the weak-password check")
    for name, module in _extra_commands():
        module.add_arguments(sub.add_parser(name, help=module.HELP), _add_inputs)
    return parser


def _extra_commands():
    """Subcommands implemented in their own modules, listed explicitly.  A module that fails to
    import fails loudly (architecture: no command silently missing from --help)."""
    import importlib
    return [(name, importlib.import_module(f"sipscope.commands.{name}"))
            for name in SUBCOMMANDS if name != "report"]


_last_loaded: list = [None]     # the session of the last command, kept for entry()


def load_for_cli(args) -> "object":
    """Load the files named on the command line, with the analysis options applied."""
    from sipscope.core.analysis.options import AnalysisOptions
    from sipscope.core.model.loader import load_files
    options = AnalysisOptions(show_passwords=getattr(args, "show_passwords", False),
                              wordlist=getattr(args, "wordlist", None))
    _last_loaded[0] = None
    session = load_files(args.files, args.format_name, options=options)
    _last_loaded[0] = session
    return session


def run_report(args) -> int:
    from sipscope.core.export import report
    session = load_for_cli(args)
    out = sys.stdout
    if args.json:
        data = report.summary_json(session) if args.summary else report.session_json(session)
        json.dump(data, out, indent=1 if not args.summary else 2)
        out.write("\n")
    elif args.summary:
        out.write(report.summary_text(session))
    else:
        out.write(report.text_report(session, faults_only=args.faults_only))
    return EXIT_OK


def run_gui(files: list[str]) -> int:
    from sipscope.gui.app import run
    return run(files)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    from sipscope.core.model import reader_process
    reader_process.allow()          # our entry points are guarded: big files may use 2 cores
    from sipscope.core.model import gcpause
    gcpause.freeze_after_bulk_work()    # a loaded model is kept (the GUI collects what it drops)
    if not argv or (argv[0] not in SUBCOMMANDS and not argv[0].startswith("-")):
        return run_gui(argv)
    args = build_parser().parse_args(argv)
    if args.command is None:
        return run_gui([])
    from sipscope.core.sources.datagram import NotACaptureError
    from sipscope.core.untrusted import SafeWriter
    # every text the commands print may hold capture text or file names: no control characters
    # or bidi controls reach the terminal (core/untrusted.py)
    real_out, real_err = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = SafeWriter(real_out), SafeWriter(real_err)
    try:
        if args.command == "report":
            status = run_report(args)
        else:
            status = dict(_extra_commands())[args.command].run(args)
        sys.stdout.flush()
        # The process ends now: spare the collector a last walk over a million objects
        # (about 12 s at exit on a 1-million-message capture).
        gc.freeze()
        return status
    except NotACaptureError as exc:
        print(f"sipscope: {exc}", file=sys.stderr)
        return EXIT_NOT_A_CAPTURE
    except BrokenPipeError:
        return EXIT_OK
    except KeyboardInterrupt:
        return EXIT_ERROR
    finally:
        sys.stdout, sys.stderr = real_out, real_err


def entry() -> None:
    """The `sipscope` command: main(), then, when a command loaded a capture, leave without
    freeing its model -- a million messages take seconds to free and nothing needs them."""
    status = main()
    if _last_loaded[0] is not None:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        except BrokenPipeError:
            pass
        os._exit(status if isinstance(status, int) else EXIT_ERROR)
    raise SystemExit(status)


if __name__ == "__main__":
    entry()

"""`sipscope audio FILE [--call N|CALL-ID] -o call.wav`: a call's audio as a stereo WAV file.

Left channel: what the caller said (caller -> callee RTP); right: the callee (callee -> caller);
both on one time axis, silence where packets are missing.  G.711 µ-law and A-law, and G.722, are
decoded (core/media/audio.py); other codecs and SRTP are named in a sentence and left silent.
"""

from __future__ import annotations

import sys

HELP = "write a call's audio (G.711, G.722) as a stereo WAV: caller left, callee right"


def add_arguments(parser, add_inputs) -> None:
    add_inputs(parser)
    parser.add_argument("--call", metavar="N|CALL-ID",
                        help="call number (as in `report`) or Call-ID; default: the call with the "
                             "worst finding, else the first INVITE call")
    parser.add_argument("-o", "--output", required=True, metavar="OUT.wav",
                        help="WAV file to write")


def run(args) -> int:
    from sipscope.commands.selection import load_with_call
    from sipscope.core.ladder.layout import clean_text
    from sipscope.core.media.audio import call_audio, write_wav
    from sipscope.core.media.packets import session_paths
    from sipscope.core.media.table import stream_rows
    from sipscope.core.export.output import OutputError, refuse_inputs
    try:                            # never write over a capture (issue 17, class 9)
        refuse_inputs(args.output, args.files)
    except OutputError as exc:
        print(f"sipscope audio: {exc}", file=sys.stderr)
        return 1
    session, call = load_with_call(args, "audio")
    if call is None:
        return 1
    rows = [r for r in stream_rows(session, call) if r.direction is not None]
    if not rows:
        print(f"sipscope audio: call {call.index + 1} has no RTP stream in the capture",
              file=sys.stderr)
        return 1
    from sipscope.core.media.packets import changed_inputs
    changed = changed_inputs(session)
    if changed:                 # its packets would be another capture's (issue 17, class 9)
        print("sipscope audio: " + clean_text("; ".join(changed), 400), file=sys.stderr)
        return 1
    audio = call_audio(rows, session_paths(session))
    for note in audio.notes:             # capture text: no control characters to the terminal
        print(f"note: {clean_text(note, 400)}", file=sys.stderr)
    if not len(audio.left):
        print(f"sipscope audio: nothing of call {call.index + 1} could be decoded; no file "
              f"written", file=sys.stderr)
        return 1
    write_wav(args.output, audio)
    print(f"wrote {args.output}: call {call.index + 1}, {audio.seconds:.1f} s, stereo 8 kHz "
          f"(left: caller, right: callee)")
    return 0

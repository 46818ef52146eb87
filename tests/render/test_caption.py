"""Every exported PNG carries a caption: file, call number, Call-ID, time origin and zone, and
the sipscope version; drawn as text above the picture (the CLI's ladder, timeline and diff)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from sipscope import __version__


def test_caption_names_file_call_origin_and_version(data_dir):
    from sipscope.core.export.caption import caption_lines
    from sipscope.core.model.loader import load_files
    session = load_files([str(data_dir / "blog-grandstream-forked-call.txt")])
    call = session.calls[0]
    lines = caption_lines(session, call, "ladder")
    text = "\n".join(lines)
    assert f"sipscope {__version__}" in lines[0] and "call 1 of 1" in lines[0]
    assert f"Call-ID {call.call_id}" in lines[0]
    assert "file blog-grandstream-forked-call.txt" in text
    assert "times UTC; 0 s = 2009-05-08 09:40:18.325507 UTC (first message)" in text


def test_a_trace_without_times_says_so(tmp_path):
    from sipscope.core.export.caption import caption_lines
    from sipscope.core.model.loader import load_files
    trace = tmp_path / "pasted.txt"
    trace.write_text("OPTIONS sip:a@example.com SIP/2.0\nVia: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1\n"
                     "From: <sip:b@example.com>;tag=1\nTo: <sip:a@example.com>\nCall-ID: x1\n"
                     "CSeq: 1 OPTIONS\nContent-Length: 0\n\n")
    session = load_files([str(trace)])
    assert "times: none in the input" in caption_lines(session, session.calls[0], "ladder")[-1]


@pytest.mark.parametrize("view", ["ladder", "timeline", "diff"])
def test_the_exported_png_has_the_caption_band(view, data_dir, tmp_path, qapp):
    out = tmp_path / f"{view}.png"
    subprocess.run([sys.executable, "-m", "sipscope", "export",
                    str(data_dir / "blog-grandstream-forked-call.txt"), "--view", view,
                    "-o", str(out)], check=True, capture_output=True,
                   env={**__import__("os").environ, "QT_QPA_PLATFORM": "offscreen"})
    from sipscope.render.caption import caption_height
    from PySide6.QtGui import QImage
    image = QImage(str(out))
    band = int(caption_height(["x", "x", "x"]))
    dark = sum(1 for x in range(0, min(image.width(), 400)) for y in range(band)
               if QImage.pixelColor(image, x, y).lightness() < 100)
    assert dark > 200, f"no caption text in the top {band} px of the {view} PNG"

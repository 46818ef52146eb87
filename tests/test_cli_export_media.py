"""`sipscope export --view streams|stream-analysis` run as a user would, headless."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtGui import QImage

from tests.test_cli_export import TWO_CALLS, png_size, sipscope


def test_export_streams_table(tmp_path):
    out = tmp_path / "streams.png"
    result = sipscope("export", TWO_CALLS, "--view", "streams", "--call", "2", "-o", str(out))
    assert result.returncode == 0, result.stderr
    assert "streams of call 2" in result.stdout
    width, height = png_size(out)
    assert width >= 1500 and height > 60            # (a caption may be added above the table)


def test_export_stream_analysis_of_a_named_stream(tmp_path):
    out = tmp_path / "analysis.png"
    result = sipscope("export", TWO_CALLS, "--view", "stream-analysis", "--call", "1",
                      "--stream", "1", "-o", str(out))
    assert result.returncode == 0, result.stderr
    assert "stream analysis of call 1" in result.stdout
    image = QImage(str(out))
    blue = sum(1 for y in range(0, image.height(), 3) for x in range(0, image.width(), 3)
               if (c := image.pixelColor(x, y)).blue() > 200 and c.red() < 80)
    assert blue > 20                          # the delta curve is drawn


def test_export_stream_analysis_refuses_a_missing_stream(tmp_path):
    result = sipscope("export", TWO_CALLS, "--view", "stream-analysis", "--call", "1",
                      "--stream", "3", "-o", str(tmp_path / "x.png"))
    assert result.returncode == 1
    assert "call 1 has 1 stream row; --stream takes 1..1" in result.stderr + result.stdout
    assert not Path(tmp_path / "x.png").exists()

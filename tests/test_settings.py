"""Settings: recent files, preferences and geometry survive a restart; damage is ignored."""

from __future__ import annotations

import json

from sipscope import settings


def test_round_trip(tmp_path, monkeypatch):
    monkeypatch.setenv("SIPSCOPE_CONFIG_DIR", str(tmp_path))
    first = settings.load()
    assert first.recent_files == [] and first.get("hide_noise") is False
    (tmp_path / "a.pcap").write_bytes(b"")
    first.add_recent([str(tmp_path / "a.pcap")])
    first.set("merge_hosts", True)
    first.window_geometry = "AAEC"
    assert first.save()
    again = settings.load()
    assert again.recent_files == [str(tmp_path / "a.pcap")]
    assert again.last_directory == str(tmp_path)
    assert again.get("merge_hosts") is True and again.window_geometry == "AAEC"


def test_recent_list_is_most_recent_first_without_duplicates(tmp_path):
    state = settings.Settings()
    for name in ["a", "b", "a", "c"] + [f"x{i}" for i in range(12)]:
        state.add_recent([str(tmp_path / name)])
    assert len(state.recent_files) == settings.MAX_RECENT
    assert state.recent_files[0] == str(tmp_path / "x11")
    assert len(set(state.recent_files)) == len(state.recent_files)


def test_damaged_file_gives_defaults(tmp_path, monkeypatch):
    monkeypatch.setenv("SIPSCOPE_CONFIG_DIR", str(tmp_path))
    (tmp_path / "settings.json").write_text("{not json")
    assert settings.load().recent_files == []
    (tmp_path / "settings.json").write_text(json.dumps({"recent_files": "oops", "preferences": 3}))
    loaded = settings.load()
    assert loaded.recent_files == [] and loaded.get("findings_scope") == "call"


def test_only_settings_imports_appdirs():
    from pathlib import Path
    package = Path(settings.__file__).parent
    users = [p for p in package.rglob("*.py") if "import appdirs" in p.read_text()]
    assert users == [package / "settings.py"]

"""User settings: recent files, last directory, window geometry and preferences in one JSON file.

This is the only module that imports appdirs.  The file lives in the user config directory
(`~/.config/sipscope/settings.json` on Linux); SIPSCOPE_CONFIG_DIR overrides it (tests, portable
installs).  A missing or damaged file gives the defaults; saving writes a temporary file and
renames it, so a crash never leaves half a file behind.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import appdirs

APP_NAME = "sipscope"
MAX_RECENT = 10

DEFAULT_PREFERENCES: dict[str, object] = {
    "hide_noise": False,        # hide OPTIONS/REGISTER calls in the call list
    "merge_hosts": False,       # ladder: one column per host instead of per ip:port
    "timeline_lanes": "transaction",   # transaction | branch | dialog
    "findings_scope": "call",   # call | capture | overview (the fault panel's "By fault")
}


def config_dir() -> Path:
    override = os.environ.get("SIPSCOPE_CONFIG_DIR")
    return Path(override) if override else Path(appdirs.user_config_dir(APP_NAME, appauthor=False))


def settings_path() -> Path:
    return config_dir() / "settings.json"


@dataclass(slots=True)
class Settings:
    """What sipscope remembers between runs.  Geometry values are opaque base64 strings."""

    recent_files: list[str] = field(default_factory=list)
    last_directory: str = ""
    last_export_directory: str = ""     # where the last PNG went: the next save starts there
    window_geometry: str = ""
    window_state: str = ""
    splitter_state: dict[str, str] = field(default_factory=dict)
    preferences: dict[str, object] = field(default_factory=lambda: dict(DEFAULT_PREFERENCES))

    # -- recent files ---------------------------------------------------------------------
    def add_recent(self, paths: list[str]) -> None:
        """Put opened files at the top of the recent list (most recent first, no duplicates)."""
        for path in reversed(paths):
            absolute = os.path.abspath(path)
            if absolute in self.recent_files:
                self.recent_files.remove(absolute)
            self.recent_files.insert(0, absolute)
        del self.recent_files[MAX_RECENT:]
        if paths:
            self.last_directory = os.path.dirname(os.path.abspath(paths[0]))

    def existing_recent(self) -> list[str]:
        return [path for path in self.recent_files if os.path.exists(path)]

    def clear_recent(self) -> None:
        self.recent_files.clear()

    # -- preferences ----------------------------------------------------------------------
    def get(self, name: str, default=None):
        return self.preferences.get(name, DEFAULT_PREFERENCES.get(name, default))

    def set(self, name: str, value) -> None:
        self.preferences[name] = value

    # -- persistence ----------------------------------------------------------------------
    def save(self, path: Path | None = None) -> bool:
        """Write the settings; returns False (and keeps running) when the disk refuses."""
        target = path or settings_path()
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            temporary = target.with_suffix(".json.tmp")
            temporary.write_text(json.dumps(asdict(self), indent=1, sort_keys=True), "utf-8")
            os.replace(temporary, target)
            return True
        except OSError:
            return False


def load(path: Path | None = None) -> Settings:
    """The saved settings, or defaults when the file is missing or unreadable."""
    source = path or settings_path()
    try:
        data = json.loads(source.read_text("utf-8"))
    except (OSError, ValueError):
        return Settings()
    if not isinstance(data, dict):
        return Settings()
    settings = Settings()
    for item in fields(Settings):
        value = data.get(item.name)
        default = getattr(settings, item.name)
        if isinstance(value, type(default)):
            setattr(settings, item.name, value)
    settings.recent_files = [p for p in settings.recent_files if isinstance(p, str)][:MAX_RECENT]
    merged = dict(DEFAULT_PREFERENCES)
    merged.update(settings.preferences)
    settings.preferences = merged
    return settings

"""Start the desktop application: `run(files)` opens the files, or the bundled demo trace."""

from __future__ import annotations

import sys

from sipscope import __version__


def make_application(argv: list[str] | None = None):
    """The QApplication (created once) with sipscope's name, icon and a light Fusion style."""
    from sipscope.render.png import protect_none_refcount
    protect_none_refcount()         # PySide6 6.12 on Python 3.11: see render/png.py
    from PySide6.QtWidgets import QApplication
    app = QApplication.instance()
    if app is None:
        app = QApplication(argv if argv is not None else [sys.argv[0] if sys.argv else "sipscope"])
    from sipscope.gui.icons import app_icon
    app.setApplicationName("sipscope")
    app.setApplicationDisplayName("sipscope")
    app.setApplicationVersion(__version__)
    app.setOrganizationName("sipscope")
    app.setDesktopFileName("sipscope")
    app.setWindowIcon(app_icon())
    app.setStyle("Fusion")
    apply_light_palette(app)
    return app


def apply_light_palette(app) -> None:
    """A calm light palette: the ladder, timeline and PNG exports are drawn on white."""
    from PySide6.QtGui import QColor, QPalette
    palette = QPalette()
    colours = {
        QPalette.Window: "#f3f4f6", QPalette.WindowText: "#1f2328", QPalette.Base: "#ffffff",
        QPalette.AlternateBase: "#f6f8fa", QPalette.Text: "#1f2328", QPalette.Button: "#f6f8fa",
        QPalette.ButtonText: "#1f2328", QPalette.Highlight: "#cfe3ff",
        QPalette.HighlightedText: "#0b1f33", QPalette.ToolTipBase: "#ffffe8",
        QPalette.ToolTipText: "#1f2328", QPalette.PlaceholderText: "#8c959f",
        QPalette.Link: "#0b5cad", QPalette.Mid: "#d0d7de", QPalette.Midlight: "#e6e9ed",
    }
    for role, value in colours.items():
        palette.setColor(role, QColor(value))
    palette.setColor(QPalette.Disabled, QPalette.Text, QColor("#8c959f"))
    palette.setColor(QPalette.Disabled, QPalette.WindowText, QColor("#8c959f"))
    palette.setColor(QPalette.Disabled, QPalette.ButtonText, QColor("#8c959f"))
    app.setPalette(palette)


def open_window(files: list[str]):
    """The main window, shown, loading `files` (or the bundled demo trace when none)."""
    from sipscope.gui.launcher import Launcher
    return Launcher().start(files)


def run(files: list[str]) -> int:
    """Open the main window with `files` (or the demo trace) and run the event loop.

    A sipscope already running for this user takes the files instead (single_instance; with
    no files it comes to the front), and this process ends at once; `-` (standard input)
    cannot be handed over and is read here."""
    app = make_application()
    from sipscope.gui import single_instance
    handing_over = single_instance.enabled() and "-" not in files
    if handing_over and single_instance.hand_over(files):
        return 0
    from sipscope.gui.launcher import FileOpenFilter, Launcher
    launcher = Launcher()
    app.installEventFilter(FileOpenFilter(launcher, app))
    server = None
    if single_instance.enabled():
        server = single_instance.InstanceServer(launcher.open_paths, parent=app)
        server.listen()
    window = launcher.start(files)
    from sipscope.gui import smoke
    if smoke.requested():
        smoke.watch(app, window)
    code = app.exec()
    if server is not None:
        server.close()
    del launcher
    return code


if __name__ == "__main__":
    raise SystemExit(run(sys.argv[1:]))

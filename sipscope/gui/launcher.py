"""The windows of one running sipscope, and every way a file reaches them.

Files arrive on the command line, from a second start (single_instance.InstanceServer) and, on
macOS, as a QFileOpenEvent: Finder sends a double-clicked document to the running application
as an event, not in argv.  All three end in `Launcher.open_paths`: a window that shows only the
demo trace (or nothing) takes the files, otherwise a new window opens; the window is raised.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject


class FileOpenFilter(QObject):
    """Application event filter: QEvent.FileOpen (macOS Finder, `open -a`) -> launcher."""

    def __init__(self, launcher: "Launcher", parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._launcher = launcher

    def eventFilter(self, watched, event) -> bool:   # noqa: N802 - Qt override
        if event.type() == QEvent.FileOpen:
            path = event.file() or event.url().toLocalFile()
            if path:
                self._launcher.open_paths([path])
                return True
        return False


class Launcher(QObject):
    """Creates main windows and routes file-open requests to them."""

    def __init__(self, settings_loader=None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        if settings_loader is None:
            from sipscope import settings as settings_module
            settings_loader = settings_module.load
        self._settings_loader = settings_loader
        self.windows: list = []

    def new_window(self):
        from sipscope.gui.main_window import MainWindow
        window = MainWindow(settings=self._settings_loader())
        self.windows.append(window)
        window.destroyed.connect(lambda _=None, w=window: self._forget(w))
        window.closed.connect(lambda w=window: self._forget(w))
        window.show()
        return window

    def start(self, files: list[str]):
        """The first window: `files`, or the demo trace when there are none."""
        window = self.new_window()
        if files:
            window.open_files(list(files))
        else:
            window.open_demo()
        return window

    def open_paths(self, paths: list[str]) -> None:
        """Open `paths` in the window that holds only the demo (or nothing), else in a new one,
        and bring that window to the front.  No paths (a second plain `sipscope`): the newest
        window comes to the front."""
        if not paths:
            window = self.windows[-1] if self.windows else self.start([])
        else:
            window = next((w for w in self.windows if w.replaceable), None) or self.new_window()
            window.open_files(list(paths))
        raise_window(window)

    def _forget(self, window) -> None:
        if window in self.windows:
            self.windows.remove(window)


def raise_window(window) -> None:
    """Bring a window to the front (un-minimise it first)."""
    from PySide6.QtCore import Qt
    window.setWindowState((window.windowState() & ~Qt.WindowMinimized) | Qt.WindowActive)
    window.show()
    window.raise_()
    window.activateWindow()

"""File > Anonymize capture…: anonymized copies of the loaded inputs, written in a worker.

The same thing as `sipscope anonymize` (core/export/anonymize.py): one input asks for the output
file (NAME.anon.EXT proposed beside it), several ask for a folder that receives NAME.anon.EXT
for each.  The work runs on the global thread pool, never on the GUI thread; the banner says
what was written, or why not.
"""

from __future__ import annotations

import os

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QFileDialog


class _Signals(QObject):
    done = Signal(str, str)        # what was written, error ("" on success)


class _AnonymizeTask(QRunnable):
    def __init__(self, pairs: list[tuple[str, str]]) -> None:
        super().__init__()
        self.pairs = pairs
        self.signals = _Signals()

    def run(self) -> None:
        from sipscope.core.export.anonymize import anonymize_files
        try:
            result = anonymize_files(self.pairs)
            written = ", ".join(target for _, target in self.pairs)
            self.signals.done.emit(f"Anonymized copy written: {written}. "
                                   + "; ".join(result.summary()[1:]), "")
        except Exception as exc:  # noqa: BLE001 - reported in the banner
            self.signals.done.emit("", str(exc))


class AnonymizeAction(QObject):
    """The menu action and what it runs; `finished` tells tests and the window it is done."""

    finished = Signal(str, str)     # message, error

    def __init__(self, window) -> None:
        super().__init__(window)
        self.window = window
        self.action = QAction("&Anonymize capture for a ticket…", window)
        self.action.setToolTip("Write a copy of the capture with every address, number, name "
                               "and domain replaced by a consistent pseudonym")
        self.action.triggered.connect(lambda: self.run())
        self.dialog: QFileDialog | None = None      # tests drive it
        self._running: set = set()

    def inputs(self) -> list[str]:
        session = self.window.controller.session
        paths = [str(report.path) for report in session.inputs] if session else []
        return [path for path in paths if os.path.isfile(path)]

    def run(self, target: str | None = None) -> None:
        inputs = self.inputs()
        if not inputs:
            self.window.banner.set_only("warning", "Open a capture file first: a pasted trace "
                                        "has no file to copy (save it to a file and open it).")
            return
        if target is None:
            target = self._ask(inputs)
            if not target:
                return
        from sipscope.commands.anonymize import output_pairs
        task = _AnonymizeTask(output_pairs(inputs, target))
        task.signals.done.connect(self._done)
        self._running.add(task.signals)
        self.window.statusBar().showMessage("Anonymizing…")
        QThreadPool.globalInstance().start(task)

    def _ask(self, inputs: list[str]) -> str:
        from sipscope.core.export.anonymize import output_path
        if len(inputs) == 1:
            dialog = QFileDialog(self.window, "Save anonymized copy as",
                                 output_path(inputs[0], None, False))
            dialog.setAcceptMode(QFileDialog.AcceptSave)
            dialog.setOption(QFileDialog.DontConfirmOverwrite, False)
        else:
            dialog = QFileDialog(self.window, "Folder for the anonymized copies",
                                 os.path.dirname(os.path.abspath(inputs[0])))
            dialog.setFileMode(QFileDialog.Directory)
            dialog.setOption(QFileDialog.ShowDirsOnly, True)
        self.dialog = dialog
        if not dialog.exec() or not dialog.selectedFiles():
            return ""
        chosen = dialog.selectedFiles()[0]
        return chosen + os.sep if len(inputs) > 1 else chosen

    def _done(self, message: str, error: str) -> None:
        self._running = {s for s in self._running if s is not self.sender()}
        if error:
            self.window.banner.set_only("error", f"Anonymizing failed: {error}")
        else:
            self.window.banner.set_only("info", message)
            self.window.statusBar().showMessage("Anonymized copy written", 6000)
        self.finished.emit(message, error)

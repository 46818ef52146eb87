"""The main window: menus, the views around one Controller, loading status, export and DnD.

    +------------------------------------------------------------------------------------+
    | File  Edit  View  Help                                                            |
    | [Open] [Paste] [Export PNG]                                                        |
    | ! banner: damaged file / excerpt / load error (plain text)                    [x]  |
    |-------------------------------+----------------------------------------------------|
    | Calls  [filter.......] [ ]noise | [ Ladder | Timeline | Diff ]                      |
    |  #  Time  From  To  Status ...  |   lanes / arrows  (the selected call)             |
    |                                 |                                                  |
    |-------------------------------+|--------------------------------+-----------------|
    | Findings (o) call ( ) all       | messages of the call           | raw message     |
    |  HEADLINE ...                   |  #  Time  Delta  Src -> Dst    | SIP/2.0 200 OK  |
    |-------------------------------+----------------------------------------------------|
    | 3 calls · 16 messages · 4 findings · demo.txt          [=====      ] [Cancel]      |
    +------------------------------------------------------------------------------------+
"""

from __future__ import annotations

import os

from PySide6.QtCore import QByteArray, QObject, QRunnable, Qt, QThreadPool, Signal
from PySide6.QtGui import QAction, QFontDatabase, QGuiApplication, QKeySequence
from PySide6.QtWidgets import (QFileDialog, QLabel, QMainWindow, QMessageBox,
                               QProgressBar, QPushButton, QSplitter, QStyle, QTabWidget,
                               QVBoxLayout, QWidget)

from sipscope import __version__
from sipscope.core.export.output import OutputError, refuse_inputs
from sipscope.core.untrusted import visible_controls
from sipscope.gui.anonymize_action import AnonymizeAction
from sipscope.gui.banner import Banner
from sipscope.gui.controller import Controller
from sipscope.gui.icons import app_icon
from sipscope.core.analysis.text import plural
from sipscope.core.export.caption import caption_lines
from sipscope.gui import keyboard, window_geometry
from sipscope.render.caption import image_with_caption, with_caption
from sipscope.gui.resources import demo_trace
from sipscope.gui.views.call_list import CallListView
from sipscope.gui.views.fault_panel import FaultPanel
from sipscope.gui.views.ladder_view import LadderView
from sipscope.gui.views.message_list import MessageListView
from sipscope.gui.views.raw_view import RawView
from sipscope.gui.views.stream_analysis import StreamAnalysisView
from sipscope.gui.views.streams_view import StreamsView
from sipscope.gui.views.timeline_view import TimelineView

APP_TITLE = "sipscope"
OPEN_FILTER = ("Captures and traces (*.pcap *.pcapng *.cap *.gz *.txt *.log *.sip *.ngrep);;"
               "All files (*)")
DIFF_HINT = "Select two messages (Ctrl-click) or two branches to compare them."
LADDER_TAB, TIMELINE_TAB, DIFF_TAB = range(3)

STYLE_SHEET = """
QLabel#countLabel { color: #57606a; }
QLabel#emptyLabel { color: #6e7781; padding: 24px; }
QLabel#rawTitle { color: #24292f; padding: 3px 4px; background: #f6f8fa;
                  border-bottom: 1px solid #d0d7de; }
QLabel#rawWarnings { color: #4d3000; background: #fff4e0; padding: 3px 6px; }
QLabel#paneTitle { font-weight: bold; padding: 4px 6px 2px 6px; }
QTabWidget::pane { border-top: 1px solid #d0d7de; }
QSplitter::handle { background: #e6e9ed; }
"""


def make_diff_view(controller, parent):
    """The diff helper's DiffView wired to the controller, or a hint label when it is absent.

    DiffView is controller-agnostic (show_messages / show_branches / clear, and
    sig_message_clicked); the window feeds it: two selected branches give a branch diff, two
    selected messages a header diff; the last diff stays until another pair is chosen."""
    try:
        from sipscope.gui.views.diff_view import DiffView
    except ImportError:
        label = QLabel(DIFF_HINT, parent)
        label.setTextFormat(Qt.PlainText)
        label.setAlignment(Qt.AlignCenter)
        label.setObjectName("emptyLabel")
        return label
    view = DiffView(parent)

    def follow(selection) -> None:
        session = controller.session
        if selection.origin == "diff" or session is None:
            return
        if len(selection.branches) == 2:
            view.show_branches(session, *selection.branches)
        elif len(selection.messages) == 2 and not selection.branches and \
                selection.finding is None:
            left, right = (session.messages[i] for i in selection.messages)
            view.show_messages(session, left, right)

    controller.sig_selection_changed.connect(follow)
    controller.sig_session_changed.connect(lambda _: view.clear())
    view.sig_message_clicked.connect(
        lambda index: controller.select_messages([index], origin="diff"))
    return view


class _SaveSignals(QObject):
    done = Signal(str, str)        # path, error ("" on success)


class _SaveImageTask(QRunnable):
    """Render and write a PNG off the GUI thread: `write(path)` does both."""

    def __init__(self, write, path: str) -> None:
        super().__init__()
        self.write = write
        self.path = path
        self.signals = _SaveSignals()

    def run(self) -> None:
        try:
            self.write(self.path)
            self.signals.done.emit(self.path, "")
        except Exception as exc:  # noqa: BLE001 - reported in the banner
            self.signals.done.emit(self.path, str(exc))


def _image_writer(image):
    def write(path: str) -> None:
        from sipscope.render.png import save_png
        if image is None or image.isNull():
            raise OSError("nothing to export: the view is empty")
        save_png(image, path)
    return write


class MainWindow(QMainWindow):
    export_finished = Signal(str, str)      # path, error ("" when written)
    closed = Signal()                       # the launcher forgets the window

    def __init__(self, controller: Controller | None = None, settings=None) -> None:
        super().__init__()
        self.controller = controller or Controller(self)
        self.settings = settings
        self._tasks: set = set()
        self._showing_demo = False
        self.setWindowTitle(APP_TITLE)
        self.setWindowIcon(app_icon())
        self.setAcceptDrops(True)
        self.setStyleSheet(STYLE_SHEET)

        self.banner = Banner(self)
        self.calls_view = CallListView(self.controller, settings, self)
        self.fault_panel = FaultPanel(self.controller, settings, self)
        self.fault_panel.fault_chosen.connect(self.calls_view.show_fault)
        self.fault_panel.reference_requested.connect(self.show_fault_reference)
        self.ladder_view = LadderView(self.controller, settings, self)
        self.timeline_view = TimelineView(self.controller, settings, self)
        self.diff_view = make_diff_view(self.controller, self)
        self.streams_view = StreamsView(self.controller, self)
        self.stream_analysis_view = StreamAnalysisView(self.controller, self)
        self.message_view = MessageListView(self.controller, self)
        self.raw_view = RawView(self.controller, self)

        self.tabs = QTabWidget(self)
        self.tabs.setDocumentMode(True)
        self.tabs.addTab(self.ladder_view, "Ladder")
        self.tabs.addTab(self.timeline_view, "Timeline")
        self.tabs.addTab(self.diff_view, "Diff")
        self.tabs.addTab(self.streams_view, "Streams")
        self.tabs.addTab(self.stream_analysis_view, "Stream analysis")

        self.left_split = QSplitter(Qt.Vertical, self)
        self.left_split.addWidget(self._titled("Calls", self.calls_view))
        self.left_split.addWidget(self.fault_panel)
        self.left_split.setStretchFactor(0, 3)
        self.left_split.setStretchFactor(1, 4)
        self.bottom_split = QSplitter(Qt.Horizontal, self)
        self.bottom_split.addWidget(self._titled("Messages", self.message_view))
        self.bottom_split.addWidget(self.raw_view)
        self.bottom_split.setStretchFactor(0, 5)
        self.bottom_split.setStretchFactor(1, 4)
        self.right_split = QSplitter(Qt.Vertical, self)
        self.right_split.addWidget(self.tabs)
        self.right_split.addWidget(self.bottom_split)
        self.right_split.setStretchFactor(0, 3)
        self.right_split.setStretchFactor(1, 2)
        self.main_split = QSplitter(Qt.Horizontal, self)
        self.main_split.addWidget(self.left_split)
        self.main_split.addWidget(self.right_split)
        self.main_split.setStretchFactor(0, 2)
        self.main_split.setStretchFactor(1, 5)
        for split in self._splitters().values():
            split.setChildrenCollapsible(False)
            split.setHandleWidth(5)

        central = QWidget(self)
        column = QVBoxLayout(central)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(0)
        column.addWidget(self.banner)
        column.addWidget(self.main_split, 1)
        self.setCentralWidget(central)

        self._build_status_bar()
        self._build_actions()
        self._connect()
        keyboard.install(self)
        self._restore_geometry()

    # -- layout helpers ----------------------------------------------------------------------
    def _titled(self, title: str, widget: QWidget) -> QWidget:
        box = QWidget(self)
        layout = QVBoxLayout(box)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        label = QLabel(title, box)
        label.setTextFormat(Qt.PlainText)
        label.setObjectName("paneTitle")
        layout.addWidget(label)
        layout.addWidget(widget, 1)
        return box

    def _splitters(self) -> dict[str, QSplitter]:
        return {"main": self.main_split, "left": self.left_split, "right": self.right_split,
                "bottom": self.bottom_split}

    def _build_status_bar(self) -> None:
        bar = self.statusBar()
        self.summary_label = QLabel(self)
        self.summary_label.setTextFormat(Qt.PlainText)
        self.progress = QProgressBar(self)
        self.progress.setRange(0, 1000)
        self.progress.setFixedWidth(220)
        self.progress.setTextVisible(True)
        self.progress_text = QLabel(self)
        self.progress_text.setTextFormat(Qt.PlainText)
        self.cancel_button = QPushButton("Cancel", self)
        self.cancel_button.setToolTip("Stop loading (Esc)")
        self.cancel_button.clicked.connect(self.controller.cancel_load)
        bar.addWidget(self.summary_label, 1)
        bar.addPermanentWidget(self.progress_text)
        bar.addPermanentWidget(self.progress)
        bar.addPermanentWidget(self.cancel_button)
        self._show_progress(False)

    def _show_progress(self, on: bool) -> None:
        for widget in (self.progress, self.progress_text, self.cancel_button):
            widget.setVisible(on)

    # -- actions --------------------------------------------------------------------------------
    def _action(self, text: str, slot, shortcut=None, icon=None, checkable=False) -> QAction:
        action = QAction(text, self)
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
        if icon is not None:
            action.setIcon(self.style().standardIcon(icon))
        action.setCheckable(checkable)
        (action.toggled if checkable else action.triggered).connect(slot)
        self.addAction(action)
        return action

    def _build_actions(self) -> None:
        self.open_action = self._action("&Open…", self.open_dialog, QKeySequence.Open,
                                        QStyle.SP_DialogOpenButton)
        self.demo_action = self._action("Open &demo trace", self.open_demo)
        self.paste_action = self._action("&Paste trace", self.paste_trace, "Ctrl+Shift+V",
                                         QStyle.SP_FileDialogDetailedView)
        self.export_action = self._action("&Export current view as PNG…",
                                          self.export_current, "Ctrl+E", QStyle.SP_DialogSaveButton)
        self.export_ladder_action = self._action("&Ladder…", lambda: self.export_png("ladder"))
        self.export_timeline_action = self._action("&Timeline…",
                                                   lambda: self.export_png("timeline"))
        self.export_diff_action = self._action("&Diff…", lambda: self.export_png("diff"))
        self.export_window_action = self._action("&Whole window…",
                                                 lambda: self.export_png("window"))
        self.quit_action = self._action("&Quit", self.close, QKeySequence.Quit)
        self.filter_action = self._action("&Filter calls", self.calls_view.focus_filter,
                                          QKeySequence.Find)
        self.cancel_action = self._action("Cancel loading", self.controller.cancel_load,
                                          "Esc")
        self.noise_action = self._action("&Hide OPTIONS/REGISTER calls",
                                         self.calls_view.set_hide_noise, checkable=True)
        self.noise_action.setChecked(self.calls_view.noise_box.isChecked())
        self.calls_view.noise_box.toggled.connect(self.noise_action.setChecked)
        self.merge_action = self._action("&Merge ladder columns for the same host",
                                         self.ladder_view.set_merge_hosts, checkable=True)
        self.merge_action.setChecked(self.ladder_view.merge_box.isChecked())
        self.ladder_view.merge_box.toggled.connect(self.merge_action.setChecked)
        self.all_findings_action = self._action("Findings of &all calls",
                                                self.fault_panel.set_capture_scope,
                                                checkable=True)
        self.all_findings_action.setChecked(self.fault_panel.capture_scope)
        self.fault_panel.all_button.toggled.connect(self.all_findings_action.setChecked)
        self.tab_actions = [
            self._action("&Ladder", lambda: self.tabs.setCurrentIndex(LADDER_TAB), "Ctrl+1"),
            self._action("&Timeline", lambda: self.tabs.setCurrentIndex(TIMELINE_TAB), "Ctrl+2"),
            self._action("&Diff", lambda: self.tabs.setCurrentIndex(DIFF_TAB), "Ctrl+3"),
        ]
        self.about_action = self._action("&About sipscope", self.about)
        self.keys_action = self._action("&Keyboard shortcuts", self.show_keys, "F1")
        self.reference_action = self._action("&Fault reference", self.show_fault_reference,
                                             "Shift+F1")

        menu = self.menuBar().addMenu("&File")
        menu.addAction(self.open_action)
        self.recent_menu = menu.addMenu("Open &recent")
        self.recent_menu.aboutToShow.connect(self._fill_recent)
        menu.addAction(self.demo_action)
        menu.addSeparator()
        export = menu.addMenu("Export &PNG")
        for action in (self.export_ladder_action, self.export_timeline_action,
                       self.export_diff_action, self.export_window_action):
            export.addAction(action)
        menu.addAction(self.export_action)
        self.anonymize = AnonymizeAction(self)          # File > Anonymize capture for a ticket
        menu.addAction(self.anonymize.action)
        menu.addSeparator()
        menu.addAction(self.quit_action)
        menu = self.menuBar().addMenu("&Edit")
        menu.addAction(self.paste_action)
        menu.addAction(self.filter_action)
        menu = self.menuBar().addMenu("&View")
        for action in self.tab_actions:
            menu.addAction(action)
        menu.addSeparator()
        menu.addAction(self.noise_action)
        menu.addAction(self.merge_action)
        menu.addAction(self.all_findings_action)
        menu = self.menuBar().addMenu("&Help")
        menu.addAction(self.keys_action)
        menu.addAction(self.reference_action)
        menu.addAction(self.about_action)

        toolbar = self.addToolBar("Main")
        toolbar.setObjectName("mainToolbar")
        toolbar.setMovable(False)
        toolbar.setToolButtonStyle(Qt.ToolButtonTextBesideIcon)
        toolbar.addAction(self.open_action)
        toolbar.addAction(self.paste_action)
        toolbar.addAction(self.export_action)

    def _connect(self) -> None:
        c = self.controller
        c.sig_load_started.connect(self._on_load_started)
        c.sig_load_progress.connect(self._on_progress)
        c.sig_load_finished.connect(self._on_load_finished)
        c.sig_load_failed.connect(self._on_load_failed)
        c.sig_load_cancelled.connect(self._on_load_cancelled)
        c.sig_notice.connect(self.banner.add)
        c.sig_session_changed.connect(self._update_summary)
        c.sig_findings_changed.connect(self._update_summary)
        c.sig_calls_changed.connect(lambda _: self._update_title())
        c.sig_selection_changed.connect(self._hint_pair)

    # -- loading ----------------------------------------------------------------------------
    def open_files(self, paths: list[str]) -> None:
        paths = [str(p) for p in paths if str(p)]
        if not paths:
            return
        missing = [p for p in paths if not os.path.exists(p) and p != "-"]
        if missing:
            self.banner.set_only("error", "File not found: " + ", ".join(missing))
            paths = [p for p in paths if p not in missing]
            if not paths:
                return
        if self.settings is not None:
            self.settings.add_recent(paths)
        self._showing_demo = False
        self.controller.open_files(paths)

    @property
    def replaceable(self) -> bool:
        """Nothing of the user's is open: only the demo trace, or no capture at all."""
        if self._showing_demo:
            return True
        return self.controller.session is None and not self.controller.loading

    def open_dialog(self) -> None:
        start = self.settings.last_directory if self.settings is not None else ""
        paths, _ = QFileDialog.getOpenFileNames(self, "Open captures", start, OPEN_FILTER)
        if paths:
            self.open_files(paths)

    def open_demo(self) -> None:
        path = demo_trace()
        if path is None:
            self.banner.set_only("error", "The demo trace is not installed with this copy.")
            return
        self._showing_demo = True
        self.controller.open_files([str(path)])

    def paste_trace(self) -> None:
        text = QGuiApplication.clipboard().text()
        if not text.strip():
            self.banner.set_only("warning", "The clipboard holds no text. Copy a SIP trace "
                                            "(ngrep output, a PBX debug log, raw SIP) first.")
            return
        self._showing_demo = False
        self.controller.load_text(text, "pasted text")

    def _fill_recent(self) -> None:
        self.recent_menu.clear()
        recent = self.settings.existing_recent() if self.settings is not None else []
        for path in recent:
            action = self.recent_menu.addAction(path.replace("&", "&&"))   # no accelerators
            action.triggered.connect(lambda _=False, p=path: self.open_files([p]))
        if not recent:
            empty = self.recent_menu.addAction("No recent files")
            empty.setEnabled(False)
        else:
            self.recent_menu.addSeparator()
            clear = self.recent_menu.addAction("Clear list")
            clear.triggered.connect(lambda: self.settings.clear_recent())

    def _on_load_started(self, label: str) -> None:
        self.banner.clear()
        self.progress.setValue(0)
        self.progress_text.setText(f"Loading {label}")
        self._show_progress(True)
        self._loading_label = label

    def _on_progress(self, fraction: float, text: str) -> None:
        self.progress.setValue(int(fraction * 1000))
        self.progress.setFormat(f"{fraction * 100:.0f} %")
        self.progress_text.setText(text)

    def _on_load_finished(self, _session) -> None:
        self._show_progress(False)
        self._update_title()

    def _on_load_failed(self, _text: str) -> None:
        self._show_progress(False)

    def _on_load_cancelled(self) -> None:
        self._show_progress(False)
        if self.controller.analysis_cancelled:
            self._update_summary()
            self.banner.add("info", "Fault analysis cancelled: the calls are shown without "
                                    "findings. Open the file again to analyse it.")
        else:
            self.banner.set_only("info", "Loading cancelled.")

    # -- status ------------------------------------------------------------------------------
    def _update_summary(self, session=None) -> None:
        session = self.controller.session
        if session is None:
            self.summary_label.setText("No capture loaded.")
            self._update_title()
            return
        inputs = ", ".join(f"{str(r.path).rsplit('/', 1)[-1]} ({r.format})" for r in session.inputs)
        errors = sum(1 for f in session.findings if f.severity == "error" and not f.inconclusive)
        if self.controller.analysing:
            found = "analysing…"
        elif self.controller.analysis_cancelled:
            found = "no findings (analysis cancelled)"
        else:
            found = f"{len(session.findings):,} findings" + (f" ({errors} errors)" if errors else "")
        parts = [f"{len(session.calls):,} calls", f"{len(session.messages):,} messages", found]
        if session.media is not None and getattr(session.media, "streams", None):
            parts.append(plural(len(session.media.streams), "RTP stream"))
        self.summary_label.setText(" · ".join(parts) + "   —   " + visible_controls(inputs))
        self._update_title()

    def _update_title(self) -> None:
        label = self.controller.source_label
        call = self.controller.selection.call
        title = APP_TITLE
        if label:
            title = f"{visible_controls(label)} — {APP_TITLE}"
        if call is not None:
            title = f"Call {call.index + 1} · {title}"
        self.setWindowTitle(title)

    def _hint_pair(self, selection) -> None:
        """Two branch chips, or two messages picked by hand (Ctrl+click in the list or the
        ladder): one gesture shows their diff."""
        pair = len(selection.branches) == 2 or (len(selection.messages) == 2
                                                and selection.finding is None)
        if not pair or self.tabs.currentIndex() == DIFF_TAB or selection.origin == "diff":
            return
        what = "branches" if len(selection.branches) == 2 else "messages"
        if selection.origin in ("messages", "ladder"):
            self.tabs.setCurrentIndex(DIFF_TAB)
            self.statusBar().showMessage(f"Diff of the two selected {what} (Ctrl+1 goes back "
                                         "to the ladder).", 8000)
        else:
            self.statusBar().showMessage(f"Two {what} selected: Ctrl+3 shows their diff.", 8000)

    # -- export ------------------------------------------------------------------------------
    def export_current(self) -> None:
        kind = {LADDER_TAB: "ladder", TIMELINE_TAB: "timeline", DIFF_TAB: "diff",
                self.tabs.indexOf(self.streams_view): "streams",
                self.tabs.indexOf(self.stream_analysis_view): "stream-analysis"}.get(
            self.tabs.currentIndex(), "window")
        self.export_png(kind)

    def export_png(self, kind: str, path: str | None = None) -> None:
        call = self.controller.selection.call
        if call is None and kind != "window":
            self.banner.set_only("warning",
                                 "Select a call first: the export draws the selected call.")
            return
        if path is None:
            path = self._ask_png_path(kind, call)
            if not path:
                return
        if not path.lower().endswith(".png"):
            path += ".png"
        session = self.controller.session
        try:                         # never write over a loaded capture
            refuse_inputs(path, [str(r.path) for r in session.inputs] if session else [])
        except OutputError as exc:
            self.banner.set_only("error", f"Export refused: {exc}")
            return
        write = self.png_writer(kind)
        task = _SaveImageTask(write, path)
        task.signals.done.connect(self._on_export_done)
        self._tasks.add(task.signals)
        QThreadPool.globalInstance().start(task)

    def _ask_png_path(self, kind: str, call) -> str:
        """The save dialog: it opens in the folder of the last export, and a name typed
        without ".png" gets it before the dialog asks whether to replace an existing file."""
        start = ""
        if self.settings is not None:
            start = self.settings.last_export_directory or self.settings.last_directory
        number = f"call{call.index + 1}-" if call is not None else ""
        dialog = QFileDialog(self, f"Export {kind} as PNG",
                             os.path.join(start or os.getcwd(), f"sipscope-{number}{kind}.png"),
                             "PNG image (*.png)")
        dialog.setAcceptMode(QFileDialog.AcceptSave)
        dialog.setDefaultSuffix("png")
        dialog.setOption(QFileDialog.DontConfirmOverwrite, False)
        self.save_dialog = dialog               # tests drive it
        if not dialog.exec() or not dialog.selectedFiles():
            return ""
        path = dialog.selectedFiles()[0]
        if self.settings is not None:
            self.settings.last_export_directory = os.path.dirname(os.path.abspath(path))
        return path

    def png_writer(self, kind: str):
        """A callable writing the PNG; the ladder is painted in the worker (in stripes when it
        is very long, render/png.py), the widget views are grabbed here and saved there."""
        if kind == "ladder":
            from sipscope.core.ladder.layout import build_layout
            from sipscope.render.painter import paint_ladder
            from sipscope.render.png import render_to_png
            session = self.controller.session
            messages = self.controller.shown_messages()
            merge = self.ladder_view.merge_box.isChecked()
            selected = frozenset(self.controller.selection.messages)
            media_rows = self.ladder_view.media_rows()

            lines = caption_lines(session, self.controller.selection.call, "ladder")

            def write(path: str) -> None:
                layout = build_layout(session, messages, merge_hosts=merge, media_rows=media_rows)
                render_to_png(*with_caption(lambda painter, clip: paint_ladder(
                    painter, layout, selected=selected, clip=clip),
                    layout.width, layout.height, lines), path)
            return write
        if kind == "timeline":
            if self.timeline_view.isVisible():
                image = self.timeline_view.plot.grab().toImage()
            else:                        # a hidden tab has no size yet: draw one offscreen
                from sipscope.gui.export import timeline_image
                image = timeline_image(self.controller.session, self.controller.selection.call,
                                       self.timeline_view.mode, self.controller.selection.messages)
        elif kind == "diff":
            maker = getattr(self.diff_view, "image", None)
            image = maker() if callable(maker) else self.diff_view.grab().toImage()
        elif kind in ("streams", "stream-analysis"):
            view = self.streams_view if kind == "streams" else self.stream_analysis_view
            image = view.grab().toImage()
        else:
            image = self.grab().toImage()
        session = self.controller.session
        if session is not None:
            image = image_with_caption(
                image, caption_lines(session, self.controller.selection.call, kind))
        return _image_writer(image)

    def _on_export_done(self, path: str, error: str) -> None:
        self._tasks = {s for s in self._tasks if s is not self.sender()}
        if error:
            self.banner.set_only("error", f"Export failed: {error}")
        else:
            self.statusBar().showMessage(f"Saved {path}", 6000)
        self.export_finished.emit(path, error)

    # -- drag and drop -----------------------------------------------------------------------
    def dragEnterEvent(self, event) -> None:   # noqa: N802 - Qt override
        if event.mimeData().hasUrls() and any(u.isLocalFile() for u in event.mimeData().urls()):
            event.acceptProposedAction()
        elif event.mimeData().hasText():
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:   # noqa: N802 - Qt override
        data = event.mimeData()
        files = [u.toLocalFile() for u in data.urls() if u.isLocalFile()] if data.hasUrls() else []
        if files:
            self.open_files(files)
        elif data.hasText() and data.text().strip():
            self.controller.load_text(data.text(), "dropped text")
        event.acceptProposedAction()

    # -- help ------------------------------------------------------------------------------------
    def about(self) -> None:
        box = QMessageBox(self)
        box.setWindowTitle("About sipscope")
        box.setTextFormat(Qt.PlainText)
        box.setIconPixmap(app_icon().pixmap(64, 64))
        box.setText(f"sipscope {__version__}\n\nA SIP trace inspector for VoIP support: calls, "
                    "ladder diagrams, timelines, header and branch diffs, and the faults behind "
                    "a failed call, with the RFC that says so.")
        box.exec()

    def show_fault_reference(self, fault_id: str = "") -> None:
        """Help > Fault reference, open at `fault_id` (a finding's RFC line asks for its id),
        else at the selected finding's fault."""
        from sipscope.gui.views.fault_reference import FaultReferenceDialog
        if not isinstance(fault_id, str) or not fault_id:
            finding = self.controller.selection.finding
            fault_id = finding.id if finding is not None else ""
        dialog = getattr(self, "reference_dialog", None)
        if dialog is None:
            dialog = self.reference_dialog = FaultReferenceDialog(self)
        dialog.show_fault(fault_id or dialog.ids.item(0).text())
        dialog.show()
        dialog.raise_()

    def show_keys(self) -> None:
        box = QMessageBox(self)
        box.setWindowTitle("Keyboard shortcuts")
        box.setTextFormat(Qt.PlainText)
        box.setText(keyboard.shortcuts_text())
        box.setFont(QFontDatabase.systemFont(QFontDatabase.FixedFont))
        self.keys_box = box                      # tests read it
        box.exec()

    # -- geometry --------------------------------------------------------------------------------
    def _restore_geometry(self) -> None:
        """Saved geometry when it fits this screen, else a size made for the screen."""
        screen = self.screen() or QGuiApplication.primaryScreen()
        available = screen.availableGeometry() if screen is not None else None
        saved = self.settings is not None and self.settings.window_geometry
        if saved:
            self.restoreGeometry(QByteArray.fromBase64(self.settings.window_geometry.encode()))
            if self.settings.window_state:
                self.restoreState(QByteArray.fromBase64(self.settings.window_state.encode()))
            for name, split in self._splitters().items():
                state = self.settings.splitter_state.get(name)
                if state:
                    split.restoreState(QByteArray.fromBase64(state.encode()))
            if available is None or window_geometry.fits(
                    self.width(), self.height(), available.width(), available.height()):
                return
        layout = window_geometry.fit(available.width() if available else 1920,
                                     available.height() if available else 1080)
        self.apply_layout(layout)
        if available is not None:
            self.move(available.x() + (available.width() - layout.width) // 2,
                      available.y() + (available.height() - layout.height) // 2)

    def apply_layout(self, layout) -> None:
        """The window's size and pane sizes of window_geometry.fit()."""
        self.resize(layout.width, layout.height)
        self.main_split.setSizes(list(layout.main))
        self.left_split.setSizes(list(layout.left))
        self.right_split.setSizes(list(layout.right))
        self.bottom_split.setSizes(list(layout.bottom))

    def save_settings(self) -> None:
        if self.settings is None:
            return
        self.settings.window_geometry = bytes(self.saveGeometry().toBase64()).decode()
        self.settings.window_state = bytes(self.saveState().toBase64()).decode()
        self.settings.splitter_state = {name: bytes(split.saveState().toBase64()).decode()
                                        for name, split in self._splitters().items()}
        self.settings.save()

    def closeEvent(self, event) -> None:   # noqa: N802 - Qt override
        self.controller.cancel_load()
        self.save_settings()
        self.controller.wait_for_load(3000)
        QThreadPool.globalInstance().waitForDone(5000)
        super().closeEvent(event)
        self.closed.emit()


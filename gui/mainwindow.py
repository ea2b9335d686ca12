"""The main window: builds the panels, wires their signals to the session, and remembers its layout."""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import QEvent, QSettings, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QCloseEvent, QDragEnterEvent, QDropEvent, QGuiApplication
from PySide6.QtWidgets import (
    QFileDialog, QLabel, QMainWindow, QMessageBox, QSlider, QSplitter, QStackedWidget, QVBoxLayout, QWidget,
)

from engine.types import Photo
from gui import actions, dropping, windowstate
from gui.dupecount import DuplicateCounter
from gui.errors import show_error
from gui.itemmodels import PhotoGridModel
from gui.naming import Naming
from gui.resources import app_icon, icon
from gui.session import JOB_INDEX, JOB_TRAIN, LibrarySession
from gui.thumbnails import ThumbnailLoader
from gui.widgets.duplicates import DuplicatesPanel
from gui.widgets.photogrid import PhotoGridView, PhotosPage
from gui.widgets.problems import ProblemsPanel
from gui.widgets.progress import ProgressPanel
from gui.widgets.sidebar import Sidebar
from gui.widgets.similar import SimilarPanel
from gui.widgets.trashconfirm import confirm_trash, report_trashed
from gui.widgets.welcome import WelcomePage
from gui.windowactions import WindowActions
from gui.wordsearch import WordSearch

__all__ = ["MainWindow"]

log = logging.getLogger(__name__)
IMAGE_FILTER = "Images (*.jpg *.jpeg *.png *.webp *.heic *.heif *.gif *.bmp *.tif *.tiff)"


class MainWindow(WindowActions, QMainWindow):
    """Signals: ready() once the first screen of photos is loaded (or the empty state is shown)."""

    ready = Signal()

    def __init__(self, session: LibrarySession, loader: ThumbnailLoader, state: QSettings,
                 parent: QWidget | None = None):
        super().__init__(parent)
        self.session = session
        self.loader = loader
        self.state = state
        self._ready = False
        self._similar_wanted = True
        self.setWindowTitle("Simili")
        self.setWindowIcon(app_icon())
        self.setMinimumSize(QSize(720, 500))  # holds at 800 x 600 (tests/test_gui_layout.py)
        self.setAcceptDrops(True)
        self._build()
        self._wire()
        self._restore()
        self.on_folders_changed(session.folders())
        self.grid_model.refresh()
        self.dupe_counter.start()  # the remembered count, or a new one in the background

    # -- construction --------------------------------------------------------------------------------
    def _build(self) -> None:
        self.sidebar = Sidebar()
        self.welcome = WelcomePage()
        self.grid_model = PhotoGridModel(self.session.reader.photos, self.session.reader.photo_count, self)
        self.grid = PhotoGridView(self.loader, tile=int(self.state.value("grid/tile", 128)))
        self.grid.setModel(self.grid_model)
        self.grid.setAccessibleName("Photos")
        self.photos_page = PhotosPage(self.grid)
        self.duplicates = DuplicatesPanel(self.session, self.loader)
        self.problems = ProblemsPanel(self.session)
        self.dupe_counter = DuplicateCounter(self.session, self.state, self)
        self.stack = QStackedWidget()
        for page in (self.welcome, self.photos_page, self.duplicates, self.problems):
            self.stack.addWidget(page)
        self.similar = SimilarPanel(self.session, self.loader)
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.addWidget(self.sidebar)
        self.splitter.addWidget(self.stack)
        self.splitter.addWidget(self.similar)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setCollapsible(1, False)
        self.splitter.setSizes([210, 760, 470])
        self.progress = ProgressPanel()
        central = QWidget()
        layout = QVBoxLayout(central)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.splitter, 1)
        layout.addWidget(self.progress)
        self.setCentralWidget(central)
        self.drop_hint = QLabel(central)
        self.drop_hint.setObjectName("dropHint")
        self.drop_hint.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.drop_hint.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        self.drop_hint.hide()
        self._build_actions()
        self._build_status()
        self.naming = Naming(self)  # Name…, the proposals panel, the sidebar's names, More/Not like this
        self.words = WordSearch(self)  # word results in the grid

    def _build_status(self) -> None:
        self.summary = QLabel()
        self.summary.setObjectName("muted")
        self.zoom_slider = QSlider(Qt.Orientation.Horizontal)
        self.zoom_slider.setRange(96, 320)
        self.zoom_slider.setSingleStep(8)
        self.zoom_slider.setFixedWidth(140)
        self.zoom_slider.setValue(self.grid._base_tile)
        self.zoom_slider.setToolTip("Thumbnail size (Ctrl++ / Ctrl+-)")
        self.zoom_slider.setAccessibleName("Thumbnail size")
        self.zoom_slider.valueChanged.connect(self.on_zoom_changed)
        self.zoom_icon = zoom_icon = QLabel()
        zoom_icon.setPixmap(icon("photos").pixmap(14, 14))
        zoom_icon.setToolTip("Thumbnail size")
        self.statusBar().addWidget(self.summary, 1)
        self.statusBar().addPermanentWidget(zoom_icon)
        self.statusBar().addPermanentWidget(self.zoom_slider)
        self.statusBar().setContentsMargins(0, 0, 12, 0)  # the slider keeps off the window edge
        self.statusBar().setSizeGripEnabled(False)

    def _wire(self) -> None:
        s = self.session
        s.progress.connect(self.progress.on_progress)
        s.job_started.connect(self.progress.on_job_started)
        s.job_ended.connect(self.progress.on_job_ended)
        s.device_known.connect(self.progress.on_device_known)
        s.training_note.connect(self.progress.on_training_note)
        s.job_started.connect(self.on_job_state)
        s.job_ended.connect(self.on_job_state)
        s.library_changed.connect(self.on_library_changed)
        s.folders_changed.connect(self.on_folders_changed)
        s.error.connect(lambda exc: show_error(self, exc))
        self.progress.pause_requested.connect(self.on_pause)
        self.progress.cancel_requested.connect(s.cancel)
        self.progress.train_requested.connect(lambda: s.start_training())
        self.sidebar.page_selected.connect(self.show_page)
        self.sidebar.folder_selected.connect(self.on_folder_selected)
        self.sidebar.add_folder_requested.connect(self.on_add_folder)
        self.sidebar.remove_folder_requested.connect(self.on_remove_folder)
        self.welcome.add_folder_requested.connect(self.on_add_folder)
        self.grid.photo_activated.connect(self.on_photo_activated)
        self.grid_model.reset_done.connect(self.on_grid_reset)
        self.grid_model.page_loaded.connect(self.on_page_loaded)
        self.problems.counted.connect(lambda n: self.sidebar.set_count("problems", n))
        self.duplicates.loaded.connect(self.dupe_counter.remember)
        self.dupe_counter.counted.connect(lambda n: self.sidebar.set_count("duplicates", n))
        self.similar.closed.connect(self.on_similar_closed)
        self.similar.strictness_changed.connect(lambda v: self.state.setValue("similar/strictness", v))
        for view in (self.grid, self.similar, self.duplicates):
            view.photo_opened.connect(self.on_open_viewer)
            view.context_requested.connect(self.on_context_menu)
        self.on_job_state()

    # -- pages ---------------------------------------------------------------------------------------
    def show_page(self, name: str) -> None:
        if not self.session.folders() and name == "photos":
            self.stack.setCurrentWidget(self.welcome)
        else:
            page = {"photos": self.photos_page, "duplicates": self.duplicates, "problems": self.problems}[name]
            self.stack.setCurrentWidget(page)
            if name == "duplicates":
                self.duplicates.refresh()
            elif name == "problems":
                self.problems.refresh()
        self.sidebar.nav.blockSignals(True)
        self.sidebar.select_page(name)
        self.sidebar.nav.blockSignals(False)
        self._update_similar_visibility()

    def _update_similar_visibility(self) -> None:
        """The similar panel belongs to the photos page, and is not shown on the first-run screen."""
        naming = self.naming.update_visibility(self.current_page() == "photos")
        self.similar.setVisible(self._similar_wanted and self.current_page() == "photos" and not naming)

    def current_page(self) -> str:
        w = self.stack.currentWidget()
        return {self.photos_page: "photos", self.duplicates: "duplicates", self.problems: "problems"}.get(w, "welcome")

    # -- session slots -------------------------------------------------------------------------------
    def on_folder_selected(self, folder: str) -> None:
        """Show only one folder's photos ("" = all of them)."""
        self.grid_model.set_folder(folder or None)
        self.photos_page.set_folder(folder or None, self.sidebar.names_of.get(folder))
        self.show_page("photos")

    def on_folders_changed(self, folders: list[str]) -> None:
        if self.grid_model.folder is not None and self.grid_model.folder not in folders:
            self.on_folder_selected("")
        self.sidebar.set_folders(folders, self.session.offline_folders())
        self.problems.refresh()  # the Problems count must not outlive a removed folder
        self._update_summary()
        for act in (self.act_rescan, self.act_train, self.act_search, self.act_paste):
            act.setEnabled(bool(folders))
        self.zoom_slider.setVisible(bool(folders))
        self.zoom_icon.setVisible(bool(folders))
        if not folders:
            self.stack.setCurrentWidget(self.welcome)
        elif self.stack.currentWidget() is self.welcome:
            self.show_page("photos")
        self._update_similar_visibility()

    def on_library_changed(self) -> None:
        self.grid_model.refresh()
        if self.similar.isVisible() and self.similar.query() is not None:
            self.similar.refresh()
        if self.current_page() == "problems":
            self.problems.refresh()

    def on_job_state(self, *args) -> None:
        running = self.session.running()
        self.progress.photos = self.grid_model.rowCount()  # learning says how many photos it studies
        self.act_pause.setEnabled(running == JOB_TRAIN)
        self.act_cancel.setEnabled(running is not None)
        self.act_train.setEnabled(running != JOB_TRAIN and bool(self.session.folders()))
        if args and args[0] == JOB_INDEX and len(args) > 1:
            self.problems.refresh()  # failures are known once a run ended
        self._update_summary()

    def on_grid_reset(self, count: int) -> None:
        self._update_summary()
        if count == 0:
            self._mark_ready()

    def on_page_loaded(self, page: int) -> None:
        if page == 0:
            self._mark_ready()

    def _mark_ready(self) -> None:
        if not self._ready:
            self._ready = True
            QTimer.singleShot(0, self.ready.emit)

    def _update_summary(self) -> None:
        n = self.grid_model.rowCount()
        self.photos_page.set_counts(n, self.sidebar.folders.count())
        parts = [f"{n:,} photo{'s' if n != 1 else ''}"]
        try:
            active = next((m for m in self.session.reader.models() if m.active), None)
        except Exception:  # noqa: BLE001 - a status line must never raise
            active = None
        if active is not None:
            parts.append("search tuned to your photos" if active.kind == "distillhash" else "ready to search")
        job = self.session.running()
        if job:
            parts.append("indexing…" if job == JOB_INDEX else "learning from your photos…")
        self.summary.setText("  ·  ".join(parts))

    # -- user actions --------------------------------------------------------------------------------
    def on_add_folder(self) -> None:
        start = str(self.state.value("dialogs/last_folder", str(Path.home())))
        path = QFileDialog.getExistingDirectory(self, "Add a photo folder", start)
        if path:
            self.state.setValue("dialogs/last_folder", path)
            self.session.add_folders([path])

    def on_remove_folder(self, path: str) -> None:
        answer = QMessageBox.question(
            self, "Remove folder",
            f"Remove {path} from the library?\n\nThe photos in it stay where they are; Simili only forgets them.")
        if answer == QMessageBox.StandardButton.Yes:
            self.session.remove_folder(path)

    def on_search_by_image(self) -> None:
        start = str(self.state.value("dialogs/last_image", str(Path.home())))
        path, _ = QFileDialog.getOpenFileName(self, "Search by image", start, IMAGE_FILTER)
        if path:
            self.state.setValue("dialogs/last_image", str(Path(path).parent))
            self.search_image(path)

    def on_paste(self) -> None:
        mime = QGuiApplication.clipboard().mimeData()
        folders, images = dropping.classify(mime)
        if images:
            self.search_image(images[0])
        elif mime.hasImage():
            try:
                path = dropping.save_pasted_image(mime.imageData(), self.session.reader.cache_dir / "pasted")
            except OSError as exc:
                show_error(self, exc)
                return
            self.search_image(path)
        elif folders:
            self.session.add_folders(folders)
        else:
            self.statusBar().showMessage("The clipboard holds no image to search by.", 4000)

    def focus_word_search(self) -> None:
        self.word_box.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self.word_box.selectAll()

    def on_word_search(self) -> None:
        text = self.word_box.text().strip()
        if text:
            self.search_words(text)

    def search_words(self, text: str) -> None:
        """List the photos that show what ``text`` says ("dog", "red shoes") in the grid (gui.wordsearch)."""
        self.words.search(text)

    def search_image(self, path: str) -> None:
        self._show_similar()
        self.similar.show_image(path)

    def on_photo_activated(self, photo: Photo) -> None:
        self._show_similar()
        self.similar.show_photo(photo)

    def _show_similar(self) -> None:
        self.naming.leave()
        self._similar_wanted = True
        if self.current_page() != "photos" and self.session.folders():
            self.show_page("photos")
        if not self.similar.isVisible():
            self.similar.show()
            sizes = self.splitter.sizes()
            if sizes[2] < 300:
                total = sum(sizes)
                self.splitter.setSizes([sizes[0], max(total - sizes[0] - 470, 300), 470])

    def on_escape(self) -> None:
        if self.words.active() and not (self.similar.isVisible() and self.similar.query() is not None):
            self.words.show_all()  # word results: back to all photos (a similar search beside them closes first)
        elif self.similar.isVisible():
            self.similar.on_close()
        elif self.naming.wanted:
            self.naming.close_panel()

    def on_similar_closed(self) -> None:
        self._similar_wanted = False
        self.similar.hide()
        self.grid.setFocus()

    def on_open_viewer(self, photo: Photo, view=None) -> None:
        """The viewer steps through the list the photo was opened from (gui.viewing)."""
        from gui.viewing import open_viewer

        open_viewer(self, view if view is not None else self.sender(), photo)

    def on_context_menu(self, photo: Photo, pos) -> None:
        view = self.sender()
        selected = view.selected_photos() if hasattr(view, "selected_photos") else [photo]
        menu = actions.photo_menu(self, photo, selected, on_similar=self.on_photo_activated,
                                  on_view=lambda p: self.on_open_viewer(p, view), on_trash=self.on_trash)
        self.naming.extend_menu(menu, view, photo, selected if photo in selected else [photo])
        if view is self.duplicates:
            view.extend_menu(menu, photo)
        menu.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        menu.popup(pos)

    def on_open_viewer_direct(self, photo: Photo) -> None:
        from gui.viewing import open_viewer

        open_viewer(self, None, photo)

    def on_trash(self, photos: list[Photo]) -> None:
        if confirm_trash(self, photos, self.loader):
            worker = self.session.move_to_trash(photos)
            worker.returned.connect(lambda result: report_trashed(self, *result))
            worker.errored.connect(lambda exc: show_error(self, exc))

    def on_settings(self) -> None:
        from gui.widgets.settings import SettingsDialog

        dialog = SettingsDialog(self.session.settings, str(self.session.home),
                                str(self.state.value("ui/theme", "auto")), self.session.gpu_status, self,
                                strictness=self.similar.slider.value())
        try:
            if dialog.exec() == SettingsDialog.DialogCode.Accepted:
                self._apply_settings(dialog)
        finally:
            # Not left as a hidden child until exit: there PySide tears it down out of order (a combo box's popup
            # was deleted twice under X11: "shared QObject was deleted directly", then a crash).
            dialog.deleteLater()

    def _apply_settings(self, dialog) -> None:
        self.similar.set_strictness(dialog.chosen_strictness())
        try:
            self.session.save_settings(dialog.result_settings())
        except (ValueError, OSError) as exc:
            show_error(self, exc)
        if dialog.chosen_home() != str(self.session.home):
            switcher = getattr(self, "switcher", None)  # gui.libraries: the per-user "open next time"
            if switcher is not None:
                switcher.history.open_next_time(dialog.chosen_home())
            else:
                self.state.setValue("library/home", dialog.chosen_home())
        theme = dialog.chosen_theme()
        if theme != self.state.value("ui/theme", "auto"):
            self.state.setValue("ui/theme", theme)
            self.set_theme(theme)

    def set_theme(self, theme: str) -> None:
        """Switch light/dark now: the palette, the style sheet and every icon follow at once."""
        from gui.theme import apply_theme

        apply_theme(QGuiApplication.instance(), theme)  # icons follow the palette (gui.resources)

    def changeEvent(self, event) -> None:
        if event.type() == QEvent.Type.PaletteChange and hasattr(self, "zoom_icon"):
            self.zoom_icon.setPixmap(icon("photos").pixmap(14, 14))  # the one icon kept as a pixmap
        super().changeEvent(event)

    def on_pause(self) -> None:
        """Pause learning: say so at once; the job stops at its next safe point (seconds later)."""
        if self.session.running() == JOB_TRAIN:
            self.progress.show_pausing()
            self.act_pause.setEnabled(False)
        self.session.pause_training()

    def zoom(self, delta: int) -> None:
        self.zoom_slider.setValue(self.zoom_slider.value() + delta)

    def on_zoom_changed(self, value: int) -> None:
        self.grid.set_tile(value)
        self.state.setValue("grid/tile", value)

    # -- drag and drop -------------------------------------------------------------------------------
    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        text = dropping.hint(event.mimeData())
        if text:
            event.acceptProposedAction()
            self.drop_hint.setText(text)
            self.drop_hint.setGeometry(self.centralWidget().rect().adjusted(12, 12, -12, -12))
            self.drop_hint.raise_()
            self.drop_hint.show()

    def dragLeaveEvent(self, event) -> None:
        self.drop_hint.hide()

    def dropEvent(self, event: QDropEvent) -> None:
        self.drop_hint.hide()
        folders, images = dropping.classify(event.mimeData())
        if folders:
            self.session.add_folders(folders)
        if images:
            self.search_image(images[0])
        event.acceptProposedAction()

    # -- state (gui.windowstate) ----------------------------------------------------------------------
    def _restore(self) -> None:
        windowstate.restore(self)

    def save_state(self) -> None:
        windowstate.save(self)

    def closeEvent(self, event: QCloseEvent) -> None:
        self.save_state()
        self.dupe_counter.stop()
        self.session.shutdown()
        self.session.blockSignals(True)  # a stopped job's late end must not start work (queries) in a closed window
        super().closeEvent(event)

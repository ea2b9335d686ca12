"""Scripted runs of the real window: add a folder, wait for the index, run a query, take a screenshot, exit.

Used by ``python -m gui --folder DIR --query FILE --screenshot OUT.png``, by ``--quit-after-ready`` (start-time
benchmark) and ``--self-test`` (packaging smoke test). Everything waits on signals; nothing sleeps.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from pathlib import Path

from PySide6.QtCore import QObject, QTimer
from PySide6.QtWidgets import QApplication

from gui.session import JOB_INDEX, JOB_TRAIN

__all__ = ["Automation"]

log = logging.getLogger(__name__)


class Automation(QObject):
    def __init__(self, window, args, t0: float):
        super().__init__(window)
        self.window = window
        self.session = window.session
        self.args = args
        self.t0 = t0
        self.exit_code: int | None = None
        self.errors: list[BaseException] = []
        self._steps: list = []
        self._waiting_index = False
        self._quits = bool(args.screenshot or args.quit_after_ready or args.self_test)

    def start(self) -> None:
        self.session.error.connect(self.on_error)
        if self._quits:
            QTimer.singleShot(int(self.args.timeout * 1000), self.on_timeout)
        if self.args.quit_after_ready or self.args.self_test:
            if self.window._ready:
                QTimer.singleShot(0, self.on_ready)
            else:
                self.window.ready.connect(self.on_ready)
            return
        if self.args.folder and self.args.while_indexing:
            self.session.progress.connect(self.on_progress)
            self.session.add_folders(self.args.folder)
        elif self.args.folder:
            self.session.job_ended.connect(self.on_job_ended)
            self._waiting_index = True
            self.session.add_folders(self.args.folder)
        elif self.session.folders():
            self._waiting_index = True
            self.session.job_ended.connect(self.on_job_ended)
            self.session.start_index()
        else:
            self.after_index()

    def _platform_ok(self) -> bool:
        """The platform plugin in use loaded; on Linux, also whether the desktop (X11) plugin could (said)."""
        import os

        from PySide6.QtGui import QGuiApplication

        from gui.platform_check import distro_family, install_advice, missing_libraries

        name = QGuiApplication.platformName()
        wanted = os.environ.get("QT_QPA_PLATFORM", "").split(":")[0]
        print(json.dumps({"platform": name}), flush=True)
        if sys.platform.startswith("linux"):
            missing = missing_libraries()
            if missing:  # a headless check still tells what the desktop would lack
                print(install_advice(missing, distro_family()), file=sys.stderr, flush=True)
        return bool(name) and (not wanted or wanted == name)

    # -- steps ---------------------------------------------------------------------------------------
    def on_ready(self) -> None:
        elapsed = time.perf_counter() - self.t0
        info = {"ready_s": round(elapsed, 4), "photos": self.window.grid_model.rowCount()}
        print(json.dumps(info), flush=True)
        if self.args.self_test:
            platform_ok = self._platform_ok()  # exit 4: the platform plugin did not load as asked
            ok = self.window.isVisible() and self.window.grid is not None
            self.finish(4 if not platform_ok else 0 if ok else 3)
        else:
            self.finish(0)

    def on_progress(self, kind: str, p) -> None:
        grid = self.window.grid_model.rowCount()
        if kind == "index" and p.stage == "encode" and p.total and p.done >= p.total / 3 and grid:
            self.session.progress.disconnect(self.on_progress)
            self.settle()

    def on_job_ended(self, kind: str, outcome: str, _payload) -> None:
        if not self._waiting_index:
            return
        if kind == JOB_INDEX:
            if outcome == "failed":
                self.finish(1)
                return
            if self.args.train:
                if self.session.running() != JOB_TRAIN and JOB_TRAIN not in self.session._queue:
                    self.session.start_training()  # asked for explicitly: no minimum library size
                if self.session.running() == JOB_TRAIN or JOB_TRAIN in self.session._queue:
                    return  # wait for training as well
        elif kind == JOB_TRAIN and not self.args.train:
            return
        if self.session.running() or self.session._queue:
            return
        self._waiting_index = False
        self.after_index()

    def after_index(self) -> None:
        if self.args.page:
            self.window.show_page(self.args.page)
        if getattr(self.args, "words", None):
            self.window.words.shown.connect(lambda _n: self.settle())
            self.window.word_box.setText(self.args.words)
            self.window.on_word_search()
        elif self.args.query:
            self.window.similar.searched.connect(self.on_searched)
            path = str(Path(self.args.query).expanduser().absolute())
            photo = self.session.reader.photo_at(path)
            if photo is not None:
                self.window.on_photo_activated(photo)
            else:
                self.window.search_image(path)
        elif self.args.page == "duplicates":
            self.window.duplicates.loaded.connect(lambda _n: self.settle())
        else:
            self.settle()


    def on_searched(self, _n: int) -> None:
        self.window.similar.searched.disconnect(self.on_searched)
        self.settle()

    def settle(self) -> None:
        """Wait until the grid has its first page and every requested thumbnail is painted."""
        self._settle_rounds = 0
        self._poll()

    def _poll(self) -> None:
        self._settle_rounds += 1
        busy = self.window.loader.pending() > 0
        grid = self.window.grid_model
        if grid.rowCount() and not grid.is_loaded(0):
            busy = True
        if busy and self._settle_rounds < 600:
            QTimer.singleShot(50, self._poll)
            return
        if self._settle_rounds < 4:  # let the views paint, request visible thumbnails, and paint again
            QTimer.singleShot(50, self._poll)
            return
        self.done()

    def done(self) -> None:
        if self.args.screenshot:
            out = Path(self.args.screenshot)
            out.parent.mkdir(parents=True, exist_ok=True)
            if not self.window.grab().save(str(out)):
                print(f"simili-gui: could not write {out}", file=sys.stderr)
                self.finish(1)
                return
            print(json.dumps({"screenshot": str(out), "photos": self.window.grid_model.rowCount(),
                              "results": self.window.similar.model.rowCount()}), flush=True)
        if self._quits:
            self.finish(1 if self.errors else 0)

    def on_error(self, exc: BaseException) -> None:
        self.errors.append(exc)
        print(f"simili-gui: error: {exc}", file=sys.stderr)

    def on_timeout(self) -> None:
        print("simili-gui: automation timed out", file=sys.stderr)
        self.finish(2)

    def finish(self, code: int) -> None:
        if self.exit_code is None:
            self.exit_code = code
            self.window.close()
            QApplication.instance().quit()

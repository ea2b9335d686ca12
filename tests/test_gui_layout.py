"""Layouts hold in a small (800 x 600) and a 4K-size window: screenshots of the real widgets, offscreen, checked for
overlaps, cut-off text and controls on the window edge; and the --screenshot automation at a 4K pixel size."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from PySide6.QtCore import QPoint, QRect
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QLabel, QWidget

from tests.conftest import REPO, demo_photos, photo_folder
from tests.test_gui_fakes import FakeLibrary, fake_gpu, grid_filled, index_done, make_images, make_window  # noqa: F401

pytestmark = pytest.mark.gui


def _rect_in(widget: QWidget, window: QWidget) -> QRect:
    return QRect(widget.mapTo(window, QPoint(0, 0)), widget.size())


def _fully_shown(label: QLabel) -> bool:
    """A label shows all its text: wide enough for one line, or wrapped into the height it has."""
    if label.wordWrap():
        return label.height() >= label.heightForWidth(label.width())
    return label.width() >= label.fontMetrics().horizontalAdvance(label.text())


@pytest.mark.parametrize("size", [(800, 600), (3840, 2160)], ids=["800x600", "4k"])
def test_layout_holds(make_window, qtbot, tmp_path, size):
    window = make_window(FakeLibrary(tmp_path / "home"), size=size)
    make_images(tmp_path / "photos", 40)
    with index_done(qtbot, window):
        window.session.add_folders([str(tmp_path / "photos")])
    grid_filled(qtbot, window)
    with qtbot.waitSignal(window.similar.searched, timeout=5000):
        window.on_photo_activated(window.grid_model.photo(3))
    qtbot.waitUntil(lambda: window.similar.query_image.pixmap() is not None
                    and not window.similar.query_image.pixmap().isNull(), timeout=5000)
    shot = tmp_path / f"window-{size[0]}x{size[1]}.png"
    assert window.grab().save(str(shot))
    assert QImage(str(shot)).size().toTuple() == size  # the window really is this size (no larger minimum)

    panel = window.similar
    image, caption = _rect_in(panel.query_image, window), _rect_in(panel.query_caption, window)
    pix = panel.query_image.pixmap()
    drawn_h = pix.height() / pix.devicePixelRatio()
    assert drawn_h <= panel.query_image.contentsRect().height()  # the photo fits its label...
    assert caption.top() >= image.bottom()  # ...and the caption is below it, not over it
    labels = (window.photos_page.subtitle, panel.count_label, panel.threshold_label, panel.query_caption)
    qtbot.waitUntil(lambda: all(_fully_shown(label) for label in labels), timeout=3000)  # after the relayout
    slider = _rect_in(window.zoom_slider, window)
    assert slider.right() <= window.width() - 8  # off the window edge
    for w in (panel.results, window.grid, panel.slider):
        r = _rect_in(w, window)
        assert r.height() > 0 and window.rect().contains(r), (w, r)
    if size[0] >= 3840:
        cols = window.grid.viewport().width() // (window.grid.delegate.tile + window.grid.delegate.spacing)
        assert cols >= 10
        assert pix.height() / pix.devicePixelRatio() <= 300 + 1  # the query photo does not blow up


def test_screenshot_automation_at_4k_pixels(tmp_path):
    """``python -m gui --home LIB --folder DIR --query FILE --screenshot OUT.png`` at 2x scale: 3840 x 2160."""
    folder = tmp_path / "photos"
    photo_folder(folder, demo_photos(per_class=2))
    out = tmp_path / "shot.png"
    query = demo_photos(per_class=3)[2]
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "QT_SCALE_FACTOR": "2", "PYTHONPATH": str(REPO)}
    proc = subprocess.run([sys.executable, "-m", "gui", "--home", str(tmp_path / "lib"), "--folder", str(folder),
                           "--query", str(query), "--size", "1920x1080", "--screenshot", str(out)],
                          capture_output=True, text=True, env=env, cwd=REPO, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    info = json.loads(proc.stdout.strip().splitlines()[-1])
    assert info["photos"] == 20 and info["results"] >= 1
    assert QImage(str(out)).size().toTuple() == (3840, 2160)
    assert "Traceback" not in proc.stderr

"""Which photos the large viewer steps through: the list it was opened from (issue 24: it said "1 of 1").

From the main grid: its photos in order (the whole library, a folder, a name or word results; several selected
photos: just those); from the similar panel: its results; from the duplicates: every photo listed there.
"""

from __future__ import annotations

from engine.types import Photo

__all__ = ["open_viewer", "viewer_list"]


def viewer_list(window, view, photo: Photo):
    """(photos or the grid's model, index of ``photo`` in it) for a photo opened in ``view``."""
    pid = int(photo.id)
    if view is window.grid:
        selected = window.grid.selected_photos()
        if len(selected) > 1 and any(int(p.id) == pid for p in selected):
            return selected, next(i for i, p in enumerate(selected) if int(p.id) == pid)
        model = window.grid_model
        current = window.grid.currentIndex()
        if current.isValid() and model.photo(current.row()) is not None and int(model.photo(current.row()).id) == pid:
            return model, current.row()
        row = model.row_of(pid)
        if row is not None:
            return model, row
        return [photo], 0
    if view is window.similar:
        photos = [n.photo for n in window.similar.model.neighbors()]
    elif view is window.duplicates:
        photos = [p for group in window.duplicates.groups() for p, _keep in group]
    else:
        photos = []
    index = next((i for i, p in enumerate(photos) if int(p.id) == pid), None)
    return (photos, index) if index is not None else ([photo], 0)


def open_viewer(window, view, photo: Photo):
    """Open the viewer on ``photo`` from ``view``; stepping in it moves the grid's current photo along."""
    from PySide6.QtCore import Qt

    from gui.widgets.viewer import ViewerDialog

    photos, index = viewer_list(window, view, photo)
    dialog = ViewerDialog(photos, index, window)
    dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    dialog.similar_requested.connect(window.on_photo_activated)
    if photos is window.grid_model:
        grid = window.grid

        def follow(row: int) -> None:
            index = window.grid_model.index(row, 0)
            grid.setCurrentIndex(index)
            grid.scrollTo(index)

        dialog.stepped.connect(follow)
    dialog.open()
    return dialog

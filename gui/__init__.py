"""Simili's desktop app (PySide6): a client of ``engine.api`` that never imports torch.

Start it with ``simili-gui`` or ``python -m gui``; see :mod:`gui.app` for the flags.
"""

__all__: list[str] = []

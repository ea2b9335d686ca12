"""Jobs: the long work a user starts and can watch, pause and cancel.

Owns the index run (``indexing``: scan, decode, encode, codes, index, the duplicate check ahead of time), the
learning job (``learn``: train, export, check, switch), and the library's health check and repair (``health``).
Each job is a generator of ``engine.types.Progress`` that returns a report, driven to its end by
``engine.progress.run_to_end`` or by a GUI worker. Jobs take the library's parts from ``engine.library.store`` and
call the capabilities (``images``, ``model``, ``codes``, ``learning``, ``duplicates``, ``words``). They may import
everything below them; only the facade (``engine.api``) and the CLI import them.
"""

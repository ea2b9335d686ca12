"""The library: everything one library keeps on disk, and the rules for keeping it whole.

Owns the catalog (SQLite: folders, photos, per-file errors, models, stored duplicate checks), its schema and
salvage, the feature cache (``featstore``), the settings, the per-user paths, the model store (coders and code
indexes, checksummed) and the thumbnail cache. ``store.Store`` opens them together for the jobs and queries above.
It may import the capabilities that read and write its files (``codes`` for index files and coders, ``model`` for
the backbone's description, ``images`` for thumbnails) and the base modules (``types``, ``errors``, ``_atomic``,
``resources``); never a job, the facade or a client.
"""

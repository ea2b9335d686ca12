"""The catalog's SQL schema, one migration per version (``engine.library.catalog`` applies them in order)."""

SCHEMA_VERSION = 4

_MIGRATIONS: dict[int, str] = {
    1: """
    CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE folders (
        id INTEGER PRIMARY KEY,
        path BLOB UNIQUE NOT NULL,
        added TEXT NOT NULL
    );
    CREATE TABLE photos (
        id INTEGER PRIMARY KEY,
        folder_id INTEGER NOT NULL REFERENCES folders(id) ON DELETE CASCADE,
        path BLOB UNIQUE NOT NULL,
        display TEXT NOT NULL,
        size INTEGER,
        mtime_ns INTEGER,
        fingerprint TEXT,
        width INTEGER,
        height INTEGER,
        orientation INTEGER,
        taken_at TEXT,
        format TEXT,
        status TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'ok', 'error')),
        error_code TEXT,
        error TEXT,
        feat_row INTEGER,
        indexed_at REAL
    );
    CREATE INDEX photos_status ON photos(status);
    CREATE INDEX photos_fingerprint ON photos(fingerprint);
    CREATE INDEX photos_display ON photos(display);
    CREATE TABLE models (
        id INTEGER PRIMARY KEY,
        kind TEXT NOT NULL,
        bits INTEGER NOT NULL,
        created TEXT NOT NULL,
        file TEXT NOT NULL,
        sha256 TEXT NOT NULL,
        active INTEGER NOT NULL DEFAULT 0,
        n_fit INTEGER NOT NULL DEFAULT 0,
        metrics TEXT NOT NULL DEFAULT '{}'
    );
    """,
    2: """
    ALTER TABLE photos ADD COLUMN signature BLOB
    """,
    3: """
    CREATE INDEX photos_status_display ON photos(status, display)
    """,
    # a camera's JPEG (or HEIF) of the RAW file beside it: one shot, shown once (engine.library.companions)
    4: """
    ALTER TABLE photos ADD COLUMN companion_of INTEGER REFERENCES photos(id) ON DELETE SET NULL;
    CREATE INDEX photos_companion_of ON photos(companion_of);
    CREATE INDEX photos_shown ON photos(status, companion_of, display);
    CREATE INDEX photos_raw ON photos(format) WHERE format = 'RAW'
    """,
}

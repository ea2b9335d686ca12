"""Images: finding photo files and reading their pixels.

Owns the folder walk (``scan``), decoding with orientation and the formats' pitfalls (``decode``, ``tiffprobe``),
the small pixel signatures and the aligner that confirm copies (``signature``) and the basic colours a photo shows
(``colours``). Pure functions of files and arrays: it imports only ``engine.types`` and ``engine.errors``.
"""

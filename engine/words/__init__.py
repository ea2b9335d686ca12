"""Words: search by words, from WordNet's vocabulary to ImageNet's classes and back to photos.

Owns the vocabulary (``vocab``), the per-photo concept table and its ranking (``concepts``), the word query with
colours (``wordsearch``) and the export of the vocabulary resources (``export_words``). It may import ``codes``
and ``images`` (colours) and the base modules.
"""

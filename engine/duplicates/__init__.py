"""Duplicates: which photos are copies of one another, and which copy to keep.

Owns the candidate search over codes and features, the pixel checks of each pair (stored in the catalog and
reused), the groups, the keep rule and the plain-words differences a user reads before anything goes to the
trash. It may import ``codes``, ``images`` and the base modules; the catalog, feature cache and index are handed
in by the jobs and the facade.
"""

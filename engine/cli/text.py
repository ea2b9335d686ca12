"""Names as a terminal shows them: a file name can hold anything a file system allows, including escape sequences
that would recolour, retitle or clear the user's terminal, and newlines that would split one result over two lines.
Human output escapes them (``--json`` output carries the exact name, JSON-escaped)."""

from __future__ import annotations

import re

__all__ = ["shown"]

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def shown(name: object) -> str:
    """``name`` with control characters (C0, DEL, C1, line separators, bidirectional overrides) written as escapes."""
    return _CONTROL.sub(lambda m: _NAMED.get(m.group(), f"\\x{ord(m.group()):02x}" if ord(m.group()) < 0x100
                                             else f"\\u{ord(m.group()):04x}"), str(name))

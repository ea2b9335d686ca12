"""``simili`` / ``python -m engine``: every engine step from the command line, human or ``--json`` output.

Exit status: 0 on success, 1 with a one-line error on stderr, 2 for a wrong argument (one line), 130 after Ctrl-C and
143 after SIGTERM (work done so far is kept either way), 141 when the reader of the output goes away (``| head``).
No Python traceback reaches the user: unexpected errors are one line too (``-v`` logs the details).
"""

from engine.cli.run import main

__all__ = ["main"]

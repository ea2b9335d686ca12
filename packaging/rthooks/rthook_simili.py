"""PyInstaller runtime hook: portable mode and the optional training add-on, set up before any app import.

- Portable mode: a file named ``portable`` next to the executable keeps the library in ``data/`` beside it
  (``SIMILI_HOME``), for USB sticks and unpacked archives. An explicit ``SIMILI_HOME`` still wins.
- Training add-on: when the user has installed PyTorch through ``simili install-training``, its folder in the
  per-user data dir is appended to ``sys.path`` (after the bundle, so the bundled numpy etc. always win).
"""

import os
import sys


def _setup() -> None:
    exe_dir = os.path.dirname(os.path.abspath(sys.executable))
    if sys.platform == "darwin" and exe_dir.endswith(os.path.join("Contents", "MacOS")):
        exe_dir = os.path.dirname(os.path.dirname(os.path.dirname(exe_dir)))  # beside Simili.app
    if os.path.isfile(os.path.join(exe_dir, "portable")):
        os.environ.setdefault("SIMILI_HOME", os.path.join(exe_dir, "data"))
    try:
        import training_addon

        training_addon.activate()
    except Exception as exc:  # a broken add-on must never stop search from starting
        print(f"simili: the training add-on was not loaded: {exc}", file=sys.stderr or sys.__stderr__)


_setup()

"""python -m engine: the simili command line."""

import sys

from engine.cli import main

sys.exit(main())

"""``python -m optiframe``: the command line (see :mod:`optiframe.cli`)."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())

"""A plugin that calls sys.exit() at import: optiframe must warn and go on, not exit."""

import sys

sys.exit(3)

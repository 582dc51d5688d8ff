"""A plugin whose import fails: optiframe must warn, name it, and load the others."""

import a_module_that_does_not_exist  # noqa: F401

"""A plugin with a misspelled hook name: optiframe must refuse it, not ignore it."""

import optiframe


@optiframe.hookimpl
def register_optimisers(register):
    register("never", object)

"""jax, imported when a run first needs it (loading the plugin, which every optiframe
process does, costs nothing)."""

from __future__ import annotations

from typing import Any

import optiframe as of


def jax_modules() -> tuple[Any, Any]:
    """``(jax, jax.numpy)``, or an error that says what to install."""
    try:
        import jax
        import jax.numpy as jnp
    except ImportError as exc:
        raise of.InvalidArgumentError(
            f"gradient='jax' needs jax, which does not import here ({exc}): "
            "pip install jax, or reinstall the plugin: pip install ./plugins/optiframe-jax "
            "(from the root of the optiframe repository; it installs jax)") from None
    return jax, jnp


def enable_x64() -> None:
    """Switch jax to float64, the dtype of optiframe's points (jax's default is float32)."""
    jax, _ = jax_modules()
    jax.config.update("jax_enable_x64", True)

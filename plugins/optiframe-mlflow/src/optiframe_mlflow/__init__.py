"""optiframe-mlflow: each optiframe run recorded as one MLflow run.

Pass :class:`MlflowCallback` as a callback (``callbacks=[MlflowCallback(...)]``), or set
``[output] mlflow = "sqlite:///runs.db"`` in a run's config: the plugin registers the
tracker ``"mlflow"`` for it. MLflow is imported when a run first sends something.
"""

from __future__ import annotations

from typing import Any

from optiframe import hookimpl

from .callback import MlflowCallback

__all__ = ["MlflowCallback"]


def _from_config(value: Any = None, **options: Any) -> MlflowCallback:
    """MLflow tracking: ``mlflow = "URI"`` or ``mlflow = {tracking_uri = ..., ...}``."""
    if value is not None:
        options["tracking_uri"] = value
    return MlflowCallback(**options)


@hookimpl
def register_trackers(register: Any) -> None:
    register("mlflow", _from_config)

"""The ``dask`` executor: optiframe multi-start runs on a Dask cluster.

``workers="dask"`` (or ``{"name": "dask", "address": ..., "n_workers": ...}``) in
:func:`optiframe.minimize`. Without ``address`` a ``LocalCluster`` of worker processes
is started on loopback for the run (``dashboard_address=":0"``: no fixed port) and
closed afterwards; scripts need the ``if __name__ == "__main__":`` guard.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import optiframe
from optiframe._validation import check_int

__all__ = ["DaskExecutor"]


class DaskExecutor:
    """Maps optiframe's start jobs over a Dask cluster (its own LocalCluster, or yours)."""

    #: Dask serializes with cloudpickle, which also sends lambdas and local functions.
    needs_pickling = False

    def __init__(self, address: str | None = None, n_workers: int = 2,
                 threads_per_worker: int = 1, client: Any = None) -> None:
        check_int("n_workers", n_workers, minimum=1)
        check_int("threads_per_worker", threads_per_worker, minimum=1)
        self.address = address
        self.n_workers = n_workers
        self.threads_per_worker = threads_per_worker
        self._client = client
        self._cluster: Any = None
        self._owns_client = client is None

    @property
    def client(self) -> Any:
        """The Dask client, started on first use."""
        if self._client is None:
            from dask.distributed import Client, LocalCluster

            if self.address is not None:
                self._client = Client(self.address)
            else:
                self._cluster = LocalCluster(
                    n_workers=self.n_workers, threads_per_worker=self.threads_per_worker,
                    processes=True, dashboard_address=":0", host="127.0.0.1")
                self._client = Client(self._cluster)
        return self._client

    def map(self, fn: Callable[[Any], Any], items: list[Any]) -> Iterator[Any]:
        futures = self.client.map(fn, items, pure=False)
        for future in futures:
            yield future.result()

    def close(self) -> None:
        if self._owns_client and self._client is not None:
            self._client.close()
            self._client = None
        if self._cluster is not None:
            self._cluster.close()
            self._cluster = None


@optiframe.hookimpl
def register_executors(register: Any) -> None:
    register("dask", DaskExecutor)

"""The MLflow callback: one MLflow run per optiframe run.

Example
-------
>>> import tempfile, optiframe as of
>>> from optiframe_mlflow import MlflowCallback
>>> folder = tempfile.mkdtemp()
>>> tracker = MlflowCallback(tracking_uri=f"sqlite:///{folder}/runs.db",
...                          artifact_location=f"{folder}/artifacts")
>>> r = of.minimize("rosenbrock", [-1.2, 1.0], callbacks=[tracker])
>>> from mlflow.tracking import MlflowClient
>>> run = MlflowClient(f"sqlite:///{folder}/runs.db").get_run(tracker.run_id)
>>> run.data.tags["optiframe.status"], run.data.params["optimizer"], run.info.status
('converged', 'lbfgs', 'FINISHED')
"""

from __future__ import annotations

import contextlib
import importlib.util
import math
import os
import tempfile
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import optiframe as of
from optiframe._validation import check_int, check_real

from . import records
from .writer import Writer

#: The environment variables through which MLflow reads its HTTP settings (MLflow has no
#: per-client setting): set only while this plugin's own calls run, when asked for.
_HTTP_ENV = ("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "MLFLOW_HTTP_REQUEST_TIMEOUT")
#: Seconds a tracking server is given to answer the first probe of a run.
PROBE_TIMEOUT = 10.0
#: Metrics per MLflow call (MLflow's own limit for one batch).
BATCH = 1000


class MlflowCallback:
    """Record each run it watches as one MLflow run (``callbacks=[MlflowCallback(...)]``).

    When the run starts: a new MLflow run in ``experiment`` (made if missing, with its
    files in ``artifact_location``: by default MLflow's, ./mlruns for a database store) with the
    run's parameters (optimizer and hyperparameters, gradient estimator, stop rules, seed,
    starts, batching). When it ends: the metric series f, grad_norm and step_norm at the
    recorded steps (every ``log_every``-th recorded step; by default as many as keep each
    series within 500 points) and the per-epoch metrics of a training run, in batches of
    1000 per call; the final f, nit, nfev and njev; the tags ``optiframe.status``,
    ``optiframe.success`` and ``optiframe.message``; and the artifacts history.csv,
    result.json, epochs.csv (training), starts.csv (multi-start) and, with optiframe-plot
    installed, loss.png (minima.png too, as on the command line) and training.png. The
    MLflow run ends FINISHED, FAILED (status failed) or KILLED (interrupted).

    A multi-start run is one MLflow run with per-start keys (``start_<k>/fun``, ...) for
    the ``per_start`` starts that ended lowest, beside ``best/fun``, ``median/fun`` and
    ``running``: one optiframe run stays one MLflow run (comparable with single-start
    runs, one row in the runs table), and 1000 starts cost no 1000 nested runs.

    The calls go to MLflow from a background thread, so the run does not wait on them.
    With ``wait=True`` (the default) the run's end waits for them (at most ``timeout``
    seconds), so the Result says whether tracking worked; ``wait=False`` returns at once
    and finishes sending in the background (the interpreter waits for it at exit).

    Tracking never fails the optimization: the first failure (a server that is down or
    stops answering) warns once, the rest of that run's tracking is dropped, and the
    Result's message ends with "MLflow tracking failed: ...". Before a run's first call
    to an HTTP tracking server, its ``/health`` page is asked once (within
    ``http_timeout`` seconds, 10 by default), so a server that is down costs seconds, not
    MLflow's minutes of retries. MLflow's own HTTP settings (``MLFLOW_HTTP_REQUEST_*``)
    are left as the environment has them; ``http_retries`` and ``http_timeout`` (whole
    seconds), when given, apply to this callback's calls only: set while they run and
    restored after them.
    """

    def __init__(self, tracking_uri: str | None = None, *, experiment: str = "optiframe",
                 artifact_location: str | None = None, run_name: str | None = None,
                 tags: dict[str, str] | None = None,
                 log_every: int | None = None, per_start: int = 20,
                 artifacts: bool = True, figures: bool = True, wait: bool = True,
                 timeout: float = 60.0, http_retries: int | None = None,
                 http_timeout: float | None = None) -> None:
        if importlib.util.find_spec("mlflow") is None:
            raise of.InvalidArgumentError(
                "MlflowCallback needs mlflow, which is not installed here: "
                "pip install mlflow, or reinstall the plugin: pip install "
                "./plugins/optiframe-mlflow (from the root of the optiframe repository; it "
                "installs mlflow)")
        if tracking_uri is not None and not isinstance(tracking_uri, (str, os.PathLike)):
            raise of.InvalidTypeError(
                f"MlflowCallback's 'tracking_uri' must be a str: {tracking_uri!r}")
        if log_every is not None:
            check_int("log_every", log_every, minimum=1)
        check_int("per_start", per_start, minimum=0)
        check_real("timeout", timeout, positive=True)
        self.tracking_uri = None if tracking_uri is None else str(tracking_uri)
        self.experiment, self.run_name = experiment, run_name
        self.artifact_location = None if artifact_location is None else str(artifact_location)
        self.tags = dict(tags or {})
        self.log_every, self.per_start = log_every, per_start
        self.artifacts, self.figures = artifacts, figures
        self.wait_at_end, self.timeout = wait, float(timeout)
        if http_retries is not None:
            check_int("http_retries", http_retries, minimum=0)
        if http_timeout is not None:
            check_real("http_timeout", http_timeout, positive=True)
        self.http_timeout = http_timeout
        # MLflow parses both as integers ("10.0" is refused by MLflow 3)
        self._http = {name: str(value) for name, value in zip(_HTTP_ENV, (
            http_retries, None if http_timeout is None else max(1, math.ceil(http_timeout))),
            strict=True) if value is not None}
        #: the MLflow run of every run watched, in order (``run_id``: the last one)
        self.run_ids: list[str] = []
        self._current = _Record()
        #: why tracking failed in the last run (None: it worked)
        self.failure: str | None = None
        self._writer: Writer | None = None
        self._client: Any = None
        self._warned = False

    @property
    def run_id(self) -> str | None:
        """The MLflow run of the last run watched (None until MLflow made it)."""
        return self._current.run_id

    def __repr__(self) -> str:
        return f"MlflowCallback(tracking_uri={self.tracking_uri!r}, experiment={self.experiment!r})"

    # -- the run's events -------------------------------------------------------------------
    def on_run_start(self, run: Any) -> None:
        self.failure, self._warned = None, False
        record = self._current = _Record()  # this run's own: the writer may lag behind
        try:
            params = records.params_of(run.runner, run.n_starts, run.seed)
            params["resumed"] = str(run.resumed)
        except Exception as exc:
            self._failed(exc)
            return
        self._send(lambda: self._start(record, params), fresh=True)

    def on_run_end(self, result: Any) -> str | None:
        self._check_writer()
        if self.failure is None and self._writer is not None:
            # everything, the series and files included, is made on the writer's thread
            record = self._current
            self._send(lambda: self._end(record, result))
            if self.wait_at_end and not self.wait(self.timeout):
                self._failed(TimeoutError(f"MLflow did not answer within {self.timeout:g} s"))
        self._check_writer()
        return None if self.failure is None else f"MLflow tracking failed: {self.failure}"

    def wait(self, timeout: float | None = None) -> bool:
        """Wait until everything sent to MLflow arrived (False if ``timeout`` passed)."""
        ok = self._writer is None or self._writer.drain(timeout)
        self._check_writer()
        return ok

    # -- MLflow calls (on the writer's thread) -------------------------------------------
    def _mlflow_client(self) -> Any:
        if self._client is None:
            from mlflow.tracking import MlflowClient

            self._client = MlflowClient(tracking_uri=self.tracking_uri)
        return self._client

    @contextlib.contextmanager
    def _http_settings(self) -> Iterator[None]:
        """MLflow's HTTP settings asked for (if any) while this callback's calls run;
        what the environment held is restored after them."""
        saved = {name: os.environ.get(name) for name in self._http}
        os.environ.update(self._http)
        try:
            yield
        finally:
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value

    def _probe(self) -> None:
        """Ask an HTTP tracking server's /health page once: a server that is down fails
        the run's tracking within seconds."""
        import urllib.request

        uri = self.tracking_uri or os.environ.get("MLFLOW_TRACKING_URI") or ""
        if not uri.startswith(("http://", "https://")):
            return
        timeout = self.http_timeout or PROBE_TIMEOUT
        try:
            with urllib.request.urlopen(f"{uri.rstrip('/')}/health", timeout=timeout):
                pass
        except urllib.error.HTTPError:
            return  # it answered (a server without /health, or behind a login)
        except OSError as exc:
            raise ConnectionError(f"the MLflow tracking server at {uri} did not answer "
                                  f"within {timeout:g} s ({exc})") from None

    def _start(self, record: _Record, params: dict[str, str]) -> None:
        self._probe()
        with self._http_settings():
            self._start_run(record, params)

    def _start_run(self, record: _Record, params: dict[str, str]) -> None:
        from mlflow.entities import Param, RunTag

        client = self._mlflow_client()
        found = client.get_experiment_by_name(self.experiment)
        experiment_id = (found.experiment_id if found is not None
                         else client.create_experiment(
                             self.experiment, artifact_location=self.artifact_location))
        run = client.create_run(experiment_id, run_name=self.run_name,
                                tags={"optiframe.version": _version(), **self.tags})
        record.run_id = run_id = run.info.run_id
        self.run_ids.append(run_id)
        items = [Param(k, v) for k, v in params.items()]
        for i in range(0, len(items), 100):  # MLflow takes at most 100 params per call
            client.log_batch(run_id, params=items[i:i + 100])
        client.log_batch(run_id, tags=[RunTag("optiframe.status", "running")])

    def _end(self, record: _Record, result: Any) -> None:
        with self._http_settings():
            self._end_run(record, result)

    def _end_run(self, record: _Record, result: Any) -> None:
        import time

        from mlflow.entities import Metric, RunTag

        client, run_id = self._mlflow_client(), record.run_id
        if run_id is None:
            raise RuntimeError("the MLflow run was not created")
        points = records.series_of(result, self.log_every, self.per_start)
        now = int(time.time() * 1000)
        metrics = [Metric(k, v, now, s) for k, v, s in points]
        last = points[-1][2] if points else 0
        metrics += [Metric(k, v, now, last) for k, v in records.final_metrics(result).items()]
        for i in range(0, len(metrics), BATCH):
            client.log_batch(run_id, metrics=metrics[i:i + BATCH])
        client.log_batch(run_id, tags=[RunTag(k, v) for k, v in records.tags_of(result).items()])
        if self.artifacts:
            with tempfile.TemporaryDirectory(prefix="optiframe-mlflow-") as folder:
                records.write_artifacts(result, Path(folder), self.figures)
                client.log_artifacts(run_id, folder)
        client.set_terminated(run_id, records.mlflow_status(result))

    # -- trouble --------------------------------------------------------------------------
    def _send(self, call: Any, fresh: bool = False) -> None:
        """Queue ``call`` for the writer (a new writer when ``fresh``: a new run gets a new
        try after a failed one)."""
        if self._writer is None or (fresh and self._writer.error is not None):
            if self._writer is not None:
                self._writer.close()  # the failed run's thread ends
            self._writer = Writer()
        self._writer.submit(call)

    def _check_writer(self) -> None:
        if self._writer is not None and self._writer.error is not None and self.failure is None:
            self._failed(self._writer.error)

    def _failed(self, exc: BaseException) -> None:
        text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        self.failure = f"{type(exc).__name__}: {text}"[:300]
        if not self._warned:
            self._warned = True
            warnings.warn(f"MLflow tracking of this run failed and stops; the optimization "
                          f"goes on ({self.failure})", RuntimeWarning, stacklevel=2)


class _Record:
    """One watched run's MLflow run id, set by the writer when MLflow made the run."""

    run_id: str | None = None


def _version() -> str:
    import optiframe

    return optiframe.__version__

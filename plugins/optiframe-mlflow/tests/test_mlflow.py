"""optiframe-mlflow against a real MLflow store (sqlite in a temporary folder) and a real
``mlflow server`` on loopback; every run is read back with MlflowClient."""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import warnings
from pathlib import Path

import numpy as np
import pytest
from mlflow.tracking import MlflowClient
from optiframe_mlflow import MlflowCallback

import optiframe as of
from optiframe.cli import main


@pytest.fixture
def store(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # MLflow's default artifact folder is ./mlruns
    return f"sqlite:///{tmp_path / 'runs.db'}"


def read_run(uri, run_id):
    client = MlflowClient(uri)
    return client, client.get_run(run_id)


def series(client, run_id, key):
    return sorted((m.step, m.value) for m in client.get_metric_history(run_id, key))


def artifact_text(client, run_id, name, tmp_path):
    return Path(client.download_artifacts(run_id, name, str(tmp_path))).read_text()


def test_the_acceptance_form_records_a_single_start_run(store, tmp_path):
    tracker = MlflowCallback(tracking_uri=store, artifact_location=str(tmp_path / "files"))
    r = of.minimize("rosenbrock", [-1.2, 1.0], callbacks=[tracker])
    assert tracker.failure is None and r.message.endswith(".")  # no tracking note
    assert list((tmp_path / "files").rglob("history.csv"))
    client, run = read_run(store, tracker.run_id)
    assert run.info.status == "FINISHED"
    assert run.data.tags["optiframe.status"] == "converged"
    assert run.data.tags["optiframe.success"] == "True"
    params = run.data.params
    assert params["optimizer"] == "lbfgs" and params["n_starts"] == "1"
    # lbfgs's default step limit is scipy's maxiter for L-BFGS-B (runner.default_max_steps)
    assert params["stop.max_steps"] == "15000" and params["stop.gtol"] == "1e-08"
    assert "optimizer.memory" in params and params["gradient"].startswith("AutoGradient")
    # the series at every recorded step, with the recorded values
    h = r.history
    assert series(client, tracker.run_id, "fun") == list(zip(h.step.tolist(), h.fun.tolist(),
                                                             strict=True))
    assert [s for s, _ in series(client, tracker.run_id, "grad_norm")] == h.step.tolist()
    assert run.data.metrics["final/nit"] == r.nit and run.data.metrics["final/fun"] == r.fun
    names = {a.path for a in client.list_artifacts(tracker.run_id)}
    assert {"history.csv", "result.json", "loss.png"} <= names
    rows = list(csv.DictReader(io.StringIO(artifact_text(client, tracker.run_id,
                                                          "history.csv", tmp_path))))
    assert len(rows) == len(h) and float(rows[-1]["fun"]) == h.fun[-1]
    summary = json.loads(artifact_text(client, tracker.run_id, "result.json", tmp_path))
    assert summary["status"] == "converged" and summary["nit"] == r.nit


def test_a_long_series_is_thinned_to_every_kth_recorded_step(store):
    tracker = MlflowCallback(tracking_uri=store, log_every=100, figures=False)
    r = of.minimize("sphere", [1.0, 2.0], optimizer=of.GradientDescent(lr=1e-4),
                    max_steps=1000, gtol=0.0, callbacks=[tracker])
    client, _ = read_run(store, tracker.run_id)
    steps = [s for s, _ in series(client, tracker.run_id, "fun")]
    assert steps == list(range(0, 1001, 100)) and r.nit == 1000


def test_a_multistart_run_is_one_mlflow_run_with_per_start_keys(store, tmp_path):
    tracker = MlflowCallback(tracking_uri=store, per_start=2)
    r = of.minimize("himmelblau", starts=of.MultiStart(6, bounds=[(-5, 5)] * 2), seed=0,
                    optimizer=of.Adam(lr=0.05), max_steps=300, callbacks=[tracker])
    client, run = read_run(store, tracker.run_id)
    assert len(client.search_runs([run.info.experiment_id])) == 1
    assert run.data.params["n_starts"] == "6" and run.data.params["seed"] == "0"
    keys = set(run.data.metrics)
    assert {"best/fun", "median/fun", "running"} <= keys
    per_start = {k.split("/")[0] for k in keys if k.startswith("start_")}
    assert len(per_start) == 2  # the two that ended lowest
    best = series(client, tracker.run_id, "best/fun")
    assert best[0] == (0, float(np.nanmin(r.history.fun[0])))
    starts = list(csv.DictReader(io.StringIO(artifact_text(client, tracker.run_id,
                                                            "starts.csv", tmp_path))))
    assert [int(s["start"]) for s in starts] == [s.index for s in r.starts]
    assert run.data.tags["optiframe.kind"] == "multistart"


def test_a_minibatch_run_records_its_epoch_metrics(store):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 3))
    y = (X @ [1.0, -1.0, 0.5] > 0).astype(int)
    obj = of.LogisticRegression(X, y)

    def accuracy(info):
        return {"accuracy": float(np.mean(obj.predict(info.x, X) == y))}

    tracker = MlflowCallback(tracking_uri=store)
    r = of.minimize(obj, np.zeros(obj.dim), optimizer=of.GradientDescent(lr=0.5),
                    batch_size=20, epochs=4, seed=0, epoch_callbacks=[accuracy],
                    callbacks=[tracker])
    client, run = read_run(store, tracker.run_id)
    assert run.data.params["batch_size"] == "20" and run.data.params["epochs"] == "4"
    losses = series(client, tracker.run_id, "epoch/train_loss")
    assert [e for e, _ in losses] == [1, 2, 3, 4]
    np.testing.assert_array_equal([v for _, v in losses], r.history.epochs["train_loss"])
    assert len(series(client, tracker.run_id, "epoch/accuracy")) == 4
    names = {a.path for a in client.list_artifacts(tracker.run_id)}
    assert {"epochs.csv", "training.png"} <= names
    assert run.data.tags["optiframe.kind"] == "single-training"


def test_a_failed_and_an_interrupted_run_end_their_mlflow_runs(store):
    def broken(x):
        if x[0] < 0.5:
            raise RuntimeError("the simulation crashed")
        return float(x @ x)

    tracker = MlflowCallback(tracking_uri=store, figures=False)
    with pytest.raises(RuntimeError, match="crashed"):
        of.minimize(broken, [1.0, 1.0], optimizer=of.GradientDescent(lr=0.2),
                    callbacks=[tracker])
    _, run = read_run(store, tracker.run_id)
    assert run.info.status == "FAILED" and run.data.tags["optiframe.status"] == "failed"

    def ctrl_c(info):
        if info.step == 20:
            raise KeyboardInterrupt

    r = of.minimize("rosenbrock", [-1.2, 1.0], optimizer="adam", callbacks=[ctrl_c, tracker],
                    on_interrupt="return")
    client, run = read_run(store, tracker.run_id)
    assert r.status == "interrupted" and run.info.status == "KILLED"
    assert [s for s, _ in series(client, tracker.run_id, "fun")][-1] == r.nit
    assert len(tracker.run_ids) == 2


def test_the_config_key_output_mlflow_tracks_a_command_line_run(tmp_path, capsys,
                                                                monkeypatch):
    monkeypatch.chdir(tmp_path)
    db = tmp_path / "runs.db"
    config = tmp_path / "run.toml"
    config.write_text(f'[objective]\nname = "rosenbrock"\n[start]\nx0 = [-1.2, 1.0]\n'
                      f'[output]\nfolder = "{tmp_path / "out"}"\nmlflow = "sqlite:///{db}"\n')
    assert main(["run", str(config)]) == 0
    client = MlflowClient(f"sqlite:///{db}")
    (run,) = client.search_runs([client.get_experiment_by_name("optiframe").experiment_id])
    assert run.data.tags["optiframe.status"] == "converged"
    bad = tmp_path / "bad.toml"
    bad.write_text(config.read_text().replace(f'"sqlite:///{db}"', '{experiment = 3, x = 1}'))
    capsys.readouterr()
    assert main(["run", str(bad), "--force"]) == 2  # refused before the run
    assert "output.mlflow: " in capsys.readouterr().err


def test_a_tracking_server_that_is_down_warns_once_and_the_run_finishes(tmp_path,
                                                                       monkeypatch):
    monkeypatch.chdir(tmp_path)
    port = free_port()
    tracker = MlflowCallback(tracking_uri=f"http://127.0.0.1:{port}", http_retries=0,
                             http_timeout=2)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        r = of.minimize("rosenbrock", [-1.2, 1.0], callbacks=[tracker])
    assert r.status == "converged" and r.success
    assert "MLflow tracking failed" in r.message and tracker.failure
    ours = [w for w in caught if "MLflow tracking" in str(w.message)]
    assert len(ours) == 1 and ours[0].category is RuntimeWarning


def test_bad_arguments_are_named():
    with pytest.raises(of.InvalidArgumentError, match=r"'log_every'.*0"):
        MlflowCallback(log_every=0)
    with pytest.raises(of.InvalidTypeError, match=r"'tracking_uri'.*3"):
        MlflowCallback(tracking_uri=3)
    with pytest.raises(of.InvalidArgumentError, match="'timeout'"):
        MlflowCallback(timeout=0)


# -- a real tracking server on loopback --------------------------------------------------


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(tmp_path):
    port = free_port()
    # a session of its own: the server's workers (uvicorn, huey) are its children, and
    # stopping the server means stopping all of them (they outlived the test before, 190
    # MB each, until a long run of the suite ran out of memory)
    proc = subprocess.Popen(
        [sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1", "--port", str(port),
         "--backend-store-uri", f"sqlite:///{tmp_path / 'server.db'}",
         "--default-artifact-root", str(tmp_path / "artifacts"), "--workers", "1"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2) as answer:
                if answer.status == 200:
                    return proc, url
        except OSError:
            time.sleep(0.5)
        if proc.poll() is not None:
            break
    stop_server(proc)
    pytest.fail("mlflow server did not start on loopback")


def stop_server(proc, sig=signal.SIGKILL):
    """Stop the server and every process it started (its session)."""
    with contextlib.suppress(ProcessLookupError):  # already gone
        os.killpg(proc.pid, sig)
    proc.wait(30)


def test_a_real_mlflow_server_records_the_run_then_one_stopped_mid_run_fails_softly(
        tmp_path):
    proc, url = start_server(tmp_path)
    try:
        tracker = MlflowCallback(tracking_uri=url, figures=False, http_retries=0,
                                 http_timeout=5)
        r = of.minimize("rosenbrock", [-1.2, 1.0], callbacks=[tracker])
        client = MlflowClient(url)
        run = client.get_run(tracker.run_id)
        assert run.info.status == "FINISHED" and run.data.tags["optiframe.status"] == "converged"
        assert [s for s, _ in series(client, tracker.run_id, "fun")] == r.history.step.tolist()
        assert "history.csv" in {a.path for a in client.list_artifacts(tracker.run_id)}

        def stop_the_server(info):
            if info.step == 10:
                stop_server(proc, signal.SIGTERM)

        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            r = of.minimize("rosenbrock", [-1.2, 1.0], optimizer="adam", max_steps=200,
                            callbacks=[stop_the_server, tracker])
        assert r.status == "max_steps" and r.nit == 200 and len(r.history) == 201
        assert "MLflow tracking failed" in r.message
        assert len([w for w in caught if "MLflow tracking" in str(w.message)]) == 1
    finally:
        stop_server(proc)


def test_a_real_server_with_the_default_arguments_records_the_run_and_leaves_the_env(
        tmp_path, monkeypatch):
    # issue 22, item 1: the defaults wrote "10.0" into MLFLOW_HTTP_REQUEST_TIMEOUT, which
    # MLflow 3 cannot parse: nothing was recorded, and the user's own client failed after
    for name in ("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "MLFLOW_HTTP_REQUEST_TIMEOUT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "77")  # the user's own setting
    proc, url = start_server(tmp_path)
    try:
        tracker = MlflowCallback(tracking_uri=url, figures=False)
        r = of.minimize("rosenbrock", [-1.2, 1.0], callbacks=[tracker])
        assert tracker.failure is None and "MLflow" not in r.message
        client = MlflowClient(url)  # the user's client works afterwards
        run = client.get_run(tracker.run_id)
        assert run.info.status == "FINISHED" and run.data.tags["optiframe.status"] == "converged"
        import os
        assert os.environ["MLFLOW_HTTP_REQUEST_TIMEOUT"] == "77"
        assert "MLFLOW_HTTP_REQUEST_MAX_RETRIES" not in os.environ
        # explicit settings apply to the callback's calls only, then what was there returns
        tracker = MlflowCallback(tracking_uri=url, figures=False, http_retries=0,
                                 http_timeout=2.5)
        of.minimize("sphere", [1.0, 1.0], callbacks=[tracker])
        assert client.get_run(tracker.run_id).info.status == "FINISHED"
        assert os.environ["MLFLOW_HTTP_REQUEST_TIMEOUT"] == "77"
        assert "MLFLOW_HTTP_REQUEST_MAX_RETRIES" not in os.environ
    finally:
        stop_server(proc)


@pytest.mark.parametrize("module", ["optiframe_mlflow", *(
    f"optiframe_mlflow.{m.name}" for m in __import__("pkgutil").iter_modules(
        __import__("optiframe_mlflow").__path__))])
def test_the_docstring_examples_run(module, tmp_path, monkeypatch):
    import doctest
    import importlib

    monkeypatch.chdir(tmp_path)
    failures, _ = doctest.testmod(importlib.import_module(module), optionflags=doctest.ELLIPSIS)
    assert failures == 0


def test_the_benchmark_smoke_run():
    script = Path(__file__).resolve().parents[3] / "benchmarks" / "bench_mlflow.py"
    proc = subprocess.run([sys.executable, str(script), "--quick", "--steps", "500"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "MlflowCallback (no wait)" in proc.stdout


def test_without_mlflow_the_callback_says_what_to_install(monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "mlflow" else real(name, *a))
    with pytest.raises(of.InvalidArgumentError, match=r"pip install \./plugins/optiframe-mlflow"):
        MlflowCallback("sqlite:///runs.db")


def test_runs_in_a_row_without_waiting_each_get_their_own_mlflow_run(store):
    tracker = MlflowCallback(tracking_uri=store, wait=False, figures=False)
    first = of.minimize("sphere", [1.0, 2.0], max_steps=5, callbacks=[tracker])
    second = of.minimize("rosenbrock", [-1.2, 1.0], callbacks=[tracker])
    assert tracker.wait(60)
    client = MlflowClient(store)
    a, b = (client.get_run(i) for i in tracker.run_ids)
    assert a.data.metrics["final/nit"] == first.nit and b.data.metrics["final/nit"] == second.nit
    assert a.data.params["objective"].startswith("Sphere") and tracker.run_id == b.info.run_id

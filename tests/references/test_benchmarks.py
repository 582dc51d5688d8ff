"""The benchmark scripts stay runnable (a smoke run: it asserts no timing)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "benchmarks"


def test_core_benchmark_smoke_run():
    proc = subprocess.run([sys.executable, str(BENCH / "bench_core.py"), "--quick"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    for heading in ("10-D sphere", "blog 1-D run", "central-difference gradient", "Memory"):
        assert heading in proc.stdout


def test_multistart_benchmark_smoke_run():
    proc = subprocess.run([sys.executable, str(BENCH / "bench_multistart.py"), "--quick"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "vectorized" in proc.stdout and "hand numpy" in proc.stdout


def test_minibatch_benchmark_smoke_run():
    proc = subprocess.run([sys.executable, str(BENCH / "bench_minibatch.py"), "--quick"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "time per epoch" in proc.stdout


def test_reliability_benchmark_smoke_run():
    proc = subprocess.run([sys.executable, str(BENCH / "bench_reliability.py"), "--quick"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    for heading in ("Per step", "One checkpoint", "starts"):
        assert heading in proc.stdout


def test_sweep_benchmark_smoke_run():
    proc = subprocess.run([sys.executable, str(BENCH / "bench_sweep.py"), "--quick"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "7 of 7 printed values reproduced bit for bit" in proc.stdout
    assert "sweep/multi-start" in proc.stdout


def test_evaluation_paths_benchmark_smoke_run():
    proc = subprocess.run([sys.executable, str(BENCH / "bench_evaluation_paths.py"), "--quick"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "the vectorized path" in proc.stdout and "one process" in proc.stdout


def test_budget_end_benchmark_smoke_run():
    # the last evaluations of a budget, spent on f alone, never end a run higher
    proc = subprocess.run([sys.executable, str(BENCH / "bench_budget_end.py"), "--quick"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    verdicts = proc.stdout.split("now against before, run by run: ")[1].splitlines()[0]
    assert "lower" in verdicts and "higher" not in verdicts

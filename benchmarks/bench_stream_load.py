"""Loading a long history stream (issue 13): time and peak memory for 1,000,000 records.

Run: ``.venv/bin/python benchmarks/bench_stream_load.py [--records N]``

Writes a single-start stream of N records (the numbers a run writes: step, f, |g|, step
norm, nfev, elapsed, step size; a resume marker in the middle), then loads it in fresh
processes with ``load_history_stream`` (the columnar parse) and with the line-by-line
reader it falls back on (the loader before issue 13), and prints the best of three wall
times and each one's peak resident memory above the interpreter's own, against the
file's size. Goals: at most 2 s and at most 2x the file's size.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import numpy as np

CHILD = textwrap.dedent("""
    import resource, sys, time
    import numpy as np, optiframe as of
    from optiframe import stream
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    from pathlib import Path
    load = of.load_history_stream if sys.argv[2] == "columnar" else stream._load_by_lines
    t0 = time.perf_counter()
    h = load(Path(sys.argv[1]))
    t1 = time.perf_counter()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(t1 - t0, (peak - before) * 1024, len(h), float(np.nansum(h.fun)))
""")


def write_stream(path: Path, records: int) -> None:
    rng = np.random.default_rng(0)
    f = (np.exp(-np.arange(records) / records) + rng.random(records) * 1e-3).tolist()
    header = {"format": "optiframe-history-stream", "version": 2, "kind": "single",
              "columns": ["step", "fun", "grad_norm", "step_norm", "nfev", "elapsed",
                          "step_size"], "dim": 10, "n_starts": None, "record_x": False}
    half = records // 2
    with open(path, "w") as fh:
        fh.write(json.dumps(header, separators=(",", ":")) + "\n")
        for k in range(records):
            if k == half:  # a resumed run: the lines after its checkpoint written again
                fh.write(json.dumps({"resumed_at": half - 100}) + "\n")
            step = k if k < half else k - 100
            fh.write(f"[{step},{f[k]!r},{f[k] * 0.5!r},{'null' if k == 0 else repr(f[k] * 1e-3)},"
                     f"{2 * step + 1},{k * 1.3e-5!r},{'null' if k % 7 else 1.0}]\n")


def measure(path: Path, how: str) -> tuple[float, float, int]:
    best, peak, rows = float("inf"), 0.0, 0
    for _ in range(3):
        out = subprocess.run([sys.executable, "-c", CHILD, str(path), how], check=True,
                             capture_output=True, text=True).stdout.split()
        best = min(best, float(out[0]))
        peak = max(peak, float(out[1]))
        rows = int(out[2])
    return best, peak, rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "run.jsonl"
        write_stream(path, args.records)
        size = os.path.getsize(path)
        print(f"{args.records} records, {size / 1e6:.1f} MB")
        print(f"{'loader':16s} {'seconds':>8s} {'peak MB':>8s} {'x file':>7s} {'rows':>8s}")
        results = {}
        for how in ("columnar", "line-by-line"):
            t, peak, rows = measure(path, how)
            results[how] = (t, peak, rows)
            print(f"{how:16s} {t:8.2f} {peak / 1e6:8.1f} {peak / size:7.2f} {rows:8d}")
    t, peak, rows = results["columnar"]
    assert rows == results["line-by-line"][2]
    print(f"\nspeed-up over the line-by-line reader: {results['line-by-line'][0] / t:.1f}x")
    print(f"goal <= 2 s: {t:.2f} s ({'met' if t <= 2 else 'MISSED'}); goal <= 2x the file: "
          f"{peak / size:.2f}x ({'met' if peak <= 2 * size else 'MISSED'})")


if __name__ == "__main__":
    main()

"""data=table on a CSV of about a million rows: peak memory and rows per second.

A table of ``--rows`` rows is generated into a temporary folder: 12 number columns (some
values missing), 8 category columns (3 to 50 values, some missing), a text column of four
words and a class target of 3 classes that the columns predict. Four programs then run on
it, one after the other, each in a process of its own:

- ``pandas``: ``pandas.read_csv`` of the whole file, what loading a table whole takes;
- ``stream``: ktrain's streaming read, ``ktrain.data.table.TableData``: the columns
  inferred, the pass before training (rows, target tallies, the bounded adapt sample of
  ``sample_rows``) and one pass of the training split's batches through ``tf.data``;
- ``ktrain``: ``python train.py data=table`` for one epoch (batch 1024, model=tabular), as a
  user runs it: the columns inferred, the scan of the file, the layers adapted on the
  bounded sample (``data.sample_rows``), the epoch streamed from disk, the test split
  evaluated, the model logged to a local SQLite store;
- ``plain``: ``table_plain.py``, the plain Keras script with ``FeatureSpace``: the table read
  whole with pandas, adapted on the whole training split, one epoch.

Memory is each process's peak resident memory above what it held once its imports were done
(``/proc/self/clear_refs`` resets the peak there; importing TensorFlow alone takes about 800
MB). Each program runs again on a table of ``FLOOR_ROWS`` rows: what it holds there is what it
pays on any table (MLflow's store set up, the graphs TensorFlow traces, pandas' own), and what
it holds above that on the large table is the table's. The targets, as ratios of figures
measured in the same run: the streaming read's peak under half of the pandas read's, the
training run's table memory under half of the pandas read's, and ktrain's training rows per
second against the plain script's (each epoch's time runs from its start to its end, its
validation pass included). The training run's whole peak is printed against both the pandas
read and the plain script.

    python benchmarks/table.py [--rows 1000000] [--out benchmarks/results/table.json]
"""

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
BATCH_SIZE = 1024  # table_plain.py's
WORDS = tuple(f"w{i:02d}" for i in range(60))
PROGRAMS = ("pandas", "stream", "ktrain", "plain")
# Each program also runs on a table this small: what it holds there (MLflow's store set up,
# TensorFlow's traced graphs, pandas' own) is what it pays on any table, and the rest is the table's.
FLOOR_ROWS = 2_000


def make_table(path: Path, rows: int, seed: int = 0) -> None:
    """A CSV of ``rows`` customers: numbers, categories, a text column and a ``segment``
    class, written a million rows at a time."""
    import pandas as pd

    rng = np.random.default_rng(seed)
    for start in range(0, rows, 1_000_000):
        n = min(1_000_000, rows - start)
        numbers = rng.normal(0.0, 1.0, (n, 12)).round(3)
        frame = pd.DataFrame(numbers, columns=[f"x{i:02d}" for i in range(12)])
        frame.loc[rng.random(n) < 0.05, "x00"] = np.nan
        sizes = (3, 4, 5, 7, 10, 20, 30, 50)
        for i, size in enumerate(sizes):
            frame[f"c{i}"] = pd.Series(np.array([f"v{j}" for j in range(size)])[rng.integers(0, size, n)])
        frame.loc[rng.random(n) < 0.05, "c1"] = None
        words = np.array(WORDS)[rng.integers(0, len(WORDS), (n, 4))]
        frame["review"] = pd.Series(words[:, 0]).str.cat([pd.Series(words[:, i]) for i in (1, 2, 3)], sep=" ")
        score = numbers[:, 1] + numbers[:, 2] + (frame["c0"] == "v1") - (frame["c0"] == "v2")
        frame["segment"] = np.array(["low", "mid", "high"])[np.digitize(score, [-0.7, 0.7])]
        frame.to_csv(path, index=False, mode="a" if start else "w", header=not start)


def _status(key: str) -> int:
    """A line of /proc/self/status in bytes (VmRSS, VmHWM)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no {key} in /proc/self/status")


def measure(program: str, table: str, scratch: str) -> None:
    """Run ``program`` on ``table`` in this process, and print its peak memory above its
    imports as one JSON line."""
    sys.path.insert(0, str(ROOT))
    if program == "pandas":
        import pandas as pd
    elif program == "ktrain":
        import ktrain.cli.train  # TensorFlow, Keras, MLflow, pyarrow and ktrain's own
        import ktrain.data.table
        import ktrain.models.tabular  # noqa: F401
    elif program == "stream":
        import tensorflow  # noqa: F401  (ktrain.data.table_pipeline's, imported by the first split)

        from ktrain.data.table import TableData
    else:
        sys.path.insert(0, str(ROOT / "benchmarks"))
        import table_plain
    Path("/proc/self/clear_refs").write_text("5")
    before = _status("VmRSS")
    result = {"program": program, "imports_mb": before / 2**20}
    if program == "pandas":
        start = time.perf_counter()
        frame = pd.read_csv(table)
        result.update(rows=len(frame), read_s=time.perf_counter() - start)
    elif program == "ktrain":
        result.update(_train(table, scratch))
    elif program == "stream":
        start = time.perf_counter()
        data = TableData(table, "segment", batch_size=BATCH_SIZE)
        rows = sum(int(y.shape[0]) for _, y in data.split("train").x)
        result.update(rows=rows, read_s=time.perf_counter() - start)
    else:
        sys.argv = ["table_plain.py", table, "segment"]
        table_plain.main()  # prints its rows and epoch time
    result["peak_above_imports_mb"] = (_status("VmHWM") - before) / 2**20
    print(json.dumps(result), flush=True)


def _train(table: str, scratch: str) -> dict:
    """``train.py data=table`` for one epoch in this process; its training rows and epoch time."""
    from mlflow import MlflowClient

    from ktrain.cli.train import main

    timing, store = Path(scratch) / "epoch.json", f"sqlite:///{scratch}/mlflow.db"
    os.environ["MLFLOW_TRACKING_URI"] = store
    sys.argv = [
        "train.py", "data=table", f"data.path={table}", "data.target=segment", f"data.batch_size={BATCH_SIZE}",
        "fit.epochs=1", "fit.verbose=0", f"hydra.run.dir={scratch}/run",
        "+callbacks.throughput._target_=benchmarks.throughput.Throughput",
        f"+callbacks.throughput.path={timing}", "+callbacks.throughput.images_per_epoch=1",
    ]  # fmt: skip
    try:
        main()
    except SystemExit as exit:
        if exit.code:
            raise
    run = MlflowClient(store).search_runs(["0", *[e.experiment_id for e in MlflowClient(store).search_experiments()]])
    return {
        "rows": int(run[0].data.params["data.train_size"]),
        "epoch_s": json.loads(timing.read_text())["epoch_seconds"][0],
    }


def run_measured(program: str, table: Path, scratch: Path) -> dict:
    scratch.mkdir()
    command = [sys.executable, __file__, "--measure", program, "--table", str(table), "--scratch", str(scratch)]
    # The pass before training done in each run, and nothing left in the user's cache.
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONUNBUFFERED": "1", "KTRAIN_CACHE_DIR": str(scratch)}
    start = time.perf_counter()
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"{program} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    lines = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    merged = {key: value for line in lines for key, value in line.items()}
    merged["process_s"] = time.perf_counter() - start
    return merged


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--measure", choices=("pandas", "stream", "ktrain", "plain"), help=argparse.SUPPRESS)
    parser.add_argument("--table", help=argparse.SUPPRESS)
    parser.add_argument("--scratch", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        return measure(args.measure, args.table, args.scratch)
    with tempfile.TemporaryDirectory(prefix="ktrain-table-bench-") as folder:
        found = {name: {} for name in PROGRAMS}
        for rows in (args.rows, FLOOR_ROWS):
            table = Path(folder) / f"customers-{rows}.csv"
            start = time.perf_counter()
            make_table(table, rows)
            print(f"table: {rows} rows, {table.stat().st_size / 2**20:.1f} MiB ({time.perf_counter() - start:.0f} s)")
            for name in PROGRAMS:
                found[name][rows] = run_measured(name, table, Path(folder) / f"{name}-{rows}")
    ratios = report(found, args.rows)
    if args.out:
        machine = f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores"
        table = {name: {**by_rows[args.rows], "floor": by_rows[FLOOR_ROWS]} for name, by_rows in found.items()}
        args.out.write_text(json.dumps({"rows": args.rows, "machine": machine, **table, **ratios}, indent=1) + "\n")


def report(found: dict, rows: int) -> dict:
    """Print each program's figures and return the ratios."""
    peak = {name: by_rows[rows]["peak_above_imports_mb"] for name, by_rows in found.items()}
    table = {name: peak[name] - by_rows[FLOOR_ROWS]["peak_above_imports_mb"] for name, by_rows in found.items()}
    for name, by_rows in found.items():
        result = by_rows[rows]
        rate = f", {result['rows'] / result['epoch_s']:,.0f} training rows/s" if "epoch_s" in result else ""
        print(f"{name}: peak {peak[name]:.0f} MB above its imports, {table[name]:.0f} MB of it the table's "
              f"(above the same program on {FLOOR_ROWS:,} rows){rate}, {result['process_s']:.0f} s in all")  # fmt: skip
    trained = {name: found[name][rows]["rows"] / found[name][rows]["epoch_s"] for name in ("ktrain", "plain")}
    ratios = {
        "memory_stream_over_pandas_read": peak["stream"] / peak["pandas"],
        "memory_ktrain_over_pandas_read": peak["ktrain"] / peak["pandas"],
        "table_memory_ktrain_over_pandas_read": table["ktrain"] / table["pandas"],
        "memory_ktrain_over_plain": peak["ktrain"] / peak["plain"],
        "rows_per_s_ktrain_over_plain": trained["ktrain"] / trained["plain"],
    }
    for name, ratio in ratios.items():
        print(f"{name}: {ratio:.2f}")
    return ratios


if __name__ == "__main__":
    main()

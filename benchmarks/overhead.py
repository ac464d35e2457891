"""What ktrain costs over the plain Keras script it replaces, measured as whole processes.

Both programs train the same model on the same data (see plain_keras.py) for 3 and for 23
epochs; per-epoch cost is the slope between the two, fixed cost the intercept. Each
measurement is the best of ``--rounds`` (at least two), programs interleaved so that a
busy moment of the machine hits both alike. ktrain runs as ``python train.py
~callbacks.early_stopping`` with a warm local SQLite MLflow store, recording everything it
always records (params, per-epoch metrics, artifacts, the logged model).

    python benchmarks/overhead.py [--rounds 2] [--json benchmarks/results/overhead.json]

Targets: per-epoch ratio <= 1.03, fixed overhead <= 3 s.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHORT, LONG = 3, 23


def timed(command: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--json", type=Path, default=ROOT / "benchmarks" / "results" / "overhead.json")
    args = parser.parse_args()
    rounds = max(args.rounds, 2)

    work = Path(tempfile.mkdtemp(prefix="ktrain-overhead-"))
    env = {**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{work / 'mlflow.db'}", "TF_CPP_MIN_LOG_LEVEL": "2"}
    env.pop("MLFLOW_EXPERIMENT_NAME", None)

    def ktrain(epochs: int, tag: str) -> list[str]:
        return [sys.executable, "train.py", f"fit.epochs={epochs}", "~callbacks.early_stopping", "fit.verbose=0",
                f"hydra.run.dir={work / tag}"]

    def plain(epochs: int, tag: str) -> list[str]:
        return [sys.executable, "benchmarks/plain_keras.py", str(epochs), str(work / tag)]

    timed(ktrain(1, "warm-up"), env)  # creates the store, as any earlier run would have
    times: dict[tuple[str, int], list[float]] = {}
    for round_ in range(rounds):
        for epochs in (SHORT, LONG):
            for name, command in (("plain", plain), ("ktrain", ktrain)):
                seconds = timed(command(epochs, f"{name}-{epochs}-{round_}"), env)
                times.setdefault((name, epochs), []).append(seconds)
                print(f"round {round_ + 1}: {name:6s} {epochs:2d} epochs {seconds:6.2f} s", flush=True)

    result = {}
    for name in ("plain", "ktrain"):
        short, long = min(times[(name, SHORT)]), min(times[(name, LONG)])
        per_epoch = (long - short) / (LONG - SHORT)
        result[name] = {"seconds": {SHORT: short, LONG: long}, "per_epoch_s": per_epoch,
                        "fixed_s": short - SHORT * per_epoch}
    result["per_epoch_ratio"] = result["ktrain"]["per_epoch_s"] / result["plain"]["per_epoch_s"]
    result["fixed_overhead_s"] = result["ktrain"]["fixed_s"] - result["plain"]["fixed_s"]
    result["rounds"] = rounds

    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=1))
    print()
    print("| program | 3 epochs (s) | 23 epochs (s) | per epoch (s) | fixed (s) |")
    print("|---|---|---|---|---|")
    for name in ("plain", "ktrain"):
        r = result[name]
        print(f"| {name} | {r['seconds'][SHORT]:.2f} | {r['seconds'][LONG]:.2f} | {r['per_epoch_s']:.3f} | {r['fixed_s']:.2f} |")
    print(f"\nper-epoch ratio ktrain/plain: {result['per_epoch_ratio']:.3f} (target <= 1.03)")
    print(f"fixed overhead: {result['fixed_overhead_s']:+.2f} s (target <= 3 s)")


if __name__ == "__main__":
    main()

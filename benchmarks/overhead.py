"""What ktrain costs over the plain Keras script it replaces, measured as whole processes.

Both programs train the same model on the same data (see plain_keras.py) for 3 and for 23
epochs; per-epoch cost is the slope between the two, fixed cost the intercept. Each
measurement is the best of ``--rounds`` (at least two), programs interleaved so that a
busy moment of the machine hits both alike. ktrain runs as ``python train.py
~callbacks.early_stopping`` with a warm local SQLite MLflow store, recording everything it
always records (params, per-epoch metrics, artifacts, the logged model).

The plain script also runs a second time in each round, as a control: the same program
measured against itself shows how far this machine's noise alone moves the ratios.

    python benchmarks/overhead.py [--rounds 4] [--json benchmarks/results/overhead.json]

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
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--json", type=Path, default=ROOT / "benchmarks" / "results" / "overhead.json")
    args = parser.parse_args()
    rounds = max(args.rounds, 2)

    work = Path(tempfile.mkdtemp(prefix="ktrain-overhead-"))
    env = {**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{work / 'mlflow.db'}", "TF_CPP_MIN_LOG_LEVEL": "2"}
    env.pop("MLFLOW_EXPERIMENT_NAME", None)

    def ktrain(epochs: int, tag: str) -> list[str]:
        return [
            sys.executable,
            "train.py",
            f"fit.epochs={epochs}",
            "~callbacks.early_stopping",
            "fit.verbose=0",
            f"hydra.run.dir={work / tag}",
        ]

    def plain(epochs: int, tag: str) -> list[str]:
        return [sys.executable, "benchmarks/plain_keras.py", str(epochs), str(work / tag)]

    timed(ktrain(1, "warm-up"), env)  # creates the store, as any earlier run would have
    times: dict[tuple[str, int], list[float]] = {}
    programs = (("plain", plain), ("ktrain", ktrain), ("control", plain))
    for round_ in range(rounds):
        for epochs in (SHORT, LONG):
            for name, command in programs:
                seconds = timed(command(epochs, f"{name}-{epochs}-{round_}"), env)
                times.setdefault((name, epochs), []).append(seconds)
                print(f"round {round_ + 1}: {name:6s} {epochs:2d} epochs {seconds:6.2f} s", flush=True)

    result = {}
    for name, _ in programs:
        short, long = min(times[(name, SHORT)]), min(times[(name, LONG)])
        per_epoch = (long - short) / (LONG - SHORT)
        result[name] = {
            "seconds": {SHORT: short, LONG: long},
            "per_epoch_s": per_epoch,
            "fixed_s": short - SHORT * per_epoch,
        }
    for name in ("ktrain", "control"):
        result[name]["per_epoch_ratio"] = result[name]["per_epoch_s"] / result["plain"]["per_epoch_s"]
        result[name]["fixed_overhead_s"] = result[name]["fixed_s"] - result["plain"]["fixed_s"]
    result["rounds"] = rounds
    result["all_seconds"] = {f"{name} {epochs}": seconds for (name, epochs), seconds in times.items()}

    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=1))
    print()
    print("| program | 3 epochs (s) | 23 epochs (s) | per epoch (s) | fixed (s) |")
    print("|---|---|---|---|---|")
    for name, _ in programs:
        r = result[name]
        print(
            f"| {name} | {r['seconds'][SHORT]:.2f} | {r['seconds'][LONG]:.2f} "
            f"| {r['per_epoch_s']:.3f} | {r['fixed_s']:.2f} |"
        )
    ktrain_, control = result["ktrain"], result["control"]
    print(
        f"\nper-epoch ratio ktrain/plain: {ktrain_['per_epoch_ratio']:.3f} (target <= 1.03; "
        f"control/plain: {control['per_epoch_ratio']:.3f})"
    )
    print(
        f"fixed overhead: {ktrain_['fixed_overhead_s']:+.2f} s (target <= 3 s; "
        f"control: {control['fixed_overhead_s']:+.2f} s)"
    )
    if abs(control["per_epoch_ratio"] - 1) > 0.03:
        print(
            "The control is more than 3% off plain: this machine's noise is larger than the per-epoch "
            "target, so the ratio above cannot show it. benchmarks/tracking.py counts what ktrain adds "
            "to an epoch instead."
        )


if __name__ == "__main__":
    main()

"""Wall time of the config-only paths of train.py, which never import TensorFlow.

    python benchmarks/startup.py [--repeat 5] [--json benchmarks/results/startup.json]

Targets: ``--help`` and ``--cfg job`` <= 1.5 s each; a refused config well under 2 s.
A bare ``python -c pass`` is measured alongside, as the floor.
"""

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
COMMANDS = {
    "python -c pass (floor)": ["-c", "pass"],
    "train.py --help": ["train.py", "--help"],
    "train.py --cfg job": ["train.py", "--cfg", "job"],
    "train.py fit.epochs=-1 (refused)": ["train.py", "fit.epochs=-1"],
}


def best_time(args: list[str], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run([sys.executable, *args], cwd=ROOT, capture_output=True)
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--json", type=Path, default=ROOT / "benchmarks" / "results" / "startup.json")
    args = parser.parse_args()
    result = {name: best_time(command, args.repeat) for name, command in COMMANDS.items()}
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=1))
    print(f"| command | best of {args.repeat} (s) |")
    print("|---|---|")
    for name, seconds in result.items():
        print(f"| `{name}` | {seconds:.2f} |")


if __name__ == "__main__":
    main()

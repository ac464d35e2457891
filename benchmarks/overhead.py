"""What ktrain costs, or saves, against the plain Keras scripts it replaces, as whole processes.

Digits: three programs train the same model on the same data (see plain_keras.py) for 3 and
for 43 epochs, in rounds; each round runs every (program, epochs) pair once, in an order that
rotates from round to round, so that a busy moment of the machine hits all alike:

- ``bare``: plain_keras.py --bare, compile, fit, evaluate, save, no callbacks;
- ``plain``: plain_keras.py, the same with a best checkpoint, ReduceLROnPlateau and a CSV log;
- ``ktrain``: ``python train.py ~callbacks.early_stopping`` into a warm local SQLite MLflow
  store, recording everything it records by default (params, per-epoch metrics, the backup,
  both checkpoints uploaded as written, artifacts, the logged model).

A program's time at each length is the median of its rounds; per-epoch cost is the slope
between the two lengths, fixed cost the intercept. Each round's own slope ratios are printed
too, to show the spread.

Images (``--image-rounds``, 0 to skip): a folder of generated JPEGs, read at 64x64 and
trained with the small CNN for ``--image-epochs`` by ktrain (``data=image_folder
model=simple_cnn``) and by plain Keras' ``image_dataset_from_directory`` plus ``fit``
(plain_images.py), alternating; each epoch is timed by throughput.py. The figure is the
median epoch after the first (ktrain's first fills its cache) and the whole process.

Targets: per epoch ktrain <= 0.85 x bare and <= 0.75 x plain; fixed ktrain - bare <= 0 s;
images: ktrain at least 2x as fast as plain Keras on a machine with bf16 hardware
(``--image-float32`` adds ktrain in float32, what its probe runs on a CPU without bf16).

    python benchmarks/overhead.py [--rounds 6] [--image-rounds 3] [--json benchmarks/results/overhead.json]
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHORT, LONG = 3, 43
PROGRAMS = ("bare", "plain", "ktrain")


def timed(command: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def command(program: str, epochs: int, out: Path) -> list[str]:
    if program == "ktrain":
        return [
            sys.executable,
            "train.py",
            f"fit.epochs={epochs}",
            "~callbacks.early_stopping",
            "fit.verbose=0",
            f"hydra.run.dir={out}",
        ]
    return [
        sys.executable,
        "benchmarks/plain_keras.py",
        str(epochs),
        str(out),
        *(["--bare"] if program == "bare" else []),
    ]


def digits(rounds: int, work: Path, env: dict[str, str]) -> dict:
    timed(command("ktrain", 1, work / "warm-up"), env)  # creates the store, as any earlier run would have
    times: dict[str, dict[int, list[float]]] = {p: {SHORT: [], LONG: []} for p in PROGRAMS}
    pairs = [(program, epochs) for epochs in (SHORT, LONG) for program in PROGRAMS]
    for round_ in range(rounds):
        shift = round_ % len(pairs)
        for program, epochs in pairs[shift:] + pairs[:shift]:
            seconds = timed(command(program, epochs, work / f"{program}-{epochs}-{round_}"), env)
            times[program][epochs].append(seconds)
            print(f"round {round_ + 1}: {program:6s} {epochs:2d} epochs {seconds:6.2f} s", flush=True)
    result = {}
    for program in PROGRAMS:
        short, long = (statistics.median(times[program][n]) for n in (SHORT, LONG))
        per_epoch = (long - short) / (LONG - SHORT)
        result[program] = {
            "median_s": {SHORT: short, LONG: long},
            "per_epoch_s": per_epoch,
            "fixed_s": short - SHORT * per_epoch,
        }
        result[program]["all_s"] = times[program]
    ktrain = result["ktrain"]
    for base in ("bare", "plain"):
        ktrain[f"per_epoch_ratio_{base}"] = ktrain["per_epoch_s"] / result[base]["per_epoch_s"]
        ktrain[f"fixed_minus_{base}_s"] = ktrain["fixed_s"] - result[base]["fixed_s"]
        ktrain[f"per_epoch_ratio_{base}_rounds"] = [
            (times["ktrain"][LONG][r] - times["ktrain"][SHORT][r]) / (times[base][LONG][r] - times[base][SHORT][r])
            for r in range(rounds)
        ]
    return result


def images(rounds: int, epochs: int, count: int, work: Path, env: dict[str, str], float32: bool = False) -> dict:
    sys.path.insert(0, str(ROOT))
    from benchmarks.input_pipeline import make_folder

    folder = work / "images"
    for split, n, seed in (("train", count, 0), ("val", count // 10, 1), ("test", count // 10, 2)):
        make_folder(folder / split, n, 10, seed=seed)

    def ktrain(out: Path, *more: str) -> list[str]:
        return [
            sys.executable,
            "train.py",
            "data=image_folder",
            f"data.path={folder}",
            "data.image_size=[64,64]",
            "model=simple_cnn",
            f"fit.epochs={epochs}",
            "~callbacks.early_stopping",
            "fit.verbose=0",
            "+callbacks.throughput._target_=benchmarks.throughput.Throughput",
            f"+callbacks.throughput.path={out / 'throughput.json'}",
            f"+callbacks.throughput.images_per_epoch={count}",
            f"hydra.run.dir={out}",
            *more,
        ]

    sides = {
        "ktrain": ktrain,
        "plain": lambda out: [sys.executable, "benchmarks/plain_images.py", str(folder), str(epochs), str(out)],
    }
    if float32:  # what the probe chooses where the CPU has no bf16: steps per execution and XLA only
        sides["ktrain_float32"] = lambda out: ktrain(out, "hardware.mixed_precision=null")
    figures: dict[str, dict[str, list[float]]] = {
        side: {"epoch_s": [], "process_s": [], "first_epoch_s": []} for side in sides
    }
    for round_ in range(rounds):
        for side in sides if round_ % 2 == 0 else reversed(list(sides)):
            out = work / f"images-{side}-{round_}"
            seconds = timed(sides[side](out), env)
            epoch_s = json.loads((out / "throughput.json").read_text())["epoch_seconds"]
            figures[side]["epoch_s"].append(statistics.median(epoch_s[1:]))
            figures[side]["first_epoch_s"].append(epoch_s[0])
            figures[side]["process_s"].append(seconds)
            print(
                f"images round {round_ + 1}: {side:6s} epochs 2+ {figures[side]['epoch_s'][-1]:.2f} s, "
                f"first {epoch_s[0]:.2f} s, process {seconds:.1f} s",
                flush=True,
            )
    median = {side: {k: statistics.median(v) for k, v in f.items()} for side, f in figures.items()}
    return {
        "images": count,
        "epochs": epochs,
        "rounds": figures,
        "median": median,
        **{
            f"speedup_{figure}{side[len('ktrain') :]}": median["plain"][key] / median[side][key]
            for side in sides
            if side != "plain"
            for figure, key in (("epochs_2_on", "epoch_s"), ("process", "process_s"))
        },
    }


def machine() -> str:
    flags = set()
    if os.path.exists("/proc/cpuinfo"):
        text = Path("/proc/cpuinfo").read_text()
        flags = set(next((line for line in text.splitlines() if line.startswith("flags")), "").split())
    bf16 = sorted(flags & {"avx512_bf16", "amx_bf16"}) or ["none"]
    return f"{os.cpu_count()} cores, bf16 CPU flags: {', '.join(bf16)}"


def report(result: dict) -> None:
    d = result["digits"]
    print(f"\nmachine: {result['machine']}; load average before {result['load_before']}, after {result['load_after']}")
    print("| program | 3 epochs (s) | 43 epochs (s) | per epoch (s) | fixed (s) |")
    print("|---|---|---|---|---|")
    for program in PROGRAMS:
        r = d[program]
        short, long = r["median_s"][SHORT], r["median_s"][LONG]
        print(f"| {program} | {short:.2f} | {long:.2f} | {r['per_epoch_s']:.4f} | {r['fixed_s']:.2f} |")
    k = d["ktrain"]
    for base, target in (("bare", 0.85), ("plain", 0.75)):
        rounds = ", ".join(f"{r:.2f}" for r in k[f"per_epoch_ratio_{base}_rounds"])
        print(
            f"per epoch ktrain / {base}: {k[f'per_epoch_ratio_{base}']:.3f} (target <= {target}; each round: {rounds})"
        )
        print(
            f"fixed ktrain - {base}: {k[f'fixed_minus_{base}_s']:+.2f} s"
            + (" (target <= 0 s)" if base == "bare" else "")
        )
    if "images" in result:
        i = result["images"]
        m = i["median"]
        print(
            f"images ({i['images']} JPEGs at 64x64, {i['epochs']} epochs): epochs 2+ ktrain "
            f"{m['ktrain']['epoch_s']:.2f} s, plain {m['plain']['epoch_s']:.2f} s: "
            f"{i['speedup_epochs_2_on']:.2f}x faster (target >= 2 with bf16 hardware); "
            f"whole process {i['speedup_process']:.2f}x"
        )
        if "ktrain_float32" in m:
            f32 = m["ktrain_float32"]["epoch_s"]
            print(
                f"images, ktrain in float32 (as on a CPU without bf16): epochs 2+ {f32:.2f} s: "
                f"{i['speedup_epochs_2_on_float32']:.2f}x faster than plain; "
                f"whole process {i['speedup_process_float32']:.2f}x"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--image-rounds", type=int, default=3)
    parser.add_argument("--image-epochs", type=int, default=10)
    parser.add_argument("--images", type=int, default=4000)
    parser.add_argument(
        "--image-float32",
        action="store_true",
        help="also run the image side of ktrain in float32, as the probe would run it on a CPU without bf16",
    )
    parser.add_argument("--json", type=Path, default=ROOT / "benchmarks" / "results" / "overhead.json")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="ktrain-overhead-"))
    env = {**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{work / 'mlflow.db'}"}
    env.pop("MLFLOW_EXPERIMENT_NAME", None)
    # Python caches each module's bytecode (ktrain's modules at their first run; pip compiles an
    # installed wheel's), unless told not to, as this development machine's environment does:
    # every run would compile ktrain's 139 modules again, 0.1 s the bare script does not pay.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    result = {"machine": machine(), "load_before": os.getloadavg()}
    result["digits"] = digits(max(args.rounds, 2), work, env)
    if args.image_rounds:
        result["images"] = images(args.image_rounds, args.image_epochs, args.images, work, env, args.image_float32)
    result["load_after"] = os.getloadavg()
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=1))
    report(result)


if __name__ == "__main__":
    main()

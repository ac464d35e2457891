"""ktrain vs a plain Keras script: ResNet50 at 224x224, batch 256, Keras on JAX, one GPU,
training images per second, both measured in one call of at most --deadline-s (8 minutes).

- ``plain``: resnet50_plain.py, mixed_bfloat16 set by hand as the tutorials do, once;
- ``ktrain``: ``train.py -m model=resnet50 data=synthetic hardware=gpu seed=1,2``, a sweep of
  two jobs with every execution setting left to the probe (hardware.autotune): the first job
  measures float32 and the GPU's reduced precision and compiles, the second finds the
  compilations in JAX's persistent cache (which ktrain turns on for a sweep's jobs) and
  measures again. Each job is configured as the long run it stands for (``fit.epochs``,
  ``--declared-epochs``, which the probe weighs its trials' compiles against) and stopped
  after ``--epochs`` by the throughput callback.

A side's figure is the median images/s of its epochs after the first (which compiles its
validation step); an epoch's time includes what its callbacks do at its end (the checkpoints,
the backup, MLflow). The ktrain figure is the better of its two jobs. Printed and written to
``results/resnet50_jax.json``: images/s of each, the ratio (target >= 0.95), the settings the
probe chose and why, each process's wall time. MLPerf's optimised MXNet ResNet50 reaches about
7,160 images/s per H100; plain Keras 3 on JAX with bf16 measured 5,286.

    pip install -e ".[jax]" "jax[cuda12]"
    python benchmarks/resnet50_jax.py                       # on a GPU machine, about 6 minutes
    python benchmarks/resnet50_jax.py --device cpu --image-size 32 --batch-size 16 --steps 4 \\
        --val-samples 32 --classes 10 --epochs 2                     # a smoke run of both sides
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
RESULTS = ROOT / "benchmarks" / "results" / "resnet50_jax.json"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--device", choices=("gpu", "cpu"), default="gpu")
    parser.add_argument("--image-size", type=int, default=224)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--steps", type=int, default=50, help="training steps per epoch")
    parser.add_argument("--val-samples", type=int, default=1280)
    parser.add_argument("--epochs", type=int, default=3, help="epochs measured")
    parser.add_argument("--declared-epochs", type=int, default=400, help="fit.epochs of the ktrain jobs")
    parser.add_argument("--classes", type=int, default=1000)
    parser.add_argument("--deadline-s", type=float, default=480.0)
    args = parser.parse_args()
    started = time.monotonic()

    def left() -> float:
        return args.deadline_s - (time.monotonic() - started)

    result = {"device": device_name(args.device), "settings": vars(args), "processes_s": {}}
    with tempfile.TemporaryDirectory(prefix="resnet50-jax-") as scratch:
        scratch = Path(scratch)
        plain = run_side("plain", plain_command(args, scratch / "plain.json"), scratch, left(), result)
        jobs = run_side("ktrain", ktrain_command(args, scratch), scratch, left(), result)
        result["images_per_second"] = {"plain": figure(plain[0]), "ktrain": max(figure(job) for job in jobs)}
        result["ktrain_jobs_images_per_second"] = [figure(job) for job in jobs]
        result["autotune"] = chosen(scratch)
    best = result["images_per_second"]
    result["ratio_ktrain_to_plain"] = best["ktrain"] / best["plain"]
    result["wall_s"] = time.monotonic() - started
    print(json.dumps(result, indent=1))
    if args.device == "gpu":
        RESULTS.parent.mkdir(exist_ok=True)
        RESULTS.write_text(json.dumps(result, indent=1) + "\n")


def plain_command(args, out: Path) -> list[str]:
    sizes = ("image-size", "batch-size", "steps", "val-samples", "epochs", "classes")
    options = [item for name in sizes for item in (f"--{name}", str(getattr(args, name.replace("-", "_"))))]
    return [sys.executable, "benchmarks/resnet50_plain.py", str(out), *options]


def ktrain_command(args, scratch: Path) -> list[str]:
    images = args.steps * args.batch_size
    samples = images + 2 * args.val_samples
    fraction = args.val_samples / samples
    return [
        sys.executable,
        "train.py",
        "-m",
        "seed=1,2",
        "model=resnet50",
        "data=synthetic",
        f"data.input_shape=[{args.image_size},{args.image_size},3]",
        f"data.num_classes={args.classes}",
        f"data.samples={samples}",
        f"data.val_fraction={fraction}",
        f"data.test_fraction={fraction}",
        f"data.batch_size={args.batch_size}",
        f"hardware={args.device}",
        f"fit.epochs={args.declared_epochs}",
        f"fit.steps_per_epoch={args.steps}",
        "fit.verbose=2",
        "mlflow.log_model=false",
        "~callbacks.early_stopping",
        "+callbacks.throughput._target_=benchmarks.throughput.Throughput",
        f"+callbacks.throughput.path={scratch}/ktrain-${{seed}}.json",
        f"+callbacks.throughput.images_per_epoch={images}",
        f"+callbacks.throughput.stop_after_epochs={args.epochs}",
        f"hydra.sweep.dir={scratch / 'sweep'}",
    ]


def run_side(side: str, command: list[str], scratch: Path, timeout: float, result: dict) -> list[dict]:
    """Run one side within ``timeout`` seconds; the throughput files it wrote."""
    env = {**os.environ, "KERAS_BACKEND": "jax", "MLFLOW_TRACKING_URI": f"sqlite:///{scratch / 'mlflow.db'}"}
    env.setdefault("KTRAIN_CACHE_DIR", str(scratch / "cache"))  # a cold persistent cache, then the job's own
    if result["settings"]["device"] == "cpu":
        env.update(JAX_PLATFORMS="cpu", CUDA_VISIBLE_DEVICES="")
    start = time.monotonic()
    subprocess.run(command, cwd=ROOT, env=env, check=True, timeout=max(timeout, 1))
    result["processes_s"][side] = time.monotonic() - start
    files = sorted(scratch.glob("plain.json" if side == "plain" else "ktrain-*.json"))
    for file in files:
        print(f"{side} {file.stem}: {figure(json.loads(file.read_text())):.1f} images/s", flush=True)
    return [json.loads(file.read_text()) for file in files]


def figure(throughput: dict) -> float:
    per_epoch = throughput["images_per_second"]
    return statistics.median(per_epoch[1:] or per_epoch)


def chosen(scratch: Path) -> list[str]:
    """What each job's probe chose, from its train.log."""
    return [
        line.split("] ", 1)[-1].strip()
        for log in sorted((scratch / "sweep").glob("*/train.log"))
        for line in log.read_text().splitlines()
        if "autotune:" in line
    ]


def device_name(device: str) -> str:
    if device == "gpu":
        try:
            query = ["nvidia-smi", "--query-gpu=name,memory.total", "--format=csv,noheader"]
            return subprocess.run(query, capture_output=True, text=True, check=True).stdout.strip()
        except (OSError, subprocess.CalledProcessError):
            return "unknown GPU"
    return f"CPU ({os.cpu_count()} cores)"


if __name__ == "__main__":
    main()

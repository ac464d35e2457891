"""ktrain vs a plain Keras script: ResNet50 at 224x224, mixed_bfloat16, batch 256, Keras on
JAX, training images per second, both measured in the same run.

Each side runs as its own process, alternating, for --rounds rounds; a side's figure is the
median images/s of its epochs after the first (which compiles), best over the rounds. The
ktrain side is ``train.py`` with its default callbacks (checkpoint, backup, MLflow logging):
the time an epoch's callbacks take counts. Target: ratio >= 0.95 on a GPU.

    pip install -e ".[jax]" "jax[cuda12]"
    python benchmarks/resnet50_jax.py                       # on a GPU machine
    python benchmarks/resnet50_jax.py --device cpu --image-size 32 --batch-size 16 --steps 4 \
        --val-samples 32 --classes 10 --epochs 2 --rounds 1                # a smoke run
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
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
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--classes", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()

    figures: dict[str, list[float]] = {"plain": [], "ktrain": []}
    with tempfile.TemporaryDirectory(prefix="resnet50-jax-") as scratch:
        for index in range(args.rounds):
            for side in ("plain", "ktrain") if index % 2 == 0 else ("ktrain", "plain"):
                out = Path(scratch) / f"{side}-{index}.json"
                run(side, args, out, Path(scratch))
                per_epoch = json.loads(out.read_text())["images_per_second"]
                figures[side].append(statistics.median(per_epoch[1:] or per_epoch))
                print(f"round {index + 1} {side}: {figures[side][-1]:.1f} images/s", flush=True)

    best = {side: max(values) for side, values in figures.items()}
    result = {
        "device": device_name(args.device),
        "settings": vars(args),
        "images_per_second": best,
        "rounds": figures,
        "ratio_ktrain_to_plain": best["ktrain"] / best["plain"],
    }
    print(json.dumps(result, indent=1))
    if args.device == "gpu":
        RESULTS.parent.mkdir(exist_ok=True)
        RESULTS.write_text(json.dumps(result, indent=1) + "\n")


def run(side: str, args, out: Path, scratch: Path) -> None:
    env = {**os.environ, "KERAS_BACKEND": "jax", "MLFLOW_TRACKING_URI": f"sqlite:///{scratch / 'mlflow.db'}"}
    images = args.steps * args.batch_size
    if side == "plain":
        if args.device == "cpu":
            env.update(JAX_PLATFORMS="cpu", CUDA_VISIBLE_DEVICES="")
        command = [
            sys.executable,
            "benchmarks/resnet50_plain.py",
            str(out),
            "--image-size",
            str(args.image_size),
            "--batch-size",
            str(args.batch_size),
            "--steps",
            str(args.steps),
            "--val-samples",
            str(args.val_samples),
            "--epochs",
            str(args.epochs),
            "--classes",
            str(args.classes),
        ]
    else:
        samples = images + 2 * args.val_samples
        fraction = args.val_samples / samples
        command = [
            sys.executable,
            "train.py",
            "model=resnet50",
            "data=synthetic",
            f"data.input_shape=[{args.image_size},{args.image_size},3]",
            f"data.num_classes={args.classes}",
            f"data.samples={samples}",
            f"data.val_fraction={fraction}",
            f"data.test_fraction={fraction}",
            f"data.batch_size={args.batch_size}",
            f"hardware={args.device}",
            "hardware.mixed_precision=mixed_bfloat16",
            f"fit.epochs={args.epochs}",
            f"fit.steps_per_epoch={args.steps}",
            "fit.verbose=2",
            "mlflow.log_model=false",
            "+callbacks.throughput._target_=benchmarks.throughput.Throughput",
            f"+callbacks.throughput.path={out}",
            f"+callbacks.throughput.images_per_epoch={images}",
            f"hydra.run.dir={scratch / f'ktrain-{out.stem}'}",
        ]
    subprocess.run(command, cwd=ROOT, env=env, check=True)


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

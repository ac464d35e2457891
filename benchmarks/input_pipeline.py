"""Images per second of data=image_folder's pipeline vs keras.utils.image_dataset_from_directory,
the first epoch and epochs 2 and later reported apart.

Both read the same generated JPEGs (photo-like, sizes varying around 320x240): ktrain's
train split is ``train/`` of a pre-split folder, and keras reads that ``train/`` folder.
Both resize to 224x224 RGB, shuffle and batch by 32, without augmentation. Three pipelines:
ktrain as configured by default (``cache=auto``: its first epoch decodes and fills the cache,
the later ones read it), ktrain with ``cache=null`` (decodes every epoch, as keras does: the
same work, so the two should be at parity), and keras. Epochs of the three alternate (and
take turns going first), so all see the same load on the machine; the median rate of each is
compared, for the first epoch and for epochs 2 and later. Time to first batch counts from
nothing: listing the folder (and, for ktrain, decoding every file once to find bad ones) up
to the first batch.

Then the check of every file, once: a first and a second run of the data module on one
folder of ``--scan-images`` JPEGs (goal: the second's check <= 0.1x the first's), each
timed from nothing to its first batch; the record of checked files starts empty.

    python benchmarks/input_pipeline.py [--images 2000] [--classes 10] [--epochs 8] [--scan-images 4000]
    python benchmarks/input_pipeline.py --scan-only             # only the first-and-second-run part
"""

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

IMAGE_SIZE = (224, 224)
BATCH_SIZE = 32


def make_folder(root: Path, images: int, classes: int, seed: int = 0) -> None:
    """``images`` JPEGs in ``classes`` subfolders of ``root``: smooth colour fields with noise,
    240-400 px wide."""
    rng = np.random.default_rng(seed)
    for i in range(images):
        width, height = int(rng.integers(240, 400)), int(rng.integers(180, 300))
        coarse = rng.uniform(0, 255, size=(6, 8, 3)).astype("uint8")
        field = np.asarray(Image.fromarray(coarse).resize((width, height), Image.BICUBIC), dtype="float32")
        pixels = np.clip(field + rng.normal(0, 12, field.shape), 0, 255).astype("uint8")
        folder = root / f"class_{i % classes:03d}"
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(pixels).save(folder / f"{i:05d}.jpg", quality=90)


def epoch_rate(dataset) -> float:
    start, count = time.perf_counter(), 0
    for images, _ in dataset:
        count += int(images.shape[0])
    return count / (time.perf_counter() - start)


def machine() -> str:
    import tensorflow as tf

    cpu = platform.processor() or platform.machine()
    if os.path.exists("/proc/cpuinfo"):
        names = [
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ]
        cpu = names[0] if names else cpu
    gpus = len(tf.config.list_physical_devices("GPU"))
    return f"{cpu}, {os.cpu_count()} cores, {gpus} GPU(s), TensorFlow {tf.__version__}, Python {sys.version.split()[0]}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--images", type=int, default=2000)
    parser.add_argument("--classes", type=int, default=10)
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--scan-images", type=int, default=4000)
    parser.add_argument("--scan-only", action="store_true")
    args = parser.parse_args()

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if not args.scan_only:
        compare_with_keras(args)
    scan_once(args.scan_images, args.classes)


def scan_once(images: int, classes: int) -> None:
    """The first and the second run's time to the first batch on one folder, and of it the
    check of every file (the data module's construction)."""
    from ktrain.data.image_folder import ImageFolderData

    with tempfile.TemporaryDirectory() as tmp:
        os.environ["KTRAIN_CACHE_DIR"] = str(Path(tmp) / "cache")  # an empty record of checked files
        make_folder(Path(tmp) / "images", images, classes, seed=3)
        timings = []
        for _ in range(2):
            start = time.perf_counter()
            data = ImageFolderData(str(Path(tmp) / "images"), batch_size=BATCH_SIZE, image_size=IMAGE_SIZE)
            checked = time.perf_counter() - start
            next(iter(data.split("train").x))
            timings.append((checked, time.perf_counter() - start))
        (first_check, first_batch), (second_check, second_batch) = timings
        print(
            f"check once: {images} JPEGs; first run: first batch after {first_batch:.2f} s ({first_check:.2f} s "
            f"listing and checking the files); second run: after {second_batch:.2f} s ({second_check:.2f} s)"
        )
        print(f"ratio second / first check: {second_check / first_check:.3f} (goal <= 0.1)")


def compare_with_keras(args) -> None:
    """ktrain's train split, cached and not, against image_dataset_from_directory on the same files."""
    import keras

    from ktrain.data.image_folder import ImageFolderData

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "images"
        make_folder(folder / "train", args.images, args.classes)
        make_folder(folder / "val", args.classes, args.classes, seed=1)
        make_folder(folder / "test", args.classes, args.classes, seed=2)
        print(f"machine: {machine()}")
        print(
            f"data:    {args.images} training JPEGs in {args.classes} classes -> "
            f"{IMAGE_SIZE[0]}x{IMAGE_SIZE[1]} RGB, batch {BATCH_SIZE}"
        )
        first: dict[str, float] = {}
        start = time.perf_counter()
        default = ImageFolderData(str(folder), batch_size=BATCH_SIZE, image_size=IMAGE_SIZE)
        setup = time.perf_counter() - start
        pipelines = {"ktrain": default.split("train").x}
        next(iter(pipelines["ktrain"].take(1)))
        first["ktrain"] = time.perf_counter() - start
        uncached = ImageFolderData(str(folder), batch_size=BATCH_SIZE, image_size=IMAGE_SIZE, cache=None)
        pipelines["ktrain, cache=null"] = uncached.split("train").x
        start = time.perf_counter()
        pipelines["keras"] = keras.utils.image_dataset_from_directory(
            str(folder / "train"), image_size=IMAGE_SIZE, batch_size=BATCH_SIZE, shuffle=True, seed=0, verbose=False
        )
        next(iter(pipelines["keras"]))
        first["keras"] = time.perf_counter() - start

        rates: dict[str, list[float]] = {name: [] for name in pipelines}
        names = list(pipelines)
        for epoch in range(args.epochs):
            order = names[epoch % len(names) :] + names[: epoch % len(names)]
            for name in order:
                rates[name].append(epoch_rate(pipelines[name]))
        report(rates, first, setup, default.cache, args.epochs)


def report(rates: dict[str, list[float]], first: dict[str, float], setup: float, cache: str, epochs: int) -> None:
    later = {name: statistics.median(values[1:]) for name, values in rates.items()}
    print(
        f"ktrain caches {cache} (cache=auto); first batch after {first['ktrain']:.2f} s ({setup:.2f} s of it "
        f"listing the folder and decoding every file once to find bad ones); keras after {first['keras']:.2f} s"
    )
    print("| pipeline | epoch 1 (images/s) | epochs 2+ (images/s, median) |")
    print("|---|---|---|")
    for name, values in rates.items():
        print(f"| {name} | {values[0]:.0f} | {later[name]:.0f} |")
    print(
        f"epochs 2+: ktrain / keras {later['ktrain'] / later['keras']:.2f}x; decoding every epoch, "
        f"ktrain / keras {later['ktrain, cache=null'] / later['keras']:.2f}x (goal >= 1.0x); "
        f"epoch 1: ktrain / keras {rates['ktrain'][0] / rates['keras'][0]:.2f}x ({epochs} epochs each, alternating)"
    )
    for name, values in rates.items():
        print(f"  {name} per epoch: {' '.join(f'{v:.0f}' for v in values)}")


if __name__ == "__main__":
    main()

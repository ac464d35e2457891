"""The image baseline: plain Keras' ``image_dataset_from_directory`` plus ``fit``, nothing of ktrain.

The keras.io "Image classification from scratch" way: ``train/`` and ``val/`` folders read
with ``keras.utils.image_dataset_from_directory`` (resized to ``--image-size``, batch 32,
prefetched), the same small CNN as ktrain's ``model=simple_cnn`` (rescaling, conv-pool 32 and
64, dense 128, softmax), Adam 1e-3, float32; then evaluate on ``test/`` and save. Each epoch is
timed by ``benchmarks/throughput.py``, as the ktrain side is.

    python benchmarks/plain_images.py FOLDER EPOCHS OUT_DIR [--image-size 64]
"""

import argparse
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ["CUDA_VISIBLE_DEVICES"] = ""

import keras
import tensorflow as tf

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.plain_keras import simple_cnn
from benchmarks.throughput import Throughput


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("folder", type=Path)
    parser.add_argument("epochs", type=int)
    parser.add_argument("out", type=Path)
    parser.add_argument("--image-size", type=int, default=64)
    args = parser.parse_args()
    keras.utils.set_random_seed(42)
    size = (args.image_size, args.image_size)

    def read(split: str, shuffle: bool):
        return keras.utils.image_dataset_from_directory(
            args.folder / split, image_size=size, batch_size=32, shuffle=shuffle, seed=42, verbose=False
        )

    train = read("train", shuffle=True)
    images = sum(len(files) for _, _, files in os.walk(args.folder / "train"))
    classes = len(train.class_names)
    train, val, test = (ds.prefetch(tf.data.AUTOTUNE) for ds in (train, read("val", False), read("test", False)))

    model = simple_cnn((*size, 3), classes)
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    args.out.mkdir(parents=True, exist_ok=True)
    throughput = Throughput(str(args.out / "throughput.json"), images)
    model.fit(train, epochs=args.epochs, validation_data=val, callbacks=[throughput], verbose=0)
    print(model.evaluate(test, verbose=0))
    model.save(args.out / "model.keras")


if __name__ == "__main__":
    main()

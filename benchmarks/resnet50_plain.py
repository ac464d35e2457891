"""The baseline for resnet50_jax.py: ResNet50 in a plain Keras script, nothing of ktrain.

Random 224x224 images and labels, ResNet50 without weights (include_top=False, average
pooling) and a softmax head, Adam, the global mixed_bfloat16 policy, fit with validation data,
as the tutorials' script does. Run by resnet50_jax.py with the same sizes as the ktrain run.

    KERAS_BACKEND=jax python benchmarks/resnet50_plain.py OUT.json --batch-size 256 --steps 50 ...
"""

import argparse
import sys
from pathlib import Path

import keras
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.throughput import Throughput


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("out")
    parser.add_argument("--image-size", type=int, default=224)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--val-samples", type=int, default=1280)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--classes", type=int, default=1000)
    args = parser.parse_args()

    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    shape = (args.image_size, args.image_size, 3)

    def images(count):
        pixels = rng.uniform(0, 255, size=(count, *shape)).astype("float32")
        return keras.applications.resnet50.preprocess_input(pixels), rng.integers(0, args.classes, count)

    x, y = images(args.steps * args.batch_size)
    x_val, y_val = images(args.val_samples)
    base = keras.applications.ResNet50(include_top=False, weights=None, input_shape=shape, pooling="avg")
    outputs = keras.layers.Dense(args.classes, activation="softmax", dtype="float32")(base.output)
    model = keras.Model(base.input, outputs)
    model.compile(keras.optimizers.Adam(1e-3), "sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(
        x,
        y,
        batch_size=args.batch_size,
        epochs=args.epochs,
        validation_data=(x_val, y_val),
        verbose=2,
        callbacks=[Throughput(args.out, args.steps * args.batch_size)],
    )


if __name__ == "__main__":
    main()

"""The baseline: the tutorials' training script in plain Keras 3, nothing of ktrain.

Same data, split, architecture, optimizer, batch size and callbacks as ``python train.py
~callbacks.early_stopping``: digits split 70/10/20 stratified with seed 42, the simple CNN,
Adam 1e-3, batch 32, a best checkpoint, ReduceLROnPlateau, a CSV log; then evaluate on the
test split, save the model and pickle the history, as the tutorials do. With ``--bare``: no
callbacks at all (compile, fit, evaluate, save).

    python benchmarks/plain_keras.py EPOCHS OUT_DIR [--bare]
"""

import os
import pickle
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ["CUDA_VISIBLE_DEVICES"] = ""

import keras
from keras import layers

SEED = 42


def simple_cnn(input_shape: tuple[int, ...], classes: int) -> keras.Model:
    """ktrain's model=simple_cnn, written out: rescaling, conv-pool 32 and 64, dense 128, softmax."""
    inputs = keras.Input(input_shape)
    h = layers.Rescaling(1.0 / 255)(inputs)
    for width in (32, 64):
        h = layers.Conv2D(width, 3, padding="same", activation="relu")(h)
        h = layers.MaxPooling2D(padding="same")(h)
    h = layers.Flatten()(h)
    h = layers.Dropout(0.25)(h)
    h = layers.Dense(128, activation="relu")(h)
    h = layers.Dropout(0.25)(h)
    return keras.Model(inputs, layers.Dense(classes, activation="softmax")(h))


def main(epochs: int, out_dir: Path, bare: bool = False) -> None:
    from sklearn.datasets import load_digits  # here, so that plain_images.py does without it
    from sklearn.model_selection import train_test_split

    keras.utils.set_random_seed(SEED)
    digits = load_digits()
    x = (digits.images[..., None] * (255.0 / 16.0)).astype("float32")
    y = digits.target.astype("int64")
    x_rest, x_test, y_rest, y_test = train_test_split(x, y, test_size=0.2, stratify=y, random_state=SEED)
    x_train, x_val, y_train, y_val = train_test_split(
        x_rest, y_rest, test_size=0.1 / 0.8, stratify=y_rest, random_state=SEED
    )

    model = simple_cnn((8, 8, 1), 10)
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy", metrics=["accuracy"])

    (out_dir / "checkpoints").mkdir(parents=True, exist_ok=True)
    callbacks = (
        []
        if bare
        else [
            keras.callbacks.ModelCheckpoint(str(out_dir / "checkpoints" / "best.keras"), save_best_only=True),
            keras.callbacks.ReduceLROnPlateau(factor=0.5, patience=2, min_lr=1e-6),
            keras.callbacks.CSVLogger(str(out_dir / "epochs.csv"), append=True),
        ]
    )
    history = model.fit(
        x_train, y_train, batch_size=32, epochs=epochs, validation_data=(x_val, y_val), callbacks=callbacks, verbose=0
    )
    print(model.evaluate(x_test, y_test, verbose=0))
    model.save(out_dir / "model.keras")
    with open(out_dir / "his.pkl", "wb") as f:
        pickle.dump(history.history, f)


if __name__ == "__main__":
    main(int(sys.argv[1]), Path(sys.argv[2]), bare="--bare" in sys.argv[3:])

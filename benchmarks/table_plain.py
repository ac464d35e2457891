"""The plain Keras script that benchmarks/table.py compares data=table with: the table read
whole with pandas, split 70/10/20 at random, missing values filled, and preprocessed in the
tf.data pipeline, as Keras' structured-data examples do: keras.utils.FeatureSpace for the
numbers and categories, and a TextVectorization per text column beside it (a FeatureSpace
text feature fails its concatenation, Keras 3.15), adapted on the whole training split; the
same Dense layers as model=tabular on the encoded features, one epoch. Prints one JSON line:
the training rows and the epoch's seconds.

    python benchmarks/table_plain.py TABLE.csv LABEL_COLUMN
"""

import json
import sys
import time

import keras
import numpy as np
import pandas as pd
import tensorflow as tf

BATCH_SIZE = 1024
TEXT_WORDS = 3  # as ktrain's inference: a string column of 3 words or more on average is text


class EpochTime(keras.callbacks.Callback):
    def on_epoch_begin(self, epoch, logs=None):
        self.start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds = time.perf_counter() - self.start


def preprocessing(frame: pd.DataFrame):
    """A FeatureSpace of the number and category columns, and a TextVectorization of each text
    column."""
    features, texts = {}, {}
    for name in frame.columns:
        if pd.api.types.is_numeric_dtype(frame[name]):
            features[name] = "float_normalized"
        elif frame[name].str.split().str.len().mean() >= TEXT_WORDS:
            texts[name] = keras.layers.TextVectorization(max_tokens=2000, output_mode="multi_hot")
        else:
            features[name] = keras.utils.FeatureSpace.string_categorical(max_tokens=101)
    return keras.utils.FeatureSpace(features, output_mode="concat"), texts


def main() -> None:
    path, label = sys.argv[1], sys.argv[2]
    frame = pd.read_csv(path)
    labels = frame.pop(label).astype("category").cat.codes.to_numpy().astype("int64")
    for name in frame.columns:
        numeric = pd.api.types.is_numeric_dtype(frame[name])
        frame[name] = frame[name].fillna(frame[name].mean() if numeric else "")
    order = np.random.default_rng(0).permutation(len(frame))
    train, val = order[: int(0.7 * len(order))], order[int(0.7 * len(order)) : int(0.8 * len(order))]

    def dataset(rows, shuffle=False):
        data = tf.data.Dataset.from_tensor_slices((dict(frame.iloc[rows]), labels[rows]))
        return (data.shuffle(16384) if shuffle else data).batch(BATCH_SIZE)

    space, texts = preprocessing(frame)
    columns = dataset(train).map(lambda x, _: x)
    space.adapt(columns.map(lambda x: {name: x[name] for name in space.features}))
    for name, vectorize in texts.items():
        vectorize.adapt(columns.map(lambda x, name=name: x[name]))

    def encode(x, y):
        encoded = [space({name: x[name] for name in space.features})]
        words = [tf.cast(vectorize(x[name]), "float32") for name, vectorize in texts.items()]
        return tf.concat(encoded + words, axis=-1), y

    encoded = {
        name: dataset(rows, name == "train").map(encode, num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)
        for name, rows in (("train", train), ("val", val))
    }
    width = next(iter(encoded["train"]))[0].shape[-1]
    inputs = keras.Input((width,))
    x = keras.layers.Dropout(0.1)(keras.layers.Dense(128, activation="relu")(inputs))
    x = keras.layers.Dropout(0.1)(keras.layers.Dense(64, activation="relu")(x))
    model = keras.Model(inputs, keras.layers.Dense(int(labels.max()) + 1, activation="softmax")(x))
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    timer = EpochTime()
    model.fit(encoded["train"], validation_data=encoded["val"], epochs=1, callbacks=[timer], verbose=0)
    print(json.dumps({"rows": len(train), "epoch_s": timer.seconds}))


if __name__ == "__main__":
    main()

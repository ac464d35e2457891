"""How a run hands its train and val splits to ``Model.fit``.

In-memory arrays go to ``fit`` on TensorFlow as a tf.data pipeline over their slices
(shuffled every epoch, batched, prefetched), not as the arrays. Keras turns arrays into a
pipeline of its own, which slices them by shuffled indices, and making an iterator of it takes
9 ms; ``fit`` makes four an epoch (train and validation, each made again at the epoch's end
for the next one). An iterator of the pipeline here takes 0.3 ms: on the default digits run,
that is 36 ms of a 130 to 180 ms epoch (both measured on this repository's development
machine). Other backends iterate arrays in Python, where an iterator costs nothing; a
multi-worker run keeps Keras' own sharding of the arrays.
"""

import keras

from ktrain.data import Split, array_length


def fit_splits(splits: dict[str, Split], shuffle: bool, seed: int, multi_worker: bool) -> dict[str, Split]:
    """``splits`` as ``fit`` is to get them: the train and val splits of arrays as datasets on
    TensorFlow (the train split shuffled every epoch if ``shuffle``), the rest as they are."""
    if keras.backend.backend() != "tensorflow" or multi_worker:
        return splits
    fed = dict(splits)
    for name in ("train", "val"):
        split = splits.get(name)
        if split is not None and split.y is not None:
            fed[name] = Split(_pipeline(split, shuffle and name == "train", seed))
    return fed


def _pipeline(split: Split, shuffle: bool, seed: int):
    import tensorflow as tf  # on this backend only

    dataset = tf.data.Dataset.from_tensor_slices((split.x, split.y))
    if shuffle:  # the whole split, as Keras shuffles arrays: a new order every epoch
        dataset = dataset.shuffle(array_length(split.y), seed=seed, reshuffle_each_iteration=True)
    return dataset.batch(split.batch_size).prefetch(tf.data.AUTOTUNE)

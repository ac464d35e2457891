"""Data modules: real arrays, seeded stratified splits, the spec a model is built from."""

import numpy as np
import pytest

from ktrain.data.arrays import DigitsData, NpzData, SyntheticData
from ktrain.errors import UserError


def test_digits_split_70_10_20_stratified_and_seeded():
    data = DigitsData(batch_size=32, seed=7)
    assert data.spec.split_sizes == {"train": 1257, "val": 180, "test": 360}
    assert data.spec.input_shape == (8, 8, 1) and data.spec.num_classes == 10
    x_train = data.split("train").x
    assert x_train.dtype == np.float32 and x_train.min() >= 0 and x_train.max() == 255
    proportions = np.bincount(data.split("test").y) / 360
    assert np.all(np.abs(proportions - 0.1) < 0.02)
    again = DigitsData(batch_size=32, seed=7)
    np.testing.assert_array_equal(again.split("val").y, data.split("val").y)
    assert not np.array_equal(DigitsData(batch_size=32, seed=8).split("val").y, data.split("val").y)


def test_npz_with_keras_datasets_layout(tmp_path):
    rng = np.random.default_rng(0)
    path = tmp_path / "d.npz"
    np.savez(
        path,
        x_train=rng.integers(0, 255, (200, 6, 6), dtype="uint8"),
        y_train=np.arange(200) % 4,
        x_test=rng.integers(0, 255, (40, 6, 6), dtype="uint8"),
        y_test=np.arange(40) % 4,
        class_names=np.array(["a", "b", "c", "d"]),
    )
    data = NpzData(str(path), batch_size=16, val_fraction=0.1)
    assert data.spec.input_shape == (6, 6, 1)
    assert data.spec.class_names == ("a", "b", "c", "d")
    assert data.spec.split_sizes == {"train": 180, "val": 20, "test": 40}


@pytest.mark.parametrize(
    "arrays, settings, message",
    [
        ({"features": np.zeros((4, 2))}, {}, "it needs 'x' and 'y', or 'x_train' and 'y_train'"),
        ({"x": np.zeros((10, 2)), "y": np.zeros(9, dtype=int)}, {}, "x has 10 samples but y has 9"),
        # float y is a number target; as classes, it is refused
        ({"x": np.zeros((10, 2)), "y": np.full(10, 0.5)}, {"target_kind": "class"}, "must hold integer class indices"),
    ],
)
def test_npz_problems_are_named(tmp_path, arrays, settings, message):
    path = tmp_path / "bad.npz"
    np.savez(path, **arrays)
    with pytest.raises(UserError, match=message):
        NpzData(str(path), **settings)


def test_npz_labels_beyond_the_class_names_are_refused(tmp_path):
    path = tmp_path / "d.npz"
    np.savez(path, x=np.zeros((40, 3)), y=np.arange(40) % 4)
    with pytest.raises(UserError, match="labels from 0 to 3, but 3 class names"):
        NpzData(str(path), class_names=["a", "b", "c"])


def test_synthetic_data_has_every_class_in_every_split():
    data = SyntheticData(input_shape=(4, 4, 3), num_classes=5, samples=100)
    assert data.spec.input_shape == (4, 4, 3)
    for split in ("train", "val", "test"):
        assert set(data.split(split).y) == set(range(5))


def test_npz_run_trains_mlp_with_the_files_class_names(train, client, tmp_path):
    from sklearn.datasets import load_digits

    digits = load_digits()
    path = tmp_path / "digits.npz"
    np.savez(path, x=digits.data, y=digits.target, class_names=np.array([f"digit {d}" for d in range(10)]))
    run = train("data=npz", f"data.path={path}", "model=mlp", "model.preprocessing=none", "fit.epochs=3")
    recorded = client.get_run(run.run_id)
    assert recorded.info.status == "FINISHED"
    assert recorded.data.params["data.input_shape"] == "[64]"
    assert recorded.data.metrics["test_accuracy"] > 0.8
    assert '"digit 9"' in (run.run_dir / "class_names.json").read_text()


def test_a_datasets_last_batch_is_cut_to_divide_across_the_replicas():
    # JAX shards every batch evenly, and TensorFlow's MirroredStrategy failed on a last batch
    # of 15 split 8 and 7; a last batch smaller than the replicas is left out.
    import tensorflow as tf

    from ktrain.data import Split

    for size, expected in ((15, [8, 6]), (17, [8, 8])):
        dataset = tf.data.Dataset.from_tensor_slices((tf.zeros((size, 3)), tf.zeros(size))).batch(8)
        even = Split(dataset).divisible(2, size, 8).x
        assert [int(x.shape[0]) for x, _ in even] == expected and int(even.cardinality()) == len(expected)

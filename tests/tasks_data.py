"""Data for the task tests: scikit-learn's digits read as each kind of target, squares to
segment, and a user's project whose data modules hand out two inputs and two outputs, a
``keras.utils.PyDataset`` and an endless generator."""

from pathlib import Path

import numpy as np


def digits() -> tuple[np.ndarray, np.ndarray]:
    """The digits as pixel values in [0, 255] shaped (n, 64), and their labels."""
    from sklearn.datasets import load_digits

    data = load_digits()
    return (data.data * (255.0 / 16.0)).astype("float32"), data.target


def ink(x: np.ndarray) -> np.ndarray:
    """How much ink a digit has, standardised over the data set."""
    total = x.mean(axis=1)
    return (total - total.mean()) / total.std()


def npz_of(kind: str, folder: Path) -> Path:
    """An .npz file whose y is a target of ``kind`` that a small MLP learns from the digits."""
    x, labels = digits()
    names = None
    if kind == "class":
        y, names = labels, [f"digit {d}" for d in range(10)]
    elif kind == "binary":
        y, names = (labels == 0).astype("int64"), ["other", "zero"]  # one 0 or 1 per sample
    elif kind == "multi_label":
        y = np.stack([labels % 2 == 0, labels >= 5, labels % 3 == 0], axis=1).astype("int64")
        names = ["even", "big", "threefold"]
    else:  # number: how much ink (standardised), and the digit as a number
        y = np.stack([ink(x), labels / 9.0], axis=1).astype("float32")
        names = ["ink", "value"]
    path = folder / f"{kind}.npz"
    np.savez(path, x=x, y=y, class_names=np.array(names))
    return path


def squares_npz(folder: Path, count: int = 160, size: int = 16, seed: int = 0) -> Path:
    """Dark images with a bright square at a random place; the mask is 1 on the square."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(0, 60, (count, size, size, 1)).astype("float32")
    y = np.zeros((count, size, size), dtype="int64")
    for image, mask in zip(x, y):
        side = int(rng.integers(4, 9))
        top, left = (int(v) for v in rng.integers(0, size - side, 2))
        image[top : top + side, left : left + side] = rng.uniform(190, 255)
        mask[top : top + side, left : left + side] = 1
    path = folder / "squares.npz"
    np.savez(path, x=x, y=y, class_names=np.array(["background", "square"]))
    return path


def kinds_and_project(tmp_path_factory, kinds: tuple[str, ...]) -> tuple[dict[str, Path], Path]:
    """An .npz file of each of ``kinds`` and of masks, by kind, and a user's project (``project``)."""
    folder = tmp_path_factory.mktemp("data")
    files = {kind: npz_of(kind, folder) for kind in kinds}
    files["mask"] = squares_npz(folder)
    return files, project(tmp_path_factory.mktemp("project"))


def data_of(files: dict[str, Path], project_folder: Path, case: str) -> list[str]:
    """The overrides that train on ``case``: its .npz file, or the project's own options."""
    if case in files:
        return ["data=npz", f"data.path={files[case]}"]
    return [f"--config-dir={project_folder / 'conf'}"]


PROJECT_DATA = '''"""Data modules of a user's own, each handing its splits out in another form."""

import math

import keras
import keras
import numpy as np
from sklearn.datasets import load_digits

from ktrain.data import DataSpec, Split
from ktrain.tasks import Target

SPLITS = {"train": slice(0, 1200), "val": slice(1200, 1450), "test": slice(1450, 1797)}


def _digits():
    data = load_digits()
    return (data.data * (255.0 / 16.0)).astype("float32"), data.target


class TwoHeads:
    """Two inputs (the pixels, and the column sums) and two targets: the digit, and its ink."""

    def __init__(self, batch_size=32):
        x, labels = _digits()
        self.batch_size = batch_size
        self.arrays = {
            name: (
                {"pixels": x[part], "columns": x[part].reshape(-1, 8, 8).sum(axis=1) / 255.0},
                {"digit": labels[part], "ink": (x[part].mean(axis=1) / 255.0).astype("float32")},
            )
            for name, part in SPLITS.items()
        }
        self.spec = DataSpec(
            inputs={"pixels": (64,), "columns": (8,)},
            targets=(
                Target("digit", "class", classes=tuple(map(str, range(10))), counts=np.bincount(labels[:1200])),
                Target("ink", "number", columns=("ink",)),
            ),
            split_sizes={name: part.stop - part.start for name, part in SPLITS.items()},
        )

    def split(self, name):
        x, y = self.arrays[name]
        return Split(x, y, self.batch_size)


class Batches(keras.utils.PyDataset):
    def __init__(self, x, y, batch_size, **kwargs):
        super().__init__(**kwargs)
        self.x, self.y, self.batch_size = x, y, batch_size

    def __len__(self):
        return math.ceil(len(self.x) / self.batch_size)

    def __getitem__(self, index):
        part = slice(index * self.batch_size, (index + 1) * self.batch_size)
        return self.x[part], self.y[part]


class DigitsModule:
    """The digits of one class target, whose splits the subclasses hand out."""

    def __init__(self, batch_size=32):
        self.x, self.labels = _digits()
        self.batch_size = batch_size
        self.spec = DataSpec(
            input_shape=(64,), num_classes=10, split_sizes={n: p.stop - p.start for n, p in SPLITS.items()},
            class_counts=tuple(np.bincount(self.labels[SPLITS["train"]])),
        )


class DigitsPyDataset(DigitsModule):
    """The digits as a keras.utils.PyDataset per split."""

    def split(self, name):
        part = SPLITS[name]
        return Split(Batches(self.x[part], self.labels[part], self.batch_size))


class DigitsGrain(DigitsModule):
    """The digits as a grain MapDataset per split (where grain is installed)."""

    def split(self, name):
        import grain

        part = SPLITS[name]
        samples = list(zip(self.x[part], self.labels[part]))
        return Split(grain.MapDataset.source(samples).batch(self.batch_size))


class BadHead:
    """Digits whose model gives 3 outputs for 10 classes; and a target named like a validation log."""

    def __init__(self, batch_size=32, target="label"):
        self.x, self.labels = _digits()
        self.batch_size = batch_size
        classes = tuple(map(str, range(10)))
        self.spec = DataSpec(input_shape=(64,), targets=(Target(target, "class", classes=classes),),
                             split_sizes={n: p.stop - p.start for n, p in SPLITS.items()})

    def split(self, name):
        part = SPLITS[name]
        return Split(self.x[part], self.labels[part], self.batch_size)


def needs_classes(input_shape, num_classes):
    inputs = keras.Input(input_shape)
    return keras.Model(inputs, keras.layers.Dense(num_classes, activation="softmax")(inputs))


def three_outputs(input_shape):
    inputs = keras.Input(input_shape)
    return keras.Model(inputs, keras.layers.Dense(3, activation="softmax")(inputs))


class DigitsGenerator(DigitsModule):
    """The digits as endless Python generators, the seeds' fit_generator way: each split says
    its steps only if ``with_steps``."""

    def __init__(self, batch_size=32, with_steps=True):
        super().__init__(batch_size)
        self.with_steps = with_steps

    def split(self, name):
        part = SPLITS[name]
        x, y = self.x[part], self.labels[part]
        steps = math.ceil(len(x) / self.batch_size) if self.with_steps else None

        def batches():
            while True:
                for start in range(0, len(x), self.batch_size):
                    yield x[start : start + self.batch_size], y[start : start + self.batch_size]

        return Split(batches(), steps=steps)
'''


MY_OBJECTS = '''"""A user's own Keras objects: a layer, a loss class, a registered metric, functions."""

import keras

from ktrain.tasks import heads


class Scale(keras.layers.Layer):
    """Multiplies its input by a factor (not registered with Keras)."""

    def __init__(self, factor=1.0 / 255, **kwargs):
        super().__init__(**kwargs)
        self.factor = factor

    def call(self, x):
        return x * self.factor

    def get_config(self):
        return {**super().get_config(), "factor": self.factor}


class SmoothCrossentropy(keras.losses.Loss):
    def __init__(self, smoothing=0.05, **kwargs):
        super().__init__(**kwargs)
        self.smoothing = smoothing

    def call(self, y_true, y_pred):
        return keras.losses.sparse_categorical_crossentropy(y_true, y_pred * (1 - self.smoothing) + self.smoothing / 10)

    def get_config(self):
        return {**super().get_config(), "smoothing": self.smoothing}


@keras.saving.register_keras_serializable(package="project")
class Hits(keras.metrics.SparseCategoricalAccuracy):
    def __init__(self, name="hits", **kwargs):
        super().__init__(name=name, **kwargs)


def confidence(y_true, y_pred):
    return keras.ops.max(y_pred, axis=-1)


def smoothed_crossentropy(y_true, y_pred, smoothing=0.0):
    return keras.losses.sparse_categorical_crossentropy(y_true, y_pred * (1 - smoothing) + smoothing / 10)


def build(input_shape, targets, width=32):
    inputs = keras.Input(input_shape, name="pixels")
    x = keras.layers.Dense(width, activation="relu")(Scale()(inputs))
    return keras.Model(inputs, heads(x, targets))
'''


def project(folder: Path) -> Path:
    """A user's project: its data modules, and an option of ktrain's data group for each; its
    own Keras objects, and a model option that builds with them."""
    (folder / "conf" / "data").mkdir(parents=True, exist_ok=True)
    (folder / "projectdata.py").write_text(PROJECT_DATA)
    (folder / "myobjects.py").write_text(MY_OBJECTS)
    (folder / "conf" / "model").mkdir(exist_ok=True)
    (folder / "conf" / "model" / "mine.yaml").write_text("_target_: myobjects.build\nwidth: 32\n")
    for option, target in (
        ("two_heads", "TwoHeads"),
        ("pydataset", "DigitsPyDataset"),
        ("generator", "DigitsGenerator"),
        ("grain", "DigitsGrain"),
        ("bad_head", "BadHead"),
    ):
        (folder / "conf" / "data" / f"{option}.yaml").write_text(f"_target_: projectdata.{target}\nbatch_size: 32\n")
    return folder


def squares_folder(folder: Path, count: int = 60) -> Path:
    """``folder/images/<i>.png`` and ``folder/masks/<i>.png``: the squares of ``squares_npz``."""
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    with np.load(squares_npz(folder, count)) as squares:
        for part in ("images", "masks"):
            (folder / part).mkdir(exist_ok=True)
        for i, (image, mask) in enumerate(zip(squares["x"], squares["y"])):
            Image.fromarray(image[..., 0].astype("uint8")).save(folder / "images" / f"{i:03d}.png")
            Image.fromarray(mask.astype("uint8")).save(folder / "masks" / f"{i:03d}.png")
    return folder

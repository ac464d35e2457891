"""What a data module and a model builder of a user's own declare, checked before training, in
one paragraph each: a target's kind and classes, arrays of several targets handed out by target
name, one output per target and none besides; and a number target that names no columns
predicted under its own name."""

import numpy as np
import pytest

from ktrain import schema
from ktrain.contracts import check_data_module, checked_splits
from ktrain.data import DataSpec, Split
from ktrain.errors import UserError
from ktrain.run import fitting
from ktrain.tasks import Decoding, Target, head_problems, task_of
from test_config import composed

CLASSES = ("barolo", "grignolino", "barbera")


class Module:
    """A data module of two targets, ``cultivar`` (a class) and ``alcohol`` (a number), whose
    splits' ``y`` is what the test gives."""

    batch_size = 4

    def __init__(self, *targets: Target, y=None):
        targets = targets or (Target("cultivar", "class", classes=CLASSES), Target("alcohol", "number"))
        self.spec = DataSpec(input_shape=(2,), targets=targets, split_sizes=dict.fromkeys(("train", "val", "test"), 8))
        self.y = y if y is not None else {"cultivar": np.zeros(8, int), "alcohol": np.ones(8, "float32")}

    def split(self, name):
        return Split(np.zeros((8, 2), "float32"), self.y, self.batch_size)


@pytest.mark.parametrize(
    "target, expected",
    [
        (Target("alcohol", "numbr"), "the target 'alcohol' is of the kind 'numbr', which no task knows (allowed: "),
        (Target("cultivar", "class"), "the class target 'cultivar' declares 0 class name(s), and a class target names"),
        (Target("wet", "binary", classes=("no",)), "the binary target 'wet' declares 1 class name(s)"),
    ],
    ids=["a kind no task knows", "a class target without classes", "a binary target of one class"],
)
def test_a_target_its_task_cannot_serve_is_refused_naming_it(target, expected):
    with pytest.raises(UserError) as refused:
        check_data_module(Module(target), "mydata.Wine")
    assert str(refused.value).startswith("data._target_=mydata.Wine: ") and expected in str(refused.value)


@pytest.mark.parametrize(
    "y, expected",
    [
        ((np.zeros(8, int), np.ones(8)), "the train split's y is a tuple, and the data have the targets cultivar"),
        ({"cultivar": np.zeros(8, int), "alc": np.ones(8)}, "the train split's y has the keys cultivar, alc, and"),
    ],
    ids=["a tuple", "a key that is no target's"],
)  # fmt: skip
def test_arrays_of_several_targets_are_handed_out_by_target_name(y, expected):
    module = Module(y=y)
    splits = {name: module.split(name) for name in ("train", "val", "test")}
    with pytest.raises(UserError) as refused:
        fitting.steps(schema.validate(composed()), module.spec, module.batch_size, splits)
    assert expected in str(refused.value) and "as a dict of arrays by target name" in str(refused.value)


class OneTarget(Module):
    """A data module of one class target; its x and y are what the test gives."""

    def __init__(self, x=None, y=None, sizes=True):
        super().__init__(Target("cultivar", "class", classes=CLASSES), y=y if y is not None else np.zeros(8, int))
        self.x = x if x is not None else np.zeros((8, 2), "float32")
        if not sizes:
            self.spec = DataSpec(input_shape=(2,), targets=self.spec.targets)

    def split(self, name):
        return Split(self.x, self.y, self.batch_size)


@pytest.mark.parametrize(
    "module, expected",
    [
        (OneTarget(y=np.arange(8) % 3 + 1), "holds labels from 1 to 3, and the target has 3 classes: its labels are "
         "class indices 0 to 2"),
        (OneTarget(x=np.zeros((8, 3), "float32")), "the train split's x holds samples shaped (3,), and the data "
         "module's spec gives input_shape (2,)"),
    ],
    ids=["labels outside the classes", "samples not shaped as the spec says"],
)  # fmt: skip
def test_arrays_that_do_not_fit_the_spec_are_refused_before_fit(module, expected):
    """TensorFlow failed in fit with 'Received a label value of 3 which is outside the valid
    range of [0, 3)', and Keras with the model's expected input shape."""
    splits = {name: module.split(name) for name in ("train", "val", "test")}
    with pytest.raises(UserError, match="data: ") as refused:
        fitting.steps(schema.validate(composed()), module.spec, module.batch_size, splits)
    assert expected in str(refused.value)


def test_a_spec_without_split_sizes_counts_the_arrays():
    module = OneTarget(sizes=False)
    splits = {name: module.split(name) for name in ("train", "val", "test")}
    assert fitting.steps(schema.validate(composed()), module.spec, module.batch_size, splits).per_epoch == 2


@pytest.mark.parametrize(
    "split, expected",
    [
        (lambda name: (np.zeros((8, 2)), np.zeros(8)), "its split('train') returned a tuple, and a data module's "
         "split(name) returns a ktrain.data.Split"),
        (lambda name: {"training": None}[name], "its split('train') raised KeyError: 'train'. A data module's"),
    ],
    ids=["a tuple", "a split that raises"],
)  # fmt: skip
def test_a_split_that_is_not_a_split_is_refused_naming_the_data_module(split, expected):
    module = OneTarget()
    module.split = split
    with pytest.raises(UserError) as refused:
        checked_splits(module, "mydata.Wine")
    assert str(refused.value).startswith("data._target_=mydata.Wine: ") and expected in str(refused.value)


def test_a_model_needs_one_output_per_target_and_none_besides():
    targets = Module().spec.targets
    extra = head_problems([(None, 3), (None, 1), (None, 2)], ["cultivar", "alcohol", "extra"], targets)
    assert extra == ["its output 'extra' is none of the targets' (cultivar, alcohol)"]
    (one,) = head_problems((None, 3), ["cultivar"], targets)
    assert one.startswith("it has one output, and the data 2 targets (cultivar, alcohol)")


def test_a_number_target_that_names_no_columns_is_predicted_under_its_name():
    outputs = np.array([[1.5], [2.5]], "float32")
    assert task_of(Target("alcohol", "number")).decode(outputs, Decoding()) == {"alcohol": [1.5, 2.5]}
    pair = task_of(Target("size", "number", shape=(2,))).decode(np.ones((1, 2)), Decoding())
    assert list(pair) == ["size_0", "size_1"]


def test_a_target_a_loss_mapping_leaves_out_gets_its_tasks_loss():
    from ktrain.tasks import losses

    targets = Module().spec.targets
    assert losses(targets, {"alcohol": "huber"}) == {"cultivar": "sparse_categorical_crossentropy", "alcohol": "huber"}


@pytest.mark.parametrize(
    "path, expected",
    [("test_task_contracts.NoSuchLoss", "module 'test_task_contracts' has no attribute 'NoSuchLoss'"),
     ("nomodule.loss", "No module named 'nomodule'")],
    ids=["a name its module lacks", "a module that is not there"],
)  # fmt: skip
def test_a_loss_path_that_does_not_import_is_refused_in_one_paragraph(path, expected, caplog):
    from ktrain.run.compiling import compile_settings

    with pytest.raises(UserError) as refused:
        compile_settings(schema.validate(composed(f"compile.loss={path}")), Module().spec.targets)
    assert str(refused.value).startswith(f"compile.loss={path} cannot be imported ({expected}).")
    assert not caplog.records  # no log line before the paragraph


def test_a_misspelt_loss_of_a_mapping_is_refused_with_the_nearest_name():
    from ktrain.run.compiling import compile_settings

    config = schema.validate(composed("compile.loss={cultivar: auto, alcohol: hubber}"))
    with pytest.raises(UserError, match=r"compile.loss=hubber is not a Keras loss \(did you mean huber\?\)"):
        compile_settings(config, Module().spec.targets)


def test_auto_in_a_per_output_mapping_is_the_tasks_own():
    from ktrain.tasks import logged_names, losses, metrics

    targets = Module().spec.targets
    assert losses(targets, {"cultivar": "auto", "alcohol": "huber"}) == {
        "cultivar": "sparse_categorical_crossentropy",
        "alcohol": "huber",
    }
    assert metrics(targets, {"cultivar": "auto", "alcohol": ["mse"]}) == {"cultivar": ["accuracy"], "alcohol": ["mse"]}
    kinds = {"cultivar": "class", "alcohol": "number"}
    logged = logged_names(kinds, {"cultivar": "auto", "alcohol": ["mse"]})
    assert logged == ["loss", "cultivar_loss", "alcohol_loss", "cultivar_accuracy", "alcohol_mse"]

"""keras_signatures.json: made from the installed Keras, and what validation lets through by it."""

import pytest

from ktrain.schema.callbacks import CALLBACKS
from ktrain.schema.groups import OPTIMIZERS
from ktrain.schema.keras_signatures import PATH, REGENERATE, generate, load, render, signature
from ktrain.schema.run import Compile, Fit


def test_the_committed_file_is_what_the_installed_keras_gives():
    generated = render(generate())
    assert generated == PATH.read_text(), (
        f"{PATH.name} differs from the signatures of the installed Keras "
        f"({generate()['keras_version']}); regenerate it with `{REGENERATE}` and commit it"
    )


def test_keywords_include_the_base_class_ones_and_kwargs_taken_only_where_keras_documents_them():
    adam = signature("keras.optimizers.Adam")
    assert {"use_ema", "weight_decay", "clipnorm", "name", "learning_rate", "amsgrad"} <= set(adam.keywords)
    assert not adam.any_keyword  # Keras refuses unknown optimizer arguments
    assert not signature("keras.callbacks.ReduceLROnPlateau").any_keyword  # Keras ignores them
    assert signature("keras.callbacks.LambdaCallback").any_keyword  # documented: methods to override
    assert "validation_batch_size" in signature("keras.Model.fit").keywords
    assert "weighted_metrics" in signature("keras.Model.compile").keywords
    assert not any(target.startswith("keras.optimizers.schedules") for target in load())


def test_ktrain_subclasses_said_to_take_their_keras_base_arguments_do():
    import importlib

    from ktrain.schema.keras_signatures import SAME_AS_KERAS, _class_entry

    for ours, theirs in SAME_AS_KERAS.items():
        module, _, name = ours.rpartition(".")
        cls = getattr(importlib.import_module(module), name)
        assert _class_entry(cls) == _class_entry(cls.__mro__[1]), ours
        assert signature(ours) == signature(theirs) is not None


def test_ktrain_subclasses_said_to_take_their_keras_base_arguments_and_their_own_do():
    import importlib

    from ktrain.schema.keras_signatures import KERAS_AND_OWN, _class_entry

    for ours, (theirs, own) in KERAS_AND_OWN.items():
        module, _, name = ours.rpartition(".")
        cls = getattr(importlib.import_module(module), name)
        assert set(_class_entry(cls)["keywords"]) == {*_class_entry(cls.__mro__[1])["keywords"], *own}, ours
        assert set(signature(ours).keywords) == {*signature(theirs).keywords, *own}


@pytest.mark.parametrize(
    "target, schema",
    [*OPTIMIZERS.items(), *CALLBACKS.items(), ("keras.Model.fit", Fit), ("keras.Model.compile", Compile)],
)
def test_every_key_ktrain_types_is_a_keyword_keras_takes(target, schema):
    typed = {field.alias or name for name, field in schema.model_fields.items()} - {"_target_"}
    assert typed <= set(signature(target).keywords), typed - set(signature(target).keywords)


def test_a_run_with_keras_arguments_ktrain_does_not_type_finishes_with_them_in_its_params(train, client):
    run = train(
        "debug=fast",
        "fit.epochs=2",
        "+optimizer.use_ema=true",
        "+fit.validation_batch_size=64",
        "+compile.weighted_metrics=[accuracy]",
    )
    recorded = client.get_run(run.run_id)
    assert recorded.info.status == "FINISHED"
    params = recorded.data.params
    assert params["optimizer.use_ema"] == "True"
    assert params["fit.validation_batch_size"] == "64"
    assert params["compile.weighted_metrics"] == "['accuracy']"
    assert "test_weighted_accuracy" in recorded.data.metrics  # Keras compiled the weighted metric

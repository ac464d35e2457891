"""KerasHub presets fine-tuned as the task the data need: an ``ImageClassifier`` for images, a
``TextClassifier`` for text, its head sized and activated for the data's target.

The task carries the preset's preprocessor (an image converter, a tokenizer), and KerasHub's
tasks apply it in ``fit``, ``evaluate`` and ``predict``: the model takes raw pixels or strings,
and so does the saved ``.keras`` file, which keeps the preprocessor (its vocabulary as assets)
and loads back with KerasHub imported. It cannot be a layer of a functional model instead:
a tokenizer gets its vocabulary only after Keras has rebuilt the model's graph from the file
(keras-hub issue 1522). Where the preset is found, and refused, is ``presets``.
"""

import json
import logging
import os
from collections.abc import Mapping, Sequence

import keras

from ktrain.errors import UserError
from ktrain.models.layers import targets_of
from ktrain.models.presets import CONFIG, Located, locate
from ktrain.tasks import Target, task_of

log = logging.getLogger(__name__)

FAMILIES = {"image": "ImageClassifier", "text": "TextClassifier"}  # the data's kind -> KerasHub's task
EXAMPLES = {"image": "resnet_18_imagenet, efficientnet_b0_ra_imagenet", "text": "bert_tiny_en_uncased, roberta_base_en"}
KINDS = ("class", "binary", "multi_label", "number")  # what a classifier's dense head gives


def quiet_pipeline_remarks() -> None:
    """KerasHub feeds a task's preprocessing through grain with a read-ahead of 8 batches, below
    grain's 16 threads, and grain warns of it through absl at every fit, evaluate and predict:
    KerasHub's own choice (it bounds the batches preprocessed ahead), nothing a user can change."""
    logging.getLogger("absl").addFilter(_not_a_read_ahead_remark)


def _not_a_read_ahead_remark(record: logging.LogRecord) -> bool:
    return "is smaller than num_threads" not in record.getMessage()


def keras_hub(
    preset: str,
    input_shape: Sequence[int] | None = None,
    input_dtypes: Mapping[str | None, str] | None = None,
    num_classes: int | None = None,
    targets: Sequence[Target] | None = None,
    dropout: float | None = None,
    trainable: bool = True,
) -> keras.Model:
    """KerasHub's task for the data from ``preset`` (see ``ktrain.models.presets``): an image
    classifier for images, a text classifier for text; its head has the units and activation of
    the target's task (a softmax over the classes, a sigmoid, linear values). ``dropout``: the
    head's (None: the task's own default); ``trainable=False`` freezes the backbone."""
    try:
        import keras_hub as hub  # its tasks register themselves as it is imported
    except ImportError as error:
        raise UserError(
            f"model=keras_hub needs KerasHub, which is not installed here ({error}): "
            "pip install 'ktrain-hydra[keras_hub]'."
        ) from error
    quiet_pipeline_remarks()
    kind = _data_kind(input_shape, input_dtypes or {})
    target = _one_target(targets_of(num_classes, targets))
    located = locate(preset)
    family = getattr(hub.models, FAMILIES[kind])
    if located.path is not None:
        _refuse_other_kinds(located, kind, hub)
    task = task_of(target)
    settings = {"num_classes": task.units(), "activation": task.activation}
    if dropout is not None:
        settings["dropout"] = dropout
    try:
        model = family.from_preset(located.load_from, **settings)
    except FileNotFoundError as error:
        raise UserError(
            f"model.preset={preset!r} cannot make {_a(FAMILIES[kind])}: {error} A classifier needs the preset's "
            "preprocessor (an image converter, a tokenizer): a preset saved from a backbone alone has none. Save the "
            f"task or its preprocessor with save_to_preset, or give {_a(kind)} classifier's preset "
            f"({EXAMPLES[kind]})."
        ) from error
    except ValueError as error:
        raise UserError(
            f"model.preset={preset!r} cannot make {_a(FAMILIES[kind])} for the {kind} data: {error} Give "
            f"{_a(kind)} classifier's preset ({EXAMPLES[kind]})."
        ) from error
    model.backbone.trainable = trainable
    log.info("model: %s from %s, %d units (%s)", type(model).__name__, located.load_from, task.units(), task.activation)
    return model


def _data_kind(input_shape: Sequence[int] | None, dtypes: Mapping[str | None, str]) -> str:
    """``image`` or ``text``: what the data's one input is."""
    if input_shape is None or len(dtypes) != 1:
        raise UserError("model=keras_hub takes data of one input, images or text; these data have named inputs.")
    if dtypes.get(None) == "string":
        return "text"
    if len(input_shape) == 3 and input_shape[-1] == 3:
        return "image"
    raise UserError(
        f"model=keras_hub takes RGB images (data=image_folder, data.color_mode=rgb) or text (data=text_folder); "
        f"these data give samples shaped {tuple(input_shape)} ({dtypes.get(None)})."
    )


def _one_target(targets: Sequence[Target]) -> Target:
    if len(targets) != 1 or targets[0].kind not in KINDS or len(targets[0].shape) > 1:
        described = ", ".join(f"{t.name} ({t.kind})" for t in targets)
        raise UserError(
            f"model=keras_hub puts one dense head on a KerasHub classifier, for one target of a kind in "
            f"{', '.join(KINDS)} (numbers one value or a row of them); the data's targets are {described}."
        )
    return targets[0]


def _refuse_other_kinds(located: Located, kind: str, hub) -> None:
    """A Keras preset whose backbone KerasHub makes no task of the data's family for: a text
    model on images, a backbone with no classifier at all."""
    with open(os.path.join(located.path, CONFIG)) as file:
        name = json.load(file).get("registered_name")
    backbone = keras.saving.get_registered_object(name) if name else None
    if backbone is None:
        return  # a Transformers or timm checkpoint: KerasHub converts it, or says why not
    found = [data for data, family in FAMILIES.items() if _has_task(backbone, getattr(hub.models, family))]
    if kind in found:
        return
    what = (
        f"{_a(found[0])} model ({backbone.__name__}, which KerasHub makes {_a(FAMILIES[found[0]])} of)"
        if found
        else f"a {backbone.__name__}, which KerasHub has no image or text classifier for (a backbone only)"
    )
    raise UserError(
        f"model.preset={located.handle!r} holds {what}, and the data are {kind}s: model=keras_hub fine-tunes "
        f"{_a(FAMILIES[kind])} on {kind} data. Give {_a(kind)} classifier's preset ({EXAMPLES[kind]}), or a "
        "folder that save_to_preset wrote from one."
    )


def _has_task(backbone: type, family: type) -> bool:
    """Whether KerasHub registers a task of ``family`` for ``backbone`` (as ``from_preset`` looks)."""
    return any(
        isinstance(found, type) and issubclass(found, family) and getattr(found, "backbone_cls", None) is backbone
        for found in keras.saving.get_custom_objects().values()
    )


def _a(noun: str) -> str:
    """``noun`` with its article: an ImageClassifier, a text."""
    return f"{'an' if noun[0] in 'AEIOUaeiou' else 'a'} {noun}"

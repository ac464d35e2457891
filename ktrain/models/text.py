"""A small text model that trains in seconds on a CPU, taking raw strings."""

from collections.abc import Mapping, Sequence
from typing import Any

import keras
from keras import layers

from ktrain.errors import UserError
from ktrain.models.layers import refuse_masks, targets_of, task_heads
from ktrain.tasks import Target


def text_cnn(
    train_inputs: Any = None,
    input_dtypes: Mapping[str | None, str] | None = None,
    num_classes: int | None = None,
    targets: Sequence[Target] | None = None,
    max_tokens: int = 20000,
    sequence_length: int = 200,
    embedding_dim: int = 64,
    filters: int = 64,
    kernel_size: int = 3,
    dropout: float = 0.2,
) -> keras.Model:
    """Strings in: ``TextVectorization`` (lower case, punctuation stripped, split on spaces, the
    ``max_tokens`` most frequent words of ``train_inputs``, the training split's texts, padded or
    cut to ``sequence_length``), an embedding, a convolution over ``kernel_size`` words, global
    max pooling, and the head of each target. The vectorizer is adapted here and is a layer of
    the model: the saved model takes raw strings, with its vocabulary inside."""
    targets = targets_of(num_classes, targets)
    refuse_masks(targets, "text_cnn")
    if dict(input_dtypes or {}) != {None: "string"} or train_inputs is None:
        given = ", ".join(f"{name or 'one input'} of {dtype}" for name, dtype in (input_dtypes or {}).items())
        raise UserError(
            "model=text_cnn takes text, one string per sample (data=text_folder, or a data module whose spec "
            f"gives dtypes={{None: 'string'}}); these data give {given or 'inputs of unknown types'}."
        )
    if keras.backend.backend() != "tensorflow":
        raise UserError(
            f"model=text_cnn keeps TextVectorization inside the model, which takes strings on the TensorFlow "
            f"backend only; KERAS_BACKEND is {keras.backend.backend()}. Unset it (or set it to tensorflow)."
        )
    vectorize = layers.TextVectorization(max_tokens, output_sequence_length=sequence_length, name="vectorize")
    vectorize.adapt(train_inputs)
    inputs = keras.Input(shape=(), dtype="string", name="text")
    x = layers.Embedding(vectorize.vocabulary_size(), embedding_dim, name="embedding")(vectorize(inputs))
    x = layers.Conv1D(filters, kernel_size, padding="same", activation="relu", name="words")(x)
    x = layers.GlobalMaxPooling1D(name="pool")(x)
    return keras.Model(inputs, task_heads(x, targets, dropout), name="text_cnn")


def takes_text(model: keras.Model) -> bool:
    """Whether ``model`` takes raw strings: a string input, or a KerasHub task whose preprocessor
    has a tokenizer."""
    preprocessor = getattr(model, "preprocessor", None)
    if preprocessor is not None:
        return getattr(preprocessor, "tokenizer", None) is not None
    return any("string" in str(tensor.dtype) for tensor in model.inputs)

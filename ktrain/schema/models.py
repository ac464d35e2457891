"""The schemas of ktrain's model builders, keyed by their ``_target_`` (``groups.py`` holds the
other groups')."""

import os
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, model_validator

from ktrain.models import BACKBONES
from ktrain.names import program
from ktrain.schema.base import ExistingFile, PositiveInt, Rate, Targeted

# model.weights of a backbone: keras.applications' own ImageNet weights (its download and
# cache, KERAS_HOME/models), random init, or a local file.
IMAGENET = "imagenet"


def _backbone_weights(weights: str | None) -> str | None:
    if weights is None or weights == IMAGENET or os.path.isfile(os.path.expanduser(weights)):
        return weights
    raise ValueError(
        f"no file at {weights!r}; allowed: imagenet (keras.applications' ImageNet weights, from its "
        "cache under KERAS_HOME/models or downloaded there), null (random init), or the path of an "
        "existing weights file"
    )


# --- model -------------------------------------------------------------------------------


class SimpleCNN(Targeted):
    filters: Annotated[list[PositiveInt], Field(min_length=1)]
    dense_units: PositiveInt
    dropout: Rate
    preprocessing: Literal["rescale", "none"]


class MLP(Targeted):
    hidden_units: Annotated[list[PositiveInt], Field(min_length=1)]
    dropout: Rate
    preprocessing: Literal["rescale", "none"]


class Tabular(Targeted):
    hidden_units: Annotated[list[PositiveInt], Field(min_length=1)] = [128, 64]
    dropout: Rate = 0.1
    max_categories: PositiveInt = 100
    text_tokens: PositiveInt = 2000


class Backbone(Targeted):
    architecture: Literal[tuple(BACKBONES)]
    weights: Annotated[str | None, AfterValidator(_backbone_weights)] = None
    pooling: Literal["avg", "max"] = "avg"
    dropout: Rate = 0.0
    trainable: bool = True
    preprocessing: Literal["imagenet", "rescale", "none"] = "imagenet"


class Unet(Targeted):
    filters: Annotated[list[PositiveInt], Field(min_length=1)]
    dropout: Rate = 0.0
    preprocessing: Literal["rescale", "none"] = "rescale"


class Saved(Targeted):
    path: ExistingFile = None
    from_run: Annotated[str, Field(min_length=1)] | None = None

    @model_validator(mode="after")
    def _one_source(self):
        if (self.path is None) == (self.from_run is None):
            raise ValueError(
                "give one of path (a .keras file) and from_run (a run dir or the MLflow run id "
                f"{program('train')} printed, or models:/<name>@<alias> of the registry)"
                + (", not both" if self.path else "")
            )
        return self


class TextCNN(Targeted):
    max_tokens: Annotated[int, Field(ge=3)]  # the padding and out-of-vocabulary tokens, and one word
    sequence_length: PositiveInt
    embedding_dim: PositiveInt
    filters: PositiveInt
    kernel_size: PositiveInt
    dropout: Rate = 0.0


class KerasHub(Targeted):
    preset: Annotated[str, Field(min_length=1)]
    dropout: Rate | None = None
    trainable: bool = True


MODELS = {
    "ktrain.models.small.simple_cnn": SimpleCNN,
    "ktrain.models.text.text_cnn": TextCNN,
    "ktrain.models.hub.keras_hub": KerasHub,
    "ktrain.models.saved.saved": Saved,
    "ktrain.models.small.mlp": MLP,
    "ktrain.models.tabular.tabular": Tabular,
    "ktrain.models.backbone.backbone": Backbone,
    "ktrain.models.unet.unet": Unet,
}

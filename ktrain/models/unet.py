"""A small U-Net: a class per pixel (segmentation masks), quick on a CPU."""

from collections.abc import Sequence

import keras
from keras import layers

from ktrain.errors import UserError
from ktrain.models.layers import image_input_shape, preprocess, targets_of, task_heads
from ktrain.tasks import Target


def unet(
    input_shape: Sequence[int],
    num_classes: int | None = None,
    filters: Sequence[int] = (16, 32),
    dropout: float = 0.0,
    preprocessing: str = "rescale",
    targets: Sequence[Target] | None = None,
) -> keras.Model:
    """Ronneberger et al.'s U-Net, small: an encoder of conv blocks, each halving the size
    (one per entry of ``filters``), a bottleneck, and a decoder that doubles the size back,
    joined with the encoder's block of the same size; then each mask target's head (a 1x1
    convolution). The image's height and width must divide by ``2 ** len(filters)``."""
    targets = targets_of(num_classes, targets)
    not_masks = [target.name for target in targets if target.kind != "mask"]
    if not_masks:
        raise UserError(
            f"model=unet predicts masks (a class per pixel), and the target {not_masks[0]!r} is not one; "
            "use model=simple_cnn, mlp or a backbone for it."
        )
    height, width, _ = image_input_shape(input_shape, "unet")
    factor = 2 ** len(filters)
    if height % factor or width % factor:
        raise UserError(
            f"model=unet halves the image {len(filters)} times (model.filters={list(filters)}), so its height and "
            f"width must divide by {factor}; the data give {height}x{width}. Resize the images (data.image_size), "
            "or give fewer model.filters."
        )
    inputs = keras.Input(shape=(height, width, input_shape[-1]), name="image")
    x, skips = preprocess(inputs, preprocessing), []
    for count in filters:
        x = _block(x, count)
        skips.append(x)
        x = layers.MaxPooling2D()(x)
    x = _block(x, filters[-1] * 2)
    for count, skip in zip(reversed(filters), reversed(skips)):
        x = layers.Conv2DTranspose(count, 2, strides=2, padding="same")(x)
        x = _block(layers.Concatenate()([x, skip]), count)
    return keras.Model(inputs, task_heads(x, targets, dropout), name="unet")


def _block(x, filters: int):
    for _ in range(2):
        x = layers.Conv2D(filters, 3, padding="same", activation="relu")(x)
    return x

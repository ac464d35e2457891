"""The inputs of a prediction, found and run through the model as in training: images decoded by
the training pipeline's own function at the run's ``data.image_size`` and ``data.color_mode``
(the only settings read from the stored config; nothing in it is instantiated), arrays, or a
table's rows read by the training pipeline's own reader (``ktrain.data.table_reading``)."""

import logging
from pathlib import Path

import numpy as np
from omegaconf import OmegaConf

from ktrain.data.folders import IMAGE_EXTENSIONS, OTHER_IMAGE_EXTENSIONS, is_image_file, list_images
from ktrain.data.table_files import TABLE_SUFFIXES, check_table, columns, is_table_file
from ktrain.errors import UserError
from ktrain.models import shape_fits
from ktrain.predict.texts import Texts, csv_column, text_files

log = logging.getLogger(__name__)


ARRAY_FILES = (".npy", ".npz")


def find_inputs(given: str, column: str | None = None) -> Path | list[str] | Texts:
    """A .npy or .npz file as its path, the image files to predict (a folder is searched
    recursively), or texts: ``.txt`` files, or a CSV file's ``column``."""
    path = Path(given).expanduser()
    if column is not None:
        return csv_column(given, column)
    if path.is_dir():
        # Images of a type the decoder does not read are listed too, to be named and skipped
        # with the undecodable ones, as training does.
        images = list_images(str(path), IMAGE_EXTENSIONS + OTHER_IMAGE_EXTENSIONS)
        if images:
            return images
        texts = text_files(given, path)
        if texts is None:
            raise UserError(
                f"input={given!r} holds no image files ({', '.join(IMAGE_EXTENSIONS)}) and no .txt files at any depth."
            )
        return texts
    if path.suffix.lower() in ARRAY_FILES or is_table_file(path.name):
        return path
    texts = text_files(str(path))
    if texts is not None:
        return texts
    if not is_image_file(path.name):
        raise UserError(
            f"input={given!r} is not an image file ({', '.join(IMAGE_EXTENSIONS)}), a folder of images, a .npy "
            "file, a .npz file of one array per named input, a .txt file or a folder of them, a .csv file "
            f"with column= (texts), or a table ({', '.join(TABLE_SUFFIXES)})."
        )
    return [str(path)]


def predict_images(model, config: Path | None, paths: list[str], batch_size: int):
    import tensorflow as tf  # the training pipeline's decoder; only for image inputs

    from ktrain.data.image_folder import AUTOTUNE, load_image, unreadable_files
    from ktrain.models.text import takes_text

    if takes_text(model):
        raise UserError("The run's model takes text: give a .txt file, a folder of them, or a .csv file with column=.")
    image_size, color_mode = _image_settings(model, config)
    bad = set(unreadable_files(paths))
    if bad:
        log.warning(
            "predict: skipping %d of %d files that cannot be decoded:\n  %s",
            len(bad),
            len(paths),
            "\n  ".join(sorted(bad)),
        )
    paths = [path for path in paths if path not in bad]
    if not paths:
        raise UserError("None of the input files can be decoded as an image; nothing to predict.")
    log.info("predict: %d image(s), resized to %dx%d, %s", len(paths), *image_size, color_mode)
    images = (
        tf.data.Dataset.from_tensor_slices(paths)
        .map(lambda path: load_image(path, image_size, color_mode), num_parallel_calls=AUTOTUNE)
        .batch(batch_size)
        .prefetch(AUTOTUNE)
    )
    return paths, model.predict(images, verbose=0)


def _image_settings(model, config: Path | None) -> tuple[tuple[int, int], str]:
    """The run's data.image_size and data.color_mode; for a run trained on other data, the
    model's input size and channels."""
    shape = model.input_shape
    if len(shape) != 4:
        raise UserError(
            f"The run's model takes inputs shaped {tuple(shape[1:])}, not images; give a .npy file "
            "of such arrays as input."
        )
    data = OmegaConf.load(config).get("data", {}) if config else {}
    size = data.get("image_size") or shape[1:3]
    color_mode = data.get("color_mode") or {1: "grayscale", 3: "rgb"}.get(shape[3])
    if color_mode is None:
        raise UserError(f"The run's model takes {shape[3]} channels; images give 1 (grayscale) or 3 (rgb).")
    return (int(size[0]), int(size[1])), str(color_mode)


def predict_array(model, path: Path, batch_size: int):
    """The model's outputs for the arrays of a ``.npy`` file (one input), a ``.npz`` file (an
    array per named input), or the rows of a table."""
    if is_table_file(path.name):
        return predict_rows(model, path, batch_size)
    if path.suffix.lower() == ".npz":
        inputs = _named_arrays(model, path)
        if len(inputs) == 1:  # a model of one input takes its array: given a mapping, Keras warns
            inputs = next(iter(inputs.values()))
    else:
        inputs = _checked(_load(path), tuple(model.input_shape[1:]), str(path))
    return model.predict(inputs, batch_size=batch_size, verbose=0)


def _load(path: Path):
    try:
        return np.load(path, allow_pickle=False)
    except (OSError, ValueError) as error:
        raise UserError(f"input={str(path)!r} is not a readable {path.suffix} file ({error}).") from error


def _named_arrays(model, path: Path) -> dict[str, np.ndarray]:
    names = [tensor.name.split(":")[0] for tensor in model.inputs]
    shapes = model.input_shape if isinstance(model.input_shape, list) else [model.input_shape]
    with _load(path) as arrays:
        if len(names) == 1 and names[0] not in arrays.files and "x" in arrays.files:  # data=npz's file: its x
            return {names[0]: _checked(arrays["x"], tuple(shapes[0][1:]), f"{path}'s x")}
        missing = [name for name in names if name not in arrays.files]
        if missing:
            raise UserError(
                f"input={str(path)!r} holds the arrays {sorted(arrays.files)}; the run's model takes the inputs "
                f"{', '.join(names)}: give one array of each name."
            )
        return {
            name: _checked(arrays[name], tuple(shape[1:]), f"{path}'s {name}") for name, shape in zip(names, shapes)
        }


def _checked(x: np.ndarray, expected: tuple, where: str) -> np.ndarray:
    if shape_fits(expected, x.shape):
        x = x[np.newaxis]
    elif shape_fits(expected[:-1], x.shape[1:]) and expected[-1:] == (1,):  # (n, height, width) grayscale
        x = x[..., np.newaxis]
    if not shape_fits(expected, x.shape[1:]) or not np.issubdtype(x.dtype, np.number):
        raise UserError(
            f"input={where!r} holds an array shaped {x.shape} ({x.dtype}); the run's model takes "
            f"samples shaped {expected}: give numbers shaped (n, {', '.join(map(str, expected))}) "
            "(pixel values in [0, 255] for images)."
        )
    return x.astype("float32")


def predict_rows(model, path: Path, batch_size: int):
    """The model's outputs for each row of a table (read a block at a time, its columns as in
    training): the model takes a column per input, one value per row (data=table)."""
    from ktrain.data.table_reading import arrow_type, blocks, inputs_of
    from ktrain.models.text import takes_text

    kinds = {t.name.split(":")[0]: "text" if str(t.dtype) == "string" else "number" for t in model.inputs}
    one_value = all(tuple(t.shape[1:]) == (1,) for t in model.inputs)
    if takes_text(model) and not one_value:
        raise UserError(f"input={str(path)!r} is a CSV file: give column=<the column of texts to predict>.")
    if not one_value:
        raise UserError(
            f"input={str(path)!r} is a table, and the run's model takes inputs shaped {model.input_shape}, not "
            "a table's columns; a table is predicted by a model trained with data=table (give images or arrays here)."
        )
    check_table("input", str(path), ())  # a header and rows
    missing = [name for name in kinds if name not in columns(str(path))]
    if missing:
        raise UserError(
            f"input={str(path)!r} lacks the columns {', '.join(missing)}, which the run's model takes; give a table "
            f"with the columns {', '.join(kinds)} (others are left out)."
        )
    import tensorflow as tf  # strings as tensors: Keras' predict takes no NumPy strings

    types = {name: arrow_type(kind) for name, kind in kinds.items()}
    outputs = []
    for block in blocks([str(path)], types, setting="input"):
        inputs = {n: tf.constant(v) if v.dtype == object else v for n, v in inputs_of(block, kinds).items()}
        outputs.append(model.predict(inputs, batch_size=batch_size, verbose=0))
    if isinstance(outputs[0], dict):
        return {name: np.concatenate([part[name] for part in outputs]) for name in outputs[0]}
    return np.concatenate(outputs)

"""Predictions of a trained run on new images or arrays (``predict.py``).

The model comes from the run dir, or from MLflow by run id, and is loaded with Keras' safe
mode. Images are read exactly as in training: the run's ``data.image_size`` and
``data.color_mode`` (the only settings read from the stored config; nothing in it is
instantiated), decoded by the training pipeline's own function. Scaling and normalisation
are layers of the model, so nothing else is needed.
"""

import csv
import json
import logging
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
from omegaconf import DictConfig, OmegaConf

from ktrain import cli, schema
from ktrain.data.folders import IMAGE_EXTENSIONS, is_image_file, list_images
from ktrain.errors import UserError, exit_on_user_error
from ktrain.tracking.locate import RunFiles, locate_run

log = logging.getLogger(__name__)


@cli.main(config_name="predict")
def main(cfg: DictConfig) -> None:
    """The ``ktrain-predict`` command: Hydra composes ``cfg`` from the command line."""
    run(cfg)


def run(cfg: DictConfig) -> None:
    """Predict ``cfg.input`` with the model of ``cfg.run``; write ``cfg.output`` or print the table."""
    with exit_on_user_error():
        config = schema.validate_predict(cfg)
        source = find_inputs(config.input)
        with tempfile.TemporaryDirectory() as downloads:
            files = locate_run(config.run, config.checkpoint, config.mlflow.tracking_uri, Path(downloads))
            header, rows = predict(files, source, config.top_k, config.batch_size)
        if config.output:
            write_csv(config.output, header, rows)
            log.info("predict: %d rows written to %s", len(rows), config.output)
        else:
            print_table(header, rows)


def find_inputs(given: str) -> Path | list[str]:
    """A .npy file as its path, or the image files to predict (a folder is searched recursively)."""
    path = Path(given).expanduser()
    if path.is_dir():
        images = list_images(str(path))
        if not images:
            raise UserError(f"input={given!r} holds no image files ({', '.join(IMAGE_EXTENSIONS)}) at any depth.")
        return images
    if path.suffix.lower() == ".npy":
        return path
    if not is_image_file(path.name):
        raise UserError(
            f"input={given!r} is not an image file ({', '.join(IMAGE_EXTENSIONS)}), a folder of images or a .npy file."
        )
    return [str(path)]


def predict(files: RunFiles, source: Path | list[str], top_k: int, batch_size: int) -> tuple[list[str], list[list]]:
    """The table of predictions: a header and one row per readable input."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras  # after the config and the run are found: a refusal stays fast

    try:
        model = keras.saving.load_model(files.model, safe_mode=True)
    except (OSError, ValueError) as error:
        raise UserError(f"The model file {files.model} cannot be loaded in safe mode: {error}") from error
    num_classes = model.output_shape[-1]
    class_names = json.loads(files.class_names.read_text()) if files.class_names else list(map(str, range(num_classes)))
    if top_k > num_classes:
        raise UserError(f"top_k={top_k}: the model knows {num_classes} classes; give top_k <= {num_classes}.")
    log.info("predict: model %s", files.model)
    cli.startup_done()

    if isinstance(source, Path):  # a .npy file: rows are named by their index
        first_column, probabilities = "index", _predict_array(model, source, batch_size)
        names = list(range(len(probabilities)))
    else:
        first_column = "path"
        names, probabilities = _predict_images(model, files.config, source, batch_size)

    header = [first_column, "label", "score"] + [f"{c}_{k}" for k in range(2, top_k + 1) for c in ("label", "score")]
    rows = []
    for name, row in zip(names, probabilities):
        ranked = row.argsort()[::-1][:top_k]
        rows.append([name] + [v for c in ranked for v in (class_names[c], f"{row[c]:.6f}")])
    return header, rows


def _predict_images(model, config: Path | None, paths: list[str], batch_size: int):
    import tensorflow as tf  # the training pipeline's decoder; only for image inputs

    from ktrain.data.image_folder import AUTOTUNE, load_image, unreadable_files

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


def _predict_array(model, path: Path, batch_size: int):
    try:
        x = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as error:
        raise UserError(f"input={str(path)!r} is not a readable .npy file ({error}).") from error
    expected = tuple(model.input_shape[1:])
    if x.shape == expected:
        x = x[np.newaxis]
    elif x.shape[1:] == expected[:-1] and expected[-1] == 1:  # (n, height, width) grayscale
        x = x[..., np.newaxis]
    if x.shape[1:] != expected or not np.issubdtype(x.dtype, np.number):
        raise UserError(
            f"input={str(path)!r} holds an array shaped {x.shape} ({x.dtype}); the run's model takes "
            f"samples shaped {expected}: give numbers shaped (n, {', '.join(map(str, expected))}) "
            "(pixel values in [0, 255] for images)."
        )
    return model.predict(x.astype("float32"), batch_size=batch_size, verbose=0)


def write_csv(path: str, header: list[str], rows: list[list[Any]]) -> None:
    target = Path(path).expanduser()
    target.parent.mkdir(parents=True, exist_ok=True)
    with target.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)


def print_table(header: list[str], rows: list[list[Any]]) -> None:
    """The rows as aligned columns on stdout."""
    table = [header] + [[str(v) for v in row] for row in rows]
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    for row in table:
        print("  ".join(v.ljust(w) for v, w in zip(row, widths)).rstrip())
    sys.stdout.flush()

"""Texts to predict: ``.txt`` files (a file, or a folder searched recursively, each file one
text as in training), or one column of a CSV file (``column=``, one text per row); run through
a model that takes raw strings (``model=text_cnn``, a KerasHub text classifier)."""

import csv
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ktrain.data.folders import TEXT_EXTENSIONS, list_images
from ktrain.errors import UserError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Texts:
    """The texts to predict, and what names each row of the table (``first_column``: their file
    paths, or their row numbers in the CSV file)."""

    names: list
    texts: list[str]
    first_column: str


def text_files(given: str, folder: Path | None = None) -> Texts | None:
    """The ``.txt`` files of ``given`` (a file, or ``folder`` searched recursively); None where
    there are none."""
    paths = list_images(str(folder), TEXT_EXTENSIONS) if folder else [given]
    if not paths or not paths[0].lower().endswith(TEXT_EXTENSIONS):
        return None
    return Texts(paths, [Path(path).read_text(encoding="utf-8", errors="replace") for path in paths], "path")


def csv_column(given: str, column: str) -> Texts:
    """The texts of ``column`` of the CSV file ``given``, one per row (rows numbered from 0)."""
    path = Path(given).expanduser()
    if path.suffix.lower() != ".csv" or not path.is_file():
        raise UserError(f"column={column!r} reads a column of a CSV file; input={given!r} is not a .csv file.")
    with path.open(newline="", encoding="utf-8", errors="replace") as file:
        reader = csv.DictReader(file)
        if column not in (reader.fieldnames or []):
            raise UserError(
                f"input={given!r} has no column {column!r}; its columns are {', '.join(reader.fieldnames or [])}. "
                "Give column=<the column that holds the texts>."
            )
        texts = [row[column] or "" for row in reader]
    if not texts:
        raise UserError(f"input={given!r} has no rows below its header; nothing to predict.")
    return Texts(list(range(len(texts))), texts, "row")


def predict_texts(model, texts: Texts, batch_size: int):
    """The model's outputs for the texts, which it must take as raw strings."""
    from ktrain.models.text import takes_text  # Keras: once the model is loaded

    if not takes_text(model):
        raise UserError(
            "The run's model takes images or arrays, not text; give it image files, a folder of them, or a "
            ".npy file (texts are for a run trained on data=text_folder)."
        )
    log.info("predict: %d text(s)", len(texts.texts))
    # An array of str objects: Keras' array adapter takes no fixed-width NumPy strings ('<U').
    return model.predict(np.asarray(texts.texts, dtype=object), batch_size=batch_size, verbose=0)

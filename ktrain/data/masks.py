"""Segmentation folders for ``data=image_folder data.masks=...``: each image paired with its
mask (a PNG whose pixel values are class indices), split at random, and the mask target the
masks make.

The layout (``ktrain.data.folders.scan_masks``)::

    pets/images/cat_001.jpg ...      data.path=pets/images
    pets/masks/cat_001.png ...       data.masks=pets/masks   (the same name, any image extension)

or train/, val/ and test/ subfolders in both. A mask is read as one channel and resized to
``data.image_size`` by nearest neighbour, so that its values stay class indices.
"""

from collections.abc import Sequence

import numpy as np
import tensorflow as tf

from ktrain.data.checked_files import CheckedFiles
from ktrain.data.folders import scan_masks
from ktrain.data.splits import complete_splits
from ktrain.errors import UserError
from ktrain.tasks import TASKS, Target

AUTOTUNE = tf.data.AUTOTUNE


def load_mask(path, image_size: Sequence[int]):
    """A mask file as class indices (int32), shaped (height, width)."""
    mask = tf.io.decode_image(tf.io.read_file(path), channels=1, expand_animations=False)
    mask = tf.image.resize(mask, image_size, method="nearest")
    mask.set_shape((*image_size, 1))
    return tf.cast(mask[..., 0], tf.int32)


def mask_files(
    path: str, masks: str, image_size: Sequence[int], class_names, fractions: tuple, on_bad_file: str, undecodable
) -> tuple[dict[str, tuple[np.ndarray, np.ndarray]], Target, dict]:
    """(image paths, mask paths) for train, val and test, the mask target, and the stamps of the
    files checked; pairs whose image or mask does not decode are left out (``on_bad_file=skip``,
    named by ``undecodable``'s log) or refused. ``fractions``: (val, test, seed)."""
    found = scan_masks(path, masks)
    files = [file for _, image, mask in found.pairs for file in (image, mask)]
    checked = CheckedFiles(found.root)
    bad = set(checked.unreadable(files, undecodable))
    if bad and on_bad_file == "error":
        raise UserError(
            f"data.path={path!r}: {len(bad)} image or mask files cannot be decoded: {', '.join(sorted(bad)[:10])}. "
            "Fix or remove them, or set data.on_bad_file=skip to leave their pairs out."
        )
    pairs = [(split, image, mask) for split, image, mask in found.pairs if image not in bad and mask not in bad]

    def by_split(split):
        chosen = [(image, mask) for s, image, mask in pairs if s == split]
        return np.array([image for image, _ in chosen]), np.array([mask for _, mask in chosen])

    val_fraction, test_fraction, seed = fractions
    no_strata = TASKS["mask"].stratify
    if not found.presplit:
        files_by_split = complete_splits(by_split(None), {}, val_fraction, test_fraction, seed, no_strata)
    else:
        given = {split: by_split(split) for split in ("val", "test") if any(s == split for s, _, _ in pairs)}
        files_by_split = complete_splits(by_split("train"), given, val_fraction, test_fraction, seed, no_strata)
    return files_by_split, _target(files_by_split, image_size, class_names, path), checked.stamps


def _target(files: dict, image_size: Sequence[int], class_names, path: str) -> Target:
    """The mask target: its classes (named, or as many as the highest pixel value says) and
    the training pixels of each, from the masks read once."""
    counts = np.zeros(0, dtype="int64")
    highest = 0
    for split, (_, masks) in files.items():
        decoded = tf.data.Dataset.from_tensor_slices(masks).map(lambda m: load_mask(m, image_size), AUTOTUNE)
        for mask in decoded.batch(256):
            values = mask.numpy().reshape(-1)
            highest = max(highest, int(values.max()) if values.size else 0)
            if split == "train":
                found = np.bincount(values)
                counts = np.pad(counts, (0, max(0, len(found) - len(counts))))
                counts[: len(found)] += found
    count = len(class_names) if class_names else highest + 1
    if highest >= count:
        raise UserError(
            f"data.path={path!r}: its masks hold pixel values up to {highest}, but data.class_names names "
            f"{count} classes; a mask's pixel values are class indices 0 to {count - 1}."
        )
    names = tuple(class_names) if class_names else tuple(str(c) for c in range(count))
    counts = np.pad(counts, (0, count - len(counts)))
    return Target("label", "mask", tuple(image_size), names, tuple(counts.tolist()))

"""Image folders streamed from disk with tf.data: the layout of Caltech101's 101_ObjectCategories.

``data.path`` holds one subfolder per class (split here, stratified and seeded), or
``train/``, ``val/`` and ``test/`` subfolders that each hold one subfolder per class (a
missing ``val/`` or ``test/`` is taken from ``train/``). Each split is a pipeline of file
names: shuffle (train), decode and resize in parallel, cache, batch, augment (train),
prefetch. The decoded, resized images are cached by the first epoch, in memory when all
splits' take at most ``MEMORY_SHARE`` of the memory available, else in files under
``cache_dir`` (``cache="auto"``, the default): later epochs decode nothing.

With ``masks``, each image's target is its mask, from a folder beside the images
(``ktrain.data.masks``): a class per pixel.

Every file is decoded once before training, so that a corrupt, truncated or non-image file
is named and left out (or refused, with ``on_bad_file="error"``) instead of stopping an
epoch halfway; the verdicts are remembered (``checked_files``), so a later run decodes only
new or changed files. Images of a type the decoder does not read are named and left out too.
"""

import hashlib
import json
import logging
import os
from collections.abc import Sequence

import keras
import numpy as np
import tensorflow as tf

from ktrain.data import SPLITS, DataSpec, Lineage, Split
from ktrain.data.checked_files import readable_folders
from ktrain.data.folders import IMAGES, scan
from ktrain.data.lineage import files_lineage
from ktrain.data.masks import load_mask, mask_files
from ktrain.data.splits import folder_splits

log = logging.getLogger(__name__)

CHANNELS = {"rgb": 3, "grayscale": 1}
AUTOTUNE = tf.data.AUTOTUNE
# cache="auto" keeps decoded images in memory while all splits take at most this share of the
# memory available (float32 pixels: 64x64 RGB is 48 KiB an image, 224x224 is 588 KiB).
MEMORY_SHARE = 0.25


def decode_image(path):
    """The pixels of an image file as uint8 RGB (JPEG, PNG, BMP, or the first frame of a GIF).

    Always three channels: TensorFlow's BMP and GIF decoders cannot give one.
    """
    return tf.io.decode_image(tf.io.read_file(path), channels=3, expand_animations=False)


def load_image(path, image_size: Sequence[int], color_mode: str):
    """An image file as float32 pixels in [0, 255], shaped (height, width, channels).

    Training and ``predict.py`` both read images with this function, so a model sees the
    same pixels in both.
    """
    image = decode_image(path)
    if color_mode == "grayscale":
        image = tf.image.rgb_to_grayscale(image)
    image = tf.image.resize(image, image_size)  # bilinear, float32
    image.set_shape((*image_size, CHANNELS[color_mode]))
    return image


def unreadable_files(paths: Sequence[str]) -> list[str]:
    """The files among ``paths`` that cannot be decoded: corrupt, truncated, not images.

    Decodes every file once, in parallel; tf.data's ``ignore_errors`` drops the failures,
    and the indices that never come out name them.
    """
    if not paths:
        return []
    decoded = (
        tf.data.Dataset.from_tensor_slices(list(paths))
        .enumerate()
        .map(lambda i, path: (i, tf.shape(decode_image(path))), num_parallel_calls=AUTOTUNE, deterministic=False)
        .ignore_errors()
        .map(lambda i, shape: i)
        .batch(4096)
    )
    readable = np.zeros(len(paths), dtype=bool)
    for indices in decoded:
        readable[indices.numpy()] = True
    return [path for path, ok in zip(paths, readable) if not ok]


def augmentation_layers(
    flip: str | None = None, rotation: float = 0.0, zoom: float = 0.0, contrast: float = 0.0, seed: int | None = None
) -> keras.Sequential | None:
    """Keras' random preprocessing layers for the settings that are on; None if none is.

    ``flip``: "horizontal", "vertical" or "horizontal_and_vertical"; ``rotation``: up to ±
    this fraction of a full turn; ``zoom``: up to ± this fraction; ``contrast``: a factor
    up to ± this much (on pixels in [0, 255]).
    """
    chosen = []
    if flip:
        chosen.append(keras.layers.RandomFlip(flip, seed=seed))
    if rotation:
        chosen.append(keras.layers.RandomRotation(rotation, seed=seed))
    if zoom:
        chosen.append(keras.layers.RandomZoom(zoom, seed=seed))
    if contrast:
        chosen.append(keras.layers.RandomContrast(contrast, value_range=(0, 255), seed=seed))
    return keras.Sequential(chosen, name="augmentation") if chosen else None


class ImageFolderData:
    """Train/val/test pipelines over a folder of class subfolders, and the spec of the data.

    From a notebook::

        data = ImageFolderData("~/data/101_ObjectCategories", image_size=(224, 224))
        model.fit(**data.split("train").fit_args(), validation_data=data.split("val").validation_data())
    """

    def __init__(
        self,
        path: str,
        batch_size: int = 32,
        image_size: Sequence[int] = (224, 224),
        color_mode: str = "rgb",
        val_fraction: float = 0.1,
        test_fraction: float = 0.2,
        seed: int = 0,
        augmentation: dict | None = None,
        cache: str | None = "auto",
        cache_dir: str = "data_cache",
        shuffle_buffer: int = 1000,
        on_bad_file: str = "skip",
        masks: str | None = None,
        class_names: Sequence[str] | None = None,
    ):
        self.batch_size = batch_size
        self.image_size = tuple(image_size)
        self.color_mode = color_mode
        self.seed = seed
        self.cache_dir = cache_dir
        self.shuffle_buffer = shuffle_buffer
        self._augment = augmentation_layers(**(augmentation or {}), seed=seed)
        self.masks = masks
        self._root = os.path.abspath(os.path.expanduser(path))
        if masks is not None:  # segmentation: each image's mask is its target (ktrain.data.masks)
            fractions = (val_fraction, test_fraction, seed)
            found = mask_files(path, masks, self.image_size, class_names, fractions, on_bad_file, unreadable_files)
            self._files, target, self._stamps = found
            sizes = {split: len(self._files[split][1]) for split in SPLITS}
            self.spec = DataSpec(
                input_shape=(*self.image_size, CHANNELS[color_mode]), targets=(target,), split_sizes=sizes
            )
            self.cache = self._cache_kind(cache)
            return
        found = scan(path)
        folders, self._stamps = readable_folders(path, found, on_bad_file, unreadable_files, IMAGES)
        self._files = folder_splits(found, folders, val_fraction, test_fraction, seed)
        train_labels = self._files["train"][1]
        self.spec = DataSpec(
            input_shape=(*self.image_size, CHANNELS[color_mode]),
            num_classes=len(found.class_names),
            class_names=found.class_names,
            split_sizes={split: len(self._files[split][1]) for split in SPLITS},
            class_counts=tuple(np.bincount(train_labels, minlength=len(found.class_names)).tolist()),
        )
        self.cache = self._cache_kind(cache)

    def split(self, name: str) -> Split:
        """A batched dataset of (pixels, class index) pairs, or (pixels, mask) pairs; shuffled and
        augmented for "train"."""
        paths, labels = self._files[name]
        training = name == "train"
        dataset = tf.data.Dataset.from_tensor_slices((paths, labels))
        if training:  # file names: a shuffle of the whole split costs next to nothing
            dataset = dataset.shuffle(len(paths), seed=self.seed, reshuffle_each_iteration=True)
        size, color_mode = self.image_size, self.color_mode
        if self.masks is None:
            dataset = dataset.map(lambda path, label: (load_image(path, size, color_mode), label), AUTOTUNE)
        else:
            dataset = dataset.map(
                lambda path, mask: (load_image(path, size, color_mode), load_mask(mask, size)), AUTOTUNE
            )
        if self.cache:
            dataset = dataset.cache(self._cache_file(name))
            if training:  # the cache replays its first pass in order; mix it again every epoch
                dataset = dataset.shuffle(self.shuffle_buffer, seed=self.seed, reshuffle_each_iteration=True)
        dataset = dataset.batch(self.batch_size)
        if training and self._augment is not None:
            augment = self._augment
            dataset = dataset.map(lambda x, y: (augment(x, training=True), y), num_parallel_calls=AUTOTUNE)
        return Split(dataset.prefetch(AUTOTUNE))

    def lineage(self, name: str) -> Lineage:
        """Where split ``name`` comes from: the folder, a digest of its files' names, sizes and
        modification times (as the file check stamped them: no file is read again), the schema
        of its pairs, its rows and (train) its classes."""
        paths, labels = self._files[name]
        files = [*paths, *labels] if self.masks is not None else list(paths)
        image = ("float32", self.spec.input_shape)
        target = ("int32", tuple(self.image_size)) if self.masks is not None else ("int64", ())
        schema, targets = {"image": image, "label": target}, self.spec.targets if name == "train" else None
        return files_lineage(self._root, files, self._stamps, schema, len(paths), targets)

    def _cache_kind(self, cache: str | None) -> str | None:
        """``cache``, with ``auto`` made ``memory`` or ``file`` by the decoded splits' size."""
        if cache != "auto":
            return cache
        pixels = sum(self.spec.split_sizes.values()) * int(np.prod(self.spec.input_shape))
        size, available = 4 * pixels, _available_memory()
        chosen = "memory" if available is None or size <= MEMORY_SHARE * available else "file"
        where = "in memory" if chosen == "memory" else f"in files under {self.cache_dir}"
        log.info(
            "data: decoded images cached %s after the first epoch (%.0f MB%s)",
            where,
            size / 1e6,
            f", {size / available:.0%} of the memory available" if available else "",
        )
        return chosen

    def _cache_file(self, split: str) -> str:
        """The split's cache files' prefix, named by what they hold (the folder, the split's
        files, the image size and color mode): a cache_dir two runs share never hands one run
        the other's pixels."""
        if self.cache == "memory":
            return ""
        os.makedirs(self.cache_dir, exist_ok=True)
        paths, labels = self._files[split]
        held = [self._root, list(self.image_size), self.color_mode, self.masks, list(map(str, paths)), len(labels)]
        key = hashlib.sha256(json.dumps(held).encode()).hexdigest()[:16]
        return os.path.join(self.cache_dir, f"{split}-{key}")


def _available_memory() -> int | None:
    """Bytes of memory available to new allocations (Linux's MemAvailable), if known."""
    try:
        with open("/proc/meminfo") as f:
            found = next(line for line in f if line.startswith("MemAvailable:"))
        return int(found.split()[1]) * 1024
    except (OSError, StopIteration, ValueError):
        try:
            return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        except (OSError, ValueError, AttributeError):
            return None

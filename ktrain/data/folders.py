"""Finding the files of a folder data set, images or texts, without TensorFlow.

The config schema calls ``scan`` so that a missing path, an empty folder or a single class
is refused in well under a second, before TensorFlow is imported; the image- and text-folder
data modules and ``predict.py`` list files with the same rules: files by extension
(case-insensitive), in subfolders at any depth, hidden files and folders left out.
"""

import os
from dataclasses import dataclass

from ktrain.data.table_files import table_hint
from ktrain.errors import UserError

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".jxl")  # what tf.io.decode_image reads
# Image files of a type the decoder does not read: listed, then named and left out like
# undecodable ones, so that none is skipped without a word.
OTHER_IMAGE_EXTENSIONS = (".tif", ".tiff", ".heic", ".heif", ".avif", ".jp2", ".ico", ".psd", ".dng", ".cr2", ".nef")
TEXT_EXTENSIONS = (".txt",)  # what keras.utils.text_dataset_from_directory reads
SPLIT_FOLDERS = ("train", "val", "test")


@dataclass(frozen=True)
class FileKind:
    """What a folder data set holds: its files' extensions, and the words its refusals use."""

    noun: str  # "image", "text"
    extensions: tuple[str, ...]
    others: tuple[str, ...] = ()  # of a type the reader does not read: listed, to be named
    check: str = "decoded"  # what checking a file does
    fault: str = "cannot be decoded"  # what a bad file does
    all_bad: str = "every file failed to decode"

    @property
    def layouts(self) -> str:
        return (
            f"one subfolder of {self.noun}s per class, or train/, val/ and test/ subfolders (val/ and test/ "
            "optional) that each hold one subfolder per class"
        )


IMAGES = FileKind("image", IMAGE_EXTENSIONS, OTHER_IMAGE_EXTENSIONS)
TEXTS = FileKind(
    "text", TEXT_EXTENSIONS, (), "read", "hold no text (empty, or not UTF-8)", "every file is empty or not UTF-8"
)


class FolderError(UserError):
    """A data folder that cannot be used; ``reason`` is the message without the path."""

    def __init__(self, path: str, reason: str):
        self.reason = reason
        super().__init__(f"data.path={path!r}: {reason}.")


@dataclass(frozen=True)
class ClassFolder:
    """The images of one class in one split folder (``split`` is None without a pre-split)."""

    split: str | None
    class_name: str
    files: tuple[str, ...]
    other_images: tuple[str, ...] = ()  # of a type the decoder does not read

    @property
    def name(self) -> str:
        return f"{self.split}/{self.class_name}" if self.split else self.class_name


@dataclass(frozen=True)
class FolderScan:
    """A data folder's classes (sorted) and its class folders, each with its image files."""

    root: str
    class_names: tuple[str, ...]
    folders: tuple[ClassFolder, ...]

    @property
    def presplit(self) -> bool:
        return self.folders[0].split is not None


def is_image_file(name: str, extensions: tuple[str, ...] = IMAGE_EXTENSIONS) -> bool:
    return not name.startswith(".") and name.lower().endswith(extensions)


def list_images(directory: str, extensions: tuple[str, ...] = IMAGE_EXTENSIONS) -> list[str]:
    """The image files under ``directory``, at any depth, sorted; hidden entries left out."""
    found = []
    for parent, subdirs, names in os.walk(directory):
        subdirs[:] = [d for d in subdirs if not d.startswith(".")]
        found += [os.path.join(parent, name) for name in names if is_image_file(name, extensions)]
    return sorted(found)


def _class_folder(split: str | None, name: str, directory: str, kind: FileKind) -> ClassFolder:
    others = tuple(list_images(directory, kind.others)) if kind.others else ()
    return ClassFolder(split, name, tuple(list_images(directory, kind.extensions)), others)


def scan(path: str, kind: FileKind = IMAGES) -> FolderScan:
    """List a data folder's classes and files of ``kind`` (images, texts); raise ``FolderError``
    naming what is wrong."""
    root, layouts = os.path.expanduser(path), kind.layouts
    hint = table_hint(root)
    if hint:
        raise FolderError(path, f"{hint}; a folder data option reads a folder of {kind.noun}s")
    if not os.path.exists(root):
        raise FolderError(path, f"no such folder; give a folder holding {layouts}")
    if not os.path.isdir(root):
        raise FolderError(path, f"is a file, not a folder; give a folder holding {layouts}")
    subfolders = _subfolders(root)
    presplit = "train" in subfolders and set(subfolders) <= set(SPLIT_FOLDERS)
    if presplit:
        folders = [
            _class_folder(split, name, os.path.join(root, split, name), kind)
            for split in SPLIT_FOLDERS
            if split in subfolders
            for name in _subfolders(os.path.join(root, split))
        ]
        class_names = _subfolders(os.path.join(root, "train"))
        strangers = sorted({f.name for f in folders if f.class_name not in class_names})
        if strangers:
            raise FolderError(
                path,
                f"the class folders {', '.join(strangers)} have no counterpart in train/; "
                "every class needs training images",
            )
    else:
        folders = [_class_folder(None, name, os.path.join(root, name), kind) for name in subfolders]
        class_names = subfolders
    where = "train/" if presplit else "the folder"
    if not class_names:
        loose = any(is_image_file(name, kind.extensions) for name in os.listdir(root))
        found = f"holds {kind.noun}s but no class subfolders" if loose else f"{where} holds no class subfolders"
        raise FolderError(path, f"{found}; give a folder holding {layouts}")
    if len(class_names) == 1:
        raise FolderError(
            path,
            f"{where} holds one class folder ({class_names[0]}); a classifier needs at least "
            "two classes, one subfolder each",
        )
    empty = [f.name for f in folders if not f.files]
    if empty:
        others = sorted({os.path.splitext(file)[1].lower() for f in folders if not f.files for file in f.other_images})
        unread = f" (only images of a type the decoder does not read: {', '.join(others)})" if others else ""
        elsewhere = "" if len(empty) < len(folders) else f", or give data.path the folder of the {kind.noun}s' classes"
        raise FolderError(
            path,
            f"no {kind.noun} files ({', '.join(kind.extensions)}) in the class folders "
            f"{listed(empty)}{unread}; add {kind.noun}s or remove the folders{elsewhere}",
        )
    return FolderScan(root, tuple(class_names), tuple(folders))


def listed(names: list[str], most: int = 8) -> str:
    """``a, b, c``, or the first ``most`` and how many more (a folder that is not the data set's
    can hold hundreds)."""
    shown = ", ".join(names[:most])
    return shown if len(names) <= most else f"{shown} and {len(names) - most} more"


def _subfolders(directory: str) -> list[str]:
    with os.scandir(directory) as entries:
        return sorted(e.name for e in entries if e.is_dir() and not e.name.startswith("."))


@dataclass(frozen=True)
class MaskScan:
    """A segmentation folder: each image with its mask, by split (None without a pre-split)."""

    root: str
    pairs: tuple[tuple[str | None, str, str], ...]  # (split, image file, mask file)

    @property
    def presplit(self) -> bool:
        return self.pairs[0][0] is not None


def scan_masks(path: str, masks: str) -> MaskScan:
    """Pair each image under ``path`` with the mask of the same name (any image extension) at
    the same place under ``masks``; ``FolderError`` naming the images that have none. Images
    may sit in train/, val/ and test/ subfolders, as their masks then do."""
    root, mask_root = os.path.expanduser(path), os.path.expanduser(masks)
    for folder, key in ((root, "data.path"), (mask_root, "data.masks")):
        if not os.path.isdir(folder):
            raise FolderError(path, f"{key}={folder!r} is not a folder; {MASK_LAYOUT}")
    subfolders = _subfolders(root)
    presplit = "train" in subfolders and set(subfolders) <= set(SPLIT_FOLDERS)
    splits = [split for split in SPLIT_FOLDERS if split in subfolders] if presplit else [None]
    pairs, missing = [], []
    for split in splits:
        images = os.path.join(root, split) if split else root
        for image in list_images(images):
            relative = os.path.splitext(os.path.relpath(image, root))[0]
            found = [f"{os.path.join(mask_root, relative)}{ext}" for ext in IMAGE_EXTENSIONS]
            mask = next((candidate for candidate in found if os.path.isfile(candidate)), None)
            if mask is None:
                missing.append(os.path.relpath(image, root))
            else:
                pairs.append((split, image, mask))
    if missing:
        more = f" and {len(missing) - 5} more" if len(missing) > 5 else ""
        raise FolderError(
            path, f"{len(missing)} images have no mask in {masks}: {', '.join(missing[:5])}{more}; {MASK_LAYOUT}"
        )
    if not pairs:
        raise FolderError(path, f"holds no image files; {MASK_LAYOUT}")
    return MaskScan(root, tuple(pairs))


MASK_LAYOUT = (
    "for segmentation, data.path holds the images and data.masks a folder of masks beside it, each mask "
    "an image of the same name at the same place (a PNG whose pixel values are class indices)"
)

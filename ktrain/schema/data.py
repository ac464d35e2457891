"""The schemas of the data group's options: ktrain's data modules by ``_target_``, and the
open schema of a data module of a user's own (``groups.GROUPS`` holds them as the data group).

A folder or a table is read here, without TensorFlow, so that a missing path, an empty folder,
an empty table or a column it lacks are refused before a run starts.
"""

import os
import zipfile
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, ValidationInfo, field_validator, model_validator

from ktrain.data.folders import TEXTS, FolderError, scan, scan_masks
from ktrain.data.table_files import FEATURE_KINDS, TableError, check_table, table_hint
from ktrain.schema.base import NonNegativeInt, OpenTarget, PositiveInt, Rate, RequiredFile, Section, Targeted
from ktrain.tasks import TASKS

# --- data --------------------------------------------------------------------------------


TargetKind = Literal[tuple(TASKS)]


class Data(Targeted):
    """A data module of ktrain's own: its batch, seed and split fractions, and the kinds of its
    targets where they are known before its data are read (``known_targets``)."""

    batch_size: PositiveInt
    seed: NonNegativeInt
    val_fraction: Annotated[float, Field(gt=0, lt=1)]
    test_fraction: Annotated[float, Field(gt=0, lt=1)]

    def known_targets(self) -> dict[str, str] | None:
        """Target name -> kind, where the config tells them; None where only the data do."""
        return {"label": "class"}

    @model_validator(mode="after")
    def _fractions_leave_training_data(self):
        if self.val_fraction + self.test_fraction >= 1:
            raise ValueError(
                f"val_fraction + test_fraction = {self.val_fraction + self.test_fraction:g} "
                "leaves no training data; their sum must be below 1"
            )
        return self


class Digits(Data):
    pass


def _an_npz_file(path: str) -> str:
    hint = table_hint(path)
    if hint:
        raise ValueError(f"{hint}; data=npz reads an .npz file of arrays")
    if not zipfile.is_zipfile(os.path.expanduser(path)):  # an .npz is a zip of .npy files
        raise ValueError(
            "is not an .npz file (the zip of named arrays np.savez writes); data=npz reads one holding x and y, "
            "or x_train and y_train: np.savez('data.npz', x=x, y=y)"
        )
    return path


class Npz(Data):
    path: Annotated[RequiredFile, AfterValidator(_an_npz_file), Field(description="an .npz file")]
    class_names: Annotated[list[str], Field(min_length=1)] | None = None
    target_kind: TargetKind | None = None  # null: guessed from y

    def known_targets(self) -> dict[str, str] | None:
        return {"label": self.target_kind} if self.target_kind else None


class Synthetic(Data):
    input_shape: Annotated[list[PositiveInt], Field(min_length=1, max_length=3)]
    num_classes: Annotated[int, Field(ge=2)]
    samples: Annotated[int, Field(ge=10)]


class Augmentation(Section):
    flip: Literal["horizontal", "vertical", "horizontal_and_vertical"] | None = None
    rotation: Rate = 0.0
    zoom: Rate = 0.0
    contrast: Rate = 0.0


class ImageFolder(Data):
    masks: str | None = None  # a folder of masks beside the images: segmentation (before path: its check reads it)
    path: Annotated[
        str,
        Field(
            description="a folder holding one subfolder of images per class, or train/ val/ test/ subfolders of those"
        ),
    ]
    image_size: Annotated[list[PositiveInt], Field(min_length=2, max_length=2, description="[height, width]")]
    color_mode: Literal["rgb", "grayscale"] = "rgb"
    augmentation: Augmentation = Augmentation()
    cache: Literal["auto", "memory", "file"] | None = "auto"
    cache_dir: str = "data_cache"
    shuffle_buffer: PositiveInt = 1000
    on_bad_file: Literal["skip", "error"] = "skip"
    class_names: Annotated[list[str], Field(min_length=1)] | None = None  # masks: the pixel classes' names

    @field_validator("path")
    @classmethod
    def _folder(cls, path: str, info: ValidationInfo) -> str:
        try:
            if info.data.get("masks") is None:
                scan(path)
            else:
                scan_masks(path, info.data["masks"])
        except FolderError as error:
            raise ValueError(error.reason) from error
        return path

    def known_targets(self) -> dict[str, str] | None:
        return {"label": "mask" if self.masks else "class"}

    @model_validator(mode="after")
    def _masks_move_with_their_images(self):
        moving = [key for key in ("flip", "rotation", "zoom") if getattr(self.augmentation, key)]
        if self.masks and moving:
            raise ValueError(
                f"augmentation.{moving[0]} would move each image and not its mask; with data.masks only "
                "augmentation.contrast applies, so leave the others null or 0"
            )
        return self


class Table(Data):
    # data.target names the target column(s); `target` itself is the node's _target_.
    target_columns: Annotated[
        Annotated[str, Field(min_length=1)] | Annotated[list[str], Field(min_length=1)],
        Field(alias="target", description="the target column, or a list of 0/1 columns"),
    ]
    features: dict[str, Literal[FEATURE_KINDS]] = {}
    path: Annotated[str, Field(description="a .csv or .parquet file, or a folder of them")]
    val_path: str | None = None
    test_path: str | None = None
    target_kind: Literal["class", "binary", "multi_label", "number"] | None = None
    sample_rows: PositiveInt = 50_000

    @field_validator("path", "val_path", "test_path")
    @classmethod
    def _table(cls, path: str | None, info: ValidationInfo) -> str | None:
        targets = info.data.get("target_columns")
        if path is None or targets is None:
            return path
        try:
            check_table(f"data.{info.field_name}", path, [targets] if isinstance(targets, str) else targets,
                        list(info.data.get("features", {})))  # fmt: skip
        except TableError as error:
            raise ValueError(error.reason) from error
        return path

    def known_targets(self) -> dict[str, str] | None:
        if self.target_kind is None:
            return None
        named = isinstance(self.target_columns, str) and not self.target_columns.startswith("val_")
        return {self.target_columns if named else "label": self.target_kind}


class TextFolder(Data):
    path: Annotated[
        str,
        Field(description="a folder holding one subfolder of .txt files per class, or train/ val/ test/ subfolders"),
    ]
    on_bad_file: Literal["skip", "error"] = "skip"

    @field_validator("path")
    @classmethod
    def _folder(cls, path: str) -> str:
        try:
            scan(path, TEXTS)
        except FolderError as error:
            raise ValueError(error.reason) from error
        return path


class OpenData(OpenTarget):
    batch_size: PositiveInt

    def known_targets(self) -> dict[str, str] | None:
        return None


DATA = {
    "ktrain.data.arrays.DigitsData": Digits,
    "ktrain.data.arrays.NpzData": Npz,
    "ktrain.data.arrays.SyntheticData": Synthetic,
    "ktrain.data.image_folder.ImageFolderData": ImageFolder,
    "ktrain.data.text_folder.TextFolderData": TextFolder,
    "ktrain.data.table.TableData": Table,
}

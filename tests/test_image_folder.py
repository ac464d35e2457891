"""data=image_folder: folder layouts, refusals before TensorFlow, decoding, bad files, splits."""

import logging
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from conftest import ROOT, refuse, script_env
from images import SHAPES, make_image_folder
from ktrain.data.folders import FolderError, scan


def write_animated_gif(path, values=(10, 200)):
    frames = [Image.fromarray(np.full((12, 10, 3), v, dtype=np.uint8)) for v in values]
    frames[0].save(path, save_all=True, append_images=frames[1:])


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """Three classes in four formats, plus what must be ignored or skipped."""
    root = make_image_folder(tmp_path_factory.mktemp("shapes"), 10, seed=0, formats=("JPEG", "PNG", "BMP", "GIF"))
    (root / "stripes" / "0.jpg").rename(root / "stripes" / "0.JPG")
    (root / "circle" / "corrupt.jpg").write_bytes(b"this is not an image")
    jpeg = (root / "square" / "0.jpg").read_bytes()
    (root / "square" / "truncated.jpeg").write_bytes(jpeg[: len(jpeg) // 2])
    (root / "stripes" / ".hidden.png").write_bytes(b"ignored")
    (root / "stripes" / "notes.txt").write_text("ignored")
    return root


@pytest.fixture(scope="module")
def data(folder):
    from ktrain.data.image_folder import ImageFolderData

    return ImageFolderData(
        str(folder),
        batch_size=8,
        image_size=(16, 12),
        seed=3,
        augmentation={"flip": "horizontal", "rotation": 0.1, "contrast": 0.2},
    )


def test_scan_lists_images_by_extension_and_ignores_hidden_and_other_files(folder):
    found = scan(str(folder))
    assert found.class_names == SHAPES and not found.presplit
    names = {f.class_name: {p.rsplit("/", 1)[1] for p in f.files} for f in found.folders}
    assert "corrupt.jpg" in names["circle"] and "0.JPG" in names["stripes"]
    assert ".hidden.png" not in names["stripes"] and "notes.txt" not in names["stripes"]
    assert len(names["stripes"]) == 10


def test_bad_files_are_skipped_and_named_with_a_count(folder, caplog):
    from ktrain.data.image_folder import ImageFolderData

    with caplog.at_level(logging.WARNING, logger="ktrain"):
        data = ImageFolderData(str(folder), batch_size=8, image_size=(16, 16))
    assert "skipping 2 of 32 image files that cannot be decoded" in caplog.text
    assert str(folder / "circle" / "corrupt.jpg") in caplog.text
    assert str(folder / "square" / "truncated.jpeg") in caplog.text
    assert sum(data.spec.split_sizes.values()) == 30


def test_on_bad_file_error_refuses_naming_every_bad_file(folder):
    from ktrain.data.image_folder import ImageFolderData
    from ktrain.errors import UserError

    with pytest.raises(UserError) as refused:
        ImageFolderData(str(folder), image_size=(16, 16), on_bad_file="error")
    message = str(refused.value)
    assert "2 of 32 image files cannot be decoded" in message and "data.on_bad_file=skip" in message
    assert "corrupt.jpg" in message and "truncated.jpeg" in message


def test_splits_are_stratified_seeded_batches_of_raw_pixels(data):
    assert data.spec.input_shape == (16, 12, 3)
    assert data.spec.class_names == SHAPES
    assert data.spec.split_sizes == {"train": 21, "val": 3, "test": 6}
    assert data.spec.class_counts == (7, 7, 7)
    images, labels = next(iter(data.split("test").x))
    assert images.shape == (6, 16, 12, 3) and images.dtype == "float32"
    assert float(images.numpy().min()) >= 0 and float(images.numpy().max()) <= 255
    assert sorted(labels.numpy().tolist()) == [0, 0, 1, 1, 2, 2]


def test_augmentation_changes_train_batches_only(data):
    def epoch(split):
        return np.concatenate([x.numpy() for x, _ in data.split(split).x])

    first, again = epoch("train"), epoch("train")
    assert first.shape == (21, 16, 12, 3) and not np.allclose(np.sort(first, axis=None), np.sort(again, axis=None))
    np.testing.assert_array_equal(epoch("val"), epoch("val"))


def test_pipeline_pixels_are_what_load_image_gives(data, folder, tmp_path):
    """predict.py reads files with load_image; training must see exactly the same pixels."""
    from ktrain.data.image_folder import ImageFolderData, load_image

    plain = ImageFolderData(
        str(folder), batch_size=64, image_size=(16, 12), cache="file", cache_dir=str(tmp_path / "cache")
    )
    paths, _ = plain._files["val"]
    batch = np.concatenate([x.numpy() for x, _ in plain.split("val").x])
    expected = np.stack([load_image(path, (16, 12), "rgb").numpy() for path in paths])
    np.testing.assert_array_equal(batch, expected)
    assert any((tmp_path / "cache").iterdir())


def test_grayscale_and_the_first_frame_of_a_gif(tmp_path):
    from ktrain.data.image_folder import load_image

    write_animated_gif(tmp_path / "a.gif")
    Image.fromarray(np.full((5, 5, 3), (200, 20, 20), dtype=np.uint8)).save(tmp_path / "red.bmp")
    gray = load_image(str(tmp_path / "red.bmp"), (4, 4), "grayscale").numpy()
    assert gray.shape == (4, 4, 1) and np.allclose(gray, 0.2989 * 200 + 0.587 * 20 + 0.114 * 20, atol=1)
    first = load_image(str(tmp_path / "a.gif"), (6, 5), "rgb").numpy()
    assert first.shape == (6, 5, 3) and np.allclose(first, 10, atol=1)
    assert load_image(str(tmp_path / "a.gif"), (6, 5), "grayscale").numpy().shape == (6, 5, 1)


def test_presplit_layout_takes_a_missing_test_split_from_train(tmp_path):
    from ktrain.data.image_folder import ImageFolderData

    make_image_folder(tmp_path / "train", 10, seed=1)
    make_image_folder(tmp_path / "val", 2, seed=2)
    data = ImageFolderData(str(tmp_path), image_size=(8, 8), test_fraction=0.2)
    assert scan(str(tmp_path)).presplit
    assert data.spec.split_sizes == {"train": 24, "val": 6, "test": 6}


def test_a_class_whose_every_file_is_unreadable_is_refused(tmp_path):
    from ktrain.data.image_folder import ImageFolderData

    make_image_folder(tmp_path, 3, seed=0)
    for path in (tmp_path / "square").iterdir():
        path.write_bytes(b"broken")
    with pytest.raises(FolderError, match="no readable image in the class folders square"):
        ImageFolderData(str(tmp_path), image_size=(8, 8))


def layout(root, *files):
    for name in files:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(b"")
    return root


@pytest.mark.parametrize(
    "files, given, expected",
    [
        ((), "missing", "no such folder; give a folder holding one subfolder of images per class"),
        (("f.jpg",), "f.jpg", "is a file, not a folder"),
        ((), "", "the folder holds no class subfolders"),
        (("a.jpg",), "", "holds images but no class subfolders"),
        (("cats/a.jpg",), "", "the folder holds one class folder (cats); a classifier needs at least two"),
        (
            ("cats/a.jpg", "dogs/.b.jpg", "dogs/notes.txt"),
            "",
            "no image files (.jpg, .jpeg, .png, .bmp, .gif, .webp, .jxl) in the class folders dogs",
        ),
        (
            ("train/cats/a.jpg", "train/dogs/b.jpg", "val/cows/c.jpg"),
            "",
            "the class folders val/cows have no counterpart in train/",
        ),
        (("train/cats/a.jpg", "test/cats/b.jpg"), "", "train/ holds one class folder (cats)"),
        (
            tuple(f"folder{i}/notes.txt" for i in range(10)),  # not a data set's folder, such as a home folder
            "",
            "in the class folders folder0, folder1, folder2, folder3, folder4, folder5, folder6, folder7 and 2 more; "
            "add images or remove the folders, or give data.path the folder of the images' classes",
        ),
    ],
)
def test_unusable_folders_are_refused_with_what_is_allowed(tmp_path, files, given, expected):
    root = layout(tmp_path, *files)
    with pytest.raises(FolderError) as refused:
        scan(str(root / given))
    assert expected in str(refused.value)
    assert str(refused.value).startswith(f"data.path={str(root / given)!r}: ")


def test_train_py_refuses_a_single_class_folder_before_importing_tensorflow(tmp_path):
    layout(tmp_path, "cats/a.jpg")
    process = subprocess.run(
        [
            sys.executable,
            "-X",
            "importtime",
            "train.py",
            "data=image_folder",
            f"data.path={tmp_path}",
            "data.color_mode=bgr",
        ],
        cwd=ROOT,
        env=script_env("sqlite:///unused.db"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert process.returncode == 2
    errors = [line for line in process.stderr.splitlines() if not line.startswith("import time:")]
    assert errors == [
        f"Error: Invalid config: data.path='{tmp_path}': the folder holds one class folder (cats); a "
        "classifier needs at least two classes, one subfolder each; data.color_mode='bgr': input should "
        "be 'rgb' or 'grayscale'."
    ]
    assert not any(line.endswith((" tensorflow", " keras")) for line in process.stderr.splitlines())


# --- checked once -------------------------------------------------------------------------


def test_a_folder_is_decoded_once_then_only_its_new_or_changed_files(tmp_path, monkeypatch, caplog):
    from ktrain.data.image_folder import ImageFolderData

    monkeypatch.setenv("KTRAIN_CACHE_DIR", str(tmp_path / "cache"))
    root = make_image_folder(tmp_path / "shapes", 10, seed=1)

    def look() -> tuple[str, str]:
        caplog.clear()
        with caplog.at_level(logging.INFO, logger="ktrain"):
            data = ImageFolderData(str(root), batch_size=4, image_size=(8, 8))
        checked = next(r.getMessage() for r in caplog.records if "to check them" in r.getMessage())
        skipped = " ".join(r.getMessage() for r in caplog.records if "skipping" in r.getMessage())
        assert sum(data.spec.split_sizes.values()) == 30 - bool(skipped)
        return checked, skipped

    assert look()[0].startswith("data: decoded 30 image files to check them; 0 were known")
    assert look()[0].startswith("data: decoded 0 image files to check them; 30 were known")
    (root / "circle" / "0.jpg").write_bytes(b"bad: no longer an image")  # changed: size and time
    checked, skipped = look()
    assert checked.startswith("data: decoded 1 image files to check them; 29 were known")
    assert str(root / "circle" / "0.jpg") in skipped and "skipping 1 of 30" in skipped
    assert look()[0].startswith("data: decoded 0 image files")  # a known bad file is not decoded again


def test_webp_images_are_read_and_other_image_types_are_named_like_bad_files(tmp_path, monkeypatch, caplog):
    from ktrain.data.image_folder import ImageFolderData

    monkeypatch.setenv("KTRAIN_CACHE_DIR", str(tmp_path / "cache"))
    root = make_image_folder(tmp_path / "shapes", 10, seed=2)
    Image.open(root / "circle" / "0.jpg").save(root / "circle" / "extra.webp", "WEBP")
    Image.open(root / "square" / "0.jpg").save(root / "square" / "scan.tiff", "TIFF")
    with caplog.at_level(logging.WARNING, logger="ktrain"):
        data = ImageFolderData(str(root), batch_size=4, image_size=(8, 8))
    assert sum(data.spec.split_sizes.values()) == 31  # the WebP image counts; the TIFF does not
    warning = " ".join(r.getMessage() for r in caplog.records)
    assert "skipping 1 of 32 image files that cannot be decoded" in warning
    assert str(root / "square" / "scan.tiff") in warning


@pytest.mark.slow  # a run refused after its folder is read (about 8 s), kept out of the 10-minute suite
def test_steps_beyond_a_folders_split_are_refused(tracking_uri, tmp_path):
    # Keras would run out of data, warn, and stop training after the first epoch.
    folder = make_image_folder(tmp_path / "shapes", 12, seed=0)  # 24 training images: one batch of 32
    message, _ = refuse(tracking_uri, "data=image_folder", f"data.path={folder}", "fit.steps_per_epoch=2")
    assert (
        "fit.steps_per_epoch=2 is more than the train split holds: 24 samples in batches of 32 make 1 step." in message
    )
    assert "Give fit.steps_per_epoch of at most 1, or null" in message

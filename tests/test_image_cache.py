"""data=image_folder keeps decoded, resized images after the first epoch: in memory when all
splits fit in a share of the memory available, else in files (cache=auto, the default)."""

import numpy as np

from images import make_image_folder
from ktrain.data import image_folder
from ktrain.data.image_folder import ImageFolderData, load_image


def test_a_small_folder_is_cached_in_memory_and_epochs_after_the_first_decode_nothing(tmp_path):
    folder = make_image_folder(tmp_path / "images", per_class=8, seed=0)
    data = ImageFolderData(str(folder), batch_size=4, image_size=(16, 16), cache_dir=str(tmp_path / "cache"))
    assert data.cache == "memory"
    val = data.split("val").x
    first = np.concatenate([x.numpy() for x, _ in val])
    for path in folder.rglob("*.jpg"):  # gone: a second epoch must come from the cache
        path.unlink()
    np.testing.assert_array_equal(np.concatenate([x.numpy() for x, _ in val]), first)
    assert not (tmp_path / "cache").exists()


def test_splits_beyond_the_memory_share_are_cached_in_files_with_the_same_pixels(tmp_path, monkeypatch):
    folder = make_image_folder(tmp_path / "images", per_class=8, seed=0)
    monkeypatch.setattr(image_folder, "MEMORY_SHARE", 1e-12)  # as if memory were short
    data = ImageFolderData(str(folder), batch_size=4, image_size=(16, 16), cache_dir=str(tmp_path / "cache"))
    assert data.cache == "file"
    paths, _ = data._files["val"]
    batch = np.concatenate([x.numpy() for x, _ in data.split("val").x])
    np.testing.assert_array_equal(batch, np.stack([load_image(path, (16, 16), "rgb").numpy() for path in paths]))
    assert any((tmp_path / "cache").iterdir())


def test_a_cache_dir_two_runs_share_hands_each_its_own_pixels(tmp_path):
    cache = str(tmp_path / "cache")
    first, second = (make_image_folder(tmp_path / name, per_class=8, seed=seed) for name, seed in (("a", 0), ("b", 1)))
    for folder, size in ((first, (16, 16)), (second, (16, 16)), (first, (12, 12))):
        data = ImageFolderData(str(folder), batch_size=4, image_size=size, cache="file", cache_dir=cache)
        paths, _ = data._files["val"]
        batch = np.concatenate([x.numpy() for x, _ in data.split("val").x])
        np.testing.assert_array_equal(batch, np.stack([load_image(path, size, "rgb").numpy() for path in paths]))

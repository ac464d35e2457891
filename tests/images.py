"""Image folders drawn for the tests: circles, squares and stripes that a small CNN tells apart."""

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

SHAPES = ("circle", "square", "stripes")
EXTENSIONS = {"JPEG": "jpg", "PNG": "png", "BMP": "bmp", "GIF": "gif"}


def shape_image(shape: str, rng: np.random.Generator, size: int = 32) -> Image.Image:
    """A bright shape at a random place on a dark background: a disk, a square outline, stripes."""
    image = Image.new("RGB", (size, size), tuple(int(v) for v in rng.integers(0, 90, 3)))
    draw = ImageDraw.Draw(image)
    color = tuple(int(v) for v in rng.integers(160, 256, 3))
    if shape == "circle":
        r = int(rng.integers(size // 5, size // 3))
        x, y = (int(v) for v in rng.integers(r, size - r, 2))
        draw.ellipse([x - r, y - r, x + r, y + r], fill=color)
    elif shape == "square":  # an outline: straight edges and corners, nothing like a disk
        side = int(rng.integers(size // 2, size - 4))
        x, y = (int(v) for v in rng.integers(0, size - side, 2))
        draw.rectangle([x, y, x + side, y + side], outline=color, width=3)
    else:
        width = int(rng.integers(2, 4))
        for top in range(int(rng.integers(0, width)), size, 2 * width):
            draw.rectangle([0, top, size, top + width - 1], fill=color)
    return image


def make_image_folder(root: Path, per_class: int, seed: int, formats=("JPEG",), size: int = 32) -> Path:
    """``root/<shape>/<i>.<ext>`` for every shape, formats taken in turn; returns ``root``."""
    rng = np.random.default_rng(seed)
    for shape in SHAPES:
        (root / shape).mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            fmt = formats[i % len(formats)]
            shape_image(shape, rng, size).save(root / shape / f"{i}.{EXTENSIONS[fmt]}", fmt)
    return root

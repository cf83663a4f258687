"""Dataset cells as PIL images."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from ..errors import DataError


def to_pil(value: Any) -> Image.Image:
    """A dataset cell as a PIL image: a PIL image, a path, ``{"bytes"|"path": ...}``, or an array."""
    if isinstance(value, Image.Image):
        return value
    if isinstance(value, (str, Path)):
        return Image.open(value)
    if isinstance(value, dict) and (value.get("bytes") or value.get("path")):
        return Image.open(io.BytesIO(value["bytes"]) if value.get("bytes") else value["path"])
    if isinstance(value, np.ndarray):
        return Image.fromarray(value)
    raise DataError(
        f"Expected an image, found {type(value).__name__}. Point `image_column` at an image column (a "
        "datasets.Image feature, file paths or arrays)."
    )

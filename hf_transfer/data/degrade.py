"""Image degradations that turn any image dataset into a target domain ("clean photos → blurry low-light images").

Four kinds, each with severities 1–5 (PIL and numpy only, no torchvision):

| kind | what it does | severity 1 … 5 |
| --- | --- | --- |
| ``blur`` | Gaussian blur, σ in pixels of a 224-pixel side (scaled to the image) | σ = 0.5, 1, 2, 3, 4 |
| ``low_light`` | ``out = brightness · in^gamma`` on [0, 1] | (γ, b) = (1.2, .8), (1.5, .65), (1.8, .5), (2.2, .4), (2.6, .3) |
| ``noise`` | additive Gaussian sensor noise, std on the 0–255 scale | std = 5, 10, 20, 30, 45 |
| ``downsample`` | down by a factor (box filter), then back up (bilinear) | factor = 1.5, 2, 3, 4, 6 |

:func:`degrade` applies kinds in the order given; noise is seeded, so the same ``seed`` gives the same image.
Modes are kept (``L`` stays grayscale, ``RGB`` stays colour).

Example::

    >>> from PIL import Image
    >>> dark_blurry = degrade(Image.open("photo.jpg"), kinds=("blur", "low_light"), severity=3, seed=0)
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from datasets import DatasetDict
from PIL import Image, ImageFilter

from ..errors import DataError, did_you_mean
from .pil import to_pil

BLUR_SIGMA = (0.5, 1.0, 2.0, 3.0, 4.0)
LOW_LIGHT = ((1.2, 0.8), (1.5, 0.65), (1.8, 0.5), (2.2, 0.4), (2.6, 0.3))
NOISE_STD = (5.0, 10.0, 20.0, 30.0, 45.0)
DOWNSAMPLE = (1.5, 2.0, 3.0, 4.0, 6.0)
KINDS = ("blur", "low_light", "noise", "downsample")
REFERENCE_SIDE = 224


def _check_severity(severity: int) -> int:
    if not 1 <= int(severity) <= 5:
        raise DataError(f"Degradation severity must be 1 to 5, got {severity!r}.")
    return int(severity) - 1


def blur(image: Image.Image, severity: int) -> Image.Image:
    """Gaussian blur; σ scales with the image's shorter side relative to 224 pixels."""
    sigma = BLUR_SIGMA[_check_severity(severity)] * min(image.size) / REFERENCE_SIDE
    return image.filter(ImageFilter.GaussianBlur(radius=sigma))


def low_light(image: Image.Image, severity: int) -> Image.Image:
    """Darker and lower-contrast: ``brightness · x^gamma`` per channel, x in [0, 1]."""
    gamma, brightness = LOW_LIGHT[_check_severity(severity)]
    pixels = np.asarray(image, dtype=np.float64) / 255.0
    out = brightness * np.power(pixels, gamma)
    return Image.fromarray(np.clip(np.rint(out * 255.0), 0, 255).astype(np.uint8), mode=image.mode)


def noise(image: Image.Image, severity: int, rng: np.random.Generator) -> Image.Image:
    """Additive Gaussian noise (std on the 0–255 scale), clipped to the valid range."""
    std = NOISE_STD[_check_severity(severity)]
    pixels = np.asarray(image, dtype=np.float64)
    out = pixels + rng.normal(0.0, std, size=pixels.shape)
    return Image.fromarray(np.clip(np.rint(out), 0, 255).astype(np.uint8), mode=image.mode)


def downsample(image: Image.Image, severity: int) -> Image.Image:
    """Down by a factor with a box filter, then back to the original size (bilinear): lost detail."""
    factor = DOWNSAMPLE[_check_severity(severity)]
    width, height = image.size
    small = image.resize(
        (max(1, round(width / factor)), max(1, round(height / factor))), Image.Resampling.BOX
    )
    return small.resize((width, height), Image.Resampling.BILINEAR)


def degrade(
    image: Image.Image, kinds: Sequence[str] = ("blur", "low_light"), severity: int = 3, seed: int = 0
) -> Image.Image:
    """Apply ``kinds`` in order at ``severity`` (1–5); deterministic for a given ``seed``.

    Raises :class:`~hf_transfer.errors.DataError` for an unknown kind (naming the valid ones) or severity.
    """
    unknown = [k for k in kinds if k not in KINDS]
    if unknown:
        raise DataError(
            f"Unknown degradation {unknown[0]!r}.{did_you_mean(unknown[0], KINDS)} Use any of {', '.join(KINDS)}."
        )
    if image.mode not in ("L", "RGB"):
        image = image.convert("RGB")
    rng = np.random.default_rng(seed)
    for kind in kinds:
        if kind == "noise":
            image = noise(image, severity, rng)
        else:
            image = {"blur": blur, "low_light": low_light, "downsample": downsample}[kind](image, severity)
    return image


def degrade_splits(splits, image_column: str, kinds: Sequence[str], severity: int, seed: int = 0):
    """Every image of every split degraded (a ``DatasetDict`` → a new one); row ``i`` of split ``s`` is seeded by
    ``(seed, s, i)``, so the same data and seed give the same degraded domain."""
    out = {}
    for number, (split, dataset) in enumerate(splits.items()):
        if image_column not in dataset.column_names:
            raise DataError(
                f"Cannot degrade: column {image_column!r} is not in the {split!r} split (columns: "
                f"{', '.join(dataset.column_names)}). Set `image_column`."
            )

        def apply(batch, indices, number=number):
            return {
                image_column: [
                    degrade(to_pil(image), kinds, severity, seed=_row_seed(seed, number, index))
                    for image, index in zip(batch[image_column], indices, strict=True)
                ]
            }

        out[split] = dataset.map(
            apply, batched=True, with_indices=True, desc=f"Degrading {split} ({'+'.join(kinds)}, {severity})"
        )
    return DatasetDict(out)


def _row_seed(seed: int, split: int, index: int) -> int:
    return int(np.random.SeedSequence([seed, split, index]).generate_state(1)[0])

"""Image preprocessing: the checkpoint's image processor, train-time augmentation, applied lazily per batch.

Images stay images in the datasets (a ``datasets.Image`` column, PIL on access); :class:`ImageTransform` is set
with ``Dataset.with_transform`` and turns the image column into ``pixel_values`` when rows are read, so
augmentation draws fresh crops every epoch and nothing large is written to disk. Geometry (resize, crop,
augmentation) is PIL; rescaling and normalisation are the image processor's (its mean / std). No torchvision.

- eval: the processor's own resize and centre crop, or, with ``image_size``, a resize of the shorter edge to
  ``image_size / crop_fraction`` (the processor's crop fraction, e.g. 224 / 256) and a centre crop to
  ``image_size``;
- train: the same, unless augmentation is on: random resized crop (``random_resized_crop_scale``), horizontal
  flip, colour jitter (brightness / contrast / saturation ``1 ± color_jitter``) and rotation (``± random_rotation``
  degrees), drawn from torch's RNG (seeded by the Trainer, distinct per data-loader worker).

Grayscale images become RGB when the processor normalises 3 channels (and colour becomes grayscale for 1).

Example::

    >>> from transformers import AutoImageProcessor
    >>> transform = ImageTransform(AutoImageProcessor.from_pretrained(path), image_size=96)
    >>> dataset = dataset.with_transform(transform)     # rows now carry pixel_values (3, 96, 96)
"""

from __future__ import annotations

import dataclasses
import io
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from datasets import DatasetDict, concatenate_datasets
from datasets import Image as ImageFeature
from PIL import Image, ImageEnhance, ImageOps

from ..errors import DataError
from .labels import encode_labels
from .pil import to_pil

PIXEL_VALUES = "pixel_values"
STRONG_PIXEL_VALUES = "strong_pixel_values"


@dataclass(frozen=True)
class Augmentation:
    """Train-time augmentation; every field off by default."""

    random_resized_crop_scale: tuple[float, float] | None = None
    horizontal_flip: bool = False
    color_jitter: float = 0.0
    random_rotation: float = 0.0
    strong: bool = False  # FixMatch's strong view: two RandAugment operations and a cutout on top

    @property
    def enabled(self) -> bool:
        return bool(
            self.random_resized_crop_scale
            or self.horizontal_flip
            or self.color_jitter
            or self.random_rotation
            or self.strong
        )

    @classmethod
    def from_data_arguments(cls, data_args) -> Augmentation:
        scale = data_args.random_resized_crop_scale
        return cls(
            random_resized_crop_scale=tuple(scale) if scale else None,
            horizontal_flip=data_args.horizontal_flip,
            color_jitter=data_args.color_jitter,
            random_rotation=data_args.random_rotation,
        )


def _uniform(low: float, high: float) -> float:
    return low + (high - low) * torch.rand(()).item()


def _size(value: Any, key: str) -> int | None:
    """A field of a processor's ``size`` / ``crop_size`` (a dict or a ``SizeDict``), or None."""
    if value is None:
        return None
    return value.get(key) if isinstance(value, dict) else getattr(value, key, None)


def processor_output_size(processor) -> int:
    """The square side the processor produces: its crop, its fixed size, or its shorter edge."""
    crop, size = getattr(processor, "crop_size", None), getattr(processor, "size", None)
    if getattr(processor, "do_center_crop", False) and _size(crop, "height"):
        return int(_size(crop, "height"))
    for key in ("height", "shortest_edge"):
        if _size(size, key):
            return int(_size(size, key))
    raise DataError(
        f"Cannot tell the image size {type(processor).__name__} produces; set `image_size` in the recipe."
    )


def processor_channels(processor) -> int:
    """Channels the processor normalises (one mean per channel): 1 for grayscale models, else 3."""
    mean = getattr(processor, "image_mean", None)
    return len(mean) if isinstance(mean, (list, tuple)) and len(mean) in (1, 3) else 3


def crop_fraction(processor) -> float:
    """How much of the resized image the processor's centre crop keeps (224 / 256 = 0.875 for ImageNet
    models), or 1 when it resizes straight to its output size."""
    crop_pct = getattr(processor, "crop_pct", None)
    if crop_pct:
        return float(crop_pct)
    shortest = _size(getattr(processor, "size", None), "shortest_edge")
    crop = _size(getattr(processor, "crop_size", None), "height")
    if getattr(processor, "do_center_crop", False) and shortest and crop:
        return min(1.0, crop / shortest)
    return 1.0


def random_resized_crop(image: Image.Image, side: int, scale: tuple[float, float]) -> Image.Image:
    """A random crop of ``scale`` of the area (aspect ratio 3/4 … 4/3), resized to ``side`` × ``side``."""
    width, height = image.size
    area = width * height
    for _ in range(10):
        target = area * _uniform(*scale)
        aspect = math.exp(_uniform(math.log(3 / 4), math.log(4 / 3)))
        w, h = round(math.sqrt(target * aspect)), round(math.sqrt(target / aspect))
        if 0 < w <= width and 0 < h <= height:
            left = int(torch.randint(0, width - w + 1, ()).item())
            top = int(torch.randint(0, height - h + 1, ()).item())
            return image.resize((side, side), Image.Resampling.BILINEAR, box=(left, top, left + w, top + h))
    return center_crop(resize_shorter(image, side), side)


def resize_shorter(image: Image.Image, side: int) -> Image.Image:
    width, height = image.size
    ratio = side / min(width, height)
    return image.resize(
        (max(side, round(width * ratio)), max(side, round(height * ratio))), Image.Resampling.BILINEAR
    )


def center_crop(image: Image.Image, side: int) -> Image.Image:
    width, height = image.size
    left, top = (width - side) // 2, (height - side) // 2
    return image.crop((left, top, left + side, top + side))


def color_jitter(image: Image.Image, strength: float) -> Image.Image:
    enhancers = [ImageEnhance.Brightness, ImageEnhance.Contrast]
    if image.mode == "RGB":
        enhancers.append(ImageEnhance.Color)
    for enhancer in enhancers:
        image = enhancer(image).enhance(_uniform(max(0.0, 1 - strength), 1 + strength))
    return image


def _choice(options: list):
    return options[int(torch.randint(len(options), ()).item())]


def rand_augment(image: Image.Image, operations: int = 2) -> Image.Image:
    """RandAugment (Cubuk et al. 2020) as FixMatch uses it: ``operations`` random photometric or geometric
    operations, each at a random magnitude."""
    fill = 0 if image.mode == "L" else (0, 0, 0)
    ops = [
        lambda im: ImageOps.autocontrast(im),
        lambda im: ImageOps.equalize(im),
        lambda im: im.rotate(_uniform(-30, 30), resample=Image.Resampling.BILINEAR, fillcolor=fill),
        lambda im: ImageOps.solarize(im, threshold=int(_uniform(64, 256))),
        lambda im: ImageOps.posterize(im, bits=int(_uniform(4, 8.99))),
        lambda im: ImageEnhance.Contrast(im).enhance(_uniform(0.05, 1.95)),
        lambda im: ImageEnhance.Brightness(im).enhance(_uniform(0.05, 1.95)),
        lambda im: ImageEnhance.Sharpness(im).enhance(_uniform(0.05, 1.95)),
        lambda im: im.transform(
            im.size, Image.Transform.AFFINE, (1, _uniform(-0.3, 0.3), 0, 0, 1, 0), fillcolor=fill
        ),
        lambda im: im.transform(
            im.size, Image.Transform.AFFINE, (1, 0, 0, _uniform(-0.3, 0.3), 1, 0), fillcolor=fill
        ),
        lambda im: im.transform(
            im.size, Image.Transform.AFFINE, (1, 0, _uniform(-0.3, 0.3) * im.size[0], 0, 1, 0), fillcolor=fill
        ),
    ]
    for _ in range(operations):
        image = _choice(ops)(image)
    return image


def cutout(image: Image.Image, fraction: float = 0.5) -> Image.Image:
    """A grey square of ``fraction`` · the side at a random place (DeVries & Taylor 2017)."""
    width, height = image.size
    side = max(1, int(fraction * min(width, height)))
    left, top = int(_uniform(0, width - side + 1)), int(_uniform(0, height - side + 1))
    image = image.copy()
    image.paste(127 if image.mode == "L" else (127, 127, 127), (left, top, left + side, top + side))
    return image


class ImageTransform:
    """A ``datasets`` transform: the image column → ``pixel_values`` (other columns pass through)."""

    def __init__(
        self,
        processor,
        image_column: str = "image",
        image_size: int | None = None,
        num_channels: int | None = None,
        augmentation: Augmentation | None = None,
    ):
        self.processor = processor
        self.image_column = image_column
        self.image_size = image_size
        self.mode = "L" if (num_channels or processor_channels(processor)) == 1 else "RGB"
        self.augmentation = augmentation if augmentation is not None and augmentation.enabled else None

    @property
    def side(self) -> int:
        return self.image_size or processor_output_size(self.processor)

    def eval_view(self) -> ImageTransform:
        """The same transform without augmentation (for evaluation and feature caching)."""
        channels = 1 if self.mode == "L" else 3
        return ImageTransform(self.processor, self.image_column, self.image_size, channels)

    def _geometry(self, image: Image.Image) -> Image.Image | None:
        """Resize/crop/augment with PIL; None when the processor's own resize and crop should run."""
        augment = self.augmentation
        if augment is None:
            if self.image_size is None:
                return None
            resized = resize_shorter(image, round(self.image_size / crop_fraction(self.processor)))
            return center_crop(resized, self.image_size)
        if augment.random_rotation:
            angle = _uniform(-augment.random_rotation, augment.random_rotation)
            image = image.rotate(angle, resample=Image.Resampling.BILINEAR)
        if augment.random_resized_crop_scale:
            image = random_resized_crop(image, self.side, augment.random_resized_crop_scale)
        else:
            image = center_crop(
                resize_shorter(image, round(self.side / crop_fraction(self.processor))), self.side
            )
        if augment.horizontal_flip and torch.rand(()).item() < 0.5:
            image = image.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
        if augment.color_jitter:
            image = color_jitter(image, augment.color_jitter)
        if augment.strong:
            image = cutout(rand_augment(image))
        return image

    def strong_view(self) -> ImageTransform:
        """The same transform with FixMatch's strong augmentation on top of its own."""
        channels = 1 if self.mode == "L" else 3
        augmentation = dataclasses.replace(self.augmentation or Augmentation(), strong=True)
        return ImageTransform(self.processor, self.image_column, self.image_size, channels, augmentation)

    def __call__(self, batch: dict[str, list]) -> dict[str, list]:
        if self.image_column not in batch:
            return batch
        images = [to_pil(value) for value in batch.pop(self.image_column)]
        images = [image if image.mode == self.mode else image.convert(self.mode) for image in images]
        shaped = [self._geometry(image) for image in images]
        if all(image is not None for image in shaped):
            pixels = self.processor(shaped, do_resize=False, do_center_crop=False, return_tensors="pt")
        else:
            pixels = self.processor(images, return_tensors="pt")
        batch[PIXEL_VALUES] = list(pixels[PIXEL_VALUES])
        return batch


def image_transforms(data_args, processor) -> tuple[ImageTransform, ImageTransform]:
    """The (train, eval) transforms a recipe's data arguments describe."""
    train = ImageTransform(
        processor,
        image_column=data_args.image_column,
        image_size=data_args.image_size,
        augmentation=Augmentation.from_data_arguments(data_args),
    )
    return train, train.eval_view()


def unreadable_images(dataset, column: str) -> list[tuple[int, str]]:
    """(row, reason) for each image that is missing or cannot be decoded, checked from the stored bytes or
    paths without decoding the whole split into memory."""
    feature = dataset.features.get(column)
    if isinstance(feature, ImageFeature):
        dataset = dataset.cast_column(column, ImageFeature(decode=False))
    failures = []
    for row, cell in enumerate(dataset[column]):
        path = cell if isinstance(cell, (str, Path)) else cell.get("path") if isinstance(cell, dict) else None
        data = cell.get("bytes") if isinstance(cell, dict) else None
        if data is None and path is not None and not Path(path).is_file():
            failures.append((row, f"{path}: no such file"))
            continue
        if data is None and path is None:
            continue  # arrays or PIL images held in memory: nothing to read
        try:
            with Image.open(io.BytesIO(data) if data is not None else path) as image:
                image.load()  # decodes every pixel: a truncated file fails here, not mid-training
        except Exception as err:  # noqa: BLE001 — PIL raises several types on a corrupt file
            failures.append((row, f"{path or 'row ' + str(row)}: {type(err).__name__}"))
    return failures


def check_images(raw: DatasetDict, column: str) -> None:
    """Refuse, when the data loads (not mid-training), images that are missing or corrupt, listing the first few."""
    for split, dataset in raw.items():
        failures = unreadable_images(dataset, column)
        if failures:
            shown = "; ".join(reason for _, reason in failures[:3]) + ("; …" if len(failures) > 3 else "")
            raise DataError(
                f"{len(failures)} of {len(dataset)} images in the {split!r} split cannot be read ({shown}). Remove or "
                "replace those files, then run again."
            )


def encode_image_splits(raw: DatasetDict, data_args, processor, names: list[str] | None) -> DatasetDict:
    """Encode labels with ``names`` (skipped when None), keep the image column, and set the lazy transforms:
    augmentation on ``train``, the plain processor view on the other splits."""
    check_images(raw, data_args.image_column)
    encoded = encode_labels(raw, data_args.label_column, names) if names is not None else raw
    train, evaluation = image_transforms(data_args, processor)
    keep = {data_args.image_column, "labels"}
    return DatasetDict(
        {
            split: dataset.select_columns([c for c in dataset.column_names if c in keep]).with_transform(
                train if split == "train" else evaluation
            )
            for split, dataset in encoded.items()
        }
    )


def lazy_transform(dataset):
    """The lazy transform set on a dataset with ``with_transform`` (None when rows are stored as they are)."""
    format_ = getattr(dataset, "format", None) or {}
    if format_.get("type") != "custom":
        return None
    return format_.get("format_kwargs", {}).get("transform")


def without_augmentation(dataset):
    """The dataset with its image transform's evaluation view (the same rows, no random augmentation)."""
    transform = lazy_transform(dataset)
    return dataset.with_transform(transform.eval_view()) if isinstance(transform, ImageTransform) else dataset


class WeakAndStrongViews:
    """A lazy transform giving every row its (weakly augmented) ``pixel_values`` and a strongly augmented
    ``strong_pixel_values`` of the same image: FixMatch's two views."""

    def __init__(self, transform: ImageTransform):
        self.weak, self.strong = transform, transform.strong_view()

    def __call__(self, batch: dict[str, list]) -> dict[str, list]:
        column = self.weak.image_column
        strong = self.strong({column: list(batch[column])})[PIXEL_VALUES] if column in batch else None
        batch = self.weak(batch)
        if strong is not None:
            batch[STRONG_PIXEL_VALUES] = strong
        return batch


class KeepColumns:
    """Wrap a lazy transform so that only ``columns`` (the model's inputs) come out of it."""

    def __init__(self, transform, columns):
        self.transform, self.columns = transform, set(columns)

    def __call__(self, batch: dict[str, list]) -> dict[str, list]:
        return {k: v for k, v in self.transform(batch).items() if k in self.columns}


def concatenate_lazy(parts: list):
    """``concatenate_datasets`` that keeps the first part's lazy transform (concatenation drops formats)."""
    transform = lazy_transform(parts[0])
    joined = concatenate_datasets(parts)
    return joined.with_transform(transform) if transform is not None else joined

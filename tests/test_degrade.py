"""Image degradations: deterministic per seed, of the documented strength, modes kept, clear errors."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from hf_transfer.data.degrade import DOWNSAMPLE, LOW_LIGHT, NOISE_STD, degrade
from hf_transfer.errors import DataError


def checkerboard(mode: str = "RGB", side: int = 64) -> Image.Image:
    """A sharp, mid-grey-on-average test image with lots of high-frequency detail."""
    y, x = np.mgrid[:side, :side]
    board = np.where((x // 4 + y // 4) % 2 == 0, 200, 60).astype(np.uint8)
    return Image.fromarray(np.stack([board] * 3, -1) if mode == "RGB" else board, mode=mode)


def high_frequency(image: Image.Image) -> float:
    a = np.asarray(image, dtype=np.float64)
    return float(np.abs(np.diff(a, axis=0)).mean() + np.abs(np.diff(a, axis=1)).mean())


@pytest.mark.parametrize("mode", ["RGB", "L"])
@pytest.mark.parametrize(
    "kinds", [("blur",), ("low_light",), ("noise",), ("downsample",), ("blur", "low_light", "noise")]
)
def test_same_seed_same_image_and_mode_kept(kinds, mode):
    image = checkerboard(mode)
    first, second = degrade(image, kinds, severity=3, seed=7), degrade(image, kinds, severity=3, seed=7)
    assert first.mode == mode and first.size == image.size
    assert np.array_equal(np.asarray(first), np.asarray(second))
    assert not np.array_equal(np.asarray(first), np.asarray(image))


def test_noise_differs_between_seeds_and_has_the_documented_std():
    flat = Image.fromarray(np.full((128, 128), 128, np.uint8), mode="L")
    for severity, std in enumerate(NOISE_STD, start=1):
        noisy = np.asarray(degrade(flat, ("noise",), severity, seed=0), dtype=np.float64)
        assert noisy.std() == pytest.approx(std, rel=0.05)
    assert not np.array_equal(
        np.asarray(degrade(flat, ("noise",), 3, seed=0)), np.asarray(degrade(flat, ("noise",), 3, seed=1))
    )


def test_low_light_follows_its_formula():
    grey = Image.fromarray(np.full((8, 8), 128, np.uint8), mode="L")
    for severity, (gamma, brightness) in enumerate(LOW_LIGHT, start=1):
        value = int(np.asarray(degrade(grey, ("low_light",), severity))[0, 0])
        assert value == round(brightness * (128 / 255) ** gamma * 255)


@pytest.mark.parametrize("kind", ["blur", "downsample"])
def test_detail_loss_grows_with_severity(kind):
    pixels = np.random.default_rng(0).integers(0, 256, (224, 224, 3), dtype=np.uint8)
    image = Image.fromarray(pixels, mode="RGB")  # at 224 px the documented σ applies as is
    energies = [high_frequency(degrade(image, (kind,), s)) for s in range(1, 6)]
    assert energies == sorted(energies, reverse=True) and energies[0] < high_frequency(image)
    assert len(DOWNSAMPLE) == 5


def test_bad_kind_and_severity_are_clear_errors():
    with pytest.raises(DataError, match="Unknown degradation 'blurr'.*blur"):
        degrade(checkerboard(), ("blurr",))
    with pytest.raises(DataError, match="severity must be 1 to 5"):
        degrade(checkerboard(), ("blur",), severity=6)

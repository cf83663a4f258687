"""Strategies: exactly the selected parameters change in training; everything else stays bit-identical."""

from __future__ import annotations

import pytest
import torch
from transformers import AutoModelForSequenceClassification

from hf_transfer import train
from hf_transfer.errors import StrategyError
from hf_transfer.strategies import STRATEGIES, build_strategy, list_strategies, register_strategy
from hf_transfer.strategies.base import StrategyConfig, TransferStrategy

HEAD_PREFIXES = {
    "bert": ("classifier.",),
    "roberta": ("classifier.",),
    "distilbert": ("pre_classifier.", "classifier."),
}


def expected_to_train(strategy: str, arch: str, name: str) -> bool:
    if strategy == "full":
        return True
    if strategy == "feature_extraction":
        return name.startswith(HEAD_PREFIXES[arch])
    raise AssertionError(strategy)


@pytest.mark.parametrize("strategy", ["full", "feature_extraction"])
def test_only_the_selected_parameters_change(tiny_recipe, tiny_checkpoints, text_arch, strategy):
    before = AutoModelForSequenceClassification.from_pretrained(tiny_checkpoints[text_arch]).state_dict()
    # pooling "model" keeps the checkpoint's own head, so parameter names match the checkpoint's
    result = train(tiny_recipe(text_arch, strategy=strategy, pooling="model", max_steps=3, weight_decay=0.01))
    after = result.trainer.model.state_dict()
    assert before.keys() == after.keys()
    for name, tensor in after.items():
        if not tensor.is_floating_point() or "position_ids" in name:
            continue
        if expected_to_train(strategy, text_arch, name):
            assert not torch.equal(before[name], tensor), f"{name} should have trained"
        else:
            assert torch.equal(before[name], tensor), f"{name} should be frozen but changed"
    trainable = {n for n, p in result.trainer.model.named_parameters() if p.requires_grad}
    assert all(expected_to_train(strategy, text_arch, n) for n in trainable)
    assert result.metrics["parameters"]["trainable"] == sum(
        p.numel() for p in result.trainer.model.parameters() if p.requires_grad
    )


def test_registry_lists_the_strategies():
    assert {"full", "feature_extraction"} <= set(STRATEGIES)
    assert "backbone" in list_strategies()["feature_extraction"].lower()


def test_registering_a_name_twice_is_an_error():
    with pytest.raises(ValueError, match="already registered"):
        register_strategy("full", StrategyConfig)(TransferStrategy)


def test_build_strategy_from_a_mapping_or_a_config():
    strategy = build_strategy({"type": "feature_extraction"})
    assert strategy.config.type == "feature_extraction"
    assert type(build_strategy(strategy.config)) is type(strategy)
    with pytest.raises(StrategyError, match="has no `type`"):
        build_strategy({})

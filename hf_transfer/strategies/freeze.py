"""Strategies that choose what trains by freezing parameters: ``full`` and ``feature_extraction``."""

from __future__ import annotations

from dataclasses import dataclass

from torch import nn

from ..modeling.structure import split_backbone_and_head
from .base import StrategyConfig, TransferStrategy, register_strategy


@dataclass
class FullFineTuningConfig(StrategyConfig):
    """Every parameter trains. Pair it with a low learning rate (2e-5 … 5e-5)."""


@register_strategy("full", FullFineTuningConfig)
class FullFineTuning(TransferStrategy):
    """Full fine-tuning: every parameter of backbone and head trains."""

    def apply(self, model: nn.Module) -> nn.Module:
        for parameter in model.parameters():
            parameter.requires_grad_(True)
        return model


@dataclass
class FeatureExtractionConfig(StrategyConfig):
    """The pretrained backbone is frozen; only the new task head trains."""


@register_strategy("feature_extraction", FeatureExtractionConfig)
class FeatureExtraction(TransferStrategy):
    """Feature extraction: freeze the pretrained backbone, train only the task head."""

    def apply(self, model: nn.Module) -> nn.Module:
        backbone, head = split_backbone_and_head(model)
        for parameter in backbone.parameters():
            parameter.requires_grad_(False)
        for _, parameter in head:
            parameter.requires_grad_(True)
        return model

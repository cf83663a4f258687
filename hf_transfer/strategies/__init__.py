"""Transfer strategies: what trains. Each is registered under the ``type`` name a recipe uses."""

from .base import (
    STRATEGIES,
    StrategyConfig,
    TransferStrategy,
    build_strategy,
    build_strategy_config,
    list_strategies,
    register_strategy,
)
from .freeze import FeatureExtraction, FeatureExtractionConfig, FullFineTuning, FullFineTuningConfig

__all__ = [
    "STRATEGIES",
    "FeatureExtraction",
    "FeatureExtractionConfig",
    "FullFineTuning",
    "FullFineTuningConfig",
    "StrategyConfig",
    "TransferStrategy",
    "build_strategy",
    "build_strategy_config",
    "list_strategies",
    "register_strategy",
]

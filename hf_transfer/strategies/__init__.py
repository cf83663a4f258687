"""Transfer strategies: what trains. Each is registered under the ``type`` name a recipe uses."""

from .base import (
    STRATEGIES,
    StrategyConfig,
    StrategyContext,
    TransferStrategy,
    build_strategy,
    build_strategy_config,
    list_strategies,
    register_strategy,
)
from .freeze import (
    FeatureExtraction,
    FeatureExtractionConfig,
    FullFineTuning,
    FullFineTuningConfig,
    Patterns,
    PatternsConfig,
    TopLayers,
    TopLayersConfig,
)
from .peft_adapters import PeftAdapterConfig, PeftAdapters, build_peft_config
from .selection import pattern_matches, select_parameters

__all__ = [
    "STRATEGIES",
    "FeatureExtraction",
    "FeatureExtractionConfig",
    "FullFineTuning",
    "FullFineTuningConfig",
    "Patterns",
    "PatternsConfig",
    "TopLayers",
    "TopLayersConfig",
    "PeftAdapterConfig",
    "PeftAdapters",
    "StrategyConfig",
    "StrategyContext",
    "TransferStrategy",
    "build_peft_config",
    "build_strategy",
    "build_strategy_config",
    "list_strategies",
    "pattern_matches",
    "register_strategy",
    "select_parameters",
]

"""Transfer strategies: what trains. Each is registered under the ``type`` name a recipe uses."""

from .auto_select import AutoSelect, AutoSelectConfig, score_blocks
from .base import (
    STRATEGIES,
    StrategyConfig,
    StrategyContext,
    TrainingData,
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
from .schedules import GradualUnfreezing, GradualUnfreezingConfig, parameter_groups
from .selection import pattern_matches, select_parameters

__all__ = [
    "AutoSelect",
    "AutoSelectConfig",
    "STRATEGIES",
    "FeatureExtraction",
    "FeatureExtractionConfig",
    "FullFineTuning",
    "FullFineTuningConfig",
    "GradualUnfreezing",
    "GradualUnfreezingConfig",
    "Patterns",
    "PatternsConfig",
    "TopLayers",
    "TopLayersConfig",
    "PeftAdapterConfig",
    "PeftAdapters",
    "StrategyConfig",
    "StrategyContext",
    "TrainingData",
    "TransferStrategy",
    "build_peft_config",
    "build_strategy",
    "build_strategy_config",
    "list_strategies",
    "parameter_groups",
    "pattern_matches",
    "register_strategy",
    "score_blocks",
    "select_parameters",
]

"""Strategy configs, the strategy interface and the registry mapping a recipe ``type`` to both.

A strategy decides what trains. It is configured by a dataclass (validated in ``__post_init__``) and
implemented by a :class:`TransferStrategy` whose :meth:`~TransferStrategy.apply` freezes, unfreezes or wraps
the model before ``Trainer`` sees it. Adding a strategy is one module plus one :func:`register_strategy`.

Example::

    >>> from hf_transfer.strategies import build_strategy
    >>> strategy = build_strategy({"type": "feature_extraction"})
    >>> model = strategy.apply(model)  # backbone frozen, head trainable
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, ClassVar

from torch import nn

from ..errors import StrategyError, did_you_mean, unknown_keys
from ..typed_values import coerce_fields


@dataclass
class StrategyConfig:
    """Base class of strategy configs. Subclasses add fields with ``metadata={"help": ...}``."""

    type: ClassVar[str] = ""

    def to_dict(self) -> dict[str, Any]:
        return {"type": self.type, **dataclasses.asdict(self)}


@dataclass
class StrategyContext:
    """What a strategy may need beyond the model: the training data and the length of training."""

    train_dataset: Any = None
    data_collator: Any = None
    num_training_steps: int | None = (
        None  # an estimate from the train rows; the Trainer's own is state.max_steps
    )
    seed: int = 42
    world_size: int = 1  # processes that train together (DDP registers what requires grad when it wraps)


@dataclass
class TrainingData:
    """What the Trainer trains and evaluates on: encoded splits and their collator. A strategy may replace the
    objective's (feature caching trains on fixed feature vectors); ``report`` goes to ``metrics.json``."""

    splits: Any
    collator: Any
    group_by_length: bool = True  # False: rows have no length to group by (fixed-size features)
    report: dict[str, Any] = dataclasses.field(default_factory=dict)


class TransferStrategy:
    """Applies a :class:`StrategyConfig` to a model."""

    config_class: ClassVar[type[StrategyConfig]] = StrategyConfig
    default_pooling: ClassVar[str] = (
        "model"  # the head when the recipe sets no `pooling` (see ModelArguments)
    )

    def __init__(self, config: StrategyConfig):
        self.config = config

    def trainable_names(self, model: nn.Module) -> set[str]:
        """Names of the parameters that train; freezing strategies implement this."""
        raise NotImplementedError

    def apply(self, model: nn.Module, context: StrategyContext | None = None) -> nn.Module:
        """Set what trains (``requires_grad``) or wrap the model; return the model to train.

        The default makes exactly :meth:`trainable_names` trainable and freezes the rest.
        """
        trainable = self.trainable_names(model)
        for name, parameter in model.named_parameters():
            parameter.requires_grad_(name in trainable)
        return model

    def training_data(
        self, model: nn.Module, data: TrainingData, args, processor, max_length: int
    ) -> TrainingData:
        """The data the Trainer sees: the objective's, unchanged, unless the strategy replaces it."""
        return data

    def report(self) -> dict:
        """What the strategy decided or did during the run (saved in metrics.json); empty by default."""
        return {}

    def callbacks(self) -> list:
        """``transformers.TrainerCallback`` objects the strategy needs during training (none by default)."""
        return []


STRATEGIES: dict[str, tuple[type[StrategyConfig], type[TransferStrategy]]] = {}


def register_strategy(name: str, config_class: type[StrategyConfig]):
    """Class decorator registering a :class:`TransferStrategy` under a recipe ``type`` name."""

    def decorator(strategy_class: type[TransferStrategy]) -> type[TransferStrategy]:
        if name in STRATEGIES:
            raise ValueError(f"strategy type {name!r} is already registered")
        config_class.type = name
        strategy_class.config_class = config_class
        STRATEGIES[name] = (config_class, strategy_class)
        return strategy_class

    return decorator


def build_strategy_config(spec: dict[str, Any]) -> StrategyConfig:
    """Validate a recipe's ``strategy`` mapping and build its config dataclass."""
    spec = dict(spec)
    name = spec.pop("type", None)
    if name not in STRATEGIES:
        known = ", ".join(sorted(STRATEGIES))
        problem = "has no `type`" if name is None else f"type {name!r} is unknown"
        raise StrategyError(
            f"Strategy {problem}.{did_you_mean(str(name), STRATEGIES)} Registered types: {known}."
        )
    config_class = STRATEGIES[name][0]
    valid = [f.name for f in dataclasses.fields(config_class) if f.init]
    hints = unknown_keys(spec, valid)
    if hints:
        raise StrategyError(
            f"Unknown option(s) for strategy {name!r}: {hints} Valid options: {', '.join(valid) or 'none'}."
        )
    return config_class(**coerce_fields(config_class, spec, f"strategy {name!r}"))


def build_strategy(spec: dict[str, Any] | StrategyConfig) -> TransferStrategy:
    """The strategy for a recipe mapping (``{"type": ..., ...}``) or a config instance."""
    config = spec if isinstance(spec, StrategyConfig) else build_strategy_config(spec)
    return STRATEGIES[config.type][1](config)


def list_strategies() -> dict[str, str]:
    """Registered strategy types with the first line of their docstrings."""
    return {
        name: (cls.__doc__ or "").strip().splitlines()[0] for name, (_, cls) in sorted(STRATEGIES.items())
    }

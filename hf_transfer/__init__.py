"""hf_transfer: transfer learning recipes on top of ``transformers.Trainer``.

Example::

    >>> import hf_transfer
    >>> result = hf_transfer.train("sentiment/minilm_full", overrides=["--num_train_epochs", "1"])
    >>> hf_transfer.predict(result.output_dir, ["A triumph."])[0]["label"]
    'positive'

The public names below are imported on first use (PEP 562), so ``import hf_transfer`` loads no torch, peft,
datasets or Optuna until a name needs them.
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# public name -> the module that defines it
_EXPORTS = {
    **dict.fromkeys(["CompareArguments", "ComparisonResult", "compare"], "compare"),
    **dict.fromkeys(
        ["DataArguments", "ModelArguments", "Recipe", "StrategyArguments", "TransferTrainingArguments", "parse_recipe"],
        "config",
    ),
    **dict.fromkeys(["list_builtin_datasets", "load_builtin_dataset", "load_raw_datasets"], "data"),
    **dict.fromkeys(
        ["DataError", "HfTransferError", "ModelResolutionError", "OutputDirError", "RecipeError", "StrategyError"],
        "errors",
    ),
    "evaluate": "evaluation",
    **dict.fromkeys(["Predictor", "predict"], "inference"),
    **dict.fromkeys(["format_module_tree", "resolve_checkpoint"], "modeling"),
    **dict.fromkeys(["Objective", "list_objectives", "register_objective"], "objectives"),
    **dict.fromkeys(["TrainResult", "train"], "run"),
    **dict.fromkeys(["StageKind", "list_stage_kinds", "register_stage_kind"], "stages"),
    **dict.fromkeys(["build_strategy", "list_strategies", "register_strategy"], "strategies"),
    "TransferTrainer": "training",
    **dict.fromkeys(["TuneArguments", "TuneResult", "tune"], "tune"),
}
# functions named like the subpackage that defines them: the function stays the package's attribute
_SHADOWED_SUBPACKAGES = {"compare", "tune"}

__all__ = [
    "CompareArguments",
    "ComparisonResult",
    "DataArguments",
    "DataError",
    "HfTransferError",
    "ModelArguments",
    "ModelResolutionError",
    "Objective",
    "OutputDirError",
    "Predictor",
    "Recipe",
    "RecipeError",
    "StageKind",
    "StrategyArguments",
    "StrategyError",
    "TrainResult",
    "TransferTrainer",
    "TransferTrainingArguments",
    "TuneArguments",
    "TuneResult",
    "__version__",
    "build_strategy",
    "compare",
    "evaluate",
    "format_module_tree",
    "list_builtin_datasets",
    "list_objectives",
    "list_stage_kinds",
    "list_strategies",
    "load_builtin_dataset",
    "load_raw_datasets",
    "parse_recipe",
    "predict",
    "register_objective",
    "register_stage_kind",
    "register_strategy",
    "resolve_checkpoint",
    "train",
    "tune",
]

if TYPE_CHECKING:
    from .compare import CompareArguments, ComparisonResult, compare
    from .config import (
        DataArguments,
        ModelArguments,
        Recipe,
        StrategyArguments,
        TransferTrainingArguments,
        parse_recipe,
    )
    from .data import list_builtin_datasets, load_builtin_dataset, load_raw_datasets
    from .errors import (
        DataError,
        HfTransferError,
        ModelResolutionError,
        OutputDirError,
        RecipeError,
        StrategyError,
    )
    from .evaluation import evaluate
    from .inference import Predictor, predict
    from .modeling import format_module_tree, resolve_checkpoint
    from .objectives import Objective, list_objectives, register_objective
    from .run import TrainResult, train
    from .stages import StageKind, list_stage_kinds, register_stage_kind
    from .strategies import build_strategy, list_strategies, register_strategy
    from .training import TransferTrainer
    from .tune import TuneArguments, TuneResult, tune


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


class _Package(types.ModuleType):
    """Importing ``hf_transfer.compare.…`` or ``hf_transfer.tune.…`` does not replace the ``compare`` / ``tune``
    functions with their subpackages (the import system sets a loaded submodule as its parent's attribute)."""

    def __setattr__(self, name: str, value: Any) -> None:
        if name in _SHADOWED_SUBPACKAGES and isinstance(value, types.ModuleType):
            return
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package

"""hf_transfer: transfer learning recipes on top of ``transformers.Trainer``.

Example::

    >>> import hf_transfer
    >>> result = hf_transfer.train("sentiment/minilm_full", overrides=["--num_train_epochs", "1"])
    >>> hf_transfer.predict(result.output_dir, ["A triumph."])[0]["label"]
    'positive'
"""

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

__version__ = "0.1.0"

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

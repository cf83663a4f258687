"""``hf-transfer tune``: hyper-parameter search (Optuna through ``Trainer.hyperparameter_search``) over any recipe
key, strategy options included; a resumable study and ``best_recipe.yaml``."""

from .config import TuneArguments
from .search import TuneResult, tune
from .space import Parameter, parse_space, with_parameters

__all__ = ["Parameter", "TuneArguments", "TuneResult", "parse_space", "tune", "with_parameters"]

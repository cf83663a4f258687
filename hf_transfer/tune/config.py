"""The options of ``hf-transfer tune``: a dataclass parsed by ``HfArgumentParser`` or read from a recipe's ``tune:``
block (where ``search_space`` lives); checked in ``__post_init__``."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..errors import RecipeError

PRUNERS = ("median", "none")


@dataclass
class TuneArguments:
    """How long to search and how to judge a trial (``hf-transfer tune RECIPE --help``)."""

    n_trials: int = field(
        default=12,
        metadata={"help": "Trials in the study, in all: a resumed search runs only the missing ones."},
    )
    metric: str | None = field(
        default=None,
        metadata={
            "help": "The validation metric to optimise (default: metric_for_best_model, else the recipe's first "
            "metric). Never a test score."
        },
    )
    direction: str | None = field(
        default=None,
        metadata={
            "help": "maximize or minimize (default: minimize for a loss, else maximize).",
            "choices": ["maximize", "minimize"],
        },
    )
    pruner: str = field(
        default="median",
        metadata={
            "help": "Stop unpromising trials at an evaluation: median (Optuna's MedianPruner: worse than the "
            "median of earlier trials at the same step) or none. Needs evaluations during training.",
            "choices": list(PRUNERS),
        },
    )
    pruner_startup_trials: int = field(
        default=2, metadata={"help": "Trials that are never pruned, so the median has something to compare."}
    )
    sampler_seed: int | None = field(
        default=None, metadata={"help": "Seed of Optuna's TPE sampler (default: the recipe's seed)."}
    )
    search_space: dict | str | None = field(
        default=None,
        metadata={
            "help": "What to search (usually in the recipe's `tune:` block): {key: {type: float | int | "
            "categorical, low, high, log, step, choices}}; keys are recipe keys or strategy. / adaptation. "
            "options (strategy.r). On the command line a JSON object."
        },
    )
    output_dir: str | None = field(
        default=None,
        metadata={
            "help": "The search folder (default: outputs/tune/<recipe name>): study.db (the Optuna study), "
            "tune.json, tune.md and best_recipe.yaml. Running the same command again resumes the study."
        },
    )

    def __post_init__(self):
        if self.n_trials < 1:
            raise RecipeError(f"`n_trials: {self.n_trials}` must be at least 1.")
        if self.pruner not in PRUNERS:
            raise RecipeError(f"Unknown `pruner: {self.pruner}`: use {' or '.join(PRUNERS)}.")
        if self.direction is not None and self.direction not in ("maximize", "minimize"):
            raise RecipeError(f"`direction: {self.direction}` must be maximize or minimize.")
        if self.pruner_startup_trials < 0:
            raise RecipeError("`pruner_startup_trials` must be 0 or more.")

"""``hf-transfer tune RECIPE [--n_trials N] [--search_space JSON] [--pruner median|none] [--field value ...]``."""

from __future__ import annotations

import argparse

from ..config import DEFAULT_RECIPE
from ..tune import TuneArguments, tune
from ..tune.search import TUNE_MD
from .command_options import given_options, print_help, split_command

DESCRIPTION = f"""Search hyper-parameters of a recipe with Optuna (Trainer.hyperparameter_search): the search space
(in the recipe's `tune:` block, or --search_space as JSON) may name any recipe key and strategy / adaptation
options (strategy.r, strategy.num_layers); trials are scored on validation, pruned at their evaluations and stored
in an SQLite study, so running the same command again resumes. Writes best_recipe.yaml, tune.md and tune.json.
Any recipe field can be overridden after the options. Default recipe: {DEFAULT_RECIPE}."""


def given_tune_options(argv: list[str]) -> tuple[dict, list[str]]:
    """The tune options given on the command line (only those) and the remaining recipe overrides."""
    return given_options(TuneArguments, argv)


def tune_command_parser(subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "tune",
        help="search hyper-parameters (strategy options included) with Optuna; resumable",
        description=DESCRIPTION,
        usage="hf-transfer tune [RECIPE] [--n_trials N] [--search_space JSON] [--output_dir DIR] [--field value ...]",
        add_help=False,
    )
    parser.add_argument("-h", "--help", action="store_true", help="show the tune options and exit")
    parser.set_defaults(func=run_tune, accepts_extra=True)
    return parser


def run_tune(args, extra: list[str]) -> int:
    if args.help:
        print_help("tune", DESCRIPTION, TuneArguments)
        return 0
    recipe, options, overrides = split_command(TuneArguments, extra)
    result = tune(recipe or DEFAULT_RECIPE, options, overrides)
    print((result.output_dir / TUNE_MD).read_text())
    print(f"search saved to {result.output_dir}")
    return 0

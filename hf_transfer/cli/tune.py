"""``hf-transfer tune RECIPE [--n_trials N] [--search_space JSON] [--pruner median|none] [--field value ...]``."""

from __future__ import annotations

import argparse

from transformers import HfArgumentParser

from ..config import DEFAULT_RECIPE
from ..errors import RecipeError
from ..tune import TuneArguments, tune
from ..tune.search import TUNE_MD
from .train import split_recipe_argument

DESCRIPTION = f"""Search hyper-parameters of a recipe with Optuna (Trainer.hyperparameter_search): the search space
(in the recipe's `tune:` block, or --search_space as JSON) may name any recipe key and strategy / adaptation
options (strategy.r, strategy.num_layers); trials are scored on validation, pruned at their evaluations and stored
in an SQLite study, so running the same command again resumes. Writes best_recipe.yaml, tune.md and tune.json.
Any recipe field can be overridden after the options. Default recipe: {DEFAULT_RECIPE}."""


def tune_options_parser() -> HfArgumentParser:
    return HfArgumentParser(TuneArguments, allow_abbrev=False, add_help=False)


def given_tune_options(argv: list[str]) -> tuple[dict, list[str]]:
    """The tune options given on the command line (only those) and the remaining recipe overrides."""
    parser = tune_options_parser()
    for action in parser._actions:
        action.default = argparse.SUPPRESS
        action.required = False
    namespace, rest = parser.parse_known_args(argv)
    return vars(namespace), rest


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
        print(f"usage: hf-transfer tune [RECIPE] [options] [--field value ...]\n\n{DESCRIPTION}\n")
        print(tune_options_parser().format_help().split("\n\n", 1)[-1])
        return 0
    recipe, rest = split_recipe_argument(extra)
    options, overrides = given_tune_options(rest)
    if overrides[:1] and not overrides[0].startswith("-"):
        raise RecipeError(f"Unexpected argument {overrides[0]!r}: give the recipe first, then options.")
    result = tune(recipe or DEFAULT_RECIPE, options, overrides)
    print((result.output_dir / TUNE_MD).read_text())
    print(f"search saved to {result.output_dir}")
    return 0

"""``hf-transfer compare RECIPE [--candidates ...] [--seeds N] [--budget 30m] [--train_sizes ...] [--field value]``."""

from __future__ import annotations

import argparse
import shlex

from ..compare import CompareArguments, compare
from ..compare.report import COMPARISON_MD
from ..config import DEFAULT_RECIPE
from .command_options import given_options, print_help, split_command

DESCRIPTION = f"""Which technique suits this recipe's data: run each candidate (strategy presets, strategy types,
adaptation types, recipes) on the recipe's data and checkpoint, over seeds and training-set sizes, each run in its
own process, and write comparison.md / .json / .png with a recommendation (the cheapest candidate within the noise
of the best validation score). Run it again to continue a stopped comparison: finished runs are reused. Any recipe
field can be overridden after the options (--num_train_epochs 1). Default recipe: {DEFAULT_RECIPE}."""


def given_compare_options(argv: list[str]) -> tuple[dict, list[str]]:
    """The compare options given on the command line (only those) and the remaining recipe overrides."""
    return given_options(CompareArguments, argv)


def redacted(argv: list[str]) -> list[str]:
    """The arguments as shown in the saved report: a ``--*_token`` value replaced (it is never written)."""
    shown, hide = [], False
    for arg in argv:
        if hide:
            shown.append("***")
            hide = False
        elif arg.startswith("--") and arg.split("=", 1)[0].endswith("_token"):
            shown.append(arg.split("=", 1)[0] + ("=***" if "=" in arg else ""))
            hide = "=" not in arg
        else:
            shown.append(arg)
    return shown


def compare_command_parser(subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "compare",
        help="compare techniques on a recipe's data (seeds, sizes, budget) and recommend one",
        description=DESCRIPTION,
        usage="hf-transfer compare [RECIPE] [--candidates NAME ...] [--seeds N] [--train_sizes N ... all] "
        "[--budget 30m | --budget_per_run 5m] [--output_dir DIR] [--field value ...]",
        add_help=False,
    )
    parser.add_argument("-h", "--help", action="store_true", help="show the compare options and exit")
    parser.set_defaults(func=run_compare, accepts_extra=True)
    return parser


def run_compare(args, extra: list[str]) -> int:
    if args.help:
        print_help("compare", DESCRIPTION, CompareArguments)
        return 0
    recipe, options, overrides = split_command(CompareArguments, extra)
    command = "hf-transfer compare " + shlex.join(redacted(extra))
    result = compare(recipe or DEFAULT_RECIPE, options, overrides, command=command)
    print((result.output_dir / COMPARISON_MD).read_text())
    print(f"comparison saved to {result.output_dir}")
    if result.recommended_dir:
        print(f"recommended run (with its model card) copied to {result.recommended_dir}")
    return 0

"""``hf-transfer``: train, evaluate, predict and inspect from the command line.

Each subcommand lives in its own module with a ``<name>_command_parser(subparsers)`` that registers it and
sets ``func``. ``train`` takes a recipe and any recipe field as ``--field value``.
"""

from __future__ import annotations

import argparse
import logging
import sys

from ..errors import HfTransferError
from .compare import compare_command_parser
from .evaluate import evaluate_command_parser
from .inspect_model import inspect_command_parser
from .list_datasets import datasets_command_parser
from .list_strategies import objectives_command_parser, strategies_command_parser
from .predict import predict_command_parser
from .prepare_models import prepare_models_command_parser
from .push import push_command_parser
from .report import report_command_parser
from .train import train_command_parser
from .tune import tune_command_parser


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hf-transfer",
        description="Transfer learning on top of transformers.Trainer, driven by YAML recipes.",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for register in (
        train_command_parser,
        compare_command_parser,
        tune_command_parser,
        evaluate_command_parser,
        predict_command_parser,
        inspect_command_parser,
        datasets_command_parser,
        strategies_command_parser,
        objectives_command_parser,
        prepare_models_command_parser,
        push_command_parser,
        report_command_parser,
    ):
        register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    args, extra = parser.parse_known_args(argv)
    args.command_argv = argv[1:]  # the raw arguments after the command, for commands taking recipe overrides
    if args.command is None:
        parser.print_help()
        return 2
    if extra and not getattr(args, "accepts_extra", False):
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    try:
        return args.func(args, extra) or 0
    except HfTransferError as err:
        print(f"hf-transfer {args.command}: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())

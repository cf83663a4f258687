"""``hf-transfer``: train, evaluate, predict and inspect from the command line.

Each subcommand lives in its own module with a ``<name>_command_parser(subparsers)`` that registers it and
sets ``func``. ``train`` takes a recipe and any recipe field as ``--field value``.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

from ..errors import HfTransferError

# command -> (its module in this package, the function that registers its parser); a command's module is imported
# only when that command runs (or the full list is printed), so a command loads only what its own module needs
COMMANDS = {
    "train": ("train", "train_command_parser"),
    "compare": ("compare", "compare_command_parser"),
    "tune": ("tune", "tune_command_parser"),
    "evaluate": ("evaluate", "evaluate_command_parser"),
    "predict": ("predict", "predict_command_parser"),
    "inspect": ("inspect_model", "inspect_command_parser"),
    "datasets": ("list_datasets", "datasets_command_parser"),
    "strategies": ("list_strategies", "strategies_command_parser"),
    "objectives": ("list_strategies", "objectives_command_parser"),
    "prepare-models": ("prepare_models", "prepare_models_command_parser"),
    "push": ("push", "push_command_parser"),
    "report": ("report", "report_command_parser"),
}


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The ``hf-transfer`` parser: with every command, or with ``command``'s alone when it names one."""
    parser = argparse.ArgumentParser(
        prog="hf-transfer",
        description="Transfer learning on top of transformers.Trainer, driven by YAML recipes.",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in [command] if command in COMMANDS else COMMANDS:
        module, register = COMMANDS[name]
        getattr(importlib.import_module(f".{module}", __package__), register)(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(argv[0] if argv else None)
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

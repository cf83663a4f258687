"""``hf-transfer datasets``: the built-in offline datasets and their configs."""

from __future__ import annotations

import argparse

from ..data import list_builtin_datasets


def datasets_command_parser(subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser("datasets", help="list the built-in offline datasets")
    parser.set_defaults(func=run_datasets)
    return parser


def run_datasets(args, extra) -> int:
    for name, spec in list_builtin_datasets().items():
        configs = ", ".join(f"{c}{' (default)' if c == spec.default_config else ''}" for c in spec.configs)
        print(f"{name} ({spec.modality})\n  {spec.description}\n  configs: {configs}")
    return 0

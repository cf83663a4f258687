"""Where a run writes: output-folder safety and checkpoint resumption.

A run claims its folder before anything loads: rank 0 creates it with a marker file (``.hf_transfer_run``,
created exclusively) and tells every rank its name. ``--overwrite_output_dir`` deletes marked folders only, and
no output folder may be, contain or lie inside anything the run reads (checkpoint, tokenizer, data files,
feature cache).
"""

from __future__ import annotations

import datetime
import fcntl
import json
import logging
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from accelerate.utils import broadcast_object_list
from transformers.trainer_utils import get_last_checkpoint

from ..errors import OutputDirError
from ..objectives import build_objective
from ..run_files import RUN_MARKER

logger = logging.getLogger(__name__)


@dataclass
class OutputClaim:
    """Rank 0's verdict on the output folder, sent to every rank: the folder, or the error every rank raises."""

    path: str | None = None
    error: str | None = None


def _resolved(path: str | Path) -> Path:
    return Path(path).expanduser().resolve()


def _overlap(out: Path, other: Path) -> str | None:
    if out == other:
        return "is"
    if other.is_relative_to(out):
        return "contains"
    if out.is_relative_to(other):
        return "lies inside"
    return None


def protected_paths(recipe) -> dict[str, str]:
    """Paths a run reads and must never write into or delete: checkpoint, tokenizer, data files, feature cache, and
    what its objectives read (target data, task files)."""
    model, data = recipe.model, recipe.data
    candidates = {
        "model_name_or_path": model.model_name_or_path,
        "tokenizer_name": model.tokenizer_name,
        "cache_dir": model.cache_dir,
        "train_file": data.train_file,
        "validation_file": data.validation_file,
        "test_file": data.test_file,
        "dataset_name": data.dataset_name,
        "feature_cache_dir": getattr(recipe.strategy.strategy_config, "feature_cache_dir", None),
        **build_objective(recipe).protected_paths(),
    }
    return {key: value for key, value in candidates.items() if value and Path(value).expanduser().exists()}


NO_RESUME = ("", "false", "no", "none")
LAST_CHECKPOINT = ("true", "yes", "last", "latest")


def resuming(args) -> bool:
    """Whether the run resumes (`resume_from_checkpoint: false` — the string "False" — does not)."""
    value = args.resume_from_checkpoint
    return value is not None and str(value).lower() not in NO_RESUME


def _resume_path(args) -> Path | None:
    if not resuming(args) or str(args.resume_from_checkpoint).lower() in LAST_CHECKPOINT:
        return None
    return _resolved(args.resume_from_checkpoint)


def check_output_dir(recipe) -> None:
    """Every refusal that needs no writing, the same on every rank: raises :class:`OutputDirError`."""
    args = recipe.training
    out = _resolved(args.output_dir)
    if out.exists() and not out.is_dir():
        raise OutputDirError(f"--output_dir {args.output_dir} is a file, not a folder: choose a folder path.")
    for key, path in protected_paths(recipe).items():
        relation = _overlap(out, _resolved(path))
        if relation:
            raise OutputDirError(
                f"--output_dir {args.output_dir} {relation} `{key}` ({path}): a run never writes into (or deletes) "
                "what it reads. Choose another --output_dir, e.g. outputs/<name>."
            )
    resume = _resume_path(args)
    occupied = out.is_dir() and any(out.iterdir())
    if resume is not None:
        if not resume.is_dir():
            raise OutputDirError(
                f"--resume_from_checkpoint {args.resume_from_checkpoint}: no such checkpoint directory."
            )
        if resume == out or out.is_relative_to(resume):
            raise OutputDirError(
                f"--output_dir {args.output_dir} is or lies inside the checkpoint being resumed "
                f"({args.resume_from_checkpoint}): choose the run folder that holds it, or a new --output_dir."
            )
        if occupied and resume.parent != out:
            raise OutputDirError(
                f"--output_dir {args.output_dir} is not empty and --resume_from_checkpoint "
                f"{args.resume_from_checkpoint} is not one of its checkpoints: a run resumed from another folder's "
                "checkpoint writes into an empty or new --output_dir only. Choose one."
            )
    if args.overwrite_output_dir and resuming(args) and occupied:
        raise OutputDirError(
            f"--overwrite_output_dir with --resume_from_checkpoint {args.resume_from_checkpoint} would delete "
            f"the folder the run resumes in ({args.output_dir}): drop one of the two options."
        )
    if getattr(recipe, "default_output_dir", False) and not resuming(args):
        return  # outputs/<recipe>/<timestamp>: a taken name gets a suffix when the folder is claimed
    if not occupied or resuming(args):
        return
    if not args.overwrite_output_dir:
        raise OutputDirError(
            f"Output directory {args.output_dir} already exists and is not empty ({sum(1 for _ in out.iterdir())} "
            "entries). Choose another --output_dir, pass --overwrite_output_dir to replace it, or "
            "--resume_from_checkpoint true to continue its last checkpoint."
        )
    if not (out / RUN_MARKER).is_file():
        raise OutputDirError(
            f"Refusing to delete {args.output_dir}: --overwrite_output_dir replaces only folders an hf_transfer run "
            f"created (marked by {RUN_MARKER}), and this one has no such mark. Choose another --output_dir, or "
            "empty the folder yourself."
        )


def _create_exclusively(out: Path, resuming: bool) -> None:
    """Make the folder and its run marker; the marker is created exclusively, so two runs cannot share a folder."""
    out.mkdir(parents=True, exist_ok=True)
    marker = out / RUN_MARKER
    if resuming and marker.exists():
        return
    try:
        with open(marker, "x", encoding="utf-8") as f:
            json.dump(
                {"created": datetime.datetime.now().isoformat(timespec="seconds"), "pid": os.getpid()}, f
            )
    except FileExistsError:
        raise OutputDirError(
            f"Another run claimed {out} a moment ago: choose another --output_dir."
        ) from None


def _claim_on_main(recipe, default_named: bool) -> OutputClaim:
    args = recipe.training
    out = Path(args.output_dir)
    try:
        check_output_dir(
            recipe
        )  # again, just before writing: the folder may have changed since the first check
        if default_named:  # outputs/<recipe>/<timestamp>: an atomic mkdir, a suffix when the name is taken
            out.parent.mkdir(parents=True, exist_ok=True)
            for attempt in range(1, 1000):
                candidate = out if attempt == 1 else out.with_name(f"{out.name}-{attempt}")
                try:
                    candidate.mkdir()
                except FileExistsError:
                    continue
                _create_exclusively(candidate, resuming=False)
                return OutputClaim(path=str(candidate))
            raise OutputDirError(f"No free folder name next to {out}: set --output_dir.")
        if args.overwrite_output_dir and out.is_dir() and any(out.iterdir()):
            logger.warning(
                "Deleting the previous contents of %s (--overwrite_output_dir; a marked run folder).", out
            )
            shutil.rmtree(out)
        _create_exclusively(out, resuming=resuming(args))
        return OutputClaim(path=str(out))
    except OutputDirError as err:
        return OutputClaim(error=str(err))
    except OSError as err:  # no permission, a full disk: every rank is told, none waits for ever
        return OutputClaim(
            error=f"Cannot create --output_dir {out} ({type(err).__name__}: {err}). Choose a writable folder."
        )


def claim_output_dir(recipe) -> Path:
    """Claim the run's output folder once for all processes: rank 0 checks it again (:func:`check_output_dir`),
    creates it (and its marker) exclusively and sends the name to every rank, so ranks can neither pick different
    default names nor share a folder with a concurrent run. Raises :class:`OutputDirError` on every rank when the
    folder is refused. Call :func:`check_output_dir` first, on every rank, before anything expensive."""
    args = recipe.training
    default_named = bool(getattr(recipe, "default_output_dir", False)) and not resuming(args)
    claim = _claim_on_main(recipe, default_named) if args.process_index == 0 else OutputClaim()
    if args.world_size > 1:
        claim = broadcast_object_list([claim], from_process=0)[0]
    if claim.error:
        raise OutputDirError(claim.error)
    args.output_dir = claim.path
    return Path(claim.path)


def resolve_resume(args) -> str | None:
    value = args.resume_from_checkpoint
    if not resuming(args):
        return None
    if str(value).lower() in LAST_CHECKPOINT:
        out = Path(args.output_dir)
        last = get_last_checkpoint(str(out)) if out.is_dir() else None
        if last is None:
            raise OutputDirError(
                f"--resume_from_checkpoint {value}: no checkpoint-* folder in {out}. Pass a checkpoint path, or "
                "start a new run without --resume_from_checkpoint."
            )
        return last
    return str(value)


def claim_folder(path: Path, marker: str, kind: str, option: str = "--output_dir"):
    """Create (or reopen) the folder of a ``kind`` of job (``comparison``, ``search``) and lock it for this
    process; returns the open, locked marker file (the lock lives while it is open). A non-empty folder without
    ``marker`` is refused: nothing of anyone else's is ever overwritten."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise OutputDirError(f"{path} is a file, not a folder: choose a folder with {option}.")
    marked = path / marker
    if path.is_dir() and any(path.iterdir()) and not marked.is_file():
        raise OutputDirError(
            f"{path} is not empty and no {kind} made it: a {kind} writes only into its own folder. Choose another "
            f"{option}."
        )
    path.mkdir(parents=True, exist_ok=True)
    handle = open(marked, "a+", encoding="utf-8")  # noqa: SIM115 (held open: the lock lives as long as it)
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        raise OutputDirError(f"Another {kind} is running in {path}: wait for it, or choose another {option}.") from None
    return handle

"""The files of a finished stage: its saved model placed in another folder (the run's, a stage's)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from ..run_files import METRICS_FILE, MODEL_CARD_FILE, RECIPE_FILE, RUN_MARKER

NOT_COPIED = (RUN_MARKER, MODEL_CARD_FILE, RECIPE_FILE, METRICS_FILE)


def place_final_model(stage_dir: Path, top: Path) -> None:
    """The last stage's saved files at the top of the run folder (not its checkpoints), as hard links if possible."""
    for source in stage_dir.iterdir():
        if source.name in NOT_COPIED or source.name.startswith("checkpoint-") or source.name == "runs":
            continue
        target = top / source.name
        if target.is_dir():
            shutil.rmtree(target)
        elif target.exists():
            target.unlink()
        if source.is_dir():
            shutil.copytree(source, target, copy_function=link_or_copy)
        else:
            link_or_copy(source, target)


def link_or_copy(source, target) -> None:
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)

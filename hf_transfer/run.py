"""The end-to-end run: recipe → stages (each: objective data → checkpoint → strategy → objective wrap → Trainer →
finish → save) → model card → run report → optional push. No step depends on the kind of run.

Example::

    >>> import hf_transfer
    >>> result = hf_transfer.train("configs/sentiment/minilm_full.yaml", overrides=["--num_train_epochs", "1"])
    >>> result.metrics["test"]["accuracy"]
    0.84...
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .cards import render_output_card
from .config import Recipe, parse_recipe
from .publish import push_to_hub, take_over_push
from .report import write_run_report
from .run_files import MODEL_CARD_FILE
from .stages import plan_stages, run_stages
from .training.outputs import check_output_dir

logger = logging.getLogger(__name__)


@dataclass
class TrainResult:
    """What a run produced: where it was saved, its metrics per split, and the trainer (for further use; None when
    the final stage had finished before a resumed run)."""

    output_dir: Path
    metrics: dict[str, Any]
    trainer: Any
    main_process: bool = True  # this process saved the results (rank 0)


def train(
    recipe: str | Path | dict[str, Any] | Recipe | None = None,
    overrides: list[str] | dict[str, Any] | None = None,
) -> TrainResult:
    """Run a recipe end to end and save the model, its processor, recipe, metrics, test predictions, model card
    and plots.

    ``recipe`` is a YAML path, a shipped recipe name (``sentiment/minilm_full``, the default), a dict or a parsed
    :class:`~hf_transfer.config.Recipe`; ``overrides`` win over it (``["--learning_rate", "1e-4"]``).
    """
    if not isinstance(recipe, Recipe):
        recipe = parse_recipe(recipe, overrides)
    args = recipe.training
    check_output_dir(recipe)  # refusals first, before anything loads
    push = take_over_push(args)  # one push after saving (repo id and token checked now); never the Trainer's
    plans = plan_stages(recipe)  # every stage's recipe parsed and checked before the first one starts
    result, _ = run_stages(recipe, plans)
    out = result.output_dir
    if args.should_save:
        render_output_card(out).save(
            out / MODEL_CARD_FILE
        )  # from the saved files, as `hf-transfer push` does
        write_run_report(out)  # plots beside the metrics; never raises
    logger.info("Saved model, processor, recipe, metrics, model card and predictions to %s", out)
    if push is not None and args.process_index == 0:
        push_to_hub(out, **push)  # a failure raises PushError after everything is saved, saying how to retry
    return TrainResult(out, result.metrics, result.trainer, main_process=args.should_save)

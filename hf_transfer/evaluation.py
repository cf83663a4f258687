"""Evaluating a saved model on a split: the run's task objective (recorded in ``metrics.json``) loads the data and
the metrics; a throw-away ``TransferTrainer`` scores them.

Example::

    >>> from hf_transfer import evaluate
    >>> evaluate("outputs/sentiment-minilm_full/20250101-120000", split="test")["accuracy"]
    0.83...
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import torch
from transformers import TrainingArguments

from .data import data_collator
from .metrics import strip_prefix
from .objectives import SavedRun, objective_class
from .offline import go_offline_if_unreachable
from .training.trainer import TransferTrainer


def evaluate(
    model_dir: str | Path,
    split: str = "test",
    data_overrides: dict[str, Any] | None = None,
    metrics: list[str] | None = None,
    batch_size: int = 64,
) -> dict[str, float]:
    """Evaluate a saved model on a split of its recipe's dataset (or of the dataset given in ``data_overrides``)."""
    saved = SavedRun.read(model_dir)
    go_offline_if_unreachable()
    inputs = objective_class(saved.task_objective).evaluate_saved(
        saved, split, data_overrides or {}, metrics, batch_size
    )
    with tempfile.TemporaryDirectory() as tmp:
        eval_args = TrainingArguments(
            output_dir=tmp,
            per_device_eval_batch_size=batch_size,
            report_to=[],
            dataloader_pin_memory=torch.cuda.is_available(),
        )
        trainer = TransferTrainer(
            model=inputs.model,
            args=eval_args,
            processing_class=inputs.processor,
            data_collator=data_collator(inputs.processor),
            compute_metrics=inputs.compute_metrics,
        )
        scores = trainer.evaluate(inputs.dataset, metric_key_prefix=split)
    return strip_prefix(scores, split)

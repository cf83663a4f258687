"""Model selection without target labels: what a run reports to choose between checkpoints or recipes.

Target labels may score a run (``target_test``), never choose it. A run's checkpoint is the last one, or — with
``load_best_model_at_end`` — the best on the **source** validation split (``metric_for_best_model``); beside the
target score, ``metrics.json`` records label-free scores of the target predictions: their mean entropy (lower:
more confident, the criterion of entropy-based selection) and the predicted class shares, on up to
``domain_gap_samples`` target train rows (all of them with ``prior_correction``).
"""

from __future__ import annotations

import inspect
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from ...data import data_collator


def selection_report(trainer, target_logits: np.ndarray) -> dict[str, Any]:
    """How the checkpoint was chosen, and the label-free scores of the target predictions."""
    args = trainer.args
    chosen = (
        f"best source-validation {args.metric_for_best_model or 'loss'}"
        if args.load_best_model_at_end
        else "last step"
    )
    logits = torch.as_tensor(target_logits, dtype=torch.float64)
    probabilities = logits.softmax(dim=-1)
    entropy = -(probabilities * probabilities.clamp_min(1e-12).log()).sum(dim=-1)
    shares = np.bincount(logits.argmax(dim=-1).numpy(), minlength=logits.shape[1]) / len(logits)
    return {
        "checkpoint": chosen,
        "target_entropy": round(float(entropy.mean()), 4),
        "target_predicted_shares": np.round(shares, 4).tolist(),
    }


def model_batches(model, dataset, collator, batch_size: int, progress: str | None = None):
    """Every row of ``dataset`` once, in order, as batches of the inputs ``model``'s forward takes (the base
    model's, under PEFT; ``labels`` and ``domains`` left out) on its device: the same on every process.
    ``progress``: a progress bar's description (None: no bar)."""
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    accepted = set(inspect.signature(base.forward).parameters) - {"labels"}
    device = next(model.parameters()).device
    rows = dataset.select_columns([c for c in dataset.column_names if c not in ("labels", "domains")])
    starts = range(0, len(rows), batch_size)
    for start in tqdm(starts, desc=progress, disable=progress is None, leave=False):
        batch = collator([rows[i] for i in range(start, min(start + batch_size, len(rows)))])
        yield {k: v.to(device) for k, v in batch.items() if k in accepted and isinstance(v, torch.Tensor)}


@torch.inference_mode()
def predict_logits(model, dataset, processor, batch_size: int, progress: str | None = None) -> np.ndarray:
    """The model's logits for every row of ``dataset``, in eval mode (restored after)."""
    was_training = model.training
    model.eval()
    try:
        batches = model_batches(model, dataset, data_collator(processor), batch_size, progress)
        logits = [model(**batch).logits.float().cpu() for batch in batches]
    finally:
        model.train(was_training)
    return torch.cat(logits).numpy()

"""Model selection without target labels: what a run reports to choose between checkpoints or recipes.

Target labels may score a run (``target_test``), never choose it. A run's checkpoint is the last one, or — with
``load_best_model_at_end`` — the best on the **source** validation split (``metric_for_best_model``); beside the
target score, ``metrics.json`` records label-free scores of the target predictions: their mean entropy (lower:
more confident, the criterion of entropy-based selection) and the predicted class shares, on up to
``domain_gap_samples`` target train rows (all of them with ``prior_correction``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader

from ...data import data_collator

MODEL_INPUTS = ("input_ids", "attention_mask", "token_type_ids", "pixel_values")


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


def prediction_batches(dataset, processor, batch_size: int, device):
    """Every row of ``dataset`` once, as model-input batches on ``device`` (the same on every process)."""
    columns = [
        c for c in dataset.column_names if c not in ("labels", "domains")
    ]  # images: pixels come on access
    loader = DataLoader(
        dataset.select_columns(columns), batch_size=batch_size, collate_fn=data_collator(processor)
    )
    for batch in loader:
        if not any(k in batch for k in MODEL_INPUTS):
            raise ValueError(f"No model input among the target's columns {columns}.")
        yield {k: v.to(device) for k, v in batch.items() if k in MODEL_INPUTS}


@torch.inference_mode()
def predict_logits(model, dataset, processor, batch_size: int) -> np.ndarray:
    """The model's logits for every row of ``dataset``, in eval mode (restored after)."""
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    try:
        logits = [
            model(**batch).logits.float().cpu()
            for batch in prediction_batches(dataset, processor, batch_size, device)
        ]
    finally:
        model.train(was_training)
    return torch.cat(logits).numpy()

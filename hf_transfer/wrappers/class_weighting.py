"""Class weights for imbalanced labels (the recipe key ``class_weight``): the weights and the weighted loss (which
``TransferTrainer(task_loss=...)``, the domain-adaptation wrapper and the multi-task heads apply).

``class_weight: balanced`` gives class ``c`` the weight ``w_c = n / (k · n_c)`` (scikit-learn's "balanced": ``n``
training rows, ``k`` classes, ``n_c`` rows of class ``c``), so every class weighs as much in the loss as if the
classes were equally frequent. ``class_weight: {negative: 3.0}`` sets weights by label name (others: 1).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from ..errors import RecipeError

BALANCED = "balanced"


def class_weight_values(spec: str | dict[str, Any], labels: Sequence[str], counts: Sequence[int]) -> list[float]:
    """One weight per class (in label-id order) from ``balanced`` or a ``{label: weight}`` mapping."""
    if spec == BALANCED:
        empty = [label for label, count in zip(labels, counts, strict=True) if count == 0]
        if empty:
            raise RecipeError(
                f"`class_weight: balanced` needs training rows of every class; {', '.join(map(repr, empty))} has "
                "none. Give weights by label instead ({label: weight}), or add rows of that class."
            )
        total = sum(counts)
        return [total / (len(labels) * count) for count in counts]
    if not isinstance(spec, dict):
        raise RecipeError(
            f"`class_weight` must be `balanced` or a mapping {{label: weight}}, got {spec!r}; e.g. "
            "`class_weight: {negative: 2.0}`."
        )
    names = [str(label) for label in labels]
    unknown = [key for key in spec if str(key) not in names]
    if unknown:
        raise RecipeError(
            f"`class_weight` names label(s) {', '.join(map(repr, unknown))} the data does not have; its labels: "
            f"{', '.join(names)}."
        )
    weights = {str(key): value for key, value in spec.items()}
    bad = {key: value for key, value in weights.items() if not isinstance(value, (int, float)) or value <= 0}
    if bad:
        raise RecipeError(f"`class_weight` weights must be positive numbers, got {bad}.")
    return [float(weights.get(name, 1.0)) for name in names]


def check_class_weight_spec(spec: Any) -> None:
    """Parse-time shape check (the labels are known only once the data loads)."""
    if spec is None or spec == BALANCED:
        return
    if not isinstance(spec, dict) or not spec:
        raise RecipeError(
            f"`class_weight` must be `balanced` or a non-empty mapping {{label: weight}}, got {spec!r}; e.g. "
            "`class_weight: balanced`."
        )


class WeightedCrossEntropyLoss(nn.Module):
    """Class-weighted cross-entropy, averaged over the weights of the labelled rows:

    ``L = Σ_i w_{y_i} · CE(z_i, y_i) / Σ_i w_{y_i}`` over rows with ``y_i ≠ -100`` (0 when no row is labelled).

    Shapes: ``logits`` ``(N, C)``, ``labels`` ``(N,)`` class ids (``-100``: no label); ``weight`` ``(C,)``.
    With all weights equal it is the plain mean cross-entropy. ``label_smoothing`` (the recipe's
    ``label_smoothing_factor``) smooths the targets as ``torch.nn.functional.cross_entropy`` does.
    """

    def __init__(self, weight: Sequence[float], label_smoothing: float = 0.0):
        super().__init__()
        self.register_buffer("weight", torch.tensor(list(weight), dtype=torch.float32), persistent=False)
        self.label_smoothing = label_smoothing

    def forward(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        labels = labels.view(-1).long().to(logits.device)
        if not (labels != -100).any():
            return logits.sum() * 0.0
        weight = self.weight.to(device=logits.device, dtype=logits.dtype)
        return nn.functional.cross_entropy(
            logits.view(labels.numel(), -1),
            labels,
            weight=weight,
            ignore_index=-100,
            label_smoothing=self.label_smoothing,
        )

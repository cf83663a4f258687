"""Data-driven block selection: unfreeze the blocks that matter most for the target task.

"Unfreeze the layers relevant to the difference between the tasks", made concrete: before training, a few
batches of the *target* training data go through the model with the task loss, and each block is scored by
how strongly the loss pulls on its weights:

- ``gradient_norm``: the root-mean-square gradient of the block's parameters, averaged over batches;
- ``fisher``: the mean squared per-example gradient (the diagonal empirical Fisher information), averaged
  over the block's parameters.

The ``num_layers`` best blocks train (with the head and what sits above the blocks); the scores and the
choice are logged and saved in ``metrics.json``. Per-parameter averages keep blocks of different sizes
(ConvNeXt stages) comparable.

Example recipe block::

    strategy: {type: auto_select, num_layers: 2, score: fisher, num_batches: 8}
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import torch
from torch import nn

from ..errors import StrategyError
from ..modeling.blocks import find_blocks
from .base import StrategyConfig, StrategyContext, TransferStrategy, register_strategy

logger = logging.getLogger(__name__)
SCORES = ("gradient_norm", "fisher")


@dataclass
class AutoSelectConfig(StrategyConfig):
    """Score every block on target batches, then train the ``num_layers`` best (plus the head)."""

    num_layers: int = field(default=2, metadata={"help": "How many blocks to unfreeze (the budget)."})
    score: str = field(default="gradient_norm", metadata={"help": f"Block score: {', '.join(SCORES)}."})
    num_batches: int = field(default=8, metadata={"help": "Target batches used for scoring."})
    batch_size: int = field(default=16, metadata={"help": "Rows per scoring batch."})
    train_top: bool = field(
        default=True, metadata={"help": "Train what lies above the blocks (pooler, norm)."}
    )

    def __post_init__(self):
        if self.score not in SCORES:
            raise StrategyError(f"auto_select: unknown score {self.score!r}; use one of {', '.join(SCORES)}.")
        if self.num_layers < 1 or self.num_batches < 1 or self.batch_size < 1:
            raise StrategyError("auto_select: num_layers, num_batches and batch_size must be ≥ 1.")


def score_blocks(model: nn.Module, batches: list[dict], layout, score: str = "gradient_norm") -> list[float]:
    """One score per block (see the module docstring); the model's gradients are cleared afterwards."""
    parameters = dict(model.named_parameters())
    blocks = [[parameters[name] for name in names] for names in layout.blocks]
    sizes = [sum(p.numel() for p in block) for block in blocks]
    previous = {name: p.requires_grad for name, p in parameters.items()}
    for p in parameters.values():
        p.requires_grad_(False)
    for block in blocks:
        for p in block:
            p.requires_grad_(True)
    was_training = model.training
    model.eval()  # no dropout noise in the scores
    totals = [0.0] * len(blocks)
    try:
        for batch in batches:
            micro = [batch] if score == "gradient_norm" else _split_rows(batch)
            for rows in micro:
                model.zero_grad(set_to_none=True)
                model(**rows).loss.backward()
                for i, block in enumerate(blocks):
                    squared = sum(float(p.grad.pow(2).sum()) for p in block if p.grad is not None)
                    totals[i] += (
                        (squared / sizes[i]) ** 0.5 if score == "gradient_norm" else squared / sizes[i]
                    )
            # averaged below over batches (gradient_norm) or examples (fisher)
    finally:
        model.zero_grad(set_to_none=True)
        model.train(was_training)
        for name, p in parameters.items():
            p.requires_grad_(previous[name])
    count = len(batches) if score == "gradient_norm" else sum(len(b["labels"]) for b in batches)
    return [total / count for total in totals]


def _split_rows(batch: dict) -> list[dict]:
    size = len(batch["labels"])
    return [{k: v[i : i + 1] for k, v in batch.items()} for i in range(size)]


@register_strategy("auto_select", AutoSelectConfig)
class AutoSelect(TransferStrategy):
    """Data-driven selection: score blocks by the task loss's gradients on target batches, train the top-k."""

    config: AutoSelectConfig

    def __init__(self, config: AutoSelectConfig):
        super().__init__(config)
        self.selection: dict = {}

    def sample_batches(self, context: StrategyContext) -> list[dict]:
        if context is None or context.train_dataset is None or context.data_collator is None:
            raise StrategyError(
                "auto_select needs the training data to score blocks (run it through the pipeline)."
            )
        dataset = context.train_dataset
        generator = torch.Generator().manual_seed(context.seed)
        wanted = min(len(dataset), self.config.num_batches * self.config.batch_size)
        order = torch.randperm(len(dataset), generator=generator)[:wanted].tolist()
        batches = []
        for start in range(0, wanted, self.config.batch_size):
            rows = [dataset[i] for i in order[start : start + self.config.batch_size]]
            batch = context.data_collator(rows)
            batches.append({k: v for k, v in batch.items() if isinstance(v, torch.Tensor)})
        return batches

    def trainable_names(self, model: nn.Module) -> set[str]:
        layout = find_blocks(model)
        chosen = self.selection["selected"]
        names = {name for index in chosen for name in layout.blocks[index]} | set(layout.head)
        return names | (set(layout.top) if self.config.train_top else set())

    def apply(self, model: nn.Module, context: StrategyContext | None = None) -> nn.Module:
        layout = find_blocks(model)
        if self.config.num_layers > layout.num_blocks:
            raise StrategyError(
                f"auto_select: num_layers={self.config.num_layers} but the model has {layout.num_blocks} blocks."
            )
        batches = self.sample_batches(context)
        device = next(model.parameters()).device
        batches = [{k: v.to(device) for k, v in batch.items()} for batch in batches]
        scores = score_blocks(model, batches, layout, self.config.score)
        ranked = sorted(range(len(scores)), key=lambda i: scores[i], reverse=True)
        selected = sorted(ranked[: self.config.num_layers])
        self.selection = {
            "score": self.config.score,
            "scores": {layout.block_name(i): s for i, s in enumerate(scores)},
            "selected": selected,
            "selected_blocks": [layout.block_name(i) for i in selected],
        }
        logger.info(
            "auto_select (%s): scores %s; training blocks %s",
            self.config.score,
            ", ".join(f"{i}={s:.3g}" for i, s in enumerate(scores)),
            selected,
        )
        return super().apply(model, context)

    def report(self) -> dict:
        return self.selection

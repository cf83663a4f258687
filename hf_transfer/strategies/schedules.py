"""Learning-rate structure: layer-wise LR decay (one param group per block) and gradual unfreezing.

Layer-wise decay (discriminative learning rates, as in ULMFiT / ELECTRA): the head and what sits above the
blocks get the base learning rate, block ``i`` of ``n`` gets ``lr * decay ** (n - i)`` and the embeddings
``lr * decay ** (n + 1)``. Set ``layerwise_lr_decay`` in the recipe (e.g. 0.8); any strategy.

Gradual unfreezing (``type: gradual_unfreezing``): training starts with the head (and pooler / final norm);
one more block, from the top, unfreezes at each epoch start (or every ``every_steps`` optimizer steps). Every
parameter that will ever unfreeze is in the optimizer from the start: while frozen it has no gradient, so
AdamW leaves it (and its weight decay) untouched, and it trains from the step it unfreezes. With several
processes the waiting blocks are *held* instead of frozen (:func:`~hf_transfer.modeling.structure.hold`): they
require grad from the start, so DDP registers them for its all-reduce when it wraps the model, and their
gradients are zero and then dropped before each optimizer step until their time — the same updates as frozen
parameters, at the cost of a full backward pass.

Example recipe::

    layerwise_lr_decay: 0.8
    strategy: {type: gradual_unfreezing, every_steps: 100}
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from torch import nn
from transformers import TrainerCallback

from ..errors import StrategyError
from ..modeling.blocks import assign_groups, find_blocks, layout_of
from ..modeling.structure import drop_held_gradients, hold, release
from .base import StrategyConfig, TransferStrategy, register_strategy

logger = logging.getLogger(__name__)


def block_depths(model: nn.Module) -> dict[str, int]:
    """Per parameter name: 0 for head / top, ``n - i`` for block ``i`` of ``n``, ``n + 1`` for embeddings."""
    n = layout_of(model)[0].num_blocks
    return {
        name: (n + 1 - position if position <= n else 0)
        for name, (position, _) in assign_groups(model).items()
    }


def parameter_groups(
    model: nn.Module,
    names: set[str],
    learning_rate: float,
    weight_decay: float,
    decay_names: set[str],
    layerwise_lr_decay: float | None = None,
) -> list[dict]:
    """Optimizer param groups for the named parameters: by weight decay, and by block when decaying the LR."""
    depths = block_depths(model) if layerwise_lr_decay else {}
    groups: dict[tuple[int, bool], dict] = {}
    for name, parameter in model.named_parameters():
        if name not in names:
            continue
        depth = depths.get(name, 0)
        decays = name in decay_names
        key = (depth, decays)
        if key not in groups:
            lr = learning_rate * (layerwise_lr_decay**depth if layerwise_lr_decay else 1.0)
            groups[key] = {
                "params": [],
                "lr": lr,
                "weight_decay": weight_decay if decays else 0.0,
                "depth": depth,
            }
        groups[key]["params"].append(parameter)
    return [groups[key] for key in sorted(groups)]


@dataclass
class GradualUnfreezingConfig(StrategyConfig):
    """Start with the head; unfreeze one more block (top first) each epoch or every ``every_steps`` steps."""

    every_steps: int | None = field(
        default=None,
        metadata={"help": "Unfreeze the next block every K optimizer steps (default: each epoch)."},
    )
    max_layers: int | None = field(
        default=None, metadata={"help": "Stop after this many blocks have unfrozen (default: all blocks)."}
    )
    unfreeze_embeddings: bool = field(
        default=False, metadata={"help": "After the last block, unfreeze the embeddings too."}
    )

    def __post_init__(self):
        if self.every_steps is not None and self.every_steps < 1:
            raise StrategyError(f"gradual_unfreezing: `every_steps` must be ≥ 1, got {self.every_steps}.")
        if self.max_layers is not None and self.max_layers < 1:
            raise StrategyError(f"gradual_unfreezing: `max_layers` must be ≥ 1, got {self.max_layers}.")


class GradualUnfreezingCallback(TrainerCallback):
    """Unfreezes the strategy's stages as training advances (also right after resuming from a checkpoint)."""

    def __init__(self, strategy: GradualUnfreezing):
        self.strategy = strategy

    def _sync(self, state) -> None:
        """Unfreeze every stage that is due: one per epoch started, or one per ``every_steps`` steps."""
        config = self.strategy.config
        due = state.global_step // config.every_steps if config.every_steps else int(state.epoch or 0)
        self.strategy.unfreeze_until(due, state.global_step)

    def on_train_begin(self, args, state, control, **kwargs):
        self._sync(state)

    def on_epoch_begin(self, args, state, control, **kwargs):
        self._sync(state)

    def on_pre_optimizer_step(self, args, state, control, **kwargs):
        drop_held_gradients(self.strategy.pending_parameters())

    def on_step_end(self, args, state, control, **kwargs):
        if self.strategy.config.every_steps:
            self._sync(state)


@register_strategy("gradual_unfreezing", GradualUnfreezingConfig)
class GradualUnfreezing(TransferStrategy):
    """Gradual unfreezing (ULMFiT): the head first, then one more block from the top per epoch or K steps."""

    config: GradualUnfreezingConfig

    def __init__(self, config: GradualUnfreezingConfig):
        super().__init__(config)
        self.stages: list[list[tuple[str, nn.Parameter]]] = []
        self.unfrozen = 0
        self.log: list[dict] = []

    def trainable_names(self, model: nn.Module) -> set[str]:
        layout = find_blocks(model)
        return set(layout.head) | set(layout.top)

    def apply(self, model: nn.Module, context=None) -> nn.Module:
        model = super().apply(model, context)
        layout = find_blocks(model)
        parameters = dict(model.named_parameters())
        count = min(self.config.max_layers or layout.num_blocks, layout.num_blocks)
        blocks = [layout.blocks[i] for i in range(layout.num_blocks - 1, layout.num_blocks - 1 - count, -1)]
        if self.config.unfreeze_embeddings:
            blocks.append(layout.bottom)
        self.stages = [[(name, parameters[name]) for name in names] for names in blocks]
        if context is not None and context.world_size > 1:
            for parameter in self.pending_parameters():
                hold(parameter)
        self.stage_names = [layout.block_name(layout.num_blocks - 1 - i) for i in range(count)]
        self.stage_names += ["embeddings"] if self.config.unfreeze_embeddings else []
        return model

    def pending_parameters(self) -> list[nn.Parameter]:
        """Parameters still frozen that will unfreeze later: the optimizer must hold them from the start."""
        return [parameter for stage in self.stages[self.unfrozen :] for _, parameter in stage]

    def unfreeze_until(self, due: int, step: int) -> None:
        while self.unfrozen < min(due, len(self.stages)):
            for _, parameter in self.stages[self.unfrozen]:
                release(parameter)
            self.log.append({"step": step, "unfroze": self.stage_names[self.unfrozen]})
            logger.info("Gradual unfreezing: step %d, unfroze %s", step, self.stage_names[self.unfrozen])
            self.unfrozen += 1

    def callbacks(self) -> list:
        return [GradualUnfreezingCallback(self)]

    def report(self) -> dict:
        return {"unfreezing": self.log}
